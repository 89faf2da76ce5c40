-- Attack: carry controller B's context or rows into controller A's context
-- through a prepared statement or an open cursor.
--
-- The attacker is an application role (no SUPERUSER, no BYPASSRLS, not the
-- table owner, no phleet_gateway) that holds a token for A and one for B,
-- as a pooled application serving both would.  What it prepares or opens
-- while acting for B must give it nothing of B once it acts for A:
-- - a prepared statement is planned with the policy's call to
--   phleet.current_controller(), evaluated at execution, so under A it
--   returns A's rows (generic and custom plans alike);
-- - a cursor's rows are chosen while it is fetched, so phleet refuses any
--   change of context while a cursor is open, and refuses DECLARE ... WITH
--   HOLD in an entered context (a holdable cursor outlives the transaction
--   that chose its rows).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-cur-a'), phleet.controller_create('atk-cur-b');
CREATE ROLE regress_attack_cursors_owner NOLOGIN;
CREATE ROLE regress_attack_cursors_app LOGIN;        -- unbound, no gateway: tokens only
CREATE SCHEMA attack_cursors AUTHORIZATION regress_attack_cursors_owner;
GRANT USAGE ON SCHEMA attack_cursors TO PUBLIC;
CREATE TABLE attack_cursors.leads (id int PRIMARY KEY, phone text);
ALTER TABLE attack_cursors.leads OWNER TO regress_attack_cursors_owner;
SELECT phleet.govern('attack_cursors.leads');
GRANT SELECT, INSERT ON attack_cursors.leads TO regress_attack_cursors_app;
BEGIN;
SELECT phleet.enter('atk-cur-a');
INSERT INTO attack_cursors.leads VALUES (1, '+1555000101'), (2, '+1555000102');
SELECT phleet.enter('atk-cur-b');
INSERT INTO attack_cursors.leads VALUES (3, '+1555000203'), (4, '+1555000204');
COMMIT;
SELECT phleet.mint_token('atk-cur-a', '1 hour') AS tok_a \gset
SELECT phleet.mint_token('atk-cur-b', '1 hour') AS tok_b \gset

SET SESSION AUTHORIZATION regress_attack_cursors_app;

-------------------------------------------------------------------------------
-- 1. Prepared statements created under B, executed under A and outside
-------------------------------------------------------------------------------
BEGIN;
SELECT phleet.enter_token(:'tok_b');
PREPARE by_id (int) AS SELECT id, controller FROM attack_cursors.leads WHERE id >= $1 ORDER BY id;
PREPARE all_rows AS SELECT id, controller FROM attack_cursors.leads ORDER BY id;
PREPARE add_row (int) AS INSERT INTO attack_cursors.leads (id, phone) VALUES ($1, 'x') RETURNING id, controller;
EXECUTE all_rows;
COMMIT;
BEGIN;
SELECT phleet.enter_token(:'tok_a');
EXECUTE all_rows;
SET LOCAL plan_cache_mode = force_generic_plan;
EXECUTE by_id(0);
SET LOCAL plan_cache_mode = force_custom_plan;
EXECUTE by_id(0);
EXECUTE add_row(10);            -- the insert prepared under B is stamped A
ROLLBACK;
EXECUTE all_rows;               -- outside any context: nothing
DEALLOCATE ALL;

-------------------------------------------------------------------------------
-- 2. An open cursor declared under B, then a switch to A
-------------------------------------------------------------------------------
BEGIN;
SELECT phleet.enter_token(:'tok_b');
DECLARE c CURSOR FOR SELECT id, controller FROM attack_cursors.leads ORDER BY id;
FETCH 1 FROM c;
SELECT phleet.enter_token(:'tok_a');
ROLLBACK;
-- leaving the context is a change too
BEGIN;
SELECT phleet.enter_token(:'tok_b');
DECLARE c CURSOR FOR SELECT id, controller FROM attack_cursors.leads ORDER BY id;
SELECT phleet.leave();
ROLLBACK;
-- a cursor opened by PL/pgSQL (a portal like any other)
CREATE FUNCTION pg_temp.open_leads() RETURNS refcursor LANGUAGE plpgsql AS $$
DECLARE r refcursor := 'plpgsql_cursor';
BEGIN
    OPEN r FOR SELECT id FROM attack_cursors.leads ORDER BY id;
    RETURN r;
END $$;
BEGIN;
SELECT phleet.enter_token(:'tok_b');
SELECT pg_temp.open_leads();
SELECT phleet.enter_token(:'tok_a');
ROLLBACK;
DROP FUNCTION pg_temp.open_leads();
-- a cursor in a savepoint: rolling the savepoint back closes it
BEGIN;
SELECT phleet.enter_token(:'tok_b');
SAVEPOINT s;
DECLARE c CURSOR FOR SELECT id FROM attack_cursors.leads ORDER BY id;
FETCH 1 FROM c;
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(:'tok_a');
FETCH 1 FROM c;
ROLLBACK;
-- re-entering the same controller is no change; closing the cursor lifts the
-- refusal
BEGIN;
SELECT phleet.enter_token(:'tok_b');
DECLARE c CURSOR FOR SELECT id, controller FROM attack_cursors.leads ORDER BY id;
FETCH 1 FROM c;
SELECT phleet.enter_token(:'tok_b');
CLOSE c;
SELECT phleet.enter_token(:'tok_a');
SELECT id, controller FROM attack_cursors.leads ORDER BY id;
COMMIT;

-------------------------------------------------------------------------------
-- 3. WITH HOLD cursors
-------------------------------------------------------------------------------
BEGIN;
SELECT phleet.enter_token(:'tok_b');
DECLARE h CURSOR WITH HOLD FOR SELECT id FROM attack_cursors.leads;
ROLLBACK;
-- outside any context one may be declared (it holds no governed rows), but
-- it blocks entering a context until it is closed
DECLARE h CURSOR WITH HOLD FOR SELECT id, controller FROM attack_cursors.leads;
BEGIN;
SELECT phleet.enter_token(:'tok_b');
ROLLBACK;
FETCH ALL FROM h;
CLOSE h;
RESET SESSION AUTHORIZATION;

DROP SCHEMA attack_cursors CASCADE;
DROP ROLE regress_attack_cursors_app, regress_attack_cursors_owner;
