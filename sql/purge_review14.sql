-- Review 14: the set-aside controllers' turns (after their table's
-- cohorts) and the time budget.
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 900, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 900, false);
SELECT phleet.controller_create('r14-a');

-------------------------------------------------------------------------------
-- A run that has deleted nothing yet (the budget is checked only once it
-- has: every run makes progress) met a controller set aside with many rows
-- that fail: its turns never looked at the budget (each batch tries at most
-- 48 pieces, then goes on past them), so the run tried every one of them,
-- however long that took (1.3-2.2 ms per row; 100,000 such rows: minutes,
-- every run).  Its first turn may pass the budget, the next ones do not.
-------------------------------------------------------------------------------
CREATE TABLE r14_leads (id integer PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE r14_msgs (id integer PRIMARY KEY, lead_id integer REFERENCES r14_leads ON DELETE RESTRICT);
SELECT phleet.govern('r14_leads');
SELECT phleet.retain('r14_leads', '10 days', 'at');
BEGIN;
SELECT phleet.enter('r14-a') IS NOT NULL AS a;
INSERT INTO r14_leads SELECT g, now() - interval '20 days' - g * interval '1 minute'
  FROM generate_series(1, 300) g;
COMMIT;
-- every one of them kept
INSERT INTO r14_msgs SELECT g, g FROM generate_series(1, 300) g;
SET client_min_messages = warning;
CALL phleet.purge(batch_rows => 100, time_budget => '1 ms') \gset r_
RESET client_min_messages;
-- stopped on the budget in r14-a's turns, not after all of them
SELECT :'r_status' AS status, :r_rows_deleted AS rows_deleted;
SELECT controller, status, rows_deleted, set_aside FROM phleet.purge_log
 WHERE run_id = :r_run_id AND table_name = 'public.r14_leads';
SELECT count(*) FROM r14_leads;

-------------------------------------------------------------------------------
-- ... and a run that stops on its budget in such a turn must not make the
-- table go first again (tables are visited least recently finished first,
-- and this one had no controller done): every run stopped in it, and the
-- other tables were never reached.
-------------------------------------------------------------------------------
CREATE TABLE r14_other (id integer PRIMARY KEY, at timestamptz NOT NULL);
SELECT phleet.govern('r14_other');
SELECT phleet.retain('r14_other', '10 days', 'at');
SELECT phleet.controller_create('r14-b');
BEGIN;
SELECT phleet.enter('r14-b') IS NOT NULL AS b;
INSERT INTO r14_other SELECT g, now() - interval '20 days' FROM generate_series(1, 5) g;
COMMIT;
SET client_min_messages = warning;
CALL phleet.purge(batch_rows => 100, time_budget => '1 ms') \gset r_
RESET client_min_messages;
-- this run went to r14_other first (it went to r14_leads first, stopped
-- there, and r14-b's rows stayed)
SELECT table_name, controller, status, rows_deleted FROM phleet.purge_log
 WHERE run_id = :r_run_id AND table_name LIKE 'public.r14%' ORDER BY id;
SELECT count(*) FROM r14_other;

SELECT phleet.unretain('r14_leads'), phleet.unretain('r14_other');
DROP TABLE r14_msgs, r14_leads, r14_other;
-- clean up (later files use max(run_id))
DELETE FROM phleet.purge_runs WHERE run_id >= 900;
