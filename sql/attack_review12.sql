-- Review 12: attacks on the changes of the eleventh review.
--
-- 1. A table owner's code that phleet's maintenance runs may make no schema
--    change (ProcessUtility refuses every statement but a few); EXPLAIN was
--    one of the few, and EXPLAIN ANALYZE CREATE TABLE AS (or MATERIALIZED
--    VIEW) creates its relation without passing through ProcessUtility
--    again.  EXPLAIN of a utility statement is now refused too.
-- 2. enter_token() now redacts before any check, so it replaced in
--    pg_stat_activity whatever text it was given, not only a token: a call
--    that fails, caught in a DO block, hid the block's text (current_query())
--    from pg_stat_activity.  Only text that may be a token (its prefix, at
--    most a token's length) is redacted now.
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('rev12-a');
CREATE ROLE regress_rev12_owner NOLOGIN;
CREATE ROLE regress_rev12_app LOGIN;
SELECT phleet.bind_role('regress_rev12_app', 'rev12-a');
CREATE SCHEMA rev12 AUTHORIZATION regress_rev12_owner;
GRANT USAGE ON SCHEMA rev12 TO PUBLIC;

-------------------------------------------------------------------------------
-- 1. EXPLAIN ANALYZE CREATE TABLE AS in the owner's trigger
-------------------------------------------------------------------------------
CREATE TABLE rev12.t (id int PRIMARY KEY, phone text);
SELECT phleet.govern('rev12.t');
ALTER TABLE rev12.t OWNER TO regress_rev12_owner;
GRANT ALL ON rev12.t TO regress_rev12_app;
SET SESSION AUTHORIZATION regress_rev12_app;
BEGIN;
SELECT phleet.enter('rev12-a') IS NOT NULL AS entered;
INSERT INTO rev12.t VALUES (1, '+1 555 123 0001');
COMMIT;
RESET SESSION AUTHORIZATION;
SET ROLE regress_rev12_owner;
CREATE TABLE rev12.loot (via text, note text);
CREATE FUNCTION rev12.plant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE 'EXPLAIN ANALYZE CREATE TABLE rev12.made AS SELECT 1 AS a';
        INSERT INTO rev12.loot VALUES ('explain create table as', 'created');
    EXCEPTION WHEN insufficient_privilege THEN
        INSERT INTO rev12.loot VALUES ('explain create table as', SQLERRM);
    END;
    BEGIN
        EXECUTE 'EXPLAIN ANALYZE CREATE MATERIALIZED VIEW rev12.mv AS SELECT 1 AS a';
        INSERT INTO rev12.loot VALUES ('explain create materialized view', 'created');
    EXCEPTION WHEN insufficient_privilege THEN
        INSERT INTO rev12.loot VALUES ('explain create materialized view', SQLERRM);
    END;
    -- EXPLAIN of a query still runs
    EXECUTE 'EXPLAIN SELECT 1';
    INSERT INTO rev12.loot VALUES ('explain select', 'ran');
    RETURN NULL;
END
$$;
CREATE TRIGGER plant AFTER UPDATE ON rev12.t FOR EACH ROW EXECUTE FUNCTION rev12.plant();
RESET ROLE;
-- the values were written before the column was classified: converting
-- them updates the rows as the owner, which fires the trigger
SET client_min_messages = warning;
SELECT phleet.classify('rev12.t', 'phone', 'personal', 'phone');
CALL phleet.pseudonymize_existing('rev12.t', 'phone');
RESET client_min_messages;
SELECT via, note FROM rev12.loot ORDER BY 1;
SELECT relname FROM pg_class WHERE relnamespace = 'rev12'::regnamespace AND relname IN ('made', 'mv');
-- outside phleet's maintenance the owner's EXPLAIN ANALYZE works as ever
SET ROLE regress_rev12_owner;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) CREATE TABLE rev12.made AS SELECT 1 AS a;
RESET ROLE;

-------------------------------------------------------------------------------
-- 2. enter_token() given text that is not a token
-------------------------------------------------------------------------------
-- (the login role is the superuser that ran SET SESSION AUTHORIZATION: a
-- helper of its own reads the text, as a sibling session would)
CREATE FUNCTION rev12.activity() RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()
$$;
SET SESSION AUTHORIZATION regress_rev12_app;
DO $d$
BEGIN
    BEGIN
        PERFORM phleet.enter_token(current_query());
    EXCEPTION WHEN invalid_authorization_specification THEN
        NULL;
    END;
    RAISE NOTICE 'the block is readable in pg_stat_activity: %',
        rev12.activity() LIKE '%rev12 marker%';
END $d$;
-- a token-shaped text is redacted, also when it is no token
DO $d$
BEGIN
    BEGIN
        PERFORM phleet.enter_token('phleet1.rev12-a.99999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    EXCEPTION WHEN invalid_authorization_specification THEN
        NULL;
    END;
    RAISE NOTICE 'token-shaped text redacted: %',
        rev12.activity() LIKE '%enter_token(''phleet1.<redacted>'')%';
END $d$;
RESET SESSION AUTHORIZATION;

SET client_min_messages = warning;
DROP SCHEMA rev12 CASCADE;
RESET client_min_messages;
SELECT phleet.unbind_role('regress_rev12_app');
DROP ROLE regress_rev12_owner, regress_rev12_app;
