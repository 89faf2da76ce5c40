-- Attack: read controller B's rows through a view or a SECURITY DEFINER
-- function owned by a privileged role.
--
-- The attacker is an application role (no SUPERUSER, no BYPASSRLS, not the
-- table owner) bound to A.  A view reads its tables with its owner's rights,
-- a SECURITY DEFINER function with its owner's: when that owner is a
-- superuser or has BYPASSRLS, row-level security is skipped and every
-- controller's rows come back.  phleet's ExecutorCheckPerms hook refuses such
-- an access to a governed table from a session whose login role does not
-- bypass row-level security itself.  Objects owned by the table owner need
-- no guard: FORCE ROW LEVEL SECURITY filters the owner like anyone else,
-- except inside a foreign-key action (last section).
-- security_invoker views (PostgreSQL 15) read with the caller's rights and
-- simply work.  Every access below must either fail with phleet's error or
-- return A's rows only.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-vw-a'), phleet.controller_create('atk-vw-b');
CREATE ROLE regress_attack_views_owner NOLOGIN;
CREATE ROLE regress_attack_views_super SUPERUSER NOLOGIN;
CREATE ROLE regress_attack_views_bypass BYPASSRLS NOLOGIN;
CREATE ROLE regress_attack_views_app LOGIN;          -- bound to A
SELECT phleet.bind_role('regress_attack_views_app', 'atk-vw-a');
CREATE SCHEMA attack_views AUTHORIZATION regress_attack_views_owner;
GRANT USAGE ON SCHEMA attack_views TO PUBLIC;
CREATE TABLE attack_views.leads (id int PRIMARY KEY, phone text);
ALTER TABLE attack_views.leads OWNER TO regress_attack_views_owner;
SELECT phleet.govern('attack_views.leads');
GRANT SELECT, INSERT ON attack_views.leads TO regress_attack_views_bypass;
BEGIN;
SELECT phleet.enter('atk-vw-a');
INSERT INTO attack_views.leads VALUES (1, '+1555000101'), (2, '+1555000102');
SELECT phleet.enter('atk-vw-b');
INSERT INTO attack_views.leads VALUES (3, '+1555000203'), (4, '+1555000204');
COMMIT;

-- views: owned by a superuser, by a BYPASSRLS role, by the table owner, and a
-- security_invoker view owned by a superuser
CREATE VIEW attack_views.by_super AS SELECT * FROM attack_views.leads;
CREATE VIEW attack_views.by_bypass AS SELECT * FROM attack_views.leads;
CREATE VIEW attack_views.by_owner AS SELECT * FROM attack_views.leads;
CREATE VIEW attack_views.invoker WITH (security_invoker) AS SELECT * FROM attack_views.leads;
-- a security_invoker view over the superuser's view still reaches the table
-- through the inner view's owner
CREATE VIEW attack_views.invoker_over_super WITH (security_invoker) AS SELECT * FROM attack_views.by_super;
ALTER VIEW attack_views.by_super OWNER TO regress_attack_views_super;
ALTER VIEW attack_views.by_bypass OWNER TO regress_attack_views_bypass;
ALTER VIEW attack_views.by_owner OWNER TO regress_attack_views_owner;
ALTER VIEW attack_views.invoker OWNER TO regress_attack_views_super;
-- SECURITY DEFINER functions: SQL and PL/pgSQL, same owners
CREATE FUNCTION attack_views.count_super() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS 'SELECT count(*) FROM attack_views.leads';
CREATE FUNCTION attack_views.phones_super() RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER
    AS 'BEGIN RETURN QUERY SELECT phone FROM attack_views.leads ORDER BY id; END';
CREATE FUNCTION attack_views.count_bypass() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS 'SELECT count(*) FROM attack_views.leads';
CREATE FUNCTION attack_views.count_owner() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS 'SELECT count(*) FROM attack_views.leads';
CREATE FUNCTION attack_views.insert_super(int, text, text) RETURNS void LANGUAGE sql SECURITY DEFINER
    AS 'INSERT INTO attack_views.leads VALUES ($1, $2, $3)';
ALTER FUNCTION attack_views.count_super() OWNER TO regress_attack_views_super;
ALTER FUNCTION attack_views.phones_super() OWNER TO regress_attack_views_super;
ALTER FUNCTION attack_views.count_bypass() OWNER TO regress_attack_views_bypass;
ALTER FUNCTION attack_views.count_owner() OWNER TO regress_attack_views_owner;
ALTER FUNCTION attack_views.insert_super(int, text, text) OWNER TO regress_attack_views_super;
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA attack_views TO regress_attack_views_app;

SET SESSION AUTHORIZATION regress_attack_views_app;
SELECT phleet.current_controller();
-- refused: the table is reached as a role that bypasses row-level security
SELECT * FROM attack_views.by_super;
SELECT count(*) FROM attack_views.by_super WHERE id = 3;
SELECT * FROM attack_views.by_bypass;
SELECT * FROM attack_views.invoker_over_super;
INSERT INTO attack_views.by_super VALUES (5, 'x');
SELECT attack_views.count_super();
SELECT attack_views.phones_super();
SELECT attack_views.count_bypass();
SELECT attack_views.insert_super(5, 'x', 'atk-vw-b');
-- allowed, and filtered: owner-owned objects and security_invoker views
SELECT * FROM attack_views.by_owner ORDER BY id;
SELECT * FROM attack_views.invoker ORDER BY id;
SELECT attack_views.count_owner();
RESET SESSION AUTHORIZATION;

-- the guard is about the privileged owner, not about the table: the same
-- superuser's view is fine when it reads no governed table
CREATE VIEW attack_views.harmless AS SELECT 1 AS one;
ALTER VIEW attack_views.harmless OWNER TO regress_attack_views_super;
GRANT SELECT ON attack_views.harmless TO regress_attack_views_app;
SET SESSION AUTHORIZATION regress_attack_views_app;
SELECT * FROM attack_views.harmless;
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- Inside a foreign-key action.  ON DELETE CASCADE (or SET NULL, ...) runs its
-- query as the referencing table's owner with SECURITY_NOFORCE_RLS, a flag
-- under which a table's owner bypasses FORCE ROW LEVEL SECURITY, and
-- PostgreSQL leaves it set for what the action fires: the referencing
-- table's triggers, defaults and CHECK constraints.  The attacker owns both
-- tables (temporary ones: TEMP is granted to PUBLIC).  Without phleet's hooks
-- its trigger read both controllers' rows through the owner's view, the
-- owner's SECURITY DEFINER function counted 4 rows, B's row 3 was deleted
-- through the view, and an inlined SQL function, a PL/pgSQL plan and an
-- upsert's conflict check all saw B's rows.
--
-- 1. PL/pgSQL (any procedural language) and SECURITY DEFINER functions run
--    without the flag (fmgr hook): the trigger sees what it sees outside the
--    action, A's rows only.
-------------------------------------------------------------------------------
GRANT DELETE, UPDATE ON attack_views.by_owner TO regress_attack_views_app;
SET SESSION AUTHORIZATION regress_attack_views_app;
CREATE TEMP TABLE loot (what text, n bigint, controller text);
-- a SQL function the planner inlines (its view is expanded while planning)
CREATE FUNCTION pg_temp.srf() RETURNS SETOF attack_views.leads LANGUAGE sql STABLE
    AS 'SELECT * FROM attack_views.by_owner';
-- a PL/pgSQL function whose plan is first made inside the action
CREATE FUNCTION pg_temp.reader() RETURNS TABLE (id int, controller text) LANGUAGE plpgsql
    AS 'BEGIN RETURN QUERY SELECT s.id, s.controller FROM pg_temp.srf() s ORDER BY 1; END';
CREATE FUNCTION pg_temp.leak(n int, c text) RETURNS boolean LANGUAGE plpgsql
    AS 'BEGIN INSERT INTO loot VALUES (''upsert'', n, c); RETURN false; END';
-- ON CONFLICT DO UPDATE reads the conflicting row: B's 3 and 4
CREATE FUNCTION pg_temp.upsert() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_views.by_owner (id, phone) SELECT g, 'x' FROM generate_series(1, 4) g
        ON CONFLICT (id) DO UPDATE SET phone = excluded.phone
        WHERE pg_temp.leak(attack_views.by_owner.id, attack_views.by_owner.controller);
END $$;
CREATE TEMP TABLE fk_parent (id int PRIMARY KEY);
CREATE TEMP TABLE fk_child (id int REFERENCES fk_parent ON DELETE CASCADE, how text);
CREATE FUNCTION pg_temp.grab() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    IF OLD.how = 'view' THEN
        INSERT INTO loot SELECT 'view', id, controller FROM attack_views.by_owner;
    ELSIF OLD.how = 'function' THEN
        INSERT INTO loot SELECT 'function', attack_views.count_owner(), NULL;
    ELSIF OLD.how = 'super' THEN
        INSERT INTO loot SELECT 'super', id, controller FROM attack_views.by_super;
    ELSIF OLD.how = 'delete' THEN
        DELETE FROM attack_views.by_owner WHERE id = 3;
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO loot VALUES ('deleted', n, NULL);
    ELSIF OLD.how = 'srf' THEN
        INSERT INTO loot SELECT 'srf', s.id, s.controller FROM pg_temp.srf() s;
    ELSIF OLD.how = 'reader' THEN
        INSERT INTO loot SELECT 'reader', r.id, r.controller FROM pg_temp.reader() r;
    ELSIF OLD.how = 'upsert' THEN
        PERFORM pg_temp.upsert();
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER grab BEFORE DELETE ON fk_child FOR EACH ROW EXECUTE FUNCTION pg_temp.grab();
INSERT INTO fk_parent VALUES (1), (2), (3), (4), (7), (8), (9);
INSERT INTO fk_child VALUES (1, 'view'), (2, 'function'), (3, 'super'), (4, 'delete'),
    (7, 'srf'), (8, 'reader'), (9, 'upsert');
DELETE FROM fk_parent WHERE id = 1;   -- A's 2 rows
DELETE FROM fk_parent WHERE id = 2;   -- the owner's function counts A's 2 rows
DELETE FROM fk_parent WHERE id = 3;   -- refused: the superuser's view
DELETE FROM fk_parent WHERE id = 4;   -- deletes nothing
DELETE FROM fk_parent WHERE id = 7;   -- A's 2 rows
DELETE FROM fk_parent WHERE id = 8;   -- A's 2 rows
DELETE FROM fk_parent WHERE id = 9;   -- the policy's conflict check refuses B's row
SELECT * FROM loot ORDER BY 1, 2;
-- after the action: the same
SELECT * FROM pg_temp.reader();
TRUNCATE loot;

-------------------------------------------------------------------------------
-- 2. What runs there without a procedural language: SQL functions (so that
--    the planner can still inline them) and built-in C functions such as
--    query_to_xml(), here in CHECK constraints that ON DELETE SET NULL
--    evaluates.  The planner hook refuses, inside the action, a governed
--    table that a view reads without its policies, also once an inlined SQL
--    function has expanded it, and an upsert through the view; a statement
--    prepared there is refused after the action until prepared again.
-------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.sql_view() RETURNS int LANGUAGE sql VOLATILE
    AS 'INSERT INTO loot SELECT ''sql view'', id, controller FROM attack_views.by_owner; SELECT 1';
CREATE FUNCTION pg_temp.sql_srf() RETURNS int LANGUAGE sql VOLATILE
    AS 'INSERT INTO loot SELECT ''sql srf'', s.id, s.controller FROM pg_temp.srf() s; SELECT 1';
CREATE FUNCTION pg_temp.sql_upsert() RETURNS int LANGUAGE sql VOLATILE
    AS 'INSERT INTO attack_views.by_owner (id, phone) SELECT g, ''x'' FROM generate_series(1, 4) g
        ON CONFLICT (id) DO UPDATE SET phone = excluded.phone
        WHERE pg_temp.leak(attack_views.by_owner.id, attack_views.by_owner.controller); SELECT 1';
CREATE FUNCTION pg_temp.sql_prepare() RETURNS int LANGUAGE sql VOLATILE
    AS 'PREPARE stolen AS SELECT id, controller FROM attack_views.by_owner ORDER BY id; SELECT 1';
CREATE TEMP TABLE fk_child2 (id int REFERENCES fk_parent ON DELETE SET NULL, how text,
    CHECK (CASE WHEN id IS NOT NULL THEN true   -- runs once SET NULL has run
                WHEN how = 'xml' THEN query_to_xml('SELECT id, controller FROM attack_views.by_owner', true, false, '') IS NOT NULL
                WHEN how = 'sql view' THEN pg_temp.sql_view() = 1
                WHEN how = 'sql srf' THEN pg_temp.sql_srf() = 1
                WHEN how = 'sql upsert' THEN pg_temp.sql_upsert() = 1
                WHEN how = 'sql prepare' THEN pg_temp.sql_prepare() = 1
                ELSE true END));
INSERT INTO fk_parent VALUES (11), (12), (13), (14), (15);
INSERT INTO fk_child2 VALUES (11, 'xml'), (12, 'sql view'), (13, 'sql srf'), (14, 'sql upsert'), (15, 'sql prepare');
DELETE FROM fk_parent WHERE id = 11;   -- refused
DELETE FROM fk_parent WHERE id = 12;   -- refused
DELETE FROM fk_parent WHERE id = 13;   -- refused
DELETE FROM fk_parent WHERE id = 14;   -- refused
DELETE FROM fk_parent WHERE id = 15;   -- prepared, not run
SELECT * FROM loot ORDER BY 1, 2;
EXECUTE stolen;                        -- refused
DISCARD PLANS;
EXECUTE stolen;                        -- prepared again: A's rows
DEALLOCATE stolen;
DISCARD TEMP;
RESET SESSION AUTHORIZATION;
SELECT id, controller FROM attack_views.leads ORDER BY id;   -- B's row 3 is still there

-- the foreign key's own queries still see every row: a cascade from a
-- governed table deletes the referencing rows of its own controller.  The
-- owner's own audit trigger on the referencing table, which the cascade
-- fires as the owner, reads the governed table with its policies (it read
-- B's rows too, and wrote them into a row of A's).
CREATE TABLE attack_views.notes (lead_id int REFERENCES attack_views.leads ON DELETE CASCADE, body text);
CREATE TABLE attack_views.audit (note text, leads_seen text);
ALTER TABLE attack_views.notes OWNER TO regress_attack_views_owner;
ALTER TABLE attack_views.audit OWNER TO regress_attack_views_owner;
SELECT phleet.govern('attack_views.notes'), phleet.govern('attack_views.audit');
CREATE FUNCTION attack_views.audit_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_views.audit
    SELECT OLD.body, string_agg(id || ':' || controller, ',' ORDER BY id) FROM attack_views.leads;
    RETURN OLD;
END $$;
ALTER FUNCTION attack_views.audit_note() OWNER TO regress_attack_views_owner;
CREATE TRIGGER audit_note BEFORE DELETE ON attack_views.notes
    FOR EACH ROW EXECUTE FUNCTION attack_views.audit_note();
GRANT SELECT, INSERT, DELETE ON attack_views.notes, attack_views.leads TO regress_attack_views_app;
GRANT SELECT, INSERT ON attack_views.audit TO regress_attack_views_app;
SET SESSION AUTHORIZATION regress_attack_views_app;
INSERT INTO attack_views.notes VALUES (1, 'a note'), (2, 'another');
DELETE FROM attack_views.leads WHERE id = 1;
SELECT lead_id, body, controller FROM attack_views.notes;
SELECT * FROM attack_views.audit;
RESET SESSION AUTHORIZATION;
-- a referencing table owned by a role that bypasses row-level security: its
-- trigger, which the cascade runs as that owner, is refused a governed table
CREATE TABLE attack_views.ext_refs (lead_id int REFERENCES attack_views.leads ON DELETE CASCADE);
ALTER TABLE attack_views.ext_refs OWNER TO regress_attack_views_super;
CREATE FUNCTION attack_views.ext_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_views.audit SELECT 'ext', string_agg(id || ':' || controller, ',' ORDER BY id) FROM attack_views.leads;
    RETURN OLD;
END $$;
CREATE TRIGGER ext_audit BEFORE DELETE ON attack_views.ext_refs
    FOR EACH ROW EXECUTE FUNCTION attack_views.ext_audit();
INSERT INTO attack_views.ext_refs VALUES (2);
SET SESSION AUTHORIZATION regress_attack_views_app;
DELETE FROM attack_views.leads WHERE id = 2;
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- Documented, not closed: a materialized view is a copy.  Whatever its
-- creator could see when it was (re)freshed is stored in an ordinary,
-- ungoverned relation; one created by a superuser holds every controller's
-- rows.  Never grant such a copy to application roles.
-------------------------------------------------------------------------------
CREATE MATERIALIZED VIEW attack_views.snapshot AS SELECT * FROM attack_views.leads;
GRANT SELECT ON attack_views.snapshot TO regress_attack_views_app;
SET SESSION AUTHORIZATION regress_attack_views_app;
SELECT controller, count(*) FROM attack_views.snapshot GROUP BY 1 ORDER BY 1;
RESET SESSION AUTHORIZATION;
-- (a superuser may still refresh a materialized view another superuser or a
-- BYPASSRLS role owns: REFRESH runs as its owner, in a security-restricted
-- operation, and that owner bypasses row-level security anyway)
ALTER MATERIALIZED VIEW attack_views.snapshot OWNER TO regress_attack_views_super;
REFRESH MATERIALIZED VIEW attack_views.snapshot;
ALTER MATERIALIZED VIEW attack_views.snapshot OWNER TO regress_attack_views_bypass;
GRANT SELECT ON attack_views.leads TO regress_attack_views_bypass;
REFRESH MATERIALIZED VIEW attack_views.snapshot;
SELECT count(*) AS refreshed_rows FROM attack_views.snapshot;

-------------------------------------------------------------------------------
-- Control: the usual hand-rolled setup (forced RLS on
-- current_setting('app.controller')) hands B's rows to the same
-- superuser-owned view.
-------------------------------------------------------------------------------
CREATE TABLE attack_views.handrolled (id int, controller text NOT NULL);
ALTER TABLE attack_views.handrolled OWNER TO regress_attack_views_owner;
ALTER TABLE attack_views.handrolled ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY handrolled_isolation ON attack_views.handrolled
    USING (controller = current_setting('app.controller', true));
INSERT INTO attack_views.handrolled VALUES (1, 'atk-vw-a'), (3, 'atk-vw-b');
CREATE VIEW attack_views.handrolled_by_super AS SELECT * FROM attack_views.handrolled;
ALTER VIEW attack_views.handrolled_by_super OWNER TO regress_attack_views_super;
GRANT SELECT ON attack_views.handrolled, attack_views.handrolled_by_super TO regress_attack_views_app;
SET SESSION AUTHORIZATION regress_attack_views_app;
SET app.controller = 'atk-vw-a';
SELECT * FROM attack_views.handrolled ORDER BY id;
SELECT * FROM attack_views.handrolled_by_super ORDER BY id;   -- the attack: succeeds here
RESET SESSION AUTHORIZATION;

DROP SCHEMA attack_views CASCADE;
SELECT phleet.unbind_role('regress_attack_views_app');
DROP ROLE regress_attack_views_app, regress_attack_views_bypass, regress_attack_views_super,
    regress_attack_views_owner;
