-- Keys: per-controller keys wrapped under the master key, created with the
-- controller or at first use; phleet.rewrap_keys, phleet.controller_forget.
-- (The master key comes from phleet.master_key_command in test/regress.conf;
-- the master key file, its checks and rotation are tested in
-- test/t/025_master_key.pl.)
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

CREATE ROLE regress_keys_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_keys_app LOGIN;

-- the master key settings are visible to superusers only
SELECT current_setting('phleet.master_key_command') <> '' AS has_command,
       current_setting('phleet.master_key_file') AS file;
SET ROLE regress_keys_app;
SHOW phleet.master_key_command;
SELECT current_setting('phleet.master_key_file');
SET phleet.master_key_file = 'x';
RESET ROLE;

-- a controller gets its key when it is created
SET ROLE regress_keys_admin;
SELECT phleet.controller_create('keys-a');
SELECT phleet.controller_create('keys-b');
SELECT phleet.controller_create('keys-c');
RESET ROLE;
SELECT controller, length(wrapped_key) AS wrapped_bytes, get_byte(wrapped_key, 0) AS version,
       master_key_id ~ '^[0-9a-f]{16}$' AS id_ok, forgotten_at IS NULL AS live
  FROM phleet.controller_keys WHERE controller LIKE 'keys-%' ORDER BY controller;
SELECT count(DISTINCT wrapped_key) AS distinct_wrapped, count(DISTINCT master_key_id) AS master_keys
  FROM phleet.controller_keys WHERE controller LIKE 'keys-%';

-- nobody reads the wrapped keys; admins see which keys exist
SET ROLE regress_keys_app;
SELECT * FROM phleet.controller_keys;
SELECT controller FROM phleet.controller_keys;
RESET ROLE;
SET ROLE regress_keys_admin;
SELECT wrapped_key FROM phleet.controller_keys;
SELECT controller, rewrapped_at, forgotten_at FROM phleet.controller_keys
 WHERE controller LIKE 'keys-%' ORDER BY controller;
RESET ROLE;
SELECT pg_catalog.pg_get_userbyid(relowner) = current_user AS owned_by_extension_owner,
       relacl::text LIKE '%phleet_admin=r%' AS admin_can_read_whole_rows
  FROM pg_class WHERE oid = 'phleet.controller_keys'::regclass;

-- pseudonyms made before are made again after any number of cache reloads
BEGIN;
SELECT phleet.enter('keys-a');
CREATE TEMP TABLE keys_before AS SELECT phleet.pseudonym('+1 555 123 0000', 'phone') AS p;
COMMIT;

-- a controller that exists without a key (created before phleet had a
-- master key, say) gets one at first use in a read-write transaction ...
DELETE FROM phleet.controller_keys WHERE controller = 'keys-b';
BEGIN READ ONLY;
SELECT phleet.enter('keys-b');
SELECT phleet.pseudonym('+1 555 123 0000', 'phone');
ROLLBACK;
BEGIN;
SELECT phleet.enter('keys-b');
SELECT phleet.is_pseudonym(phleet.pseudonym('+1 555 123 0000', 'phone')) AS made;
COMMIT;
SELECT count(*) AS keys_b FROM phleet.controller_keys WHERE controller = 'keys-b' AND wrapped_key IS NOT NULL;
-- ... or from phleet.rewrap_keys(), which creates the missing ones
DELETE FROM phleet.controller_keys WHERE controller = 'keys-b';
SET ROLE regress_keys_admin;
SELECT phleet.rewrap_keys() AS written;
SELECT phleet.rewrap_keys() AS written_again;
RESET ROLE;
SELECT count(*) AS keys_b FROM phleet.controller_keys WHERE controller = 'keys-b' AND wrapped_key IS NOT NULL;

-- rewrap_keys changes no pseudonym
BEGIN;
SELECT phleet.enter('keys-a');
SELECT phleet.pseudonym('+1 555 123 0000', 'phone') = p AS same_pseudonym FROM keys_before;
COMMIT;

-- a wrapped key is bound to its controller: copied to another, it fails
CREATE TEMP TABLE keys_saved AS SELECT * FROM phleet.controller_keys WHERE controller = 'keys-c';
UPDATE phleet.controller_keys SET wrapped_key = (SELECT wrapped_key FROM phleet.controller_keys WHERE controller = 'keys-a')
 WHERE controller = 'keys-c';
BEGIN;
SELECT phleet.enter('keys-c');
SELECT phleet.pseudonym('+1 555 123 0000', 'phone');
ROLLBACK;
-- a key wrapped under a master key that is not configured
UPDATE phleet.controller_keys k SET wrapped_key = s.wrapped_key, master_key_id = '00000000deadbeef'
  FROM keys_saved s WHERE k.controller = 'keys-c';
BEGIN;
SELECT phleet.enter('keys-c');
SELECT phleet.pseudonym('+1 555 123 0000', 'phone');
ROLLBACK;
SET ROLE regress_keys_admin;
SELECT phleet.rewrap_keys();
RESET ROLE;
-- a truncated wrapped key
\set VERBOSITY terse
UPDATE phleet.controller_keys SET wrapped_key = '\x0102' WHERE controller = 'keys-c';
\set VERBOSITY default
UPDATE phleet.controller_keys k SET wrapped_key = s.wrapped_key, master_key_id = s.master_key_id
  FROM keys_saved s WHERE k.controller = 'keys-c';
BEGIN;
SELECT phleet.enter('keys-c');
SELECT phleet.is_pseudonym(phleet.pseudonym('+1 555 123 0000', 'phone')) AS works_again;
COMMIT;

-- only phleet_admin may rewrap and forget
SET ROLE regress_keys_app;
SELECT phleet.rewrap_keys();
SELECT phleet.controller_forget('keys-a');
RESET ROLE;

-- controller_forget: bad calls change nothing
SET ROLE regress_keys_admin;
SELECT phleet.controller_forget(NULL);
SELECT phleet.controller_forget('Keys A');
SELECT phleet.controller_forget('keys-nope');
BEGIN;
SELECT phleet.controller_forget('keys-a');
ROLLBACK;
SET default_transaction_isolation = 'repeatable read';
SELECT phleet.controller_forget('keys-b');
RESET default_transaction_isolation;
RESET ROLE;
SELECT count(*) AS keys_a_live FROM phleet.controller_keys WHERE controller = 'keys-a' AND wrapped_key IS NOT NULL;

-- crypto-shredding: the key is gone, the controller stays, forgetting twice is harmless
SET ROLE regress_keys_admin;
SELECT phleet.controller_forget('keys-a');
SELECT phleet.controller_forget('keys-a');
SELECT controller, forgotten_at IS NOT NULL AS forgotten FROM phleet.controller_keys WHERE controller = 'keys-a';
SELECT handle FROM phleet.controllers WHERE handle = 'keys-a';
RESET ROLE;
SELECT wrapped_key IS NULL AS no_key, master_key_id IS NULL AS no_master_id
  FROM phleet.controller_keys WHERE controller = 'keys-a';
BEGIN;
SELECT phleet.enter('keys-a');
SELECT phleet.pseudonym('+1 555 123 0000', 'phone');
ROLLBACK;
-- and it never gets a new key
SET ROLE regress_keys_admin;
SELECT phleet.rewrap_keys() AS written;
RESET ROLE;
BEGIN;
SELECT phleet.enter('keys-a');
SELECT phleet.pseudonym('x');
ROLLBACK;

-- the key table travels with pg_dump (registered as configuration)
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) x(oid) JOIN pg_class c ON c.oid = x.oid
 WHERE e.extname = 'phleet' AND c.relname IN ('controller_keys') ORDER BY 1;

-- function properties
SELECT p.proname, p.prosecdef, p.provolatile, p.proparallel,
       has_function_privilege('regress_keys_app', p.oid, 'EXECUTE') AS app_may_call,
       has_function_privilege('regress_keys_admin', p.oid, 'EXECUTE') AS admin_may_call
  FROM pg_proc p WHERE p.pronamespace = 'phleet'::regnamespace
   AND p.proname IN ('rewrap_keys', 'controller_forget') ORDER BY 1;

DROP ROLE regress_keys_app;
