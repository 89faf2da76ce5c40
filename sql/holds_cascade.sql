-- Legal holds through foreign keys: a purge of one table deletes or changes
-- rows of the tables that reference it ON DELETE CASCADE, SET NULL or SET
-- DEFAULT, so a hold on any of those tables holds the controller's rows of
-- the table (phleet._purge_reach()), on every path: rows, partitions,
-- preview, retention_policies and the vault.
\set SHOW_CONTEXT never
-- day-long intervals span 23 or 25 hours across a DST change: batch
-- boundaries would depend on the date the test runs
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 150, whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 150, false);

CREATE ROLE regress_hc_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_hc_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('hc-a'), phleet.controller_create('hc-b');

-- leads; their messages go with them (ON DELETE CASCADE); notes hang off an
-- ungoverned link table that goes with the leads too; flags are set to NULL
-- (an update, whose key change cascades to flag_refs but deletes nothing in
-- flag_notes); audit rows only refuse the delete (RESTRICT, NO ACTION)
CREATE TABLE hc_leads (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE hc_msgs (id int PRIMARY KEY, lead_id int NOT NULL REFERENCES hc_leads ON DELETE CASCADE,
                      at timestamptz NOT NULL);
CREATE TABLE hc_link (id int PRIMARY KEY, lead_id int REFERENCES hc_leads ON DELETE CASCADE);
CREATE TABLE hc_notes (id int PRIMARY KEY, link_id int REFERENCES hc_link ON DELETE CASCADE);
CREATE TABLE hc_flags (lead_id int UNIQUE REFERENCES hc_leads ON DELETE SET NULL);
CREATE TABLE hc_flag_refs (lead_id int REFERENCES hc_flags (lead_id) ON UPDATE CASCADE);
CREATE TABLE hc_flag_notes (lead_id int REFERENCES hc_flags (lead_id) ON DELETE CASCADE);
CREATE TABLE hc_audit (lead_id int REFERENCES hc_leads ON DELETE RESTRICT,
                       lead2 int REFERENCES hc_leads ON DELETE NO ACTION);
-- a partitioned table, referenced as a whole and through one partition
CREATE TABLE hc_parted (id int, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE hc_parted_old PARTITION OF hc_parted FOR VALUES FROM (MINVALUE) TO ('2000-01-01');
CREATE TABLE hc_parted_new PARTITION OF hc_parted FOR VALUES FROM ('2000-01-01') TO (MAXVALUE);
CREATE TABLE hc_pmsgs (id int PRIMARY KEY, pid int, pat timestamptz,
                       FOREIGN KEY (pid, pat) REFERENCES hc_parted ON DELETE CASCADE);
CREATE TABLE hc_pold_notes (pid int, pat timestamptz,
                            FOREIGN KEY (pid, pat) REFERENCES hc_parted_old ON DELETE SET NULL);
-- a partitioned referencing table: its partitions' copies of the key lead
-- to it
CREATE TABLE hc_preplies (id int, mid int REFERENCES hc_pmsgs ON DELETE CASCADE) PARTITION BY HASH (id);
CREATE TABLE hc_preplies_0 PARTITION OF hc_preplies FOR VALUES WITH (MODULUS 1, REMAINDER 0);
GRANT ALL ON ALL TABLES IN SCHEMA public TO regress_hc_app;
SELECT phleet.govern('hc_leads'), phleet.govern('hc_msgs'), phleet.govern('hc_notes'),
       phleet.govern('hc_parted'), phleet.govern('hc_pmsgs');

-- what a DELETE on each table reaches (itself included)
SELECT t::text AS tbl, array(SELECT x::text FROM unnest(phleet._purge_reach(t)) x ORDER BY 1) AS reach
  FROM unnest('{hc_leads,hc_msgs,hc_link,hc_flags,hc_parted,hc_parted_old,hc_parted_new,hc_pmsgs}'::regclass[]) t;

DROP TABLE hc_pold_notes;

-- holds name governed tables only: an ungoverned table a delete reaches is
-- held through a governed one behind it, or by a hold on every table
SELECT phleet.hold('hc-a', 'hc_link', 'links');

-- per controller: two expired leads and one kept, a message for each
SET ROLE regress_hc_app;
BEGIN;
SELECT phleet.enter('hc-a');
INSERT INTO hc_leads VALUES (1, now() - interval '20 days'), (2, now() - interval '20 days'), (3, now() - interval '1 day');
INSERT INTO hc_msgs SELECT id, id, at FROM hc_leads;
COMMIT;
BEGIN;
SELECT phleet.enter('hc-b');
INSERT INTO hc_leads VALUES (11, now() - interval '20 days'), (12, now() - interval '20 days'), (13, now() - interval '1 day');
INSERT INTO hc_msgs SELECT id, id, at FROM hc_leads;
COMMIT;
RESET ROLE;

-- hc-b's messages are under a hold; the leads have a policy, the messages
-- none: purging hc-b's leads would delete its held messages
SET ROLE regress_hc_admin;
SET client_min_messages = warning;
SELECT phleet.retain('hc_leads', '10 days', 'at');
RESET client_min_messages;
SELECT phleet.hold('hc-b', 'hc_msgs', 'case 7: preserve messages') AS hold_msgs \gset
SELECT table_name, controller, on_hold FROM phleet.retention_policies
 WHERE table_name = 'hc_leads'::regclass AND controller LIKE 'hc-%' ORDER BY controller;
SELECT table_name, controller, method, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name::text LIKE 'hc\_%' ORDER BY 1, 2;
CALL phleet.purge();
RESET ROLE;
SELECT controller, array_agg(id ORDER BY id) AS leads FROM hc_leads GROUP BY 1 ORDER BY 1;
SELECT controller, array_agg(id ORDER BY id) AS msgs FROM hc_msgs GROUP BY 1 ORDER BY 1;
SELECT run_id, table_name, controller, method, status, rows_deleted, rows_held
  FROM phleet.purge_log WHERE table_name LIKE '%hc\_%' ORDER BY id;

-- a hold on the referenced table does not hold the referencing one: a
-- purge of hc-a's messages leaves its leads alone
SET ROLE regress_hc_admin;
SET client_min_messages = warning;
SELECT phleet.retain('hc_msgs', '10 days', 'at');
RESET client_min_messages;
SELECT phleet.hold('hc-a', 'hc_leads', 'leads only') AS hold_leads \gset
RESET ROLE;
-- (an expired message of a kept lead)
SET ROLE regress_hc_app;
BEGIN;
SELECT phleet.enter('hc-a');
UPDATE hc_msgs SET at = now() - interval '30 days' WHERE id = 3;
COMMIT;
RESET ROLE;
SET ROLE regress_hc_admin;
SELECT table_name, controller, on_hold FROM phleet.retention_policies
 WHERE table_name = 'hc_msgs'::regclass AND controller LIKE 'hc-%' ORDER BY controller;
SELECT table_name, controller, method, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name::text LIKE 'hc\_%' ORDER BY 1, 2;
CALL phleet.purge();
RESET ROLE;
SELECT controller, array_agg(id ORDER BY id) AS msgs FROM hc_msgs GROUP BY 1 ORDER BY 1;
SELECT phleet.release(:hold_leads);

-- through an ungoverned table: an expired lead of hc-a whose link row has a
-- note under a hold
SET ROLE regress_hc_app;
BEGIN;
SELECT phleet.enter('hc-a');
INSERT INTO hc_leads VALUES (4, now() - interval '20 days');
INSERT INTO hc_link VALUES (4, 4);
INSERT INTO hc_notes VALUES (4, 4);
COMMIT;
RESET ROLE;
SET ROLE regress_hc_admin;
SELECT phleet.hold('hc-a', 'hc_notes', 'case 8: notes') AS hold_notes \gset
SELECT table_name, controller, method, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name::text LIKE 'hc\_%' ORDER BY 1, 2;
CALL phleet.purge();
RESET ROLE;
SELECT (SELECT count(*) FROM hc_leads WHERE id = 4) AS lead, (SELECT count(*) FROM hc_link) AS links,
       (SELECT count(*) FROM hc_notes) AS notes;

-- released, the leads go, and what references them with them; a hold
-- placed after the purge logged its controllers is seen by the batch
SELECT phleet.release(:hold_notes), phleet.release(:hold_msgs);
SET ROLE regress_hc_admin;
SELECT phleet._purge_start(10000, '10 min') AS run \gset
SELECT count(*) AS cohorts FROM phleet._purge_begin_table(:run, 'hc_leads') AS cohort \gset
SELECT :cohorts AS cohorts, controller, status FROM phleet.purge_log WHERE run_id = :run ORDER BY id;
SELECT phleet.hold('hc-b', 'hc_msgs', 'case 7, again') AS hold_msgs \gset
SELECT b.status, b.deleted
  FROM phleet.purge_log l, phleet._purge_batch(:run, 'hc_leads', l.cutoff, 10000, NULL, NULL) b
 WHERE l.run_id = :run AND l.controller = 'hc-b';
SELECT status, rows_deleted, rows_held FROM phleet._purge_finish(:run, false);
SELECT phleet.release(:hold_msgs);
SET client_min_messages = warning;
CALL phleet.purge();
RESET client_min_messages;
RESET ROLE;
SELECT controller, array_agg(id ORDER BY id) AS leads FROM hc_leads GROUP BY 1 ORDER BY 1;
SELECT controller, array_agg(id ORDER BY id) AS msgs FROM hc_msgs GROUP BY 1 ORDER BY 1;
SELECT (SELECT count(*) FROM hc_link) AS links, (SELECT count(*) FROM hc_notes) AS notes;

-- partitions: the expired partition has rows of hc-a (unreferenced) and of
-- hc-b (a message references it, and is under a hold): it is not dropped,
-- hc-a's row goes row by row, hc-b's stay
SET ROLE regress_hc_app;
BEGIN;
SELECT phleet.enter('hc-a');
INSERT INTO hc_parted VALUES (1, '1991-01-01');
COMMIT;
BEGIN;
SELECT phleet.enter('hc-b');
INSERT INTO hc_parted VALUES (2, '1990-01-01');
INSERT INTO hc_pmsgs VALUES (2, 2, '1990-01-01');
COMMIT;
RESET ROLE;
SET ROLE regress_hc_admin;
SET client_min_messages = warning;
SELECT phleet.retain('hc_parted', '1 day', 'at');
RESET client_min_messages;
SELECT phleet.hold('hc-b', 'hc_pmsgs', 'case 9: partition messages') AS hold_pmsgs \gset
SELECT table_name, controller, method, partition_name, rows_to_delete, rows_held
  FROM phleet.purge_preview() WHERE table_name = 'hc_parted'::regclass ORDER BY 2;
CALL phleet.purge();
RESET ROLE;
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'hc_parted'::regclass;
SELECT controller, id FROM hc_parted ORDER BY 1;
SELECT controller, id FROM hc_pmsgs ORDER BY 1;

-- released: PostgreSQL refuses to detach a partition whose rows a foreign
-- key references (it would not cascade; the run says failed), so the row
-- goes row by row, and its message with it
SELECT phleet.release(:hold_pmsgs);
SET ROLE regress_hc_admin;
CALL phleet.purge();
RESET ROLE;
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'hc_parted'::regclass;
SELECT (SELECT count(*) FROM hc_parted) AS parted, (SELECT count(*) FROM hc_pmsgs) AS pmsgs;
SELECT phleet.unretain('hc_parted');

-- the vault: hc-b's messages (no revealable column) are under a hold that
-- reaches its leads (a revealable phone): its vault is not pruned, even in
-- a run that deletes hc-b's rows of another table with a revealable column
CREATE TABLE hc_vleads (id int PRIMARY KEY, at timestamptz NOT NULL, phone text);
CREATE TABLE hc_vmsgs (id int PRIMARY KEY, lead_id int REFERENCES hc_vleads ON DELETE CASCADE);
CREATE TABLE hc_vcalls (id int PRIMARY KEY, at timestamptz NOT NULL, phone text);
GRANT ALL ON hc_vleads, hc_vmsgs, hc_vcalls TO regress_hc_app;
SELECT phleet.govern('hc_vleads'), phleet.govern('hc_vmsgs'), phleet.govern('hc_vcalls');
SELECT phleet.classify('hc_vleads', 'phone', 'communication', 'phone', reveal => true),
       phleet.classify('hc_vcalls', 'phone', 'communication', 'phone', reveal => true);
SET client_min_messages = warning;
SELECT phleet.retain('hc_vleads', '10 days', 'at'), phleet.retain('hc_vcalls', '10 days', 'at');
RESET client_min_messages;
SET ROLE regress_hc_app;
BEGIN;
SELECT phleet.enter('hc-b');
INSERT INTO hc_vleads VALUES (1, now() - interval '20 days', '+1 555 030 0001'),
                             (2, now() - interval '1 day', '+1 555 030 0002');
INSERT INTO hc_vmsgs VALUES (1, 1);
INSERT INTO hc_vcalls VALUES (1, now() - interval '20 days', '+1 555 030 0003');
-- (the application deletes a lead itself: its vault entry is left unreferenced)
DELETE FROM hc_vleads WHERE id = 2;
COMMIT;
RESET ROLE;
SELECT count(*) AS vault_entries FROM phleet.vault WHERE controller = 'hc-b';
SELECT phleet.hold('hc-b', 'hc_vmsgs', 'case 10: messages of revealable leads') AS hold_vmsgs \gset
SET ROLE regress_hc_admin;
CALL phleet.purge();
RESET ROLE;
SELECT (SELECT count(*) FROM hc_vleads) AS vleads, (SELECT count(*) FROM hc_vmsgs) AS vmsgs,
       (SELECT count(*) FROM hc_vcalls) AS vcalls,
       (SELECT count(*) FROM phleet.vault WHERE controller = 'hc-b') AS vault_entries;
SELECT table_name, controller, method, status, rows_deleted, rows_held
  FROM phleet.purge_log WHERE run_id = (SELECT max(run_id) FROM phleet.purge_runs) ORDER BY id;
SELECT phleet.release(:hold_vmsgs);

-- clean up
DROP TABLE hc_preplies, hc_pmsgs, hc_parted, hc_audit, hc_flag_notes, hc_flag_refs,
           hc_flags, hc_notes, hc_link, hc_msgs, hc_leads, hc_vmsgs, hc_vleads, hc_vcalls;
DROP OWNED BY regress_hc_admin, regress_hc_app;
DROP ROLE regress_hc_admin, regress_hc_app;
