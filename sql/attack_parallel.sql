-- Attack: parallel query.  Parallel workers are separate processes that
-- evaluate the policy (and its PARALLEL SAFE call to
-- phleet.current_controller()) on their share of the rows; a context kept in
-- a C static of the leader would be empty there and the count would be wrong
-- with no error.  phleet keeps the entered context in a setting, which
-- PostgreSQL copies to every worker, and workers look the login role's
-- binding up themselves.  The counts below must equal the context's rows
-- exactly, for a bound login role and for a context entered with a token,
-- under force_parallel_mode = on (PostgreSQL 15's name for what 16 calls
-- debug_parallel_query) and under a real parallel plan whose workers do all
-- the scanning (parallel_leader_participation = off).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-par-a'), phleet.controller_create('atk-par-b');
CREATE ROLE regress_attack_parallel_owner NOLOGIN;
CREATE ROLE regress_attack_parallel_app LOGIN;       -- bound to A
CREATE ROLE regress_attack_parallel_tok LOGIN;       -- unbound: enters with a token
SELECT phleet.bind_role('regress_attack_parallel_app', 'atk-par-a');
CREATE SCHEMA attack_parallel AUTHORIZATION regress_attack_parallel_owner;
GRANT USAGE ON SCHEMA attack_parallel TO PUBLIC;
CREATE TABLE attack_parallel.leads (id int, phone text);
ALTER TABLE attack_parallel.leads OWNER TO regress_attack_parallel_owner;
SELECT phleet.govern('attack_parallel.leads');
GRANT SELECT ON attack_parallel.leads TO regress_attack_parallel_app, regress_attack_parallel_tok;
BEGIN;
SELECT phleet.enter('atk-par-a');
INSERT INTO attack_parallel.leads (id, phone) SELECT g, 'a' FROM generate_series(1, 30000) g;
SELECT phleet.enter('atk-par-b');
INSERT INTO attack_parallel.leads (id, phone) SELECT g, 'b' FROM generate_series(30001, 50000) g;
COMMIT;
VACUUM ANALYZE attack_parallel.leads;
SELECT phleet.mint_token('atk-par-b', '1 hour') AS tok_b \gset

-- how many workers a query launched (never printed: only whether any did)
CREATE FUNCTION attack_parallel.workers_launched(q text) RETURNS int
    LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) ' || q INTO plan;
    RETURN coalesce(jsonb_path_query_first(plan, '$.**."Workers Launched"')::int, 0);
END $$;

-- one plan shape throughout: a sequential scan, so workers see every row
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;
\set counts 'SELECT phleet.current_controller() AS ctx, count(*) AS rows, count(*) FILTER (WHERE controller <> phleet.current_controller()) AS foreign_rows, count(DISTINCT phone) AS phones FROM attack_parallel.leads'

-------------------------------------------------------------------------------
-- 1. force_parallel_mode = on: the whole query runs in one worker
-------------------------------------------------------------------------------
SET force_parallel_mode = on;
SET SESSION AUTHORIZATION regress_attack_parallel_app;
EXPLAIN (COSTS OFF) SELECT count(*) FROM attack_parallel.leads;
:counts;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_attack_parallel_tok;
BEGIN;
SELECT phleet.enter_token(:'tok_b');
:counts;
COMMIT;
:counts;                        -- outside any context
RESET SESSION AUTHORIZATION;
RESET force_parallel_mode;

-------------------------------------------------------------------------------
-- 2. A real parallel plan, scanned by the workers only
-------------------------------------------------------------------------------
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET SESSION AUTHORIZATION regress_attack_parallel_app;
EXPLAIN (COSTS OFF) SELECT count(*) FROM attack_parallel.leads;
SELECT attack_parallel.workers_launched('SELECT count(*) FROM attack_parallel.leads') > 0 AS workers_ran;
SELECT count(*) AS rows FROM attack_parallel.leads;
SELECT count(*) AS b_rows FROM attack_parallel.leads WHERE phone = 'b';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_attack_parallel_tok;
BEGIN;
SELECT phleet.enter_token(:'tok_b');
SELECT attack_parallel.workers_launched('SELECT count(*) FROM attack_parallel.leads') > 0 AS workers_ran;
SELECT count(*) AS rows FROM attack_parallel.leads;
SELECT count(*) AS a_rows FROM attack_parallel.leads WHERE phone = 'a';
COMMIT;
SELECT count(*) AS rows FROM attack_parallel.leads;     -- outside any context
RESET SESSION AUTHORIZATION;
RESET ALL;

DROP SCHEMA attack_parallel CASCADE;
SELECT phleet.unbind_role('regress_attack_parallel_app');
DROP ROLE regress_attack_parallel_app, regress_attack_parallel_tok, regress_attack_parallel_owner;
