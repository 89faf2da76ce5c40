-- Purging controllers set aside (rows that failed to delete): a table
-- dropped between the purge's batches, before a set-aside controller's turn
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

-- A controller set aside gets its turn once the other controllers of its
-- table are done, before the run goes on to the next table: a run that
-- stops on its budget in a later table (every run, under a lasting backlog)
-- no longer skips the turns (they came at the end of the run, and never
-- came).  asd_x1 is visited first (never finished, then by name).
CREATE TABLE asd_x1 (id integer PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE asd_x1_refs (id integer PRIMARY KEY, x1 integer REFERENCES asd_x1 ON DELETE RESTRICT);
CREATE TABLE asd_x2 (id integer PRIMARY KEY, at timestamptz NOT NULL);
SELECT phleet.govern('asd_x1'), phleet.govern('asd_x2');
SELECT phleet.retain('asd_x1', '10 days', 'at'), phleet.retain('asd_x2', '10 days', 'at');
BEGIN;
SELECT phleet.enter('asd-a') IS NOT NULL AS a;
-- asd-a's oldest row is kept by a reference; its 8 others can go
INSERT INTO asd_x1 SELECT g, now() - interval '20 days' + g * interval '1 hour' FROM generate_series(1, 9) g;
SELECT phleet.enter('asd-b') IS NOT NULL AS b;
INSERT INTO asd_x1 SELECT 100 + g, now() - interval '20 days' + g * interval '1 hour' + interval '1 minute'
  FROM generate_series(1, 9) g;
INSERT INTO asd_x2 SELECT g, now() - interval '20 days' + g * interval '1 hour' FROM generate_series(1, 9) g;
COMMIT;
INSERT INTO asd_x1_refs VALUES (1, 1);
SET client_min_messages = warning;
CALL phleet.purge(batch_rows => 4) \gset x_
RESET client_min_messages;
SELECT l.table_name, l.controller, l.status, l.rows_deleted,
       l.finished < (SELECT min(x.started) FROM phleet.purge_log x
                      WHERE x.run_id = l.run_id AND x.relid = 'asd_x2'::regclass) AS before_next_table
  FROM phleet.purge_log l
 WHERE l.run_id = :x_run_id AND l.relid = 'asd_x1'::regclass ORDER BY 2;
SELECT controller, array_agg(id ORDER BY id) AS left FROM asd_x1 GROUP BY 1 ORDER BY 1;
SELECT phleet.unretain('asd_x1'), phleet.unretain('asd_x2');
DROP TABLE asd_x1_refs, asd_x1, asd_x2;

-- clean up (later files use max(run_id))
DELETE FROM phleet.purge_runs WHERE run_id >= 800;
