-- Purging, edge cases: infinite and extreme times, rows that cannot be
-- deleted (references from another controller), phleet.check() on foreign
-- keys that bypass the controller.
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 600, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 600, false);

CREATE ROLE regress_edges_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_edges_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('edg-a'), phleet.controller_create('edg-b');

-- the log of the last run, for this file's tables
CREATE FUNCTION edg_log() RETURNS TABLE (table_name text, controller text, status text,
                                         rows_deleted bigint, error text)
LANGUAGE sql AS $$
    SELECT l.table_name, l.controller, l.status, l.rows_deleted, l.error FROM phleet.purge_log l
     WHERE l.run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND l.table_name LIKE 'public.edg%'
     ORDER BY 1, 2 $$;
GRANT EXECUTE ON FUNCTION edg_log() TO regress_edges_admin;

-------------------------------------------------------------------------------
-- infinite times: -infinity is older than any cut-off (the rows go),
-- infinity never expires; one controller's -infinity row used to stop the
-- purge of every controller of its cohort ("cannot subtract infinite
-- timestamps")
-------------------------------------------------------------------------------
CREATE TABLE edg_events (id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text);
CREATE TABLE edg_days (id bigserial PRIMARY KEY, day date NOT NULL);
CREATE TABLE edg_local (id bigserial PRIMARY KEY, at timestamp NOT NULL);
GRANT ALL ON ALL TABLES IN SCHEMA public TO regress_edges_app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO regress_edges_app;
SELECT phleet.govern('edg_events'), phleet.govern('edg_days'), phleet.govern('edg_local');

SET ROLE regress_edges_app;
BEGIN;
SELECT phleet.enter('edg-b');
INSERT INTO edg_events (at, note) SELECT now() - g * interval '1 day', 'b' FROM generate_series(20, 24) g;
INSERT INTO edg_days (day) SELECT current_date - g FROM generate_series(20, 24) g;
INSERT INTO edg_local (at) SELECT localtimestamp - g * interval '1 day' FROM generate_series(20, 24) g;
SELECT phleet.enter('edg-a');
INSERT INTO edg_events (at, note) SELECT now() - g * interval '1 day', 'a' FROM generate_series(20, 24) g;
-- seven rows at -infinity (more than a batch), one at infinity, one kept
INSERT INTO edg_events (at, note) SELECT '-infinity', 'a-minus' FROM generate_series(1, 7);
INSERT INTO edg_events (at, note) VALUES ('infinity', 'a-plus'), (now(), 'a-now');
INSERT INTO edg_days (day) VALUES ('-infinity'), ('infinity'), ('4714-11-24 BC'), (current_date - 30);
-- the ends of the ranges of timestamp and date, which have no timestamptz
-- east (or west) of UTC
INSERT INTO edg_local (at) VALUES ('-infinity'), ('4714-11-24 00:00 BC'), ('294276-12-31 23:00'), ('infinity');
COMMIT;
RESET ROLE;

SET ROLE regress_edges_admin;
SET client_min_messages = warning;
SELECT phleet.retain('edg_events', '10 days', 'at');
SELECT phleet.retain('edg_days', '10 days', 'day');
SELECT phleet.retain('edg_local', '10 days', 'at');
RESET client_min_messages;
SELECT table_name, controller, rows_to_delete, rows_held FROM phleet.purge_preview()
 WHERE table_name::text LIKE 'edg%' ORDER BY 1, 2;
SET timezone = 'Asia/Tokyo';
SET client_min_messages = warning;
CALL phleet.purge(batch_rows => 3);
RESET client_min_messages;
SELECT * FROM edg_log();
SELECT l.table_name, l.controller,
       CASE WHEN isfinite(l.oldest_kept) THEN 'now' ELSE l.oldest_kept::text END AS oldest_kept
  FROM phleet.purge_log l
 WHERE l.run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND l.table_name LIKE 'public.edg%'
 ORDER BY 1, 2;
SET timezone = 'UTC';
RESET ROLE;
SELECT controller, note, CASE WHEN isfinite(at) THEN 'now' ELSE at::text END AS at FROM edg_events ORDER BY id;
SELECT controller, day FROM edg_days ORDER BY id;
SELECT controller, at FROM edg_local ORDER BY id;

-- west of UTC, the oldest row kept, 294276-12-31 23:00, has no timestamptz:
-- oldest_kept says infinity
SET ROLE regress_edges_app;
BEGIN;
SELECT phleet.enter('edg-a');
INSERT INTO edg_local (at) VALUES (localtimestamp - interval '20 days');
COMMIT;
RESET ROLE;
SET ROLE regress_edges_admin;
SET timezone = 'America/Los_Angeles';
SET client_min_messages = warning;
CALL phleet.purge();
RESET client_min_messages;
SELECT l.controller, l.status, l.rows_deleted, l.oldest_kept FROM phleet.purge_log l
 WHERE l.run_id = (SELECT max(run_id) FROM phleet.purge_runs) AND l.table_name = 'public.edg_local';
SET timezone = 'UTC';
SELECT phleet.unretain('edg_events'), phleet.unretain('edg_days'), phleet.unretain('edg_local');
RESET ROLE;

-- a partition from MINVALUE holding rows at -infinity that cannot be
-- dropped (edg-b keeps its rows longer): its expired rows go one by one
CREATE TABLE edg_parted (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE edg_parted_old PARTITION OF edg_parted FOR VALUES FROM (MINVALUE) TO ('2001-01-01');
CREATE TABLE edg_parted_new PARTITION OF edg_parted FOR VALUES FROM ('2001-01-01') TO (MAXVALUE);
SET client_min_messages = warning;
SELECT phleet.govern('edg_parted');
SELECT phleet.retain('edg_parted', '1 year', 'at');
SELECT phleet.retain('edg_parted', '100 years', 'at', 'edg-b');
RESET client_min_messages;
BEGIN;
SELECT phleet.enter('edg-a');
INSERT INTO edg_parted VALUES (1, '-infinity'), (2, '2000-06-01'), (3, now());
SELECT phleet.enter('edg-b');
INSERT INTO edg_parted VALUES (4, '-infinity'), (5, '2000-06-01');
COMMIT;
SET ROLE regress_edges_admin;
SET client_min_messages = warning;
CALL phleet.purge();
RESET client_min_messages;
SELECT * FROM edg_log();
RESET ROLE;
SELECT tableoid::regclass, controller, id FROM edg_parted ORDER BY id;
DROP TABLE edg_parted;

-------------------------------------------------------------------------------
-- rows that cannot be deleted: A references B's expired lead (foreign-key
-- checks ignore row-level security, and ids are guessable); only that lead
-- stays, B's other expired rows go, and the log says why
-------------------------------------------------------------------------------
CREATE TABLE edg_leads (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE edg_msgs (id bigserial PRIMARY KEY, lead_id bigint REFERENCES edg_leads (id));
CREATE TABLE edg_notes (lead_id bigint REFERENCES edg_leads (id) DEFERRABLE INITIALLY DEFERRED);
GRANT ALL ON ALL TABLES IN SCHEMA public TO regress_edges_app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO regress_edges_app;
SELECT phleet.govern('edg_leads'), phleet.govern('edg_msgs'), phleet.govern('edg_notes');
SET ROLE regress_edges_app;
BEGIN;
SELECT phleet.enter('edg-b');
INSERT INTO edg_leads (created_at) SELECT now() - g * interval '1 day' FROM generate_series(20, 29) g;
SELECT phleet.enter('edg-a');
INSERT INTO edg_leads (created_at) SELECT now() - g * interval '1 day' FROM generate_series(20, 29) g;
SELECT count(*) AS a_sees FROM edg_leads;
INSERT INTO edg_msgs (lead_id) VALUES (1);
-- a deferred reference would fail only at the batch's COMMIT
INSERT INTO edg_notes (lead_id) VALUES (2);
COMMIT;
RESET ROLE;
SET ROLE regress_edges_admin;
SET client_min_messages = warning;
SELECT phleet.retain('edg_leads', '10 days', 'created_at');
RESET client_min_messages;
CALL phleet.purge();
SELECT * FROM edg_log();
RESET ROLE;
SELECT controller, id FROM edg_leads ORDER BY id;
-- the next run tries again: once A's references are gone, so are the leads
SET ROLE regress_edges_app;
BEGIN;
SELECT phleet.enter('edg-a');
DELETE FROM edg_msgs;
DELETE FROM edg_notes;
COMMIT;
RESET ROLE;
SET ROLE regress_edges_admin;
CALL phleet.purge();
SELECT * FROM edg_log();
RESET ROLE;
SELECT count(*) AS leads_left FROM edg_leads;

-- many references, small batches: the failing windows are split at most
-- 48 times per batch, and the next batch goes on where its predecessor
-- stopped, so every row not referenced goes in one run
SET ROLE regress_edges_app;
BEGIN;
SELECT phleet.enter('edg-b');
INSERT INTO edg_leads (created_at) SELECT now() - interval '20 days' - g * interval '1 minute'
  FROM generate_series(1, 300) g;
SELECT phleet.enter('edg-a');
INSERT INTO edg_leads (created_at) SELECT now() - interval '20 days' - g * interval '1 minute'
  FROM generate_series(1, 100) g;
-- B's leads are 21..320: A references every fifth
INSERT INTO edg_msgs (lead_id) SELECT g FROM generate_series(21, 320) g WHERE g % 5 = 0;
COMMIT;
RESET ROLE;
SELECT controller, count(*) AS referenced FROM edg_leads WHERE id IN (SELECT lead_id FROM edg_msgs) GROUP BY 1 ORDER BY 1;
SET ROLE regress_edges_admin;
SET client_min_messages = warning;
CALL phleet.purge(batch_rows => 100);
RESET client_min_messages;
SELECT * FROM edg_log();
SELECT status FROM phleet.purge_runs ORDER BY run_id DESC LIMIT 1;
RESET ROLE;
SELECT controller, count(*) AS left, count(*) FILTER (WHERE id NOT IN (SELECT lead_id FROM edg_msgs)) AS unreferenced_left
  FROM edg_leads GROUP BY 1 ORDER BY 1;
DELETE FROM edg_msgs;

-- an error that is about no row in particular (a trigger refusing every
-- DELETE) stops the table, as before: nothing goes
CREATE FUNCTION edg_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'edg_leads rows are never deleted';
END $$;
CREATE TRIGGER edg_refuse BEFORE DELETE ON edg_leads FOR EACH ROW EXECUTE FUNCTION edg_refuse();
SET ROLE regress_edges_admin;
SET client_min_messages = warning;
CALL phleet.purge(batch_rows => 100);
RESET client_min_messages;
SELECT * FROM edg_log();
RESET ROLE;
SELECT count(*) AS leads_left FROM edg_leads;
DROP TRIGGER edg_refuse ON edg_leads;

-------------------------------------------------------------------------------
-- phleet.check(): a foreign key into a governed table by a key without its
-- controller column
-------------------------------------------------------------------------------
CREATE TABLE edg_accounts (id bigint, controller text, PRIMARY KEY (controller, id));
CREATE TABLE edg_orders (id bigint, controller text, account_id bigint,
                         FOREIGN KEY (controller, account_id) REFERENCES edg_accounts (controller, id));
SELECT phleet.govern('edg_accounts'), phleet.govern('edg_orders');
-- edg_msgs' and edg_notes' references to edg_leads (id) are reported,
-- edg_orders' to edg_accounts (controller, id) is not
SELECT severity, object, finding, hint FROM phleet.check() WHERE object LIKE 'foreign key % on public.edg\_%' ORDER BY 2;

SET client_min_messages = warning;
SELECT phleet.unretain('edg_leads');
DROP TABLE edg_orders, edg_accounts, edg_notes, edg_msgs, edg_leads, edg_events, edg_days, edg_local;
DROP FUNCTION edg_refuse(), edg_log();
-- (later files count on the highest run id being theirs)
DELETE FROM phleet.purge_runs WHERE run_id >= 600;
RESET client_min_messages;
