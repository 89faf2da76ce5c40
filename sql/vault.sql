-- Vault and reveal: phleet.vault, phleet.reveal, phleet.forget,
-- phleet.audit_log, role phleet_reveal.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

CREATE ROLE regress_vault_app LOGIN IN ROLE phleet_gateway;
CREATE ROLE regress_vault_reader LOGIN IN ROLE phleet_gateway, phleet_reveal;
CREATE ROLE regress_vault_admin LOGIN IN ROLE phleet_admin;
SELECT phleet.controller_create('va-a'), phleet.controller_create('va-b');

CREATE TABLE va_leads (id int PRIMARY KEY, phone text, email text);
SELECT phleet.govern('va_leads');
SELECT phleet.classify('va_leads', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.classify('va_leads', 'email', 'communication', 'email');
GRANT SELECT, INSERT, UPDATE, DELETE ON va_leads TO regress_vault_app, regress_vault_reader;

SET ROLE regress_vault_app;
SELECT phleet.enter('va-a', for_session => true);
INSERT INTO va_leads VALUES (1, '+1 555 123 0000', 'jane@example.com'),
                            (2, '(555) 123-0000', 'joe@example.com'),
                            (3, NULL, NULL);
-- the same identifier again, in a later transaction
INSERT INTO va_leads VALUES (4, '+15551230000', NULL);
-- written and rolled back: never reaches the vault
BEGIN;
INSERT INTO va_leads VALUES (5, '+1 555 000 0005', NULL);
SAVEPOINT s;
INSERT INTO va_leads VALUES (6, '+1 555 000 0006', NULL);
ROLLBACK TO s;
INSERT INTO va_leads VALUES (7, '+1 555 000 0007', NULL);
COMMIT;
BEGIN;
INSERT INTO va_leads VALUES (8, '+1 555 000 0008', NULL);
ROLLBACK;
-- more than one batch in one statement
INSERT INTO va_leads SELECT 100 + g, '+1 555 200 ' || lpad(g::text, 4, '0'), NULL FROM generate_series(1, 2500) g;
SELECT phleet.enter('va-b', for_session => true);
INSERT INTO va_leads VALUES (9001, '+1 555 123 0000', 'jane@example.com');
SELECT phleet.leave();
-- the vault is nobody's to read
SELECT * FROM phleet.vault;
RESET ROLE;

-- one entry per distinct identifier and controller, and only for reveal columns
SELECT controller, count(*) AS entries FROM phleet.vault WHERE controller LIKE 'va-%'
 GROUP BY controller ORDER BY controller;
SELECT phleet.enter('va-a', for_session => true);
SELECT x AS phone, EXISTS (SELECT FROM phleet.vault v WHERE v.controller = 'va-a'
                            AND v.mac = phleet.pseudonym_mac(phleet.pseudonym(x, 'phone'))) AS in_vault
  FROM (VALUES ('+15550000005'), ('+15550000006'), ('+15550000007'), ('+15550000008')) t(x);
SELECT phleet.leave();
-- entries are encrypted: no plain identifier in them
SELECT count(*) AS plain_entries FROM phleet.vault
 WHERE controller LIKE 'va-%' AND position('\x2b3135353531323330303030'::bytea IN sealed) > 0;
-- keyed by the MAC each pseudonym encodes
SELECT count(*) AS entries_without_row FROM phleet.vault v
 WHERE controller = 'va-a'
   AND NOT EXISTS (SELECT FROM va_leads l WHERE phleet.pseudonym_mac(l.phone) = v.mac);
SELECT phleet.pseudonym_mac('not a pseudonym') IS NULL AS not_a_pseudonym;
SELECT DISTINCT get_byte(sealed, 0) AS version, length(sealed) AS bytes FROM phleet.vault
 WHERE controller = 'va-a' AND mac IN (SELECT phleet.pseudonym_mac(phone) FROM va_leads WHERE id = 1);

-- reveal: members of phleet_reveal, in the owning controller's context
SET ROLE regress_vault_reader;
SELECT phleet.enter('va-a', for_session => true);
SELECT id, phleet.reveal(phone) FROM va_leads WHERE id IN (1, 2, 4, 7) ORDER BY id;
SELECT phleet.reveal(phone) FROM va_leads WHERE id = 3;
-- refusals, each recorded
SELECT phleet.reveal(email) FROM va_leads WHERE id = 1;
SELECT phleet.reveal('+15551230000');
SELECT phleet.reveal('ps1p_' || repeat('a', 32));
BEGIN;
SELECT phleet.enter('va-b');
SELECT phleet.reveal(phone) FROM va_leads WHERE id = 9001;
ROLLBACK;
SELECT phleet.enter('va-b', for_session => true);
SELECT phleet.reveal(phone) FROM va_leads WHERE id = 9001;
CREATE TEMP TABLE va_b_phone AS SELECT phone FROM va_leads WHERE id = 9001;
SELECT phleet.enter('va-a', for_session => true);
SELECT phleet.reveal(phone) FROM va_b_phone;
SELECT phleet.leave();
SELECT phleet.reveal(phone) FROM va_b_phone;
RESET ROLE;
SET ROLE regress_vault_app;
SELECT phleet.enter('va-a', for_session => true);
SELECT phleet.reveal(phone) FROM va_leads WHERE id = 1;
SELECT phleet.leave();
RESET ROLE;

-- the audit log: every call, successes and refusals, even those whose
-- transaction rolled back; never an identifier
SET ROLE regress_vault_admin;
SELECT session_role = session_user AS session_ok, role_name, controller, action, outcome,
       pseudonym IS NOT NULL AS has_pseudonym
  FROM phleet.audit_log WHERE role_name LIKE 'regress_vault%' ORDER BY at;
SELECT count(*) AS identifiers_logged FROM phleet.audit_log WHERE pseudonym LIKE '%555%' OR pseudonym LIKE '%@%';
RESET ROLE;
-- rows 1, 2 and 4 hold the same pseudonym, revealed three times
SELECT count(*) AS reveals_of_row_1_pseudonym FROM phleet.audit_log a, va_leads l
 WHERE a.pseudonym = l.phone AND l.id = 1 AND a.outcome = 'revealed';
SET ROLE regress_vault_app;
SELECT * FROM phleet.audit_log;
RESET ROLE;

-- forget: delete one identifier's entry in the current controller
SET ROLE regress_vault_app;
SELECT phleet.forget('+1 555 123 0000', 'phone');
SELECT phleet.enter('va-a', for_session => true);
SELECT phleet.forget('+1 555 123 0000', 'phone') AS forgotten;
SELECT phleet.forget('(555) 123-0000', 'phone') AS forgotten_again;
SELECT phleet.forget(phone, 'phone') AS by_pseudonym FROM va_leads WHERE id = 7;
SELECT phleet.forget('not a phone', 'phone');
SELECT phleet.forget('x', 'ssn');
SELECT phleet.forget(NULL, 'phone') IS NULL AS strict;
RESET ROLE;
SET ROLE regress_vault_reader;
SELECT phleet.enter('va-a', for_session => true);
SELECT phleet.forget(phone, 'phone') FROM va_b_phone;
SELECT phleet.reveal(phone) FROM va_leads WHERE id = 1;
-- its pseudonyms stay
SELECT count(*) AS rows_kept FROM va_leads WHERE phone = phleet.pseudonym('+15551230000', 'phone');
-- written again later, it is kept again
INSERT INTO va_leads VALUES (9, '+1 555 123 0000', NULL);
SELECT phleet.reveal(phone) FROM va_leads WHERE id = 9;
SELECT phleet.leave();
RESET ROLE;
-- the other controller's entry is untouched
SELECT count(*) AS b_entries FROM phleet.vault WHERE controller = 'va-b';
SET ROLE regress_vault_admin;
SELECT role_name, controller, action, outcome FROM phleet.audit_log
 WHERE action = 'forget' AND role_name LIKE 'regress_vault%' ORDER BY at;
RESET ROLE;

-- a vault entry is bound to its controller and pseudonym
UPDATE phleet.vault SET sealed = (SELECT sealed FROM phleet.vault WHERE controller = 'va-a'
                                   AND mac = (SELECT phleet.pseudonym_mac(phone) FROM va_leads WHERE id = 101))
 WHERE controller = 'va-a' AND mac = (SELECT phleet.pseudonym_mac(phone) FROM va_leads WHERE id = 102);
SET ROLE regress_vault_reader;
SELECT phleet.enter('va-a', for_session => true);
SELECT phleet.reveal(phone) FROM va_leads WHERE id = 102;
SELECT phleet.leave();
RESET ROLE;

-- crypto-shredding the controller empties its vault
SET ROLE regress_vault_admin;
SELECT phleet.controller_forget('va-b');
RESET ROLE;
SELECT count(*) AS b_entries FROM phleet.vault WHERE controller = 'va-b';
SET ROLE regress_vault_reader;
SELECT phleet.enter('va-b', for_session => true);
SELECT phleet.reveal(phone) FROM va_leads WHERE id = 9001;
SELECT phleet.leave();
RESET ROLE;
SET ROLE regress_vault_admin;
SELECT role_name, controller, outcome FROM phleet.audit_log
 WHERE role_name = 'regress_vault_reader' ORDER BY at DESC LIMIT 2;
RESET ROLE;

-- entries written directly, and those that meet an existing entry (from an
-- earlier transaction, or a concurrent one: see the isolation spec), checked
-- the way ON CONFLICT DO NOTHING checks them: a few of them, then mostly
-- them, then a subtransaction rolled back after its batches were written
SELECT phleet.controller_create('va-c');
SET ROLE regress_vault_app;
SELECT phleet.enter('va-c', for_session => true);
INSERT INTO va_leads SELECT 20000 + g, '+1 555 300 ' || lpad(g::text, 4, '0'), NULL FROM generate_series(1, 1200) g;
INSERT INTO va_leads SELECT 22000 + g, '+1 555 300 ' || lpad((g * 100)::text, 4, '0'), NULL FROM generate_series(1, 12) g
 UNION ALL SELECT 22100 + g, '+1 555 301 ' || lpad(g::text, 4, '0'), NULL FROM generate_series(1, 1000) g;
INSERT INTO va_leads SELECT 24000 + g, '+1 555 30' || (g % 2) || ' ' || lpad(g::text, 4, '0'), NULL FROM generate_series(1, 2400) g;
BEGIN;
SAVEPOINT s;
INSERT INTO va_leads SELECT 28000 + g, '+1 555 302 ' || lpad(g::text, 4, '0'), NULL FROM generate_series(1, 2100) g;
ROLLBACK TO s;
INSERT INTO va_leads SELECT 28000 + g, '+1 555 302 ' || lpad(g::text, 4, '0'), NULL FROM generate_series(1, 10) g;
COMMIT;
SELECT phleet.leave();
RESET ROLE;
-- 1200 + 1000 + 1300 new of the 2400 (even ones above 1200, odd ones above 1000) + 10
SELECT count(*) AS c_entries FROM phleet.vault WHERE controller = 'va-c';
SELECT count(*) AS c_rows, count(DISTINCT phone) AS c_pseudonyms,
       count(*) FILTER (WHERE NOT EXISTS (SELECT FROM phleet.vault v WHERE v.controller = 'va-c'
                                           AND v.mac = phleet.pseudonym_mac(l.phone))) AS c_not_in_vault
  FROM va_leads l WHERE controller = 'va-c';
SET ROLE regress_vault_reader;
SELECT phleet.enter('va-c', for_session => true);
SELECT phleet.reveal(phone) FROM va_leads WHERE id IN (20007, 22005, 24999, 28010) ORDER BY id;
SELECT phleet.leave();
RESET ROLE;

-- more distinct identifiers in one transaction than the deduplication set
-- holds (at least 65,536; here work_mem is small): the set starts over, the
-- identifiers seen again are queued again, and the vault still gets each once;
-- with little maintenance_work_mem, the queue is written every 65,536 entries,
-- in the middle of each statement
SELECT phleet.controller_create('va-d');
SET ROLE regress_vault_app;
SET work_mem = '64kB';
SET maintenance_work_mem = '1MB';
BEGIN;
SELECT phleet.enter('va-d');
INSERT INTO va_leads SELECT 100000 + g, '+1 555 4' || lpad(g::text, 6, '0'), NULL FROM generate_series(1, 66000) g;
INSERT INTO va_leads SELECT 200000 + g, '+1 555 4' || lpad(g::text, 6, '0'), NULL FROM generate_series(1, 66000) g;
COMMIT;
RESET work_mem;
RESET maintenance_work_mem;
RESET ROLE;
SELECT count(*) AS d_rows, count(DISTINCT phone) AS d_pseudonyms FROM va_leads WHERE controller = 'va-d';
SELECT count(*) AS d_entries FROM phleet.vault WHERE controller = 'va-d';

-- several revealable columns in one row: each is kept and revealed; a row
-- refused for a later column leaves nothing of its earlier columns in the
-- vault
CREATE TABLE va_wide (id int PRIMARY KEY, phone text, email text, device text, ip text);
SELECT phleet.govern('va_wide');
SELECT phleet.classify('va_wide', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.classify('va_wide', 'email', 'communication', 'email', reveal => true);
SELECT phleet.classify('va_wide', 'device', 'device', 'device', reveal => true);
SELECT phleet.classify('va_wide', 'ip', 'device', 'ip');
GRANT SELECT, INSERT ON va_wide TO regress_vault_app, regress_vault_reader;
SELECT count(*) AS d_entries_before FROM phleet.vault WHERE controller = 'va-d' \gset
SET ROLE regress_vault_app;
SELECT phleet.enter('va-d', for_session => true);
INSERT INTO va_wide VALUES (1, '+1 555 777 0001', 'Wide@Example.com', 'dev-777-1', '10.7.7.1');
INSERT INTO va_wide VALUES (2, '+1 555 777 0002', 'wide2@example.com', 'dev-777-2', 'not an ip');
INSERT INTO va_wide VALUES (3, '+1 555 777 0003', 'not an email', 'dev-777-3', NULL);
RESET ROLE;
SET ROLE regress_vault_reader;
SELECT phleet.enter('va-d', for_session => true);
SELECT phleet.reveal(phone) AS phone, phleet.reveal(email) AS email, phleet.reveal(device) AS device
  FROM va_wide;
RESET ROLE;
SELECT count(*) - :d_entries_before AS new_entries FROM phleet.vault WHERE controller = 'va-d';

-- objects: vault and audit log travel with pg_dump; reveal is callable by
-- everyone (so refusals are logged), forget too (it needs a context)
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) x(oid) JOIN pg_class c ON c.oid = x.oid
 WHERE e.extname = 'phleet' AND c.relname IN ('vault', 'audit_log') ORDER BY 1;
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef,
       has_function_privilege('regress_vault_app', p.oid, 'EXECUTE') AS app_may_call
  FROM pg_proc p WHERE p.pronamespace = 'phleet'::regnamespace
   AND p.proname IN ('reveal', 'forget') ORDER BY 1;
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'phleet_reveal';

DROP TABLE va_leads, va_b_phone, va_wide;
DROP ROLE regress_vault_app, regress_vault_reader;
