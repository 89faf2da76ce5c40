-- Attack: forge the controller context (or switch phleet off) through settings.
--
-- The attacker is an application role (no SUPERUSER, no BYPASSRLS, not the
-- table owner), inside controller A's context (a login role bound to A) or
-- outside any context (an unbound role).  It tries SET, set_config(), SET
-- LOCAL in a transaction and in a savepoint, function SET clauses,
-- ALTER ROLE / ALTER DATABASE ... SET and GRANT SET ON PARAMETER, on
-- phleet.controller and on every other setting that could lift isolation.
-- Every attempt must fail: phleet.controller is PGC_SUSET and its check hook
-- accepts a controller only from phleet.enter()/enter_token() (even from a
-- superuser); phleet.internal is PGC_SUSET and accepts "on" only from a
-- superuser's SET clause; the phleet.* prefix is reserved.  After each
-- attempt :seen shows what the attacker sees: its context, the rows it can
-- read and how many of them are B's (must stay 0).
-- Start-up options (PGOPTIONS) and role/database defaults applied at login
-- are attacked in test/t/010_attack_connect.pl.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-set-a'), phleet.controller_create('atk-set-b');
CREATE ROLE regress_attack_settings_owner NOLOGIN;
CREATE ROLE regress_attack_settings_app LOGIN;      -- bound to A: acts for A only
CREATE ROLE regress_attack_settings_anon LOGIN;     -- bound to nothing, no gateway
SELECT phleet.bind_role('regress_attack_settings_app', 'atk-set-a');
CREATE SCHEMA attack_settings AUTHORIZATION regress_attack_settings_owner;
GRANT USAGE, CREATE ON SCHEMA attack_settings
    TO regress_attack_settings_app, regress_attack_settings_anon;
CREATE TABLE attack_settings.leads (id int PRIMARY KEY, phone text);
ALTER TABLE attack_settings.leads OWNER TO regress_attack_settings_owner;
SELECT phleet.govern('attack_settings.leads');
GRANT SELECT, INSERT, UPDATE, DELETE ON attack_settings.leads
    TO regress_attack_settings_app, regress_attack_settings_anon;
BEGIN;
SELECT phleet.enter('atk-set-a');
INSERT INTO attack_settings.leads VALUES (1, '+1555000101'), (2, '+1555000102');
SELECT phleet.enter('atk-set-b');
INSERT INTO attack_settings.leads VALUES (3, '+1555000203'), (4, '+1555000204');
COMMIT;

\set seen 'SELECT phleet.current_controller() AS ctx, count(*) AS rows, count(*) FILTER (WHERE controller = ''atk-set-b'') AS b_rows FROM attack_settings.leads'

-------------------------------------------------------------------------------
-- 1. Inside A's context, the application role itself
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_attack_settings_app;
:seen;
-- SET and set_config(): the setting is PGC_SUSET, refused before any check
SET phleet.controller = 'atk-set-b';
SELECT set_config('phleet.controller', 'atk-set-b', false);
UPDATE pg_settings SET setting = 'atk-set-b' WHERE name = 'phleet.controller';
:seen;
-- SET LOCAL and set_config(..., true) in a transaction and in a savepoint
BEGIN;
SET LOCAL phleet.controller = 'atk-set-b';
ROLLBACK;
BEGIN;
SAVEPOINT s1;
SELECT set_config('phleet.controller', 'atk-set-b', true);
ROLLBACK TO SAVEPOINT s1;
:seen;
COMMIT;
-- the other settings that could lift isolation
SET phleet.internal = on;                   -- exempts from phleet's guards
SET session_replication_role = replica;     -- would skip the stamp trigger
SET phleet.enabled = off;                   -- made-up name: reserved prefix
SELECT set_config('phleet.anything', 'atk-set-b', false);
-- row_security = off is allowed to set, but then every query that RLS would
-- filter fails instead of returning unfiltered rows
SET row_security = off;
:seen;
RESET row_security;
-- a function SET clause is validated with the creator's rights
CREATE FUNCTION attack_settings.count_as_b() RETURNS bigint
    LANGUAGE sql SET phleet.controller = 'atk-set-b'
    AS 'SELECT count(*) FROM attack_settings.leads';
CREATE FUNCTION attack_settings.count_as_b() RETURNS bigint
    LANGUAGE sql SET phleet.internal = on
    AS 'SELECT count(*) FROM attack_settings.leads';
-- ALTER ROLE / ALTER DATABASE on itself
ALTER ROLE regress_attack_settings_app SET phleet.controller = 'atk-set-b';
ALTER ROLE regress_attack_settings_app SET phleet.internal = on;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET phleet.controller = %L', current_database(), 'atk-set-b'); END $$;
:seen;
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- 2. Outside any context: an unbound role without phleet_gateway
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_attack_settings_anon;
:seen;
SET phleet.controller = 'atk-set-b';
BEGIN;
SAVEPOINT s1;
SET LOCAL phleet.controller = 'atk-set-b';
ROLLBACK;
INSERT INTO attack_settings.leads VALUES (9, 'x', 'atk-set-b');
:seen;
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- 3. A superuser granted SET on the parameters (PostgreSQL 15): the check
--    hooks still refuse a controller and phleet.internal = on
-------------------------------------------------------------------------------
GRANT SET ON PARAMETER phleet.controller, phleet.internal TO regress_attack_settings_anon;
SET SESSION AUTHORIZATION regress_attack_settings_anon;
SET phleet.controller = 'atk-set-b';
SELECT set_config('phleet.controller', 'atk-set-b', false);
SET phleet.internal = on;
SHOW phleet.internal;
SET phleet.controller = '';                 -- clearing is harmless
:seen;
RESET SESSION AUTHORIZATION;
REVOKE SET ON PARAMETER phleet.controller, phleet.internal FROM regress_attack_settings_anon;

-------------------------------------------------------------------------------
-- 4. A superuser cannot place a context in a setting either: every path to
--    phleet.controller runs its check hook
-------------------------------------------------------------------------------
SET phleet.controller = 'atk-set-b';
SELECT set_config('phleet.controller', 'atk-set-b', true);
ALTER ROLE regress_attack_settings_anon SET phleet.controller = 'atk-set-b';
ALTER ROLE regress_attack_settings_anon IN DATABASE contrib_regression SET phleet.controller = 'atk-set-b';
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET phleet.controller = %L', current_database(), 'atk-set-b'); END $$;
ALTER SYSTEM SET phleet.controller = 'atk-set-b';
ALTER SYSTEM SET phleet.internal = on;
CREATE FUNCTION attack_settings.count_as_b() RETURNS bigint
    LANGUAGE sql SET phleet.controller = 'atk-set-b'
    AS 'SELECT count(*) FROM attack_settings.leads';
-- SET ... FROM CURRENT would freeze an entered context into a function
BEGIN;
SELECT phleet.enter('atk-set-b');
CREATE FUNCTION attack_settings.count_as_b() RETURNS bigint
    LANGUAGE sql SET phleet.controller FROM CURRENT
    AS 'SELECT count(*) FROM attack_settings.leads';
ROLLBACK;
-- a SET clause carrying a context that got into the catalog anyway (as if
-- written before phleet was preloaded) fails when the function is called,
-- even when it is a superuser's SECURITY DEFINER function (whose SET clause
-- is applied with superuser rights, so only the check hook stops it)
CREATE FUNCTION attack_settings.count_as_b() RETURNS bigint
    LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM attack_settings.leads';
UPDATE pg_proc SET proconfig = '{phleet.controller=atk-set-b}'
 WHERE oid = 'attack_settings.count_as_b'::regproc;
GRANT EXECUTE ON FUNCTION attack_settings.count_as_b() TO PUBLIC;
SET SESSION AUTHORIZATION regress_attack_settings_anon;
SELECT attack_settings.count_as_b();
:seen;
RESET SESSION AUTHORIZATION;
SELECT attack_settings.count_as_b();
SELECT count(*) AS role_or_database_defaults FROM pg_db_role_setting
 WHERE array_to_string(setconfig, ',') LIKE '%phleet.%';

-------------------------------------------------------------------------------
-- Control: the usual hand-rolled setup (forced RLS on
-- current_setting('app.controller')) falls to the very first attack above,
-- so this file would catch phleet regressing to it.
-------------------------------------------------------------------------------
CREATE TABLE attack_settings.handrolled (id int, controller text NOT NULL);
ALTER TABLE attack_settings.handrolled OWNER TO regress_attack_settings_owner;
ALTER TABLE attack_settings.handrolled ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY handrolled_isolation ON attack_settings.handrolled
    USING (controller = current_setting('app.controller', true));
INSERT INTO attack_settings.handrolled VALUES (1, 'atk-set-a'), (3, 'atk-set-b');
GRANT SELECT ON attack_settings.handrolled TO regress_attack_settings_app;
SET SESSION AUTHORIZATION regress_attack_settings_app;
SET app.controller = 'atk-set-a';
SELECT * FROM attack_settings.handrolled;
SET app.controller = 'atk-set-b';           -- the attack: succeeds here
SELECT * FROM attack_settings.handrolled;
RESET SESSION AUTHORIZATION;

DROP SCHEMA attack_settings CASCADE;
SELECT phleet.unbind_role('regress_attack_settings_app');
DROP ROLE regress_attack_settings_app, regress_attack_settings_anon, regress_attack_settings_owner;
