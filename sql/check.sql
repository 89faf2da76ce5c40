-- phleet.check(): auditing the installation.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

CREATE ROLE regress_check_admin IN ROLE phleet_admin;
CREATE ROLE regress_check_owner;                 -- NOLOGIN owner of governed tables
CREATE ROLE regress_check_app LOGIN;
CREATE ROLE regress_check_super SUPERUSER;       -- NOLOGIN: not reported by itself
SET ROLE regress_check_admin;
SELECT phleet.controller_create('chk-a');
SELECT length(phleet.set_token_secret()) AS secret_bytes;
RESET ROLE;

-- Findings about this file's objects only (the instance has others: its
-- bootstrap superuser, whose name differs from machine to machine, and
-- whatever other test files left behind).
CREATE FUNCTION check_mine() RETURNS TABLE (severity text, object text, finding text, hint text)
LANGUAGE sql AS $$
    SELECT c.severity, c.object, c.finding, c.hint FROM phleet.check() c
     WHERE c.object ~ '(chk_|regress_check|phleet\.token_secret|shared_preload_libraries|event trigger phleet)'
        OR c.finding ~ 'regress_check'
     ORDER BY c.severity, c.object COLLATE "C", c.finding COLLATE "C" $$;

CREATE TABLE chk_leads (id int PRIMARY KEY, phone text);
CREATE TABLE chk_parted (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE chk_parted_2024 PARTITION OF chk_parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE chk_parted_2025 PARTITION OF chk_parted FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE chk_leads OWNER TO regress_check_owner;
ALTER TABLE chk_parted OWNER TO regress_check_owner;
ALTER TABLE chk_parted_2024 OWNER TO regress_check_owner;
ALTER TABLE chk_parted_2025 OWNER TO regress_check_owner;
SET ROLE regress_check_admin;
SELECT phleet.govern('chk_leads'), phleet.govern('chk_parted');
RESET ROLE;

---------------------------------------------------------------------------
-- a clean installation
---------------------------------------------------------------------------
SELECT * FROM check_mine();
-- the bootstrap superuser can log in: reported (its name is not printed here)
SELECT severity, finding FROM phleet.check() WHERE object = format('role %I', current_user);
-- only phleet_admin may run it
SET ROLE regress_check_app;
SELECT * FROM phleet.check();
SET ROLE regress_check_admin;
SELECT count(*) >= 0 AS admin_may FROM phleet.check();
RESET ROLE;

---------------------------------------------------------------------------
-- governed tables altered by hand, each repaired by govern()
---------------------------------------------------------------------------
-- the isolation policy: dropped, widened, narrowed to some roles, made permissive
DROP POLICY phleet_isolation ON chk_leads;
DROP POLICY phleet_isolation ON chk_parted_2025;
SELECT * FROM check_mine();
SET ROLE regress_check_admin;
SELECT phleet.govern('chk_leads'), phleet.govern('chk_parted');
RESET ROLE;
SELECT * FROM check_mine();
ALTER POLICY phleet_isolation ON chk_leads USING (true);
ALTER POLICY phleet_isolation ON chk_parted_2024 WITH CHECK (controller IS NOT NULL);
SELECT * FROM check_mine();
ALTER POLICY phleet_isolation ON chk_leads TO regress_check_app USING (controller = phleet.current_controller());
ALTER POLICY phleet_isolation ON chk_parted_2024 WITH CHECK (controller = phleet.current_controller());
SELECT * FROM check_mine();
DROP POLICY phleet_isolation ON chk_leads;
CREATE POLICY phleet_isolation ON chk_leads AS PERMISSIVE
    USING (controller = phleet.current_controller()) WITH CHECK (controller = phleet.current_controller());
DROP POLICY phleet_isolation ON chk_parted_2025;
CREATE POLICY phleet_isolation ON chk_parted_2025 AS RESTRICTIVE FOR SELECT
    USING (controller = phleet.current_controller());
SELECT * FROM check_mine();
SET ROLE regress_check_admin;
SELECT phleet.govern('chk_leads'), phleet.govern('chk_parted');
RESET ROLE;
-- the permissive policy, row-level security itself
DROP POLICY phleet_access ON chk_parted_2024;
ALTER TABLE chk_leads NO FORCE ROW LEVEL SECURITY;
SELECT * FROM check_mine();
ALTER TABLE chk_leads DISABLE ROW LEVEL SECURITY;
SELECT * FROM check_mine();
-- in a partitioned governed table, any ALTER TABLE isolates the tree again
-- (phleet's event trigger), so changes made that way do not stay
ALTER TABLE chk_parted_2025 NO FORCE ROW LEVEL SECURITY;
SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = 'chk_parted_2025'::regclass;
SELECT count(*) AS access_policies FROM pg_policy
 WHERE polrelid = 'chk_parted_2024'::regclass AND polname = 'phleet_access';
SET ROLE regress_check_admin;
SELECT phleet.govern('chk_leads'), phleet.govern('chk_parted');
RESET ROLE;
SELECT * FROM check_mine();

-- the stamp trigger: disabled, replica-only, dropped, replaced
ALTER TABLE chk_leads DISABLE TRIGGER phleet_stamp;
ALTER TABLE chk_parted_2024 ENABLE REPLICA TRIGGER phleet_stamp;
SELECT * FROM check_mine();
ALTER TABLE chk_leads ENABLE ALWAYS TRIGGER phleet_stamp;   -- fires always: fine
ALTER TABLE chk_parted_2024 ENABLE TRIGGER phleet_stamp;
SELECT * FROM check_mine();
DROP TRIGGER phleet_stamp ON chk_leads;
CREATE TRIGGER phleet_stamp BEFORE INSERT ON chk_leads
    FOR EACH ROW EXECUTE FUNCTION phleet.stamp_controller('controller');
DROP TRIGGER phleet_stamp ON chk_parted;
SELECT * FROM check_mine();
DROP TRIGGER phleet_stamp ON chk_leads;
CREATE TRIGGER phleet_stamp BEFORE INSERT OR UPDATE ON chk_leads
    FOR EACH ROW WHEN (false) EXECUTE FUNCTION phleet.stamp_controller('controller');
SELECT * FROM check_mine();
SET ROLE regress_check_admin;
SELECT phleet.govern('chk_leads'), phleet.govern('chk_parted');
RESET ROLE;
SELECT * FROM check_mine();

-- identifier columns: phleet_stamp names them too (it pseudonymizes them);
-- the trigger as it was before classify() is reported, and govern() puts
-- back the whole trigger
SET ROLE regress_check_admin;
SELECT phleet.classify('chk_leads', 'phone', 'communication', 'phone');
RESET ROLE;
SELECT * FROM check_mine();
SELECT pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'chk_leads'::regclass AND tgname = 'phleet_stamp';
DROP TRIGGER phleet_stamp ON chk_leads;
CREATE TRIGGER phleet_stamp BEFORE INSERT OR UPDATE ON chk_leads
    FOR EACH ROW EXECUTE FUNCTION phleet.stamp_controller('controller');
SELECT * FROM check_mine();
SET ROLE regress_check_admin;
SELECT phleet.govern('chk_leads');
RESET ROLE;
SELECT * FROM check_mine();
SELECT pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'chk_leads'::regclass AND tgname = 'phleet_stamp';
SET ROLE regress_check_admin;
SELECT phleet.unclassify('chk_leads', 'phone');
RESET ROLE;
SELECT pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'chk_leads'::regclass AND tgname = 'phleet_stamp';

-- BEFORE ROW triggers that fire after phleet_stamp (trigger names sort)
CREATE FUNCTION chk_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER zz_rewrite BEFORE INSERT OR UPDATE ON chk_leads FOR EACH ROW EXECUTE FUNCTION chk_touch();
CREATE TRIGGER aa_first BEFORE INSERT OR UPDATE ON chk_leads FOR EACH ROW EXECUTE FUNCTION chk_touch();
CREATE TRIGGER zz_after AFTER INSERT ON chk_leads FOR EACH ROW EXECUTE FUNCTION chk_touch();
CREATE TRIGGER zz_delete BEFORE DELETE ON chk_leads FOR EACH ROW EXECUTE FUNCTION chk_touch();
CREATE TRIGGER zz_statement BEFORE INSERT ON chk_leads FOR EACH STATEMENT EXECUTE FUNCTION chk_touch();
CREATE TRIGGER "phleet_stamp2" BEFORE UPDATE ON chk_parted FOR EACH ROW EXECUTE FUNCTION chk_touch();
SELECT * FROM check_mine();
DROP TRIGGER zz_rewrite ON chk_leads;
DROP TRIGGER phleet_stamp2 ON chk_parted;
-- one that fires before it sees raw identifiers, once the table has any
SET ROLE regress_check_admin;
SELECT phleet.classify('chk_leads', 'phone', 'communication', 'phone');
RESET ROLE;
SELECT * FROM check_mine() WHERE severity = 'info';
SET ROLE regress_check_admin;
SELECT phleet.unclassify('chk_leads', 'phone');
RESET ROLE;

-- the controller column may not become nullable
ALTER TABLE chk_leads ALTER COLUMN controller DROP NOT NULL;
SELECT * FROM check_mine();
SET ROLE regress_check_admin;
SELECT phleet.govern('chk_leads');
RESET ROLE;

-- an owner that can log in
ALTER TABLE chk_leads OWNER TO regress_check_app;
SELECT * FROM check_mine();
ALTER TABLE chk_leads OWNER TO regress_check_owner;

-- a partition detached from a governed table keeps phleet's policies but
-- loses its trigger
ALTER TABLE chk_parted DETACH PARTITION chk_parted_2025;
SELECT * FROM check_mine();
SET ROLE regress_check_admin;
SELECT phleet.govern('chk_parted_2025');
RESET ROLE;
SELECT * FROM check_mine();

---------------------------------------------------------------------------
-- views and materialized views over governed tables
---------------------------------------------------------------------------
CREATE VIEW chk_view_super AS SELECT id, phone FROM chk_leads;
CREATE VIEW chk_view_nested AS SELECT id FROM chk_view_super;
CREATE VIEW chk_view_invoker WITH (security_invoker = on) AS SELECT id FROM chk_leads;
CREATE VIEW chk_view_owner AS SELECT id FROM chk_parted_2024;
CREATE VIEW chk_view_plain AS SELECT 1 AS one;
CREATE MATERIALIZED VIEW chk_matview AS SELECT id FROM chk_leads;
ALTER VIEW chk_view_super OWNER TO regress_check_super;
ALTER VIEW chk_view_nested OWNER TO regress_check_super;
ALTER VIEW chk_view_invoker OWNER TO regress_check_super;
ALTER VIEW chk_view_owner OWNER TO regress_check_owner;
ALTER VIEW chk_view_plain OWNER TO regress_check_super;
ALTER MATERIALIZED VIEW chk_matview OWNER TO regress_check_owner;
SELECT * FROM check_mine();
ALTER VIEW chk_view_super SET (security_invoker = true);
ALTER VIEW chk_view_nested SET (security_invoker = 1);
DROP MATERIALIZED VIEW chk_matview;
SELECT * FROM check_mine();
DROP VIEW chk_view_nested, chk_view_super, chk_view_invoker, chk_view_owner, chk_view_plain;

---------------------------------------------------------------------------
-- tables with a controller-like column that are not governed
---------------------------------------------------------------------------
CREATE TABLE chk_tenants (id int, tenant_id text);
CREATE TABLE chk_ctl (id int, controller_id int);
CREATE TABLE chk_other (id int, tenant_name text);
CREATE TABLE chk_parted_ungoverned (id int, tenant text) PARTITION BY LIST (id);
CREATE TABLE chk_parted_ungoverned_1 PARTITION OF chk_parted_ungoverned FOR VALUES IN (1);
CREATE TEMP TABLE chk_temp (id int, controller text);
SELECT * FROM check_mine();
DROP TABLE chk_tenants, chk_ctl, chk_other, chk_parted_ungoverned, chk_temp;

---------------------------------------------------------------------------
-- roles
---------------------------------------------------------------------------
CREATE ROLE regress_check_su LOGIN SUPERUSER;
CREATE ROLE regress_check_bypass LOGIN BYPASSRLS;
CREATE ROLE regress_check_creator CREATEROLE;
CREATE ROLE regress_check_member LOGIN IN ROLE regress_check_super;
SELECT * FROM check_mine();
DROP ROLE regress_check_su, regress_check_bypass, regress_check_creator, regress_check_member;

---------------------------------------------------------------------------
-- bindings, parameters, the token secret, the event triggers
---------------------------------------------------------------------------
CREATE ROLE regress_check_bound LOGIN;
CREATE ROLE regress_check_gone LOGIN;
SELECT oid AS gone_oid FROM pg_roles WHERE rolname = 'regress_check_gone' \gset
SET ROLE regress_check_admin;
SELECT phleet.bind_role('regress_check_bound', 'chk-a'), phleet.bind_role('regress_check_gone', 'chk-a');
RESET ROLE;
DROP ROLE regress_check_gone;
ALTER ROLE regress_check_bound BYPASSRLS;
SELECT * FROM check_mine();
ALTER ROLE regress_check_bound NOBYPASSRLS;
SELECT severity, regexp_replace(object, '[0-9]+', 'N') AS object,
       regexp_replace(finding, '[0-9]+', 'N') AS finding, regexp_replace(hint, '[0-9]+', 'N') AS hint
  FROM phleet.check() WHERE object = 'binding ' || :'gone_oid';
SET ROLE regress_check_admin;
SELECT phleet.unbind_role(:gone_oid);
SELECT phleet.unbind_role('regress_check_bound');
RESET ROLE;

GRANT SET ON PARAMETER phleet.internal TO regress_check_app;
GRANT SET ON PARAMETER phleet.controller TO regress_check_app;
SELECT * FROM check_mine();
REVOKE SET ON PARAMETER phleet.internal FROM regress_check_app;
REVOKE SET ON PARAMETER phleet.controller FROM regress_check_app;

SELECT secret AS secret FROM phleet.token_secret \gset
DELETE FROM phleet.token_secret;
SELECT * FROM check_mine();
SET ROLE regress_check_admin;
SELECT phleet.set_token_secret(:'secret') = :'secret' AS restored;
RESET ROLE;

ALTER EVENT TRIGGER phleet_ddl_end DISABLE;
ALTER EVENT TRIGGER phleet_sql_drop DISABLE;
SELECT * FROM check_mine();
ALTER EVENT TRIGGER phleet_ddl_end ENABLE;
ALTER EVENT TRIGGER phleet_sql_drop ENABLE;

-- planner statistics exposed; a pool role that may create temporary objects
SET phleet.hide_statistics = off;
CREATE ROLE regress_check_pool LOGIN IN ROLE phleet_gateway;
CREATE STATISTICS chk_leads_stats ON (lower(phone)) FROM chk_leads;
SELECT severity, object, finding FROM phleet.check()
 WHERE object IN ('setting phleet.hide_statistics', 'role regress_check_pool', 'statistics public.chk_leads_stats')
 ORDER BY object;
DROP STATISTICS chk_leads_stats;
REVOKE TEMPORARY ON DATABASE :"DBNAME" FROM PUBLIC;
SELECT count(*) AS pool_findings FROM phleet.check() WHERE object = 'role regress_check_pool';
GRANT TEMPORARY ON DATABASE :"DBNAME" TO PUBLIC;
DROP ROLE regress_check_pool;
RESET phleet.hide_statistics;

-- clean again
SELECT * FROM check_mine();

DROP TABLE chk_leads, chk_parted, chk_parted_2025;
DROP FUNCTION chk_touch(), check_mine();
DROP ROLE regress_check_admin, regress_check_owner, regress_check_app, regress_check_super, regress_check_bound;
