-- Controllers and role bindings: phleet.controller_create, bind_role, unbind_role.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

CREATE ROLE regress_ctl_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_ctl_app LOGIN;
CREATE ROLE regress_ctl_super SUPERUSER;
CREATE ROLE regress_ctl_bypass BYPASSRLS;

SET ROLE regress_ctl_admin;
SELECT phleet.controller_create('ctl-acme', 'Acme Inc.');
SELECT phleet.controller_create('ctl_42');
SELECT phleet.controller_create('3f2b8c1e-9d4a-4c3b-8e2f-1a2b3c4d5e6f');
SELECT phleet.controller_create(repeat('a', 63)) = repeat('a', 63) AS max_length_ok;
-- bad handles
SELECT phleet.controller_create('Acme');
SELECT phleet.controller_create('');
SELECT phleet.controller_create(repeat('a', 64));
SELECT phleet.controller_create('a.b');
SELECT phleet.controller_create(NULL);
-- duplicates
SELECT phleet.controller_create('ctl-acme');
SELECT handle, display_name FROM phleet.controllers WHERE handle LIKE 'ctl%' ORDER BY handle;

-- bindings
SELECT phleet.bind_role('regress_ctl_app', 'ctl-acme');
SELECT phleet.bind_role('regress_ctl_app', 'ctl-acme');  -- idempotent
SELECT phleet.bind_role('regress_ctl_app', 'ctl_42');
SELECT phleet.bind_role('regress_ctl_app', 'ctl-nope');
SELECT phleet.bind_role('regress_ctl_super', 'ctl-acme');
SELECT phleet.bind_role('regress_ctl_bypass', 'ctl-acme');
SELECT phleet.bind_role('regress_nosuchrole', 'ctl-acme');
SELECT role, controller FROM phleet.role_bindings ORDER BY role::text;
SELECT phleet.unbind_role('regress_ctl_app');
SELECT phleet.unbind_role('regress_ctl_app');
SELECT phleet.bind_role('regress_ctl_app', 'ctl_42');
RESET ROLE;

-- only phleet_admin manages controllers
SET ROLE regress_ctl_app;
SELECT phleet.controller_create('ctl-evil');
SELECT phleet.bind_role('regress_ctl_app', 'ctl-acme');
SELECT phleet.unbind_role('regress_ctl_app');
SELECT * FROM phleet.role_bindings;
-- a non-admin sees only the controller it acts for (none outside a context)
SELECT handle FROM phleet.controllers ORDER BY handle;
RESET ROLE;

DROP ROLE regress_ctl_super, regress_ctl_bypass;
