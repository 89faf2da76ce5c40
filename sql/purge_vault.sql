-- Purging the vault: entries of identifiers that no row holds any more in a
-- revealable column go with the purge run that deleted their last row.
\set SHOW_CONTEXT never
-- day-long intervals span 23 or 25 hours across a DST change: batch
-- boundaries would depend on the date the test runs
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 300, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 300, false);

CREATE ROLE regress_pv_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_pv_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('pv-a'), phleet.controller_create('pv-b');

-- leads (phone revealable, email not) are kept 30 days, messages (phone
-- revealable) a year
CREATE TABLE pv_leads (id int PRIMARY KEY, at timestamptz NOT NULL, phone text, email text);
CREATE TABLE pv_msgs (id int PRIMARY KEY, at timestamptz NOT NULL, phone text);
SELECT phleet.govern('pv_leads'), phleet.govern('pv_msgs');
SELECT phleet.classify('pv_leads', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.classify('pv_leads', 'email', 'communication', 'email');
SELECT phleet.classify('pv_msgs', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.retain('pv_leads', '30 days', 'at'), phleet.retain('pv_msgs', '1 year', 'at');
GRANT ALL ON pv_leads, pv_msgs TO regress_pv_app;

SET ROLE regress_pv_app;
BEGIN;
SELECT phleet.enter('pv-a');
INSERT INTO pv_leads VALUES
    (1, now() - interval '60 days', '+1 555 020 0001', 'one@example.com'),  -- expired, only row
    (2, now() - interval '60 days', '+1 555 020 0002', NULL),               -- expired, also a message
    (3, now() - interval '1 day',   '+1 555 020 0003', NULL),               -- kept
    (4, now() - interval '60 days', '+1 555 020 0004', NULL),               -- expired, and again in 5
    (5, now() - interval '1 day',   '+1 555 020 0004', NULL);
INSERT INTO pv_msgs VALUES (1, now() - interval '1 day', '+1 555 020 0002');
COMMIT;
BEGIN;
SELECT phleet.enter('pv-b');
-- the same number as pv-a's expired lead 1, in another controller
INSERT INTO pv_leads VALUES (101, now() - interval '60 days', '+1 555 020 0001', NULL),
                            (102, now() - interval '1 day', '+1 555 020 0005', NULL);
COMMIT;
RESET ROLE;

SELECT controller, count(*) FROM phleet.vault WHERE controller LIKE 'pv-%' GROUP BY 1 ORDER BY 1;

-- pv-b is under a legal hold on all its data
SELECT phleet.hold('pv-b', 'case pv-17') AS hold_b \gset

SET ROLE regress_pv_admin;
SET client_min_messages = warning;
CALL phleet.purge();
RESET client_min_messages;

-- pv-a: the entries of 0001 went (its only row expired); 0002 stays (a
-- message holds it), 0003 and 0004 stay (rows within retention hold them);
-- the email is not revealable and was never in the vault
RESET ROLE;
SELECT phleet.enter('pv-a', for_session => true);
SELECT x AS phone, EXISTS (SELECT FROM phleet.vault v WHERE v.controller = 'pv-a'
                            AND v.mac = phleet.pseudonym_mac(phleet.pseudonym(x, 'phone'))) AS in_vault
  FROM (VALUES ('+15550200001'), ('+15550200002'), ('+15550200003'), ('+15550200004')) t(x);
SELECT phleet.leave();
-- pv-b keeps both entries: its expired rows and its vault are on hold
SELECT controller, count(*) FROM phleet.vault WHERE controller LIKE 'pv-%' GROUP BY 1 ORDER BY 1;
SELECT table_name, controller, method, status, rows_deleted, rows_held
  FROM phleet.purge_log WHERE controller LIKE 'pv-%' ORDER BY id;
-- the run's summary counts the rows of tables, not vault entries
SELECT r.rows_deleted, r.rows_held FROM phleet.purge_runs r
 WHERE r.run_id = (SELECT max(l.run_id) FROM phleet.purge_log l WHERE l.controller LIKE 'pv-%');

-- a controller sees its own vault log rows, and no other's
SET ROLE regress_pv_app;
SELECT phleet.enter('pv-a', for_session => true);
SELECT controller, method, status FROM phleet.purge_log WHERE method = 'vault' ORDER BY id;
SELECT phleet.leave();
RESET ROLE;

-- a run that deletes nothing from a table with a revealable column leaves
-- the vault alone
SET ROLE regress_pv_admin;
SET client_min_messages = warning;
CALL phleet.purge();
RESET client_min_messages;
RESET ROLE;
SELECT count(*) AS vault_rows_of_last_run FROM phleet.purge_log
 WHERE method = 'vault' AND run_id = (SELECT max(run_id) FROM phleet.purge_runs);

-- once the hold is released, the next run that deletes pv-b's rows prunes
-- its vault: 0001 goes in pv-b too, 0005 stays
SELECT phleet.release(:hold_b);
SET ROLE regress_pv_admin;
CALL phleet.purge();
RESET ROLE;
SELECT controller, count(*) FROM phleet.vault WHERE controller LIKE 'pv-%' GROUP BY 1 ORDER BY 1;
SELECT controller, status, rows_deleted FROM phleet.purge_log
 WHERE method = 'vault' AND run_id = (SELECT max(run_id) FROM phleet.purge_runs) ORDER BY id;

-- a pruning that failed is done again by the next run, even one that
-- deletes nothing: here, a pruning not at READ COMMITTED (its snapshot
-- would predate its lock)
SET ROLE regress_pv_app;
BEGIN;
SELECT phleet.enter('pv-a');
INSERT INTO pv_leads VALUES (6, now() - interval '60 days', '+1 555 020 0006', NULL);
COMMIT;
RESET ROLE;
SET ROLE regress_pv_admin;
SET default_transaction_isolation = 'repeatable read';
SET client_min_messages = warning;
CALL phleet.purge();
RESET default_transaction_isolation;
CALL phleet.purge();
RESET client_min_messages;
RESET ROLE;
SELECT count(*) AS entries_of_0006 FROM phleet.vault v
 WHERE v.controller = 'pv-a' AND NOT EXISTS (SELECT FROM pv_leads l WHERE phleet.pseudonym_mac(l.phone) = v.mac)
   AND NOT EXISTS (SELECT FROM pv_msgs m WHERE phleet.pseudonym_mac(m.phone) = v.mac);
SELECT l.run_id, l.controller, l.method, l.status, l.rows_deleted, l.error
  FROM phleet.purge_log l
 WHERE l.controller = 'pv-a' AND l.run_id >= (SELECT max(run_id) - 1 FROM phleet.purge_runs)
 ORDER BY l.id;

-- entries of rows the application deleted itself go with the first purge
-- after phleet.vault_sweep_interval (default a day) since the last pruning
SHOW phleet.vault_sweep_interval;
SELECT phleet.enter('pv-a', for_session => true);
DELETE FROM pv_leads WHERE id = 3;
SELECT phleet.leave();
SET ROLE regress_pv_admin;
SET client_min_messages = warning;
CALL phleet.purge();
RESET ROLE;
SELECT count(*) AS vault_rows_of_last_run FROM phleet.purge_log
 WHERE method = 'vault' AND run_id = (SELECT max(run_id) FROM phleet.purge_runs);
-- (two days pass)
UPDATE phleet.purge_log SET finished = finished - interval '2 days' WHERE method = 'vault';
UPDATE phleet.controllers SET created_at = created_at - interval '2 days' WHERE handle LIKE 'pv-%';
-- 0 turns the sweep off
SET phleet.vault_sweep_interval = 0;
SET ROLE regress_pv_admin;
CALL phleet.purge();
RESET ROLE;
SELECT count(*) AS vault_rows_of_last_run FROM phleet.purge_log
 WHERE method = 'vault' AND run_id = (SELECT max(run_id) FROM phleet.purge_runs);
SET phleet.vault_sweep_interval = '1d';
SET ROLE regress_pv_admin;
CALL phleet.purge();
RESET ROLE;
RESET client_min_messages;
SELECT controller, status, rows_deleted FROM phleet.purge_log
 WHERE method = 'vault' AND run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND controller LIKE 'pv-%'
 ORDER BY id;
SELECT phleet.enter('pv-a', for_session => true);
SELECT EXISTS (SELECT FROM phleet.vault v WHERE v.controller = 'pv-a'
                AND v.mac = phleet.pseudonym_mac(phleet.pseudonym('+15550200003', 'phone'))) AS in_vault_0003;
SELECT phleet.leave();
RESET phleet.vault_sweep_interval;
-- only a superuser sets it
SET ROLE regress_pv_admin;
SET phleet.vault_sweep_interval = 0;
RESET ROLE;

-- a writer of a revealable column holds its controller's vault lock (a user
-- lock, in share mode) until its transaction ends, also when it wrote in a
-- subtransaction rolled back since, and also for a value that is already a
-- pseudonym; it holds nothing on phleet.vault itself, which would make the
-- pruning wait for writers of every controller
CREATE VIEW pv_vault_locks AS
SELECT l.objid = (SELECT hashtext('pv-a'))::oid AS of_pv_a, l.mode, l.granted
  FROM pg_locks l
 WHERE l.locktype = 'userlock' AND l.classid = 1885891700 AND l.objsubid = 2
   AND l.pid = pg_backend_pid()
UNION ALL
SELECT NULL, l.mode, l.granted FROM pg_locks l
 WHERE l.locktype = 'relation' AND l.relation = 'phleet.vault'::regclass
   AND l.pid = pg_backend_pid();
GRANT SELECT ON pv_vault_locks TO regress_pv_app;
SET ROLE regress_pv_app;
SELECT phleet.enter('pv-a', for_session => true);
BEGIN;
SAVEPOINT s;
INSERT INTO pv_msgs VALUES (2, now(), phleet.pseudonym('+15550200003', 'phone'));
ROLLBACK TO s;
SELECT * FROM pv_vault_locks;
COMMIT;
-- a row without a value in a revealable column takes no lock
BEGIN;
INSERT INTO pv_leads VALUES (7, now(), NULL, 'seven@example.com');
SELECT count(*) AS vault_locks FROM pv_vault_locks;
ROLLBACK;
SELECT phleet.leave();

-- the pruning is phleet.purge()'s: nobody else calls it or takes its locks
SELECT phleet._purge_vault(1, 'pv-a');
SELECT phleet._purge_vault_controllers(1);
SELECT phleet._vault_lock('pv-a');
SELECT phleet._purge_lock();
SELECT phleet._purge_unlock();
RESET ROLE;
SET ROLE regress_pv_admin;
SELECT phleet._vault_lock('pv-a');
SELECT phleet._purge_lock();
RESET ROLE;
-- its lock on a controller's vault is exclusive, for the transaction
BEGIN;
SELECT phleet._vault_lock('pv-a');
SELECT * FROM pv_vault_locks;
COMMIT;
SELECT count(*) AS vault_locks FROM pv_vault_locks;
SELECT phleet._vault_lock('not a handle');
SELECT phleet._vault_lock(NULL);
-- the purge lock is the session's, taken once, released at the end of a run
SELECT phleet._purge_lock(), phleet._purge_lock();
SELECT mode, granted FROM pg_locks
 WHERE locktype = 'userlock' AND classid = 1885891700 AND objid = 1 AND objsubid = 1
   AND pid = pg_backend_pid();
SELECT phleet._purge_unlock(), phleet._purge_unlock();
SELECT count(*) AS purge_locks FROM pg_locks
 WHERE locktype = 'userlock' AND classid = 1885891700 AND objsubid = 1 AND pid = pg_backend_pid();

-- With every revealable column indexed, the pruning finds its candidates
-- without the vault lock, then deletes them in short transactions under the
-- lock, each after looking its pseudonym up in those indexes again.
-- Which indexes serve: equality on the column, leading or after the
-- controller column; not partial, not on an expression
CREATE TABLE pv_idx (id int, controller text, at timestamptz, phone text);
CREATE INDEX pv_idx_at_phone ON pv_idx (at, phone);
CREATE INDEX pv_idx_lower ON pv_idx (lower(phone));
CREATE INDEX pv_idx_part ON pv_idx (phone) WHERE id > 0;
SELECT phleet._purge_vault_indexed('pv_idx', 'phone', 'controller') AS indexed;
CREATE INDEX pv_idx_cp ON pv_idx (controller, phone);
SELECT phleet._purge_vault_indexed('pv_idx', 'phone', 'controller') AS indexed;
DROP INDEX pv_idx_cp;
CREATE INDEX pv_idx_hash ON pv_idx USING hash (phone);
SELECT phleet._purge_vault_indexed('pv_idx', 'phone', 'controller') AS indexed;
DROP TABLE pv_idx;
-- a pseudonym found again from its vault key
SELECT phleet.enter('pv-a', for_session => true);
SELECT phleet._pseudonym_of_mac('pv-a', 'phone', phleet.pseudonym_mac(p)) = p AS same,
       phleet._pseudonym_of_mac('pv-b', 'phone', phleet.pseudonym_mac(p)) = p AS same_in_pv_b,
       phleet._pseudonym_of_mac('pv-a', 'email', phleet.pseudonym_mac(p)) = p AS same_as_email
  FROM (SELECT phleet.pseudonym('+15550200004', 'phone') AS p) x;
SELECT phleet._pseudonym_of_mac('pv-a', 'fax', gen_random_uuid());
SELECT phleet._pseudonym_of_mac('no such', 'phone', gen_random_uuid());
-- new numbers: 0008 expires, 0009 expires but a message keeps it, 0010 is
-- deleted by the application
INSERT INTO pv_leads VALUES (8, now() - interval '60 days', '+1 555 020 0008', NULL),
                            (9, now() - interval '60 days', '+1 555 020 0009', NULL),
                            (10, now(), '+1 555 020 0010', NULL);
INSERT INTO pv_msgs VALUES (9, now(), '+1 555 020 0009');
DELETE FROM pv_leads WHERE id = 10;
SELECT phleet.leave();
-- (runs 400 and 401 stand for runs of phleet.purge())
INSERT INTO phleet.purge_runs (run_id, status, batch_rows, time_budget)
VALUES (400, 'done', 1, '1 min'), (401, 'done', 1, '1 min');
-- phleet.check() names the revealable columns no index serves
SELECT object, hint FROM phleet.check() WHERE object LIKE 'column phone of table public.pv\_%' ORDER BY object;
-- only pv_leads.phone indexed: the pruning is done in one transaction (it
-- deletes 0010's entry, whose row the application deleted)
CREATE INDEX pv_leads_phone ON pv_leads (phone);
SELECT status, deleted, candidates FROM phleet._purge_vault(400, 'pv-a');
-- both: it returns candidates (0010 and 0011, written and deleted again)
-- and logs a running row
CREATE INDEX pv_msgs_phone ON pv_msgs (controller, phone);
SELECT count(*) AS unindexed FROM phleet.check() WHERE object LIKE 'column phone of table public.pv\_%';
SELECT phleet.enter('pv-a', for_session => true);
INSERT INTO pv_leads VALUES (10, now(), '+1 555 020 0010', NULL), (11, now(), '+1 555 020 0011', NULL);
DELETE FROM pv_leads WHERE id IN (10, 11);
SELECT phleet.pseudonym_mac(phleet.pseudonym('+15550200011', 'phone')) AS mac11 \gset
SELECT phleet.leave();
-- (chunk: candidates per transaction, 10,000 lookups over the two tables);
-- the candidates stay in a table only phleet's owner reads: their MACs do
-- not reach the caller
SELECT status, deleted, candidates, chunk FROM phleet._purge_vault(401, 'pv-a');
SELECT run_id, controller, chunk_no, cardinality(macs) AS candidates, :'mac11'::uuid = ANY (macs) AS has_0011
  FROM phleet.purge_vault_candidates;
SELECT status, rows_deleted, batches FROM phleet.purge_log WHERE run_id = 401;
SET ROLE regress_pv_admin;
SELECT count(*) FROM phleet.purge_vault_candidates;
RESET ROLE;
-- a candidate that a row holds again by the time it is deleted stays: 0011
-- is written again (and committed) after the candidates were found
SELECT phleet.enter('pv-a', for_session => true);
INSERT INTO pv_msgs VALUES (11, now(), '+1 555 020 0011');
SELECT phleet.leave();
-- (every entry of pv-a made a candidate too, one per chunk: only 0010 and
-- 0011 are unreferenced)
INSERT INTO phleet.purge_vault_candidates
SELECT 401, v.controller, row_number() OVER (), ARRAY[v.mac] FROM phleet.vault v WHERE v.controller = 'pv-a';
SELECT count(*) AS chunks FROM phleet.purge_vault_candidates \gset
DO $$
DECLARE
    r record;
    calls integer := 0;
    deleted bigint := 0;
BEGIN
    LOOP
        SELECT * INTO r FROM phleet._purge_vault_delete(401, 'pv-a');
        calls := calls + 1;
        deleted := deleted + r.deleted;
        EXIT WHEN r.status <> 'running';
    END LOOP;
    RAISE NOTICE 'status %, calls %, deleted %', r.status, calls, deleted;
END $$;
SELECT :chunks AS chunks;
SELECT count(*) AS candidates_left FROM phleet.purge_vault_candidates;
SELECT status, rows_deleted, batches > 2 AS batches FROM phleet.purge_log WHERE run_id = 401;
SELECT phleet.enter('pv-a', for_session => true);
SELECT x AS phone, EXISTS (SELECT FROM phleet.vault v WHERE v.controller = 'pv-a'
                            AND v.mac = phleet.pseudonym_mac(phleet.pseudonym(x, 'phone'))) AS in_vault
  FROM (VALUES ('+15550200004'), ('+15550200009'), ('+15550200010'), ('+15550200011')) t(x);
SELECT phleet.leave();
-- the delete step checks again what the first step checked: a hold placed
-- in between keeps the vault (the running row becomes held) ...
UPDATE phleet.purge_log SET status = 'running', finished = NULL WHERE run_id = 401 AND method = 'vault';
SELECT phleet.hold('pv-a', 'case pv-18') AS hold_a \gset
INSERT INTO phleet.purge_vault_candidates
SELECT 401, 'pv-a', 0, array_agg(v.mac) FROM phleet.vault v WHERE v.controller = 'pv-a';
SELECT status, deleted FROM phleet._purge_vault_delete(401, 'pv-a');
SELECT status, rows_deleted FROM phleet.purge_log WHERE run_id = 401;
SELECT count(*) > 0 AS candidates_kept FROM phleet.purge_vault_candidates;
SELECT phleet.release(:hold_a);
-- ... and it refuses to run at another isolation level than READ COMMITTED,
-- logging the error on the running row
UPDATE phleet.purge_log SET status = 'running', finished = NULL WHERE run_id = 401 AND method = 'vault';
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT status, deleted FROM phleet._purge_vault_delete(401, 'pv-a');
COMMIT;
SELECT status, error FROM phleet.purge_log WHERE run_id = 401;
-- phleet_admin may run the first step (phleet.purge() does, as its
-- caller): its result names no vault key, even with a candidate (0012)
SELECT phleet.enter('pv-a', for_session => true);
INSERT INTO pv_leads VALUES (12, now(), '+1 555 020 0012', NULL);
DELETE FROM pv_leads WHERE id = 12;
SELECT phleet.leave();
SET ROLE regress_pv_admin;
SELECT status, candidates, v::text ~ '[0-9a-f]{8}-[0-9a-f]{4}-' AS shows_a_mac
  FROM phleet._purge_vault(401, 'pv-a') v;
RESET ROLE;
-- the run's end drops what it left
SELECT status FROM phleet._purge_finish(401, false);
SELECT count(*) AS candidates_left FROM phleet.purge_vault_candidates;
DELETE FROM phleet.purge_log WHERE run_id IN (400, 401);
DELETE FROM phleet.purge_runs WHERE run_id IN (400, 401);
-- end to end: 0008 expires and goes with the purge, in the two steps (and
-- what an interrupted run left among the candidates is dropped first)
INSERT INTO phleet.purge_vault_candidates VALUES (399, 'pv-gone', 0, ARRAY[gen_random_uuid()]);
SET ROLE regress_pv_admin;
SET client_min_messages = warning;
CALL phleet.purge();
RESET client_min_messages;
RESET ROLE;
SELECT count(*) AS candidates_left FROM phleet.purge_vault_candidates;
SELECT controller, status, rows_deleted, batches FROM phleet.purge_log
 WHERE method = 'vault' AND run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND controller LIKE 'pv-%'
 ORDER BY id;
SELECT phleet.enter('pv-a', for_session => true);
SELECT x AS phone, EXISTS (SELECT FROM phleet.vault v WHERE v.controller = 'pv-a'
                            AND v.mac = phleet.pseudonym_mac(phleet.pseudonym(x, 'phone'))) AS in_vault
  FROM (VALUES ('+15550200008'), ('+15550200009'), ('+15550200011')) t(x);
SELECT phleet.leave();
-- internal: not the application's, nor phleet_admin's to compute pseudonyms with
SET ROLE regress_pv_app;
SELECT phleet._pseudonym_of_mac('pv-b', 'phone', gen_random_uuid());
SELECT phleet._purge_vault_delete(1, 'pv-a');
SET ROLE regress_pv_admin;
SELECT phleet._pseudonym_of_mac('pv-b', 'phone', gen_random_uuid());
RESET ROLE;

SELECT phleet.enter('pv-a', for_session => true);
DELETE FROM pv_leads;
DELETE FROM pv_msgs;
SELECT phleet.enter('pv-b', for_session => true);
DELETE FROM pv_leads;
SELECT phleet.leave();
DROP VIEW pv_vault_locks;
DROP TABLE pv_leads, pv_msgs;
DELETE FROM phleet.vault WHERE controller LIKE 'pv-%';
DROP ROLE regress_pv_admin, regress_pv_app;
