-- Purging tables of unusual shape, and changes to a table that has
-- retention policies: sub-partitioned partitions, the time column renamed,
-- dropped or retyped.
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 600, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 600, false);

CREATE ROLE regress_ptab_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_ptab_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('ptab-a'), phleet.controller_create('ptab-b');

-- a partition that is itself partitioned: its rows are counted by reading
-- it (it has no storage of its own), and it is dropped as a whole
CREATE TABLE ptab_events (id bigserial, at timestamptz NOT NULL, note text) PARTITION BY RANGE (at);
CREATE TABLE ptab_events_old PARTITION OF ptab_events
    FOR VALUES FROM ('2000-01-01') TO ('2001-01-01') PARTITION BY HASH (id);
CREATE TABLE ptab_events_old_0 PARTITION OF ptab_events_old FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE ptab_events_old_1 PARTITION OF ptab_events_old FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE ptab_events_new PARTITION OF ptab_events FOR VALUES FROM ('2001-01-01') TO ('2100-01-01');
SELECT phleet.govern('ptab_events');
GRANT ALL ON ALL TABLES IN SCHEMA public TO regress_ptab_app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO regress_ptab_app;
SET ROLE regress_ptab_app;
BEGIN;
SELECT phleet.enter('ptab-a');
INSERT INTO ptab_events (at) SELECT timestamptz '2000-03-01' + g * interval '1 day' FROM generate_series(1, 10) g;
INSERT INTO ptab_events (at) VALUES (now() - interval '1 day');
COMMIT;
BEGIN;
SELECT phleet.enter('ptab-b');
INSERT INTO ptab_events (at) SELECT timestamptz '2000-06-01' + g * interval '1 day' FROM generate_series(1, 5) g;
COMMIT;
RESET ROLE;
-- (the C counter refuses a relation without storage)
SELECT * FROM phleet._purge_count('ptab_events_old', 'ptab_events_old_controller_idx');
SET ROLE regress_ptab_admin;
SELECT phleet.retain('ptab_events', '30 days', 'at');
SELECT table_name, controller, method, partition_name, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name::text LIKE 'ptab%' ORDER BY controller, partition_name;
SET client_min_messages = error;
CALL phleet.purge();
RESET client_min_messages;
SELECT table_name, controller, method, partition_name, status, rows_deleted
  FROM phleet.purge_log WHERE run_id >= 600 AND table_name LIKE '%ptab%' ORDER BY controller, partition_name;
RESET ROLE;
SELECT tableoid::regclass, count(*) FROM ptab_events GROUP BY 1 ORDER BY 1;
SELECT count(*) AS old_partitions_left FROM pg_class WHERE relname LIKE 'ptab_events_old%';

-- tables named like the aliases of the purge's queries (x, p, s, e, w, t)
CREATE SCHEMA ptab_s;
DO $$
DECLARE
    n text;
BEGIN
    FOREACH n IN ARRAY ARRAY['x', 'p', 's', 'e', 'w', 't'] LOOP
        EXECUTE format('CREATE TABLE ptab_s.%I (id bigserial PRIMARY KEY, c text, m int, at timestamptz NOT NULL)', n);
        PERFORM phleet.govern(format('ptab_s.%I', n)::regclass);
        EXECUTE format('GRANT ALL ON ptab_s.%I TO regress_ptab_app', n);
        EXECUTE format('GRANT ALL ON SEQUENCE ptab_s.%I TO regress_ptab_app', n || '_id_seq');
    END LOOP;
END
$$;
GRANT USAGE ON SCHEMA ptab_s TO regress_ptab_app, regress_ptab_admin;
SET ROLE regress_ptab_app;
BEGIN;
SELECT phleet.enter('ptab-a');
INSERT INTO ptab_s.x (at) SELECT now() - g * interval '1 day' FROM generate_series(1, 40) g;
INSERT INTO ptab_s.p (at) SELECT now() - g * interval '1 day' FROM generate_series(1, 40) g;
INSERT INTO ptab_s.s (at) SELECT now() - g * interval '1 day' FROM generate_series(1, 40) g;
INSERT INTO ptab_s.e (at) SELECT now() - g * interval '1 day' FROM generate_series(1, 40) g;
INSERT INTO ptab_s.w (at) SELECT now() - g * interval '1 day' FROM generate_series(1, 40) g;
INSERT INTO ptab_s.t (at) SELECT now() - g * interval '1 day' FROM generate_series(1, 40) g;
COMMIT;
RESET ROLE;
SET ROLE regress_ptab_admin;
SET client_min_messages = warning;
SELECT phleet.retain(format('ptab_s.%I', n)::regclass, '30 days', 'at')
  FROM unnest(ARRAY['x', 'p', 's', 'e', 'w', 't']) n;
SELECT table_name, controller, rows_to_delete FROM phleet.purge_preview()
 WHERE table_name::text LIKE 'ptab_s.%' ORDER BY 1;
CALL phleet.purge(batch_rows => 4);
RESET client_min_messages;
SELECT table_name, controller, status, rows_deleted FROM phleet.purge_log
 WHERE table_name LIKE 'ptab_s.%' ORDER BY 1;
RESET ROLE;
DROP SCHEMA ptab_s CASCADE;

-- the time column of a policy cannot be renamed, dropped or retyped: the
-- purge would skip the table without a word
CREATE TABLE ptab_notes (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, body text);
SELECT phleet.govern('ptab_notes');
SET ROLE regress_ptab_admin;
SET client_min_messages = warning;
SELECT phleet.retain('ptab_notes', '10 days', 'created_at');
RESET client_min_messages;
RESET ROLE;
ALTER TABLE ptab_notes RENAME COLUMN created_at TO inserted_at;
ALTER TABLE ptab_notes DROP COLUMN created_at;
ALTER TABLE ptab_notes ALTER COLUMN created_at TYPE text;
ALTER TABLE ptab_notes ALTER COLUMN created_at TYPE timestamp;   -- still a time: fine
ALTER TABLE ptab_notes ALTER COLUMN created_at TYPE timestamptz;
ALTER TABLE ptab_notes RENAME COLUMN body TO text_body;          -- another column: fine
-- with the event trigger disabled, check() reports the broken policy
ALTER EVENT TRIGGER phleet_retention_ddl_end DISABLE;
ALTER TABLE ptab_notes RENAME COLUMN created_at TO inserted_at;
SELECT severity, object, finding FROM phleet.check()
 WHERE object ~ '(ptab_notes|phleet_retention_ddl_end)' AND finding !~ '^owner' ORDER BY 1, 2;
SELECT count(*) FROM phleet.purge_preview() WHERE table_name::text = 'ptab_notes';
ALTER TABLE ptab_notes RENAME COLUMN inserted_at TO created_at;
ALTER EVENT TRIGGER phleet_retention_ddl_end ENABLE;
-- a rule on DELETE keeps the purge from deleting the table's rows
CREATE RULE ptab_notes_keep AS ON DELETE TO ptab_notes DO ALSO NOTIFY ptab;
SELECT severity, object, finding FROM phleet.check() WHERE object ~ 'ptab_notes_keep';
DROP RULE ptab_notes_keep ON ptab_notes;
-- without a policy the column is free
SET ROLE regress_ptab_admin;
SELECT phleet.unretain('ptab_notes');
RESET ROLE;
ALTER TABLE ptab_notes RENAME COLUMN created_at TO inserted_at;

DROP TABLE ptab_events, ptab_notes;
-- later files compare run ids with max(run_id): leave no run behind
DELETE FROM phleet.purge_runs WHERE run_id >= 600;

-- phleet's own logs: with phleet.log_retention set, a purge deletes audit
-- rows and whole purge runs older than that; audit rows of a controller
-- under a hold of all its data stay
INSERT INTO phleet.purge_runs (run_id, started, finished, status, batch_rows, time_budget)
VALUES (650, now() - interval '100 days', now() - interval '100 days', 'done', 10, '1 min'),
       (651, now() - interval '10 days', now() - interval '10 days', 'done', 10, '1 min');
INSERT INTO phleet.purge_log (run_id, relid, table_name, controller, method, status)
VALUES (650, 'pg_class'::regclass, 'old', 'ptab-a', 'rows', 'done'),
       (651, 'pg_class'::regclass, 'recent', 'ptab-a', 'rows', 'done');
INSERT INTO phleet.audit_log (at, session_role, role_name, controller, action, outcome, backend_pid)
VALUES (now() - interval '100 days', 'x', 'x', 'ptab-a', 'reveal', 'denied', 1),
       (now() - interval '100 days', 'x', 'x', 'ptab-b', 'reveal', 'denied', 1),
       (now() - interval '10 days', 'x', 'x', 'ptab-a', 'reveal', 'denied', 1);
SET ROLE regress_ptab_admin;
SELECT phleet.hold('ptab-b', 'case 12') > 0 AS held;
SET client_min_messages = error;
CALL phleet.purge();                            -- phleet.log_retention 0: all kept
RESET client_min_messages;
SELECT count(*) FROM phleet.audit_log WHERE controller LIKE 'ptab%';
SET phleet.log_retention = '30d';               -- superuser only
RESET ROLE;
SET phleet.log_retention = '30d';
SET ROLE regress_ptab_admin;
CALL phleet.purge();
SELECT controller, at > now() - interval '30 days' AS recent FROM phleet.audit_log
 WHERE controller LIKE 'ptab%' ORDER BY 1, 2;
SELECT run_id FROM phleet.purge_runs WHERE run_id IN (650, 651);
SELECT table_name FROM phleet.purge_log WHERE run_id IN (650, 651);
SELECT phleet.release(h.id) FROM phleet.legal_holds h WHERE h.controller = 'ptab-b' AND h.released_at IS NULL;
RESET ROLE;
RESET phleet.log_retention;

-- A partition that a foreign key names directly (not through the
-- partitioned table) can be detached but not dropped: it used to stay in
-- phleet.purge_detached, with its rows, warned about by every run.  Such a
-- partition is not taken whole; its expired rows go row by row, where the
-- key's action runs.
CREATE TABLE ptab_direct (id int, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE ptab_direct_old PARTITION OF ptab_direct FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
CREATE TABLE ptab_direct_new PARTITION OF ptab_direct FOR VALUES FROM ('2001-01-01') TO ('2100-01-01');
SELECT phleet.govern('ptab_direct');
CREATE TABLE ptab_direct_refs (id int, at timestamptz,
                               FOREIGN KEY (id, at) REFERENCES ptab_direct_old ON DELETE SET NULL);
GRANT ALL ON ptab_direct TO regress_ptab_app;
SET ROLE regress_ptab_app;
BEGIN;
SELECT phleet.enter('ptab-a') IS NOT NULL AS a;
INSERT INTO ptab_direct SELECT g, timestamptz '2000-03-01' + g * interval '1 day' FROM generate_series(1, 5) g;
COMMIT;
RESET ROLE;
INSERT INTO ptab_direct_refs VALUES (1, timestamptz '2000-03-02');
SET client_min_messages = warning;
SELECT phleet.retain('ptab_direct', '10 days', 'at');
RESET client_min_messages;
SELECT controller, method, partition_name, rows_to_delete FROM phleet.purge_preview()
 WHERE table_name = 'ptab_direct'::regclass;
SET ROLE regress_ptab_admin;
CALL phleet.purge() \gset direct_
RESET ROLE;
SELECT :'direct_status' AS status;
SELECT controller, method, partition_name, status, rows_deleted FROM phleet.purge_log
 WHERE relid = 'ptab_direct'::regclass AND run_id = :direct_run_id;
SELECT count(*) AS detached_left FROM phleet.purge_detached;
SELECT count(*) AS rows_left FROM ptab_direct;
SELECT * FROM ptab_direct_refs;
DROP TABLE ptab_direct_refs, ptab_direct;

DELETE FROM phleet.purge_runs WHERE run_id >= 600;
DELETE FROM phleet.audit_log WHERE controller LIKE 'ptab%';
