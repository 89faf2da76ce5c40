-- Retention policies (phleet.retain, unretain, retention_policies) and the
-- purge schedule (phleet.schedule_purge, unschedule_purge) with pg_cron.
\set SHOW_CONTEXT never
-- day-long intervals span 23 or 25 hours across a DST change: batch
-- boundaries would depend on the date the test runs
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
-- this file tests scheduling without pg_cron first, then with it
DROP EXTENSION IF EXISTS pg_cron;
RESET client_min_messages;

-- no internal helper is callable by PUBLIC but the pure _identifier_valid()
-- and _purge_reach() (it reads only catalogs; the retention_policies view
-- calls it)
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace = 'phleet'::regnamespace AND p.proname LIKE '\_%'
   AND has_function_privilege('public', p.oid, 'EXECUTE') ORDER BY 1;

CREATE ROLE regress_retention_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_retention_app LOGIN;
SELECT phleet.controller_create('ret-acme'), phleet.controller_create('ret-beta'),
       phleet.controller_create('ret-gamma');
SELECT phleet.bind_role('regress_retention_app', 'ret-acme');

CREATE TABLE ret_leads (id bigserial PRIMARY KEY, created timestamptz NOT NULL DEFAULT now(),
                        seen timestamp, day date, n integer, label text);
CREATE TABLE ret_plain (id integer, created timestamptz);
CREATE TABLE ret_parted (id integer, created timestamptz NOT NULL) PARTITION BY RANGE (created);
CREATE TABLE ret_parted_2020 PARTITION OF ret_parted FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE ret_days (id integer, day date, seen timestamp);
GRANT ALL ON ret_leads, ret_plain, ret_parted TO regress_retention_admin, regress_retention_app;
SELECT phleet.govern('ret_leads'), phleet.govern('ret_parted'), phleet.govern('ret_days');

SET ROLE regress_retention_admin;

-- a table default; the (controller, time) index purge needs is created
SELECT phleet.retain('ret_leads', '90 days', 'created');
SELECT indexrelid::regclass AS index, indkey FROM pg_index
 WHERE indrelid = 'ret_leads'::regclass AND indnkeyatts = 2 ORDER BY 1;
-- overrides, shorter and longer; calling again updates
SELECT phleet.retain('ret_leads', '30 days', 'created', 'ret-acme');
SELECT phleet.retain('ret_leads', '1 year', 'created', controller => 'ret-beta');
SELECT phleet.retain('ret_leads', '2 years', 'created', 'ret-beta');
SELECT phleet.retain('ret_leads', '100 days', 'created');
-- no second index
SELECT count(*) AS indexes_on_controller_created FROM pg_index
 WHERE indrelid = 'ret_leads'::regclass AND indnkeyatts = 2;
-- periods: months, years and time parts are positive too
SELECT phleet.retain('ret_parted', '1 mon 2 days 03:00', 'created');
SELECT phleet.retain('ret_parted', '12:00', 'created', 'ret-gamma');

SELECT table_name, controller, time_column, keep, source, default_keep, override_keep,
       cutoff = now() - keep AS cutoff_ok, on_hold
  FROM phleet.retention_policies WHERE controller LIKE 'ret-%' ORDER BY table_name::text, controller;

-- without a default, controllers without an override keep their rows
SELECT phleet.unretain('ret_leads');
SELECT controller, keep, source FROM phleet.retention_policies
 WHERE table_name = 'ret_leads'::regclass AND controller LIKE 'ret-%' ORDER BY 1;
SELECT phleet.retain('ret_leads', '100 days', 'created');

-- bad input
SELECT phleet.retain('ret_leads', '0 days', 'created');
SELECT phleet.retain('ret_leads', '-3 days', 'created');
SELECT phleet.retain('ret_leads', '-1 mon', 'created');
SELECT phleet.retain('ret_leads', '1 mon -3 days', 'created');
SELECT phleet.retain('ret_leads', '1 day -01:00', 'created');
SELECT phleet.retain('ret_leads', '00:00:00', 'created');
SELECT phleet.retain('ret_leads', NULL, 'created');
SELECT phleet.retain(NULL, '1 day', 'created');
SELECT phleet.retain('ret_leads', '1 day', NULL);
SELECT phleet.retain('ret_leads', '1 day', 'n');
SELECT phleet.retain('ret_leads', '1 day', 'label');
SELECT phleet.retain('ret_leads', '1 day', 'controller');
SELECT phleet.retain('ret_leads', '1 day', 'nosuch');
SELECT phleet.retain('ret_leads', '1 day', 'ctid');
SELECT phleet.retain('ret_plain', '1 day', 'created');
SELECT phleet.retain('ret_parted_2020', '1 day', 'created');
SELECT phleet.retain('ret_nosuch', '1 day', 'created');
SELECT phleet.retain('ret_leads', '1 day', 'created', 'ret-nosuch');
SELECT phleet.retain('ret_leads', '1 day', 'created', 'Not A Handle');
-- one time column per table
SELECT phleet.retain('ret_leads', '1 day', 'seen', 'ret-gamma');
SELECT phleet.retain('ret_leads', '1 day', 'day');
-- nothing changed
SELECT controller, keep, time_column FROM phleet.retention_rules
 WHERE relid = 'ret_leads'::regclass ORDER BY 1 NULLS FIRST;

-- a table whose only policy is replaced may change its time column; the
-- other column types work
SELECT phleet.retain('ret_days', '10 days', 'day');
SELECT phleet.retain('ret_days', '10 days', 'seen');
SELECT time_column FROM phleet.retention_rules WHERE relid = 'ret_days'::regclass;

-- unretain
SELECT phleet.unretain('ret_leads', 'ret-acme');
SELECT phleet.unretain('ret_leads', 'ret-acme');
SELECT phleet.unretain('ret_leads', 'ret-gamma');
SELECT phleet.unretain('ret_leads', 'ret-nosuch');
SELECT phleet.unretain('ret_days');
SELECT phleet.unretain('ret_days');
SELECT phleet.retain('ret_days', '10 days', 'day');
SELECT phleet.unretain('ret_plain');
SELECT phleet.unretain(NULL);
SELECT phleet.unretain('ret_parted');
SELECT phleet.unretain('ret_parted');
SELECT table_name, controller, keep, source FROM phleet.retention_policies
 WHERE controller LIKE 'ret-%' ORDER BY table_name::text, controller;
RESET ROLE;

-- only phleet_admin sets policies
SET ROLE regress_retention_app;
SELECT phleet.retain('ret_leads', '1 day', 'created');
SELECT phleet.unretain('ret_leads');
INSERT INTO phleet.retention_rules (relid, keep, time_column) VALUES ('ret_leads', '1 day', 'created');
DELETE FROM phleet.retention_rules;
-- outside any context a non-admin sees no policy
SELECT * FROM phleet.retention_policies;
SELECT count(*) FROM phleet.retention_rules;
-- in its context, a controller sees what applies to it, and no other
-- controller's override
BEGIN;
SELECT phleet.enter('ret-acme');
SELECT table_name, controller, keep, source, default_keep, override_keep FROM phleet.retention_policies ORDER BY table_name::text;
SELECT relid, controller, keep FROM phleet.retention_rules ORDER BY relid::text, controller;
COMMIT;
RESET ROLE;
SET ROLE regress_retention_admin;
SELECT phleet.retain('ret_leads', '7 days', 'created', 'ret-acme');
RESET ROLE;
SET ROLE regress_retention_app;
BEGIN;
SELECT phleet.enter('ret-acme');
SELECT table_name, controller, keep, source FROM phleet.retention_policies ORDER BY table_name::text;
COMMIT;
RESET ROLE;

-- policies go with their table
CREATE TABLE ret_gone (id integer, created timestamptz);
SELECT phleet.govern('ret_gone');
SELECT phleet.retain('ret_gone', '1 day', 'created');
SELECT count(*) FROM phleet.retention_rules WHERE relid = 'ret_gone'::regclass;
DROP TABLE ret_gone;
SELECT count(*) FROM phleet.retention_rules WHERE relid::oid NOT IN (SELECT oid FROM pg_class);
SELECT count(*) FROM phleet.retention_rules WHERE relid = 'ret_days'::regclass;
SELECT phleet.ungovern('ret_days');
SELECT count(*) FROM phleet.retention_rules WHERE relid = 'ret_days'::regclass;

-- pg_dump carries policies, holds and the purge log
SELECT c::regclass AS config FROM pg_extension e, unnest(e.extconfig) c
 WHERE e.extname = 'phleet'
   AND c::regclass::text ~ '^phleet\.(retention_rules|legal_holds|purge_runs|purge_log)'
 ORDER BY c::regclass::text COLLATE "C";

-------------------------------------------------------------------------------
-- scheduling
-------------------------------------------------------------------------------
SET ROLE regress_retention_admin;
-- pg_cron is preloaded in this instance (test/regress.conf) but not created
SELECT phleet.schedule_purge();
SELECT phleet.unschedule_purge();
RESET ROLE;
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
RESET client_min_messages;
SET ROLE regress_retention_admin;
-- a schedule that never fires in this test
SELECT phleet.schedule_purge('0 0 31 2 *') AS job \gset
RESET ROLE;
SELECT jobid = :job AS same_job, jobname, schedule, command, database = current_database() AS here,
       username = (SELECT r.rolname FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner
                    WHERE e.extname = 'phleet') AS runs_as_extension_owner, active
  FROM cron.job;
SET ROLE regress_retention_admin;
-- rescheduling updates the same job
SELECT phleet.schedule_purge('0 0 30 2 *') = :job AS same_job;
RESET ROLE;
SELECT count(*), min(schedule) FROM cron.job;
SET ROLE regress_retention_admin;
SELECT phleet.schedule_purge('not a schedule');
SELECT phleet.schedule_purge(NULL);
SELECT phleet.unschedule_purge() = :job AS removed;
SELECT phleet.unschedule_purge();
RESET ROLE;
SELECT count(*) FROM cron.job;
-- the default schedule
SET ROLE regress_retention_admin;
SELECT phleet.schedule_purge() > :job AS new_job;
RESET ROLE;
SELECT schedule, command FROM cron.job;
SET ROLE regress_retention_admin;
SELECT phleet.unschedule_purge() IS NOT NULL AS removed;
RESET ROLE;
-- only phleet_admin schedules
SET ROLE regress_retention_app;
SELECT phleet.schedule_purge();
SELECT phleet.unschedule_purge();
RESET ROLE;
SET client_min_messages = warning;
DROP EXTENSION pg_cron;
RESET client_min_messages;

-- pg_cron lives in another database than this one
\set home :DBNAME
CREATE DATABASE regress_retention_other;
\c regress_retention_other
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
SELECT phleet.schedule_purge();
\c :home
SET timezone = 'UTC';
DROP DATABASE regress_retention_other;

-- clean up
DROP TABLE ret_leads, ret_plain, ret_parted, ret_days;
SELECT phleet.unbind_role('regress_retention_app');
DROP OWNED BY regress_retention_admin, regress_retention_app;
DROP ROLE regress_retention_admin, regress_retention_app;
