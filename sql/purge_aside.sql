-- Purging controllers set aside (rows that failed to delete): a table
-- dropped before a set-aside controller's turn at the end of the run
-- (test/isolation/specs/purge_aside.spec drops one while a purge runs).
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 800, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 800, false);

SELECT phleet.controller_create('asd-a'), phleet.controller_create('asd-b');
CREATE TABLE asd_leads (id integer PRIMARY KEY, at timestamptz NOT NULL);
SELECT phleet.govern('asd_leads');
SELECT phleet.retain('asd_leads', '10 days', 'at');
BEGIN;
SELECT phleet.enter('asd-a');
INSERT INTO asd_leads SELECT g, now() - interval '20 days' + g * interval '1 hour' FROM generate_series(1, 3) g;
SELECT phleet.enter('asd-b');
INSERT INTO asd_leads SELECT 10 + g, now() - interval '20 days' + g * interval '1 hour' FROM generate_series(1, 3) g;
COMMIT;

-- a run that has logged the table's controllers (as phleet.purge() does
-- before its batches), then the table is dropped: a batch for one
-- controller alone (its turn when set aside), then for the cohort, logs
-- them as "policy changed" and says the cohort is done (it used to fail
-- with a syntax error, "LOCK TABLE <oid>", and end the run)
SELECT phleet._purge_start(10, '1 min') AS run \gset
SELECT phleet._purge_begin_table(:run, 'asd_leads') AS cohort \gset
SELECT 'asd_leads'::regclass::oid AS rel \gset
DROP TABLE asd_leads;
SELECT status, deleted, next_lo FROM phleet._purge_batch(:run, :rel::regclass, :'cohort', 10, NULL, NULL, 'asd-a');
SELECT controller, status FROM phleet.purge_log WHERE run_id = :run ORDER BY controller;
SELECT status, deleted, next_lo FROM phleet._purge_batch(:run, :rel::regclass, :'cohort', 10, NULL, NULL);
SELECT controller, status, rows_deleted FROM phleet.purge_log WHERE run_id = :run ORDER BY controller;
SELECT status, rows_deleted FROM phleet._purge_finish(:run, false);

-- clean up (later files use max(run_id))
DELETE FROM phleet.purge_runs WHERE run_id >= 800;
