-- Purging rows that cannot be deleted (ON DELETE RESTRICT / NO ACTION from
-- a row that does not expire): a controller with many such rows is set
-- aside and purged on its own once the others of its table are done, so
-- that its rows do not make every batch of the others' a batch of 48
-- subtransactions.
\set SHOW_CONTEXT never
-- day-long intervals span 23 or 25 hours across a DST change: batch
-- boundaries would depend on the date the test runs
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 700, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 700, false);

CREATE ROLE regress_rst_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_rst_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('rst-a'), phleet.controller_create('rst-b'),
       phleet.controller_create('rst-c');

-- the log of the last run, for this file's tables
CREATE FUNCTION rst_log() RETURNS TABLE (table_name text, controller text, status text,
                                         rows_deleted bigint, error text)
LANGUAGE sql AS $$
    SELECT l.table_name, l.controller, l.status, l.rows_deleted, l.error FROM phleet.purge_log l
     WHERE l.run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND l.table_name LIKE 'public.rst%'
       AND l.method = 'rows'
     ORDER BY 1, 2 $$;
GRANT EXECUTE ON FUNCTION rst_log() TO regress_rst_admin;

-------------------------------------------------------------------------------
-- A keeps 200 of its expired leads with messages of its own (which do not
-- expire), interleaved in time with B's 1,000 expired leads, in one cohort.
-- A's rows used to be tried again, in pieces, in every window: B's purge
-- took ~10 batches of 48 subtransactions per batch of its own (with
-- 5,000 of A's among 200,000 of B's, 100 times longer than without them).
-- Now the first batch that meets them sets A aside: B's windows leave A
-- out, and A is purged on its own after everything else.
-------------------------------------------------------------------------------
CREATE TABLE rst_leads (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE rst_msgs (id bigserial PRIMARY KEY, lead_id bigint REFERENCES rst_leads (id) ON DELETE RESTRICT);
GRANT ALL ON ALL TABLES IN SCHEMA public TO regress_rst_app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO regress_rst_app;
SELECT phleet.govern('rst_leads'), phleet.govern('rst_msgs');
SET ROLE regress_rst_app;
BEGIN;
SELECT phleet.enter('rst-b');
INSERT INTO rst_leads (at) SELECT now() - interval '20 days' - g * interval '1 minute'
  FROM generate_series(1, 1000) g;
INSERT INTO rst_leads (at) SELECT now() - g * interval '1 minute' FROM generate_series(1, 10) g;
SELECT phleet.enter('rst-a');
INSERT INTO rst_leads (at) SELECT now() - interval '20 days' - g * interval '4 minutes' - interval '30 s'
  FROM generate_series(1, 250) g;
INSERT INTO rst_leads (at) SELECT now() - g * interval '1 minute' FROM generate_series(1, 10) g;
-- all but every fifth of its expired leads (A's own rows only)
INSERT INTO rst_msgs (lead_id)
SELECT id FROM rst_leads WHERE at < now() - interval '10 days' AND id % 5 <> 0;
COMMIT;
RESET ROLE;
SELECT controller, count(*) AS expired, count(*) FILTER (WHERE id IN (SELECT lead_id FROM rst_msgs)) AS referenced
  FROM rst_leads WHERE at < now() - interval '10 days' GROUP BY 1 ORDER BY 1;
SET ROLE regress_rst_admin;
SET client_min_messages = warning;
SELECT phleet.retain('rst_leads', '10 days', 'at');
CALL phleet.purge(batch_rows => 100);
RESET client_min_messages;
-- every row of B's, A's unreferenced ones; A's referenced ones stay, logged
SELECT * FROM rst_log();
-- B's batches: its ~1,000 rows in windows of at most 100 (no longer one
-- per 48 pieces of A's); A was done after B
SELECT b.batches < 20 AS b_few_batches, a.batches > 0 AS a_batches, a.finished > b.finished AS a_after_b
  FROM phleet.purge_log a, phleet.purge_log b
 WHERE a.run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND b.run_id = a.run_id
   AND a.controller = 'rst-a' AND b.controller = 'rst-b' AND a.method = 'rows' AND b.method = 'rows';
SELECT status FROM phleet.purge_runs ORDER BY run_id DESC LIMIT 1;
RESET ROLE;
SELECT controller, count(*) AS expired_left,
       count(*) FILTER (WHERE id NOT IN (SELECT lead_id FROM rst_msgs)) AS unreferenced_left
  FROM rst_leads WHERE at < now() - interval '10 days' GROUP BY 1 ORDER BY 1;

-- the next run tries A's rows again (on its own): the same log row, nothing more
SET ROLE regress_rst_admin;
SET client_min_messages = warning;
CALL phleet.purge(batch_rows => 100);
RESET client_min_messages;
SELECT * FROM rst_log();
RESET ROLE;

-------------------------------------------------------------------------------
-- A's rows older than everyone's (A can write any time in its own context),
-- a second cohort (C keeps 15 days) and a second table: all of them are
-- done before A is, and C's one kept row sets C aside too, purged in turn
-- with A.
-------------------------------------------------------------------------------
CREATE TABLE rst_events (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
GRANT ALL ON rst_events, rst_events_id_seq TO regress_rst_app;
SELECT phleet.govern('rst_events');
SET ROLE regress_rst_app;
BEGIN;
SELECT phleet.enter('rst-a');
INSERT INTO rst_leads (at) SELECT now() - interval '400 days' - g * interval '1 minute'
  FROM generate_series(1, 300) g;
INSERT INTO rst_msgs (lead_id) SELECT id FROM rst_leads WHERE at < now() - interval '399 days';
SELECT phleet.enter('rst-b');
INSERT INTO rst_leads (at) SELECT now() - interval '20 days' - g * interval '1 minute'
  FROM generate_series(1, 300) g;
INSERT INTO rst_events (at) SELECT now() - interval '20 days' - g * interval '1 minute'
  FROM generate_series(1, 300) g;
SELECT phleet.enter('rst-c');
INSERT INTO rst_leads (at) SELECT now() - interval '20 days' - g * interval '1 minute'
  FROM generate_series(1, 300) g;
INSERT INTO rst_msgs (lead_id)
SELECT id FROM rst_leads WHERE at < now() - interval '10 days' ORDER BY at LIMIT 1;
COMMIT;
RESET ROLE;
SET ROLE regress_rst_admin;
SET client_min_messages = warning;
SELECT phleet.retain('rst_leads', '15 days', 'at', 'rst-c');
SELECT phleet.retain('rst_events', '10 days', 'at');
CALL phleet.purge(batch_rows => 100);
RESET client_min_messages;
SELECT * FROM rst_log();
-- A and C (set aside) were done after the others of their table
SELECT l.controller, l.table_name,
       l.finished > (SELECT max(x.finished) FROM phleet.purge_log x
                      WHERE x.run_id = l.run_id AND x.method = 'rows' AND x.relid = l.relid
                        AND x.controller NOT IN ('rst-a', 'rst-c')) AS after_the_others
  FROM phleet.purge_log l
 WHERE l.run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND l.method = 'rows'
   AND l.controller IN ('rst-a', 'rst-c')
 ORDER BY 1;
RESET ROLE;
SELECT controller, count(*) AS expired_left FROM rst_leads WHERE at < now() - interval '15 days'
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS events_left FROM rst_events WHERE at < now() - interval '10 days';
DELETE FROM rst_msgs;
DELETE FROM rst_leads;
SELECT phleet.unretain('rst_leads', 'rst-c');

-------------------------------------------------------------------------------
-- the vault: a controller set aside had rows deleted in its cohort's batch
-- and in its own turn; both come before the run's vault turn, which prunes
-- the entries of both (the next run finds nothing more to prune)
-------------------------------------------------------------------------------
CREATE TABLE rst_contacts (id int PRIMARY KEY, at timestamptz NOT NULL, phone text);
CREATE TABLE rst_calls (id int PRIMARY KEY, contact_id int REFERENCES rst_contacts (id));
GRANT ALL ON rst_contacts, rst_calls TO regress_rst_app;
SELECT phleet.govern('rst_contacts'), phleet.govern('rst_calls');
SELECT phleet.classify('rst_contacts', 'phone', 'communication', 'phone', reveal => true);
SET ROLE regress_rst_app;
BEGIN;
SELECT phleet.enter('rst-a');
-- 1 goes in the cohort's first batch, 2 stays (referenced), 3 goes in A's own turn
INSERT INTO rst_contacts VALUES (1, now() - interval '60 days', '+1 555 030 0001'),
                                (2, now() - interval '59 days', '+1 555 030 0002'),
                                (3, now() - interval '40 days', '+1 555 030 0003');
INSERT INTO rst_calls VALUES (1, 2);
SELECT phleet.enter('rst-b');
INSERT INTO rst_contacts SELECT 10 + g, now() - interval '50 days' - g * interval '1 hour', NULL
  FROM generate_series(1, 5) g;
COMMIT;
RESET ROLE;
SELECT controller, count(*) AS entries FROM phleet.vault WHERE controller LIKE 'rst-%' GROUP BY 1 ORDER BY 1;
SET ROLE regress_rst_admin;
SET client_min_messages = warning;
SELECT phleet.retain('rst_contacts', '30 days', 'at');
CALL phleet.purge(batch_rows => 2);
RESET client_min_messages;
SELECT * FROM rst_log();
RESET ROLE;
SELECT controller, array_agg(id ORDER BY id) AS contacts FROM rst_contacts GROUP BY 1 ORDER BY 1;
-- 1's and 3's entries went in the run
SELECT controller, count(*) AS entries FROM phleet.vault WHERE controller LIKE 'rst-%' GROUP BY 1 ORDER BY 1;
SET ROLE regress_rst_admin;
SET client_min_messages = warning;
CALL phleet.purge(batch_rows => 2);
RESET client_min_messages;
SELECT controller, method, status FROM phleet.purge_log
 WHERE run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND controller LIKE 'rst-%' ORDER BY id;
RESET ROLE;
SELECT controller, count(*) AS entries FROM phleet.vault WHERE controller LIKE 'rst-%' GROUP BY 1 ORDER BY 1;

-- clean up (later files use max(run_id))
SELECT phleet.unretain('rst_leads'), phleet.unretain('rst_events'), phleet.unretain('rst_contacts');
DROP TABLE rst_msgs, rst_leads, rst_events, rst_calls, rst_contacts;
DELETE FROM phleet.purge_runs WHERE run_id >= 700;
