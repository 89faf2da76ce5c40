-- Purging: CALL phleet.purge(), phleet.purge_log, phleet.purge_runs,
-- phleet.purge_preview(), partitions.
\set SHOW_CONTEXT never
-- day-long intervals span 23 or 25 hours across a DST change: batch
-- boundaries would depend on the date the test runs
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 200, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 200, false);

CREATE ROLE regress_purge_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_purge_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('pur-a'), phleet.controller_create('pur-b'),
       phleet.controller_create('pur-c');

CREATE TABLE pur_events (id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text);
CREATE TABLE pur_days (id bigserial PRIMARY KEY, day date NOT NULL);
CREATE TABLE pur_local (id bigserial PRIMARY KEY, at timestamp NOT NULL);
GRANT ALL ON ALL TABLES IN SCHEMA public TO regress_purge_app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO regress_purge_app;
SELECT phleet.govern('pur_events'), phleet.govern('pur_days'), phleet.govern('pur_local');

-- per controller: 30 rows 1..30 days old in pur_events, 25 rows on one day
-- 40 days ago in pur_days, 12 rows 1..12 hours old (local time) in pur_local
SET ROLE regress_purge_app;
BEGIN;
SELECT phleet.enter('pur-a');
INSERT INTO pur_events (at) SELECT now() - g * interval '1 day' + interval '1 minute' FROM generate_series(1, 30) g;
INSERT INTO pur_days (day) SELECT current_date - 40 FROM generate_series(1, 25);
INSERT INTO pur_local (at) SELECT localtimestamp - g * interval '1 hour' + interval '1 minute' FROM generate_series(1, 12) g;
COMMIT;
BEGIN;
SELECT phleet.enter('pur-b');
INSERT INTO pur_events (at) SELECT now() - g * interval '1 day' + interval '1 minute' FROM generate_series(1, 30) g;
INSERT INTO pur_days (day) SELECT current_date - 40 FROM generate_series(1, 25);
INSERT INTO pur_local (at) SELECT localtimestamp - g * interval '1 hour' + interval '1 minute' FROM generate_series(1, 12) g;
COMMIT;
BEGIN;
SELECT phleet.enter('pur-c');
INSERT INTO pur_events (at) SELECT now() - g * interval '1 day' + interval '1 minute' FROM generate_series(1, 30) g;
COMMIT;
RESET ROLE;

SET ROLE regress_purge_admin;
SET client_min_messages = warning;
-- a and c keep 10 days (table default), b keeps 20 (override)
SELECT phleet.retain('pur_events', '10 days', 'at');
SELECT phleet.retain('pur_events', '20 days', 'at', 'pur-b');
SELECT phleet.retain('pur_days', '30 days', 'day');
SELECT phleet.retain('pur_local', '6 hours', 'at');
RESET client_min_messages;

-- only phleet_admin purges
RESET ROLE;
SET ROLE regress_purge_app;
CALL phleet.purge();
SELECT * FROM phleet.purge_preview();
SELECT phleet._purge_start(10, '1 min');
RESET ROLE;
SET ROLE regress_purge_admin;

-- bad arguments change nothing
CALL phleet.purge(0);
CALL phleet.purge(-5);
CALL phleet.purge(NULL);
CALL phleet.purge(1000001);
CALL phleet.purge(10, '0 s');
CALL phleet.purge(10, '-1 min');
CALL phleet.purge(time_budget => NULL);
-- the purge commits as it goes, so it runs only as a statement of its own
BEGIN;
CALL phleet.purge();
ROLLBACK;
CREATE FUNCTION pg_temp.purge_in_function() RETURNS void LANGUAGE plpgsql AS $$
DECLARE r bigint; s text; d bigint; h bigint; p integer;
BEGIN
    CALL phleet.purge(10000, '10 min', r, s, d, h, p);
END $$;
SELECT pg_temp.purge_in_function();
-- (why phleet.purge is SECURITY INVOKER without SET clauses: PostgreSQL
-- refuses transaction control in procedures that have either)
CREATE PROCEDURE pg_temp.definer_commits() LANGUAGE plpgsql SECURITY DEFINER
    AS $$ BEGIN COMMIT; END $$;
CALL pg_temp.definer_commits();
CREATE PROCEDURE pg_temp.set_commits() LANGUAGE plpgsql SET work_mem = '1MB'
    AS $$ BEGIN COMMIT; END $$;
CALL pg_temp.set_commits();
RESET ROLE;
SELECT count(*) AS runs FROM phleet.purge_runs WHERE run_id >= 200;
SET ROLE regress_purge_admin;

-- the preview
SELECT table_name, controller, method, keep, cutoff = now() - keep AS cutoff_ok, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name::text LIKE 'pur%' ORDER BY table_name::text, controller;

-- a purge in batches of at most 7 rows, each committed; a and c share a
-- cut-off and go together, b on its own
CALL phleet.purge(batch_rows => 7);
SELECT table_name, controller, method, status, rows_deleted, rows_held, batches >= ceil(rows_deleted / 7.0) AS enough_batches,
       finished >= started AS finished, longest_batch < interval '1 min' AS short,
       oldest_kept > cutoff AS oldest_kept_is_kept, keep, error
  FROM phleet.purge_log WHERE table_name LIKE 'public.pur%' ORDER BY table_name, controller;
SELECT status, called_by = session_user AS by_me, batch_rows, time_budget, rows_deleted, rows_held,
       partitions_dropped, finished > started AS finished
  FROM phleet.purge_runs ORDER BY run_id DESC LIMIT 1;
RESET ROLE;
-- nothing within retention is gone, nothing past it is left
SELECT controller, count(*), min(at) > now() - phleet._keep(controller, 'pur_events') AS all_kept
  FROM pur_events GROUP BY 1 ORDER BY 1;
SELECT controller, count(*) FROM pur_days GROUP BY 1 ORDER BY 1;
SELECT controller, count(*), min(at) > localtimestamp - interval '6 hours' AS all_kept
  FROM pur_local GROUP BY 1 ORDER BY 1;
SET ROLE regress_purge_admin;

-- nothing left to do
SELECT count(*) FROM phleet.purge_preview() WHERE table_name::text LIKE 'pur%';
CALL phleet.purge();

-- the time budget: a run stops after its first batch that deleted
-- something, the next one carries on
RESET ROLE;
SET ROLE regress_purge_app;
BEGIN;
SELECT phleet.enter('pur-c');
INSERT INTO pur_events (at) SELECT now() - interval '100 days' + g * interval '1 second' FROM generate_series(1, 20) g;
COMMIT;
BEGIN;
SELECT phleet.enter('pur-b');
INSERT INTO pur_local (at) SELECT localtimestamp - interval '100 days' FROM generate_series(1, 3);
COMMIT;
RESET ROLE;
SET ROLE regress_purge_admin;
CALL phleet.purge(5, '1 microsecond');
SELECT table_name, controller, status, rows_deleted, oldest_kept < now() - interval '99 days' AS old_rows_left
  FROM phleet.purge_log
 WHERE run_id = (SELECT max(run_id) FROM phleet.purge_log) ORDER BY table_name, controller;
SELECT status FROM phleet.purge_runs ORDER BY run_id DESC LIMIT 1;
CALL phleet.purge(100, '1 microsecond');
CALL phleet.purge(100, '1 microsecond');
CALL phleet.purge(100, '1 microsecond');
SELECT count(*) FROM phleet.purge_preview() WHERE table_name::text LIKE 'pur%';

-- runs that died (crash, cancel) are marked interrupted by the next run
RESET ROLE;
INSERT INTO phleet.purge_runs (batch_rows, time_budget, started) VALUES (1, '1 min', now() - interval '1 hour')
RETURNING run_id AS dead_run \gset
INSERT INTO phleet.purge_log (run_id, relid, table_name, controller, method, keep, cutoff)
VALUES (:dead_run, 'pur_events'::regclass, 'public.pur_events', 'pur-a', 'rows', '10 days', now() - interval '10 days');
SET ROLE regress_purge_admin;
CALL phleet.purge();
SELECT r.status, r.finished IS NULL AS never_finished, l.status AS log_status, l.finished IS NULL AS log_never_finished
  FROM phleet.purge_runs r JOIN phleet.purge_log l USING (run_id) WHERE r.run_id = :dead_run;

-- from PL/pgSQL the summary needs variables; superusers (pg_cron jobs) purge too
DO $$
DECLARE r bigint; s text; d bigint; h bigint; p integer;
BEGIN
    CALL phleet.purge(10000, '10 min', r, s, d, h, p);
    RAISE NOTICE 'purge from a DO block: %, % rows', s, d;
END $$;
RESET ROLE;
CALL phleet.purge();
SET ROLE regress_purge_admin;

-- a delete that fails is logged; the run goes on with the next table, and
-- with the other controllers of the batch: pur-a's expired row is referenced
-- (ON DELETE NO ACTION), pur-c's, in the same batch, is not
RESET ROLE;
CREATE TABLE pur_children (parent bigint REFERENCES pur_events (id));
SET ROLE regress_purge_app;
BEGIN;
SELECT phleet.enter('pur-a');
INSERT INTO pur_events (at) VALUES (now() - interval '50 days');
INSERT INTO pur_local (at) VALUES (localtimestamp - interval '50 days');
SELECT phleet.enter('pur-c');
INSERT INTO pur_events (at) VALUES (now() - interval '50 days');
COMMIT;
RESET ROLE;
INSERT INTO pur_children SELECT id FROM pur_events WHERE at < now() - interval '49 days' AND controller = 'pur-a';
SET ROLE regress_purge_admin;
CALL phleet.purge();
SELECT table_name, controller, status, rows_deleted, error
  FROM phleet.purge_log WHERE run_id = (SELECT max(run_id) FROM phleet.purge_log) ORDER BY table_name, controller;
SELECT status FROM phleet.purge_runs ORDER BY run_id DESC LIMIT 1;
RESET ROLE;
DROP TABLE pur_children;
SET ROLE regress_purge_admin;
CALL phleet.purge();

-------------------------------------------------------------------------------
-- partitions
-------------------------------------------------------------------------------
RESET ROLE;
CREATE TABLE pur_parted (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE pur_parted_2001 PARTITION OF pur_parted FOR VALUES FROM ('2001-01-01') TO ('2002-01-01');
CREATE TABLE pur_parted_2002 PARTITION OF pur_parted FOR VALUES FROM ('2002-01-01') TO ('2003-01-01');
CREATE TABLE pur_parted_2003 PARTITION OF pur_parted FOR VALUES FROM ('2003-01-01') TO ('2004-01-01');
CREATE TABLE pur_parted_2004 PARTITION OF pur_parted FOR VALUES FROM ('2004-01-01') TO ('2005-01-01');
CREATE TABLE pur_parted_empty PARTITION OF pur_parted FOR VALUES FROM ('2005-01-01') TO ('2006-01-01');
CREATE TABLE pur_parted_now PARTITION OF pur_parted FOR VALUES FROM ('2006-01-01') TO (MAXVALUE);
CREATE TABLE pur_parted_default PARTITION OF pur_parted DEFAULT;
GRANT ALL ON pur_parted TO regress_purge_app;
SELECT phleet.govern('pur_parted');
SET ROLE regress_purge_app;
-- 2001: a and b; 2002: a and c; 2003: a; 2004: b; now: a, old and new rows;
-- default: a (before 2001)
BEGIN;
SELECT phleet.enter('pur-a');
INSERT INTO pur_parted SELECT g, timestamptz '2001-03-01' + g * interval '1 day' FROM generate_series(1, 10) g;
INSERT INTO pur_parted SELECT g, timestamptz '2002-03-01' + g * interval '1 day' FROM generate_series(1, 10) g;
INSERT INTO pur_parted SELECT g, timestamptz '2003-03-01' + g * interval '1 day' FROM generate_series(1, 10) g;
INSERT INTO pur_parted SELECT g, timestamptz '2010-03-01' + g * interval '1 day' FROM generate_series(1, 10) g;
INSERT INTO pur_parted SELECT g, now() - g * interval '1 hour' FROM generate_series(1, 10) g;
INSERT INTO pur_parted SELECT g, timestamptz '1999-03-01' FROM generate_series(1, 4) g;
COMMIT;
BEGIN;
SELECT phleet.enter('pur-b');
INSERT INTO pur_parted SELECT g, timestamptz '2001-06-01' FROM generate_series(1, 5) g;
INSERT INTO pur_parted SELECT g, timestamptz '2004-06-01' FROM generate_series(1, 5) g;
COMMIT;
BEGIN;
SELECT phleet.enter('pur-c');
INSERT INTO pur_parted SELECT g, timestamptz '2002-06-01' FROM generate_series(1, 5) g;
COMMIT;
RESET ROLE;
SET ROLE regress_purge_admin;
-- only overrides: a and b purge, c keeps everything (no policy)
SET client_min_messages = warning;
SELECT phleet.retain('pur_parted', '1 year', 'at', 'pur-a');
SELECT phleet.retain('pur_parted', '1 year', 'at', 'pur-b');
RESET client_min_messages;
SELECT table_name, controller, method, partition_name, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name = 'pur_parted'::regclass
 ORDER BY method, partition_name, controller;
-- with phleet.purge_partitions off, rows go one by one
SET phleet.purge_partitions = off;
SELECT table_name, controller, method, partition_name, rows_to_delete
  FROM phleet.purge_preview() WHERE table_name = 'pur_parted'::regclass ORDER BY 3, 4, 2;
RESET phleet.purge_partitions;
CALL phleet.purge();
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'pur_parted'::regclass ORDER BY 1;
SELECT controller, method, partition_name, status, rows_deleted, longest_batch IS NOT NULL AS timed
  FROM phleet.purge_log WHERE table_name = 'public.pur_parted' ORDER BY id;
RESET ROLE;
SELECT tableoid::regclass AS part, controller, count(*) FROM pur_parted GROUP BY 1, 2 ORDER BY tableoid::regclass::text, 2;
SET ROLE regress_purge_admin;
-- a policy for c longer than 2002's age keeps it, a shorter one lets it go
SET client_min_messages = warning;
SELECT phleet.retain('pur_parted', '1 year', 'at');
SELECT phleet.retain('pur_parted', '100 years', 'at', 'pur-c');
RESET client_min_messages;
CALL phleet.purge();
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'pur_parted'::regclass ORDER BY 1;
SELECT phleet.retain('pur_parted', '10 years', 'at', 'pur-c');
CALL phleet.purge();
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'pur_parted'::regclass ORDER BY 1;
-- the partitions left keep their isolation
SELECT tablename, policyname FROM pg_policies WHERE tablename LIKE 'pur_parted%' ORDER BY 1, 2;
RESET ROLE;

-- a purge killed between detaching partitions and dropping them leaves them
-- in phleet.purge_detached; the next purge drops them first (their rows stay
-- logged in the run that detached them).  Simulated by calling the steps of
-- a purge by hand and stopping before the drop.
CREATE TABLE pur_left (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE pur_left_2001 PARTITION OF pur_left FOR VALUES FROM ('2001-01-01') TO ('2002-01-01');
CREATE TABLE pur_left_2002 PARTITION OF pur_left FOR VALUES FROM ('2002-01-01') TO ('2003-01-01');
CREATE TABLE pur_left_2003 PARTITION OF pur_left FOR VALUES FROM ('2003-01-01') TO ('2004-01-01');
CREATE TABLE pur_left_now PARTITION OF pur_left FOR VALUES FROM ('2004-01-01') TO (MAXVALUE);
SET client_min_messages = warning;
SELECT phleet.govern('pur_left');
RESET client_min_messages;
BEGIN;
SELECT phleet.enter('pur-a');
INSERT INTO pur_left SELECT g, timestamptz '2001-05-01' FROM generate_series(1, 3) g;
INSERT INTO pur_left SELECT g, timestamptz '2002-05-01' FROM generate_series(1, 4) g;
INSERT INTO pur_left SELECT g, timestamptz '2003-05-01' FROM generate_series(1, 2) g;
INSERT INTO pur_left SELECT g, now() FROM generate_series(1, 6) g;
COMMIT;
BEGIN;
SELECT phleet.enter('pur-b');
INSERT INTO pur_left SELECT g, timestamptz '2001-07-01' FROM generate_series(1, 5) g;
COMMIT;
SET client_min_messages = warning;
SELECT phleet.retain('pur_left', '1 year', 'at');
RESET client_min_messages;
SET ROLE regress_purge_admin;
SELECT phleet._purge_start(10000, '1 hour') AS dead_run \gset
-- (at most max_parts partitions per transaction, oldest first: two, then
-- the third; then none is left)
SELECT p.* FROM phleet._purge_partitions(:dead_run, 'pur_left', 2) p;
SELECT p.* FROM phleet._purge_partitions(:dead_run, 'pur_left', 2) p;
SELECT p.* FROM phleet._purge_partitions(:dead_run, 'pur_left', 2) p;
-- ... and the process dies here.  The detached partitions are out of the
-- table (with their rows), recorded, and logged per controller as running.
SELECT partition_name, table_name, run_id = :dead_run AS this_run FROM phleet.purge_detached ORDER BY 1;
-- phleet.check() reports them
SELECT severity, object, hint FROM phleet.check() WHERE finding LIKE 'partition of % not dropped yet%' ORDER BY 2;
SELECT controller, method, partition_name, status, rows_deleted, finished IS NULL AS unfinished
  FROM phleet.purge_log WHERE table_name = 'public.pur_left' ORDER BY id;
RESET ROLE;
SELECT tableoid::regclass AS part, controller, count(*) FROM pur_left GROUP BY 1, 2 ORDER BY tableoid::regclass::text, 2;
-- meanwhile someone drops one of them and attaches another one again
DROP TABLE pur_left_2002;
ALTER TABLE pur_left ATTACH PARTITION pur_left_2003 FOR VALUES FROM ('2003-01-01') TO ('2004-01-01');
SET ROLE regress_purge_admin;
SELECT table_name, controller, method, partition_name, rows_to_delete
  FROM phleet.purge_preview() WHERE table_name = 'pur_left'::regclass ORDER BY 4, 2;
-- the next purge (here in the same session, which still holds the purge
-- lock of the dead run) drops the leftover, forgets the other two, then
-- detaches and drops 2003 again
CALL phleet.purge();
SELECT run_id = :dead_run AS dead_run, controller, method, partition_name, status, rows_deleted
  FROM phleet.purge_log WHERE table_name = 'public.pur_left' ORDER BY id;
SELECT status FROM phleet.purge_runs WHERE run_id = :dead_run;
SELECT count(*) AS left_detached FROM phleet.purge_detached;
SELECT count(*) AS check_findings FROM phleet.check() WHERE finding LIKE 'partition of % not dropped yet%';
SELECT c.relname FROM pg_class c WHERE c.relname LIKE 'pur_left%' AND c.relkind IN ('r', 'p') ORDER BY 1;
-- the drop step is for phleet.purge() (and admins); others may not call it
RESET ROLE;
SET ROLE regress_purge_app;
SELECT phleet._purge_drop_detached(1);
RESET ROLE;

-- a partition that cannot be detached (rows of it are referenced by a
-- foreign key) is logged as an error, without log rows for its controllers
-- (its rows are left to the row-by-row purge); the other expired partition
-- of the same transaction goes
CREATE TABLE pur_fk (id bigint, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE pur_fk_2001 PARTITION OF pur_fk FOR VALUES FROM ('2001-01-01') TO ('2002-01-01');
CREATE TABLE pur_fk_2002 PARTITION OF pur_fk FOR VALUES FROM ('2002-01-01') TO ('2003-01-01');
CREATE TABLE pur_fk_now PARTITION OF pur_fk FOR VALUES FROM ('2003-01-01') TO (MAXVALUE);
CREATE TABLE pur_fk_ref (id bigint, at timestamptz, FOREIGN KEY (id, at) REFERENCES pur_fk);
SET client_min_messages = warning;
SELECT phleet.govern('pur_fk');
SELECT phleet.retain('pur_fk', '1 year', 'at');
RESET client_min_messages;
BEGIN;
SELECT phleet.enter('pur-a');
INSERT INTO pur_fk SELECT g, timestamptz '2001-05-01' FROM generate_series(1, 3) g;
INSERT INTO pur_fk SELECT g, timestamptz '2002-05-01' FROM generate_series(1, 4) g;
COMMIT;
INSERT INTO pur_fk_ref VALUES (1, '2002-05-01');
SELECT phleet._purge_start(10000, '1 hour') AS fk_run \gset
SELECT p.* FROM phleet._purge_partitions(:fk_run, 'pur_fk') p;
SELECT controller, method, partition_name, status, rows_deleted, error
  FROM phleet.purge_log WHERE run_id = :fk_run ORDER BY id;
SELECT partition_name FROM phleet.purge_detached ORDER BY 1;
SELECT phleet._purge_drop_detached(:fk_run);
SELECT c.relname FROM pg_class c WHERE c.relname LIKE 'pur_fk%' AND c.relkind IN ('r', 'p') ORDER BY 1;
SELECT * FROM phleet._purge_finish(:fk_run, false);
DROP TABLE pur_fk_ref, pur_fk;

-- phleet's ddl_command_end event trigger skips the ALTER TABLE commands that
-- only detach partitions (phleet._ddl_detaches_only() says which), and only
-- those: a partition attached again is isolated again
CREATE FUNCTION pur_ddl_probe() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT x.command_tag, x.object_identity, phleet._ddl_detaches_only(x.command) AS detaches_only
               FROM pg_event_trigger_ddl_commands() x
    LOOP
        RAISE NOTICE '% %: %', c.command_tag, c.object_identity, c.detaches_only;
    END LOOP;
END
$$;
CREATE TABLE pur_ddl (id integer, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE pur_ddl_1 PARTITION OF pur_ddl FOR VALUES FROM ('2001-01-01') TO ('2002-01-01');
SET client_min_messages = warning;
SELECT phleet.govern('pur_ddl');
RESET client_min_messages;
CREATE EVENT TRIGGER pur_ddl_probe ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION pur_ddl_probe();
ALTER TABLE pur_ddl DETACH PARTITION pur_ddl_1;
DROP POLICY phleet_isolation ON pur_ddl_1;
ALTER TABLE pur_ddl ATTACH PARTITION pur_ddl_1 FOR VALUES FROM ('2001-01-01') TO ('2002-01-01');
-- (DETACH PARTITION cannot share an ALTER TABLE with other subcommands)
ALTER TABLE pur_ddl ADD COLUMN note text, DETACH PARTITION pur_ddl_1;
ALTER TABLE pur_ddl ADD COLUMN note text;
DROP EVENT TRIGGER pur_ddl_probe;
SELECT tablename, policyname FROM pg_policies WHERE tablename LIKE 'pur_ddl%' ORDER BY 1, 2;
DROP TABLE pur_ddl;
DROP FUNCTION pur_ddl_probe();

-- the rows per controller a partition drop logs: counted from the index,
-- exact whether or not the visibility map is set (deleted rows, an aborted
-- insert, updated rows), and without reading the heap once it is
CREATE TABLE pur_cnt (id integer, at timestamptz NOT NULL, note text) PARTITION BY RANGE (at);
CREATE TABLE pur_cnt_2001 PARTITION OF pur_cnt FOR VALUES FROM ('2001-01-01') TO ('2002-01-01');
SET client_min_messages = warning;
SELECT phleet.govern('pur_cnt');
RESET client_min_messages;
BEGIN;
SELECT phleet.enter('pur-a');
INSERT INTO pur_cnt SELECT g, '2001-02-01', 'x' FROM generate_series(1, 300) g;
COMMIT;
BEGIN;
SELECT phleet.enter('pur-b');
INSERT INTO pur_cnt SELECT g, '2001-03-01', 'x' FROM generate_series(1, 200) g;
UPDATE pur_cnt SET note = 'y' WHERE controller = 'pur-b' AND id <= 20;
COMMIT;
BEGIN;
SELECT phleet.enter('pur-c');
INSERT INTO pur_cnt SELECT g, '2001-04-01' FROM generate_series(1, 50) g;
ROLLBACK;
DELETE FROM pur_cnt WHERE controller = 'pur-a' AND id % 3 = 0;
SELECT controller, count(*) FROM pur_cnt GROUP BY 1 ORDER BY 1;
SELECT x.controllers, x.counts, x.heap_fetches > 0 AS heap_read
  FROM phleet._purge_count('pur_cnt_2001', 'pur_cnt_2001_controller_idx') x;
VACUUM pur_cnt_2001;
SELECT x.controllers, x.counts, x.heap_fetches
  FROM phleet._purge_count('pur_cnt_2001', 'pur_cnt_2001_controller_idx') x;
SELECT * FROM phleet._purge_partition_counts('pur_cnt_2001', 'controller');
-- not an index of the partition
SELECT phleet._purge_count('pur_cnt_2001', 'phleet.purge_log_run');

-- clean up
DROP TABLE pur_events, pur_days, pur_local, pur_parted, pur_cnt, pur_left;
DROP OWNED BY regress_purge_admin, regress_purge_app;
DROP ROLE regress_purge_admin, regress_purge_app;
