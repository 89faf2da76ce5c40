-- Review 11 of the isolation core: attacks that worked.
--
-- The attacker is an application role (no SUPERUSER, no BYPASSRLS, not the
-- table owner), bound to A or entering A with a token; in section 3 the
-- governed table's owner.
--
-- 1. A token sent as a literal stayed in pg_stat_activity, readable by every
--    session of the same login role (a sibling behind a shared pool role),
--    when enter_token() failed after parsing it: a session bound elsewhere,
--    a cursor open, a signature cut short by one character.  It now redacts
--    before any check.  (While the statement runs, before enter_token() is
--    reached, the literal is visible all the same: only bind parameters
--    keep a token out of pg_stat_activity.)
-- 2. phleet's own tables with per-controller row-level security
--    (legal_holds, retention_rules, purge_log) kept their most-common values
--    in planner estimates: EXPLAIN confirmed a guessed hold reason of B's.
--    The statistics hooks now strip them as for governed tables.
-- 3. (Not fixed; owner only.)  The governed table's owner creates a policy
--    named phleet_isolation on a table of rows tagged B, then attaches it as
--    a partition: the event trigger takes the relation for isolated already
--    and skips the check of its rows, and check() sees phleet's policies.
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('rev11-a'), phleet.controller_create('rev11-b');
CREATE ROLE regress_rev11_owner NOLOGIN;
CREATE ROLE regress_rev11_app LOGIN;        -- bound to A
CREATE ROLE regress_rev11_pool LOGIN;       -- unbound, no gateway: tokens only
CREATE ROLE regress_rev11_gw LOGIN IN ROLE phleet_gateway;
SELECT phleet.bind_role('regress_rev11_app', 'rev11-a');
CREATE SCHEMA rev11 AUTHORIZATION regress_rev11_owner;
GRANT USAGE ON SCHEMA rev11 TO PUBLIC;
SELECT phleet.mint_token('rev11-a', '1 hour') AS tok_a \gset
SELECT phleet.mint_token('rev11-b', '1 hour') AS tok_b \gset

-------------------------------------------------------------------------------
-- 1. a token left in pg_stat_activity by a failed enter_token()
-------------------------------------------------------------------------------
-- Each DO block carries the token as a literal, calls enter_token(), catches
-- the error and looks at its own pg_stat_activity text, which a sibling
-- session of the same login role reads the same way (here the login role is
-- the superuser that ran SET SESSION AUTHORIZATION: a helper of its own reads
-- the text).  The blocks are built with format() and run with \gexec, not
-- echoed: tokens differ from run to run.
CREATE FUNCTION rev11.activity_shows(pattern text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT query ~ pattern FROM pg_stat_activity WHERE pid = pg_backend_pid()
$$;
SET SESSION AUTHORIZATION regress_rev11_app;
-- B's valid token in a session bound to A
\set ECHO none
SELECT format($f$DO $d$
BEGIN
    PERFORM phleet.enter_token(%L);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'bound elsewhere: token readable in pg_stat_activity: %%',
        rev11.activity_shows('phleet1[.]rev11-b[.][0-9]');
END $d$$f$, :'tok_b') \gexec
\set ECHO all
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rev11_pool;
-- A's valid token while a cursor is open
\set ECHO none
SELECT format($f$DO $d$
DECLARE c refcursor;
BEGIN
    OPEN c FOR SELECT 1;
    PERFORM phleet.enter_token(%L);
EXCEPTION WHEN invalid_cursor_state THEN
    RAISE NOTICE 'cursor open: token readable in pg_stat_activity: %%',
        rev11.activity_shows('phleet1[.]rev11-a[.][0-9]');
END $d$$f$, :'tok_a') \gexec
\set ECHO all
-- B's token less its last character (one of 64 guesses away from valid)
\set ECHO none
SELECT format($f$DO $d$
BEGIN
    PERFORM phleet.enter_token(%L);
EXCEPTION WHEN invalid_authorization_specification THEN
    RAISE NOTICE 'truncated: token readable in pg_stat_activity: %%',
        rev11.activity_shows('phleet1[.]rev11-b[.][0-9]');
END $d$$f$, left(:'tok_b', -1)) \gexec
\set ECHO all
-- a successful call: redacted, as before
\set ECHO none
SELECT format($f$DO $d$
BEGIN
    PERFORM phleet.enter_token(%L);
    RAISE NOTICE 'entered %%: token readable in pg_stat_activity: %%', phleet.current_controller(),
        rev11.activity_shows('phleet1[.]rev11-a[.][0-9]');
END $d$$f$, :'tok_a') \gexec
\set ECHO all
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- 2. planner estimates of phleet.legal_holds
-------------------------------------------------------------------------------
-- (as phleet.hold() would write them; ids of their own, so that the ids
-- later files get from the sequence stay the same)
INSERT INTO phleet.legal_holds (id, controller, reason)
SELECT 1100000 + g, 'rev11-b', 'merger talks with Initech' FROM generate_series(1, 40) g
UNION ALL
SELECT 1100100 + g, 'rev11-a', format('audit %s', g) FROM generate_series(1, 40) g;
ANALYZE phleet.legal_holds;
CREATE FUNCTION rev11.estimate(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO p;
    RETURN (p -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;
SET SESSION AUTHORIZATION regress_rev11_app;
-- B's holds are invisible ...
SELECT count(*) FILTER (WHERE controller = 'rev11-b') AS b_holds FROM phleet.legal_holds;
-- ... and a right guess of B's reason is estimated like a wrong one
SELECT rev11.estimate($$SELECT * FROM phleet.legal_holds WHERE reason = 'merger talks with Initech'$$)
     = rev11.estimate($$SELECT * FROM phleet.legal_holds WHERE reason = 'merger talks with Initrode'$$)
       AS guess_unconfirmed;
RESET SESSION AUTHORIZATION;
DELETE FROM phleet.legal_holds WHERE controller IN ('rev11-a', 'rev11-b');

-------------------------------------------------------------------------------
-- 3. (not fixed) the owner attaches rows tagged B under a policy it named
--    phleet_isolation itself
-------------------------------------------------------------------------------
CREATE TABLE rev11.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE rev11.events_2020 PARTITION OF rev11.events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
ALTER TABLE rev11.events OWNER TO regress_rev11_owner;
ALTER TABLE rev11.events_2020 OWNER TO regress_rev11_owner;
SELECT phleet.govern('rev11.events');
GRANT SELECT ON rev11.events TO regress_rev11_gw;
SET ROLE regress_rev11_owner;
CREATE TABLE rev11.events_2021 (id int, at date, controller text NOT NULL);
INSERT INTO rev11.events_2021 VALUES (666, '2021-06-01', 'rev11-b');
-- refused: rows of another controller
ALTER TABLE rev11.events ATTACH PARTITION rev11.events_2021 FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE POLICY phleet_isolation ON rev11.events_2021 AS RESTRICTIVE
    USING (controller OPERATOR(pg_catalog.=) phleet.current_controller())
    WITH CHECK (controller OPERATOR(pg_catalog.=) phleet.current_controller());
-- accepted: the check is skipped (a fix makes this fail)
ALTER TABLE rev11.events ATTACH PARTITION rev11.events_2021 FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
RESET ROLE;
-- and nothing shows: the planted row is B's, check() finds phleet's policies
SELECT count(*) AS findings FROM phleet.check() WHERE object LIKE '%rev11.events%';
SET ROLE regress_rev11_gw;
BEGIN;
SELECT phleet.enter('rev11-b');
SELECT * FROM rev11.events;
COMMIT;
RESET ROLE;

DROP SCHEMA rev11 CASCADE;
SELECT phleet.unbind_role('regress_rev11_app');
DROP ROLE regress_rev11_app, regress_rev11_pool, regress_rev11_gw, regress_rev11_owner;
