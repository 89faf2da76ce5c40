-- Legal holds: phleet.hold, release, the holds view, and purges that keep
-- held rows.
\set SHOW_CONTEXT never
-- day-long intervals span 23 or 25 hours across a DST change: batch
-- boundaries would depend on the date the test runs
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 100, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 100, false);

CREATE ROLE regress_holds_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_holds_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('hld-acme'), phleet.controller_create('hld-beta');

CREATE TABLE hld_calls (id bigserial, made timestamptz NOT NULL);
CREATE TABLE hld_texts (id bigserial, made timestamptz NOT NULL);
CREATE TABLE hld_plain (id bigserial, made timestamptz NOT NULL);
CREATE TABLE hld_parted (id bigserial, made timestamptz NOT NULL) PARTITION BY RANGE (made);
CREATE TABLE hld_parted_old PARTITION OF hld_parted FOR VALUES FROM (MINVALUE) TO ('2000-01-01');
GRANT ALL ON ALL TABLES IN SCHEMA public TO regress_holds_app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO regress_holds_app;
SELECT phleet.govern('hld_calls'), phleet.govern('hld_texts'), phleet.govern('hld_parted');

-- 10 expired and 5 kept rows per controller and table
SET ROLE regress_holds_app;
BEGIN;
SELECT phleet.enter('hld-acme');
INSERT INTO hld_calls (made) SELECT now() - g * interval '1 day' FROM generate_series(1, 10) g;
INSERT INTO hld_calls (made) SELECT now() - g * interval '1 day' FROM generate_series(101, 110) g;
INSERT INTO hld_texts (made) SELECT made FROM hld_calls;
COMMIT;
BEGIN;
SELECT phleet.enter('hld-beta');
INSERT INTO hld_calls (made) SELECT now() - g * interval '1 day' FROM generate_series(1, 10) g;
INSERT INTO hld_calls (made) SELECT now() - g * interval '1 day' FROM generate_series(101, 110) g;
INSERT INTO hld_texts (made) SELECT made FROM hld_calls;
COMMIT;
RESET ROLE;

SET ROLE regress_holds_admin;
SET client_min_messages = warning;
SELECT phleet.retain('hld_calls', '50 days', 'made'), phleet.retain('hld_texts', '50 days', 'made');
RESET client_min_messages;

-- holds: on one table, on every table (positional or named)
SELECT phleet.hold('hld-acme', 'hld_calls', 'subpoena 2024-17') AS h1 \gset
SELECT phleet.hold('hld-beta', 'complaint 881') AS h2 \gset
SELECT phleet.hold('hld-beta', reason => 'second complaint') AS h3 \gset
SELECT phleet.hold(controller => 'hld-acme', tbl => NULL, reason => 'audit') AS h4 \gset
SELECT phleet.hold('hld-acme', 'hld_texts'::regclass, 'texts only') AS h5 \gset
SELECT :h2 > :h1 AND :h3 > :h2 AND :h4 > :h3 AND :h5 > :h4 AS ids_increase;
SELECT controller, table_name, reason, active, placed_by = session_user AS placed_by_me, released_at IS NULL AS not_released
  FROM phleet.holds WHERE controller LIKE 'hld-%' ORDER BY hold_id;
SELECT phleet.release(:h4), phleet.release(:h3), phleet.release(:h5);
SELECT controller, table_name, reason, active, released_by = session_user AS released_by_me FROM phleet.holds WHERE controller LIKE 'hld-%' ORDER BY hold_id;

-- bad input
SELECT phleet.hold('hld-acme', 'hld_calls', NULL);
SELECT phleet.hold('hld-acme', 'hld_calls', '  ');
SELECT phleet.hold('hld-acme', NULL);
SELECT phleet.hold('hld-acme', 'hld_calls');
SELECT phleet.hold('hld-acme', 'public.hld_texts');
SELECT phleet.hold(NULL, 'x');
SELECT phleet.hold('hld-nosuch', 'x');
SELECT phleet.hold('hld-acme', 'hld_plain', 'x');
SELECT phleet.hold('hld-acme', 'hld_parted_old', 'x');
SELECT phleet.hold('hld-acme', 'hld_nosuch', 'x');
SELECT phleet.hold('hld-acme');
SELECT phleet.release(:h4);
SELECT phleet.release(-1);
SELECT phleet.release(NULL);
SELECT count(*) AS holds FROM phleet.holds WHERE controller LIKE 'hld-%';

-- what a purge would do: held rows are counted, not deleted
SELECT table_name, controller, method, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name::text LIKE 'hld%' ORDER BY table_name::text, controller;
CALL phleet.purge();
SELECT table_name, controller, method, status, rows_deleted, rows_held, batches,
       oldest_kept < now() - interval '100 days' AS oldest_is_old
  FROM phleet.purge_log WHERE table_name LIKE $$public.hld%$$ ORDER BY table_name, controller;
RESET ROLE;
SELECT controller, count(*) FILTER (WHERE made < now() - interval '50 days') AS expired, count(*)
  FROM hld_calls GROUP BY 1 ORDER BY 1;
SELECT controller, count(*) FILTER (WHERE made < now() - interval '50 days') AS expired, count(*)
  FROM hld_texts GROUP BY 1 ORDER BY 1;

-- released holds let the next purge delete
SET ROLE regress_holds_admin;
SELECT phleet.release(:h1), phleet.release(:h2);
SELECT table_name, controller, rows_to_delete, rows_held FROM phleet.purge_preview()
 WHERE table_name::text LIKE 'hld%' ORDER BY table_name::text, controller;
CALL phleet.purge();
RESET ROLE;
SELECT count(*) FILTER (WHERE made < now() - interval '50 days') AS expired, count(*) FROM hld_calls;

-- a controller's context sees its own holds only; only admins place them
SET ROLE regress_holds_admin;
SELECT phleet.hold('hld-beta', 'hld_calls', 'beta case') IS NOT NULL AS placed;
RESET ROLE;
SET ROLE regress_holds_app;
SELECT count(*) FROM phleet.holds;
BEGIN;
SELECT phleet.enter('hld-acme');
SELECT controller, reason, active FROM phleet.holds WHERE controller LIKE 'hld-%' ORDER BY hold_id;
SELECT table_name, controller, status FROM phleet.purge_log WHERE table_name LIKE $$public.hld%$$ ORDER BY id;
COMMIT;
SELECT phleet.hold('hld-acme', 'x');
SELECT phleet.release(:h1);
INSERT INTO phleet.legal_holds (controller, reason) VALUES ('hld-acme', 'x');
UPDATE phleet.legal_holds SET released_at = now();
DELETE FROM phleet.legal_holds;
SELECT count(*) FROM phleet.purge_runs;
RESET ROLE;

-- a hold on a partition's controller keeps the partition
SET ROLE regress_holds_app;
BEGIN;
SELECT phleet.enter('hld-beta');
INSERT INTO hld_parted (made) VALUES ('1990-01-01'), ('1991-01-01');
COMMIT;
RESET ROLE;
SET ROLE regress_holds_admin;
SET client_min_messages = warning;
SELECT phleet.retain('hld_parted', '1 day', 'made');
RESET client_min_messages;
SELECT phleet.hold('hld-beta', 'hld_parted', 'old partition') AS h6 \gset
SELECT table_name, controller, method, partition_name, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name = 'hld_parted'::regclass;
CALL phleet.purge();
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'hld_parted'::regclass;
SELECT phleet.release(:h6);
SELECT table_name, controller, method, partition_name, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name = 'hld_parted'::regclass;
CALL phleet.purge();
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'hld_parted'::regclass;
SELECT table_name, controller, method, partition_name, status, rows_deleted
  FROM phleet.purge_log WHERE table_name = 'public.hld_parted' ORDER BY id;
RESET ROLE;

-- clean up
DROP TABLE hld_calls, hld_texts, hld_plain, hld_parted;
DROP OWNED BY regress_holds_admin, regress_holds_app;
DROP ROLE regress_holds_admin, regress_holds_app;
