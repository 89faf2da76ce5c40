-- Governed tables: phleet.govern, phleet.ungovern, phleet.governed_tables,
-- and every write path through the stamp trigger and the policies.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

CREATE ROLE regress_govern_admin IN ROLE phleet_admin;
CREATE ROLE regress_govern_gw IN ROLE phleet_gateway;
CREATE ROLE regress_govern_app;
SET ROLE regress_govern_admin;
SELECT phleet.controller_create('gov-a'), phleet.controller_create('gov-b');
RESET ROLE;

-- What govern() leaves on a table: RLS flags, columns, indexes, triggers, policies.
CREATE FUNCTION govern_describe(t regclass) RETURNS TABLE (item text)
LANGUAGE sql STABLE AS $$
SELECT s.item FROM (
    SELECT 1, 0::bigint, format('rls enabled %s, forced %s', c.relrowsecurity, c.relforcerowsecurity)
      FROM pg_class c WHERE c.oid = t
    UNION ALL
    SELECT 2, a.attnum, format('column %s %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                               CASE WHEN a.attnotnull THEN ' not null' ELSE '' END)
      FROM pg_attribute a WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 3, row_number() OVER (ORDER BY i.indexrelid::regclass::text COLLATE "C"), pg_get_indexdef(i.indexrelid)
      FROM pg_index i WHERE i.indrelid = t
    UNION ALL
    SELECT 4, row_number() OVER (ORDER BY tg.tgname), pg_get_triggerdef(tg.oid)
      FROM pg_trigger tg WHERE tg.tgrelid = t AND NOT tg.tgisinternal
    UNION ALL
    SELECT 5, row_number() OVER (ORDER BY p.policyname),
           format('policy %s %s %s to %s using %s check %s', p.policyname, p.permissive, p.cmd,
                  p.roles, p.qual, p.with_check)
      FROM pg_policies p JOIN pg_class c ON c.relname = p.tablename
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
     WHERE c.oid = t
) s(k, n, item) ORDER BY s.k, s.n $$;

---------------------------------------------------------------------------
-- govern(): the controller column
---------------------------------------------------------------------------
-- an empty table without the column: it is added as text NOT NULL, with an index
CREATE TABLE gov_leads (id int PRIMARY KEY, phone text);
SELECT * FROM govern_describe('gov_leads');
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_leads');
RESET ROLE;
SELECT * FROM govern_describe('gov_leads');
-- govern is idempotent: nothing is added twice
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_leads');
SELECT phleet.govern('gov_leads', 'controller');
RESET ROLE;
SELECT * FROM govern_describe('gov_leads');
-- but a governed table keeps its controller column
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_leads', 'tenant');
-- only phleet_admin governs
SET ROLE regress_govern_app;
SELECT phleet.govern('gov_leads');
SELECT phleet.ungovern('gov_leads');
RESET ROLE;

-- a table with rows but without the column cannot be governed
CREATE TABLE gov_filled (id int);
INSERT INTO gov_filled VALUES (1);
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_filled');
RESET ROLE;
SELECT * FROM govern_describe('gov_filled');

-- adopting an existing column: it must be text, hold only known
-- controllers and no NULLs; it is made NOT NULL
CREATE TABLE gov_adopt (id int, tenant text, n int);
INSERT INTO gov_adopt VALUES (1, 'gov-a', 1), (2, NULL, 2);
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_adopt', 'tenant');
RESET ROLE;
UPDATE gov_adopt SET tenant = 'gov-zzz' WHERE id = 2;
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_adopt', 'tenant');
SELECT phleet.govern('gov_adopt', 'n');
SELECT phleet.govern('gov_adopt', 'xmin');
SELECT phleet.govern('gov_adopt', 'ctid');
RESET ROLE;
-- nothing changed by the failed calls
SELECT * FROM govern_describe('gov_adopt');
SELECT count(*) AS registered FROM phleet.governed WHERE relid = 'gov_adopt'::regclass;
UPDATE gov_adopt SET tenant = 'gov-b' WHERE id = 2;
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_adopt', 'tenant');
RESET ROLE;
SELECT * FROM govern_describe('gov_adopt');

-- an index leading with the column is created only when none exists
CREATE TABLE gov_indexed (id int, controller text, created date);
CREATE INDEX gov_indexed_ctl_created ON gov_indexed (controller, created);
CREATE TABLE gov_indexed2 (id int, controller text);
CREATE INDEX gov_indexed2_id_ctl ON gov_indexed2 (id, controller);
CREATE TABLE gov_indexed3 (id int, controller text);
CREATE INDEX gov_indexed3_partial ON gov_indexed3 (controller) WHERE id > 0;  -- partial: does not count
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_indexed'), phleet.govern('gov_indexed2'), phleet.govern('gov_indexed3');
RESET ROLE;
SELECT indexrelid::regclass AS index, indrelid::regclass AS "table"
  FROM pg_index WHERE indrelid IN ('gov_indexed'::regclass, 'gov_indexed2'::regclass, 'gov_indexed3'::regclass)
 ORDER BY indexrelid::regclass::text COLLATE "C";

-- what cannot be governed
CREATE VIEW gov_view AS SELECT * FROM gov_filled;
CREATE MATERIALIZED VIEW gov_matview AS SELECT * FROM gov_filled;
CREATE SEQUENCE gov_seq;
CREATE TEMP TABLE gov_temp (id int);
CREATE TABLE gov_parted (id int, controller text) PARTITION BY LIST (id);
CREATE TABLE gov_parted_1 PARTITION OF gov_parted FOR VALUES IN (1);
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_view');
SELECT phleet.govern('gov_matview');
SELECT phleet.govern('gov_seq');
SELECT phleet.govern('gov_temp');
SELECT phleet.govern('gov_parted_1');
SELECT phleet.govern('pg_class');
SELECT phleet.govern('phleet.controllers');
SELECT phleet.govern('information_schema.sql_features');
SELECT phleet.govern('gov_nosuchtable');
SELECT phleet.govern(NULL);
SELECT phleet.govern('gov_leads', NULL);
RESET ROLE;
SELECT relid FROM phleet.governed WHERE relid::text LIKE 'gov\_%' ORDER BY relid::text COLLATE "C";

---------------------------------------------------------------------------
-- writes and reads inside and outside a context
---------------------------------------------------------------------------
GRANT SELECT, INSERT, UPDATE, DELETE ON gov_leads TO regress_govern_gw, regress_govern_app;
SET ROLE regress_govern_gw;
-- outside a context: nothing visible, nothing written
SELECT count(*) FROM gov_leads;
INSERT INTO gov_leads (id, phone) VALUES (1, '555-0101');
BEGIN;
SELECT phleet.enter('gov-a');
-- INSERT stamps a NULL controller and accepts the current one
INSERT INTO gov_leads (id, phone) VALUES (1, '555-0101');
INSERT INTO gov_leads (id, phone, controller) VALUES (2, '555-0102', 'gov-a');
INSERT INTO gov_leads (id, phone, controller) VALUES (3, '555-0103', NULL) RETURNING *;
-- another controller's row is refused, so is an unknown one
SAVEPOINT s;
INSERT INTO gov_leads (id, phone, controller) VALUES (4, '555-0104', 'gov-b');
ROLLBACK TO SAVEPOINT s;
INSERT INTO gov_leads (id, phone, controller) VALUES (4, '555-0104', 'gov-nope');
ROLLBACK TO SAVEPOINT s;
-- INSERT ... SELECT goes through the same trigger
INSERT INTO gov_leads (id, phone) SELECT 10 + i, '555-01' || (10 + i) FROM generate_series(1, 3) i;
SELECT phleet.enter('gov-b');
INSERT INTO gov_leads (id, phone) VALUES (101, '555-0201'), (102, '555-0202');
SELECT id, phone, controller FROM gov_leads ORDER BY id;
COMMIT;

BEGIN;
SELECT phleet.enter('gov-a');
SELECT id, phone, controller FROM gov_leads ORDER BY id;
-- UPDATE: own rows only, and never the controller
UPDATE gov_leads SET phone = phone || '!' WHERE id IN (1, 101) RETURNING id, phone;
SAVEPOINT s;
UPDATE gov_leads SET controller = 'gov-b' WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
UPDATE gov_leads SET controller = NULL WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
UPDATE gov_leads SET controller = 'gov-a' WHERE id = 101;  -- invisible: nothing to update
ROLLBACK TO SAVEPOINT s;
UPDATE gov_leads SET controller = 'gov-a' WHERE id = 1 RETURNING id, controller;  -- unchanged: fine
-- DELETE: own rows only
DELETE FROM gov_leads WHERE id IN (13, 102) RETURNING id;
-- INSERT ... ON CONFLICT
INSERT INTO gov_leads (id, phone) VALUES (2, '555-0999')
    ON CONFLICT (id) DO UPDATE SET phone = excluded.phone RETURNING id, phone, controller;
INSERT INTO gov_leads (id, phone) VALUES (2, '555-0998'), (20, '555-0120')
    ON CONFLICT (id) DO NOTHING RETURNING id, phone, controller;
-- a conflict with another controller's (invisible) row: DO NOTHING skips it,
-- DO UPDATE is refused by the policy (RLS cannot hide that the key exists)
INSERT INTO gov_leads (id, phone) VALUES (101, '555-0997')
    ON CONFLICT (id) DO NOTHING RETURNING id;
SAVEPOINT s;
INSERT INTO gov_leads (id, phone) VALUES (101, '555-0997')
    ON CONFLICT (id) DO UPDATE SET phone = excluded.phone;
ROLLBACK TO SAVEPOINT s;
INSERT INTO gov_leads (id, phone) VALUES (2, '555-0997')
    ON CONFLICT (id) DO UPDATE SET controller = 'gov-b';
ROLLBACK TO SAVEPOINT s;
-- MERGE (PostgreSQL 15)
CREATE TEMP TABLE gov_incoming (id int, phone text);
INSERT INTO gov_incoming VALUES (1, '555-1001'), (30, '555-1030'), (101, '555-1101');
MERGE INTO gov_leads l USING gov_incoming i ON l.id = i.id
  WHEN MATCHED THEN UPDATE SET phone = i.phone
  WHEN NOT MATCHED AND i.id < 100 THEN INSERT (id, phone) VALUES (i.id, i.phone);
SAVEPOINT s;
MERGE INTO gov_leads l USING gov_incoming i ON l.id = i.id
  WHEN NOT MATCHED THEN INSERT (id, phone, controller) VALUES (i.id + 1000, i.phone, 'gov-b');
ROLLBACK TO SAVEPOINT s;
MERGE INTO gov_leads l USING gov_incoming i ON l.id = i.id
  WHEN MATCHED THEN UPDATE SET controller = 'gov-b';
ROLLBACK TO SAVEPOINT s;
SELECT id, phone, controller FROM gov_leads ORDER BY id;
COMMIT;
DROP TABLE gov_incoming;

-- COPY FROM STDIN: rows are stamped and checked; PostgreSQL alone would
-- refuse COPY FROM on a table with row-level security
BEGIN;
SELECT phleet.enter('gov-b');
COPY gov_leads (id, phone) FROM STDIN;
201	555-0301
202	555-0302
\.
COPY gov_leads (id, phone, controller) FROM STDIN WITH (FORMAT csv);
203,555-0303,gov-b
204,555-0304,
\.
COPY gov_leads (id, phone) FROM STDIN WHERE id > 205;
205	555-0305
206	555-0306
\.
SAVEPOINT s;
COPY gov_leads (id, phone, controller) FROM STDIN WITH (FORMAT csv);
207,555-0307,gov-b
208,555-0308,gov-a
\.
ROLLBACK TO SAVEPOINT s;
COPY gov_leads TO STDOUT;
SELECT id, phone, controller FROM gov_leads ORDER BY id;
COMMIT;
-- outside a context COPY FROM is refused and COPY TO shows nothing
COPY gov_leads (id, phone) FROM STDIN;
301	555-0401
\.
COPY gov_leads TO STDOUT;
COPY (SELECT count(*) FROM gov_leads) TO STDOUT;
RESET ROLE;
-- COPY needs INSERT like any other write
REVOKE INSERT ON gov_leads FROM regress_govern_gw;
SET ROLE regress_govern_gw;
BEGIN;
SELECT phleet.enter('gov-b');
COPY gov_leads (id, phone) FROM STDIN;
301	555-0401
\.
ROLLBACK;
RESET ROLE;
GRANT INSERT ON gov_leads TO regress_govern_gw;

-- the superuser bypasses the policies but not the trigger: no write
-- without a context, rows stamped inside one
SELECT count(*) AS all_rows FROM gov_leads;
INSERT INTO gov_leads (id, phone) VALUES (900, '555-0900');
COPY gov_leads (id, phone) FROM STDIN;
900	555-0900
\.
BEGIN;
SELECT phleet.enter('gov-a');
COPY gov_leads (id, phone) FROM STDIN;
900	555-0900
\.
SELECT controller FROM gov_leads WHERE id = 900;
ROLLBACK;

-- TRUNCATE by a member of phleet_admin works (everyone else is refused)
GRANT TRUNCATE ON gov_leads TO regress_govern_admin;
SET ROLE regress_govern_admin;
TRUNCATE gov_leads;
RESET ROLE;
SELECT count(*) AS after_truncate FROM gov_leads;

---------------------------------------------------------------------------
-- a table with policies of its own keeps them; phleet adds only its
-- restrictive policy
---------------------------------------------------------------------------
CREATE TABLE gov_own (id int, kind text);
ALTER TABLE gov_own ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_public ON gov_own FOR SELECT USING (kind = 'public');
CREATE POLICY own_insert ON gov_own FOR INSERT WITH CHECK (true);
GRANT SELECT, INSERT ON gov_own TO regress_govern_gw;
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_own');
RESET ROLE;
SELECT * FROM govern_describe('gov_own');
SET ROLE regress_govern_gw;
BEGIN;
SELECT phleet.enter('gov-a');
INSERT INTO gov_own (id, kind) VALUES (1, 'public'), (2, 'private');
SELECT phleet.enter('gov-b');
INSERT INTO gov_own (id, kind) VALUES (3, 'public');
SELECT id, kind, controller FROM gov_own ORDER BY id;  -- own policy AND phleet's
-- COPY FROM cannot apply the table's own INSERT policies, so it is refused
SAVEPOINT s;
COPY gov_own (id, kind) FROM STDIN;
4	public
\.
ROLLBACK TO SAVEPOINT s;
COMMIT;
RESET ROLE;
-- ungovern keeps row-level security on where the table has its own policies
SET ROLE regress_govern_admin;
SELECT phleet.ungovern('gov_own');
RESET ROLE;
SELECT * FROM govern_describe('gov_own');
SET ROLE regress_govern_gw;
SELECT id, kind, controller FROM gov_own ORDER BY id;
RESET ROLE;

---------------------------------------------------------------------------
-- ungovern, governed_tables, DROP TABLE
---------------------------------------------------------------------------
SELECT table_name, controller_column, rls_enabled, rls_forced, partitions,
       governed_at <= now() AS dated
  FROM phleet.governed_tables WHERE table_name::text LIKE 'gov\_%' ORDER BY table_name::text COLLATE "C";
SET ROLE regress_govern_admin;
SELECT phleet.ungovern('gov_indexed2');
SELECT phleet.ungovern('gov_indexed2');
SELECT phleet.ungovern('gov_filled');
SELECT phleet.ungovern(NULL);
RESET ROLE;
-- the column, its data and its index stay; trigger, policies and RLS go
SELECT * FROM govern_describe('gov_indexed2');
-- and it can be governed again
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_indexed2');
RESET ROLE;
DROP TABLE gov_indexed2;
SELECT count(*) AS still_registered FROM phleet.governed WHERE relid::text = 'gov_indexed2';
SELECT table_name FROM phleet.governed_tables WHERE table_name::text LIKE 'gov\_%' ORDER BY table_name::text COLLATE "C";
-- everyone may read the view
SET ROLE regress_govern_app;
SELECT count(*) > 0 AS readable FROM phleet.governed_tables;
RESET ROLE;

---------------------------------------------------------------------------
-- partitioned tables
---------------------------------------------------------------------------
-- LIST partitioned, governed with an existing partition, which follows
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_parted');
RESET ROLE;
-- created later, as a sub-partitioned partition, and attached later
CREATE TABLE gov_parted_2 PARTITION OF gov_parted FOR VALUES IN (2);
CREATE TABLE gov_parted_3 PARTITION OF gov_parted FOR VALUES IN (3, 4) PARTITION BY LIST (id);
CREATE TABLE gov_parted_3a PARTITION OF gov_parted_3 FOR VALUES IN (3);
CREATE TABLE gov_parted_5 (id int, controller text NOT NULL);
ALTER TABLE gov_parted ATTACH PARTITION gov_parted_5 FOR VALUES IN (5);
-- plain inheritance would add a table neither isolated nor stamped: refused
CREATE TABLE gov_leads_inh (extra int) INHERITS (gov_leads);
CREATE TABLE gov_leads_inh (id int NOT NULL, phone text, controller text NOT NULL);
ALTER TABLE gov_leads_inh INHERIT gov_leads;
-- nor may a governed table become the child or partition of an ungoverned one
ALTER TABLE gov_leads INHERIT gov_leads_inh;
CREATE TABLE gov_outer (id int, phone text, controller text) PARTITION BY LIST (id);
CREATE TABLE gov_inner (id int, phone text, controller text NOT NULL);
SELECT phleet.govern('gov_inner');
ALTER TABLE gov_outer ATTACH PARTITION gov_inner FOR VALUES IN (1);
SELECT phleet.ungovern('gov_inner');
CREATE TABLE gov_inh_child (extra int) INHERITS (gov_leads_inh);
SELECT phleet.govern('gov_inh_child');
SELECT phleet.govern('gov_leads_inh');
DROP TABLE gov_inh_child, gov_leads_inh, gov_outer, gov_inner;
-- the same through CREATE SCHEMA and foreign tables; a partition created in
-- CREATE SCHEMA is isolated like any other
CREATE SCHEMA gov_sch CREATE TABLE inh (extra int) INHERITS (gov_leads);
CREATE SCHEMA gov_sch CREATE TABLE part PARTITION OF gov_parted FOR VALUES IN (7);
SELECT c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
  FROM pg_class c WHERE c.oid = 'gov_sch.part'::regclass;
DROP SCHEMA gov_sch CASCADE;
CREATE FOREIGN DATA WRAPPER gov_fdw;
CREATE SERVER gov_srv FOREIGN DATA WRAPPER gov_fdw;
CREATE FOREIGN TABLE gov_ft () INHERITS (gov_leads) SERVER gov_srv;
CREATE FOREIGN TABLE gov_ft PARTITION OF gov_parted FOR VALUES IN (8) SERVER gov_srv;
CREATE FOREIGN TABLE gov_ft (id int, controller text NOT NULL) SERVER gov_srv;
ALTER TABLE gov_parted ATTACH PARTITION gov_ft FOR VALUES IN (8);
ALTER FOREIGN TABLE gov_ft ADD COLUMN phone text, ALTER COLUMN id SET NOT NULL;
ALTER FOREIGN TABLE gov_ft INHERIT gov_leads;
DROP FOREIGN TABLE gov_ft;
DROP SERVER gov_srv;
DROP FOREIGN DATA WRAPPER gov_fdw;
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT string_agg(p.polname, ', ' ORDER BY p.polname) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
       (SELECT string_agg(t.tgname, ', ') FROM pg_trigger t WHERE t.tgrelid = c.oid) AS triggers
  FROM pg_class c WHERE c.relname LIKE 'gov\_parted%' AND c.relkind IN ('r', 'p')
 ORDER BY c.relname;
SELECT table_name, partitions FROM phleet.governed_tables WHERE table_name = 'gov_parted'::regclass;
-- governing it again adds nothing anywhere in the tree
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_parted');
RESET ROLE;
SELECT count(*) AS policies, count(DISTINCT p.polrelid) AS relations
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relname LIKE 'gov\_parted%';
SELECT count(*) AS triggers FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'gov\_parted%';
SELECT count(*) AS indexes FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
 WHERE c.relname LIKE 'gov\_parted%';

-- RANGE partitioned
CREATE TABLE gov_ranged (id int, at date NOT NULL, note text) PARTITION BY RANGE (at);
CREATE TABLE gov_ranged_2024 PARTITION OF gov_ranged FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_ranged');
RESET ROLE;
CREATE TABLE gov_ranged_2025 PARTITION OF gov_ranged FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE gov_ranged_old (LIKE gov_ranged);
ALTER TABLE gov_ranged ATTACH PARTITION gov_ranged_old FOR VALUES FROM (MINVALUE) TO ('2024-01-01');
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT string_agg(p.polname, ', ' ORDER BY p.polname) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
       (SELECT string_agg(t.tgname, ', ') FROM pg_trigger t WHERE t.tgrelid = c.oid) AS triggers
  FROM pg_class c WHERE c.relname LIKE 'gov\_ranged%' AND c.relkind IN ('r', 'p')
 ORDER BY c.relname;

-- writes through the root and directly into partitions are stamped and isolated
GRANT SELECT, INSERT, UPDATE, DELETE ON gov_ranged, gov_ranged_2024, gov_ranged_2025, gov_ranged_old TO regress_govern_gw;
SET ROLE regress_govern_gw;
BEGIN;
SELECT phleet.enter('gov-a');
INSERT INTO gov_ranged (id, at, note) VALUES (1, '2024-05-01', 'a root'), (2, '2025-05-01', 'a root'),
                                              (3, '2020-05-01', 'a root');
INSERT INTO gov_ranged_2025 (id, at, note) VALUES (4, '2025-06-01', 'a direct');
SAVEPOINT s;
INSERT INTO gov_ranged_2025 (id, at, note, controller) VALUES (5, '2025-06-01', 'a direct', 'gov-b');
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter('gov-b');
INSERT INTO gov_ranged_old (id, at, note) VALUES (6, '2019-01-01', 'b direct');
COPY gov_ranged_2024 (id, at, note) FROM STDIN;
7	2024-02-02	b copy
\.
SELECT tableoid::regclass AS part, id, note, controller FROM gov_ranged ORDER BY id;
SELECT id, note FROM gov_ranged_2025 ORDER BY id;
UPDATE gov_ranged_2025 SET note = 'b was here' RETURNING id;
DELETE FROM gov_ranged_2024 RETURNING id;
-- moving a row to another partition keeps it isolated
UPDATE gov_ranged SET at = '2025-03-03' WHERE id = 6 RETURNING tableoid::regclass, id;
SELECT phleet.enter('gov-a');
SELECT tableoid::regclass AS part, id, note, controller FROM gov_ranged ORDER BY id;
SELECT id, note FROM gov_ranged_old ORDER BY id;
SAVEPOINT s;
UPDATE gov_ranged_2024 SET controller = 'gov-b' WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
COMMIT;
-- outside a context the partitions show nothing and refuse writes too
SELECT count(*) FROM gov_ranged_2025;
INSERT INTO gov_ranged_2025 (id, at) VALUES (8, '2025-01-02');
RESET ROLE;
-- TRUNCATE of a partition is guarded like its root
GRANT TRUNCATE ON gov_ranged_2025 TO regress_govern_app;
SET ROLE regress_govern_app;
TRUNCATE gov_ranged_2025;
RESET ROLE;

-- ungovern of a partitioned table clears every partition
SET ROLE regress_govern_admin;
SELECT phleet.ungovern('gov_ranged');
RESET ROLE;
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid) AS triggers
  FROM pg_class c WHERE c.relname LIKE 'gov\_ranged%' AND c.relkind IN ('r', 'p')
 ORDER BY c.relname;

-- dropping a governed table (or its schema) forgets it
-- ATTACH PARTITION cannot slip rows into another controller's data: a table
-- owner in a context may attach only rows of that controller, an admin only
-- rows of registered controllers
CREATE ROLE regress_govern_owner IN ROLE phleet_gateway;
GRANT regress_govern_owner TO regress_govern_admin;
CREATE SCHEMA gov_att AUTHORIZATION regress_govern_owner;
GRANT USAGE ON SCHEMA gov_att TO regress_govern_admin;
SET ROLE regress_govern_owner;
CREATE TABLE gov_att.t (id int, controller text NOT NULL) PARTITION BY LIST (id);
RESET ROLE;
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_att.t');
RESET ROLE;
SET ROLE regress_govern_owner;
CREATE TABLE gov_att.p1 (id int, controller text NOT NULL);
INSERT INTO gov_att.p1 VALUES (1, 'gov-a'), (1, 'gov-b');
CREATE TABLE gov_att.p2 (id int, controller text NOT NULL);
INSERT INTO gov_att.p2 VALUES (2, 'gov-a');
ALTER TABLE gov_att.t ATTACH PARTITION gov_att.p2 FOR VALUES IN (2);
BEGIN;
SELECT phleet.enter('gov-a');
ALTER TABLE gov_att.t ATTACH PARTITION gov_att.p1 FOR VALUES IN (1);
ROLLBACK;
BEGIN;
SELECT phleet.enter('gov-a');
ALTER TABLE gov_att.t ATTACH PARTITION gov_att.p2 FOR VALUES IN (2);
SELECT tableoid::regclass AS part, id, controller FROM gov_att.t ORDER BY id;
COMMIT;
UPDATE gov_att.p1 SET controller = 'gov-nobody' WHERE controller = 'gov-b';
RESET ROLE;
SET ROLE regress_govern_admin;
ALTER TABLE gov_att.t ATTACH PARTITION gov_att.p1 FOR VALUES IN (1);
UPDATE gov_att.p1 SET controller = 'gov-b' WHERE controller = 'gov-nobody';
ALTER TABLE gov_att.t ATTACH PARTITION gov_att.p1 FOR VALUES IN (1);
RESET ROLE;
SELECT c.relname, (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'gov_att' AND c.relkind IN ('r', 'p') ORDER BY 1;
DROP SCHEMA gov_att CASCADE;
DROP ROLE regress_govern_owner;

CREATE SCHEMA gov_schema;
CREATE TABLE gov_schema.t (id int);
GRANT USAGE ON SCHEMA gov_schema TO regress_govern_admin;
SET ROLE regress_govern_admin;
SELECT phleet.govern('gov_schema.t');
RESET ROLE;
SELECT count(*) FROM phleet.governed WHERE relid::text IN ('gov_schema.t', 'gov_parted');
DROP SCHEMA gov_schema CASCADE;
DROP TABLE gov_parted;
SELECT count(*) FROM phleet.governed WHERE relid::text IN ('gov_schema.t', 'gov_parted');

DROP TABLE gov_leads, gov_filled, gov_adopt, gov_indexed, gov_indexed3, gov_own, gov_ranged CASCADE;
DROP SEQUENCE gov_seq;
DROP FUNCTION govern_describe(regclass);
DROP ROLE regress_govern_admin, regress_govern_gw, regress_govern_app;
