-- Attack: make controller B's values leak through code that runs on rows
-- row-level security has not filtered yet.
--
-- The attacker is an application role (no SUPERUSER, no BYPASSRLS, not the
-- table owner) bound to A, allowed to create functions and operators.  It
-- puts non-leakproof code in WHERE, JOIN and ON CONFLICT conditions: a
-- PL/pgSQL function that RAISEs a NOTICE with its argument, one that raises
-- an error on B's values, and a custom operator doing the same, all declared
-- nearly free so the planner would like to run them first.  None may ever
-- see a value of B's rows: PostgreSQL evaluates row-level security quals as
-- security barriers, before any non-leakproof user condition, whatever the
-- plan (sequential, index, bitmap).  pg_stats hides the table's statistics
-- while row-level security applies.  EXPLAIN ANALYZE's row counts are a
-- documented side channel (how many rows other controllers have).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-lk-a'), phleet.controller_create('atk-lk-b');
CREATE ROLE regress_attack_leaks_owner NOLOGIN;
CREATE ROLE regress_attack_leaks_app LOGIN;          -- bound to A
SELECT phleet.bind_role('regress_attack_leaks_app', 'atk-lk-a');
CREATE SCHEMA attack_leaks AUTHORIZATION regress_attack_leaks_owner;
CREATE SCHEMA attack_leaks_app AUTHORIZATION regress_attack_leaks_app;
GRANT USAGE ON SCHEMA attack_leaks TO PUBLIC;
CREATE TABLE attack_leaks.leads (id int PRIMARY KEY, phone text);
ALTER TABLE attack_leaks.leads OWNER TO regress_attack_leaks_owner;
SELECT phleet.govern('attack_leaks.leads');
GRANT SELECT, INSERT, UPDATE ON attack_leaks.leads TO regress_attack_leaks_app;
BEGIN;
SELECT phleet.enter('atk-lk-a');
INSERT INTO attack_leaks.leads VALUES (1, 'a-secret-1'), (2, 'a-secret-2');
SELECT phleet.enter('atk-lk-b');
INSERT INTO attack_leaks.leads VALUES (3, 'b-secret-3'), (4, 'b-secret-4');
COMMIT;
ANALYZE attack_leaks.leads;

SET SESSION AUTHORIZATION regress_attack_leaks_app;
SET search_path = attack_leaks_app, public;
CREATE FUNCTION peek(text) RETURNS boolean LANGUAGE plpgsql COST 0.0001
    AS $$ BEGIN RAISE NOTICE 'peek saw %', $1; RETURN true; END $$;
CREATE FUNCTION boom(text) RETURNS boolean LANGUAGE plpgsql COST 0.0001
    AS $$ BEGIN IF $1 LIKE 'b-%' THEN RAISE EXCEPTION 'boom on %', $1; END IF; RETURN true; END $$;
CREATE FUNCTION peek_eq(text, text) RETURNS boolean LANGUAGE plpgsql COST 0.0001
    AS $$ BEGIN RAISE NOTICE 'operator saw %', $1; RETURN $1 = $2; END $$;
CREATE OPERATOR === (LEFTARG = text, RIGHTARG = text, FUNCTION = peek_eq);

-- every plan shape: sequential scan, then index and bitmap scans
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM attack_leaks.leads WHERE peek(phone);
SELECT id FROM attack_leaks.leads WHERE peek(phone) ORDER BY id;
SELECT id FROM attack_leaks.leads WHERE boom(phone) ORDER BY id;
SELECT id FROM attack_leaks.leads WHERE phone === 'b-secret-3';
RESET enable_indexscan;
RESET enable_bitmapscan;
SET enable_seqscan = off;
-- the index condition on id reaches B's row 3; the policy still runs first
EXPLAIN (COSTS OFF) SELECT id FROM attack_leaks.leads WHERE id = 3 AND peek(phone);
SELECT id FROM attack_leaks.leads WHERE id = 3 AND peek(phone);
SELECT id FROM attack_leaks.leads WHERE id IN (1, 3) AND boom(phone);
SELECT id FROM attack_leaks.leads WHERE id >= 1 AND phone === 'b-secret-3';
RESET enable_seqscan;
-- in a join condition, and through the attacker's own (non-barrier) view
SELECT l.id FROM attack_leaks.leads l JOIN (VALUES (1), (3)) v(id) ON peek(l.phone) AND l.id = v.id ORDER BY 1;
CREATE VIEW all_leads AS SELECT * FROM attack_leaks.leads;
SELECT id FROM all_leads WHERE peek(phone) ORDER BY id;
-- in ON CONFLICT DO UPDATE ... WHERE, evaluated on the conflicting row: the
-- policy rejects B's row before the condition sees it
INSERT INTO attack_leaks.leads VALUES (3, 'x')
    ON CONFLICT (id) DO UPDATE SET phone = excluded.phone WHERE peek(attack_leaks.leads.phone);
INSERT INTO attack_leaks.leads VALUES (3, 'x')
    ON CONFLICT (id) DO UPDATE SET phone = excluded.phone WHERE boom(attack_leaks.leads.phone);
-- in UPDATE ... WHERE
UPDATE attack_leaks.leads SET phone = phone WHERE peek(phone);

-- COPY TO applies the policy like a SELECT
COPY attack_leaks.leads TO STDOUT;

-- statistics: PostgreSQL hides them while row-level security applies
SELECT count(*) AS stats_rows_seen FROM pg_stats
 WHERE schemaname = 'attack_leaks' AND tablename = 'leads';

-- side channel (documented): EXPLAIN ANALYZE counts the rows the policy
-- removed, i.e. how many rows the other controllers have in the table
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM attack_leaks.leads;
RESET enable_indexscan;
RESET enable_bitmapscan;
RESET search_path;
RESET SESSION AUTHORIZATION;

-- planner estimates: PostgreSQL lets the planner use the most-common values
-- and histogram with leakproof operators (text "=", "<") even where the rows
-- are hidden, so a plain EXPLAIN confirms a guessed value of B's (30 rows
-- estimated for the right guess, 1 for a wrong one).  With
-- phleet.hide_statistics on (the default; superuser-only) both guesses, and
-- the expression index's, get the same estimate.
CREATE TABLE attack_leaks.messages (id int, body text);
ALTER TABLE attack_leaks.messages OWNER TO regress_attack_leaks_owner;
SELECT phleet.govern('attack_leaks.messages');
CREATE INDEX ON attack_leaks.messages (lower(body));
GRANT SELECT ON attack_leaks.messages TO regress_attack_leaks_app;
BEGIN;
SELECT phleet.enter('atk-lk-b') \gset
INSERT INTO attack_leaks.messages SELECT g, 'b: merger with initech closes ' || (g % 2) FROM generate_series(1, 600) g;
INSERT INTO attack_leaks.messages SELECT g, 'b misc ' || g FROM generate_series(601, 900) g;
SELECT phleet.enter('atk-lk-a') \gset
INSERT INTO attack_leaks.messages SELECT g, 'a note ' || g FROM generate_series(901, 1000) g;
COMMIT;
ANALYZE attack_leaks.messages;
CREATE FUNCTION attack_leaks_app.estimate(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END $$;
ALTER FUNCTION attack_leaks_app.estimate(text) OWNER TO regress_attack_leaks_app;
SET SESSION AUTHORIZATION regress_attack_leaks_app;
SET phleet.hide_statistics = off;   -- refused: superuser setting
SELECT count(*) AS b_rows_visible FROM attack_leaks.messages WHERE body LIKE 'b%';
SELECT attack_leaks_app.estimate($$SELECT * FROM attack_leaks.messages WHERE body = 'b: merger with initech closes 1'$$) AS right_guess,
       attack_leaks_app.estimate($$SELECT * FROM attack_leaks.messages WHERE body = 'b: merger with acme closes 1'$$) AS wrong_guess,
       attack_leaks_app.estimate($$SELECT * FROM attack_leaks.messages WHERE lower(body) = 'b: merger with initech closes 1'$$) AS right_by_index,
       attack_leaks_app.estimate($$SELECT * FROM attack_leaks.messages WHERE lower(body) = 'b: merger with acme closes 1'$$) AS wrong_by_index;
RESET SESSION AUTHORIZATION;
-- control: without phleet's hooks the right guess stands out
SET phleet.hide_statistics = off;
SET SESSION AUTHORIZATION regress_attack_leaks_app;
SELECT attack_leaks_app.estimate($$SELECT * FROM attack_leaks.messages WHERE body = 'b: merger with initech closes 1'$$) AS right_guess,
       attack_leaks_app.estimate($$SELECT * FROM attack_leaks.messages WHERE body = 'b: merger with acme closes 1'$$) AS wrong_guess,
       attack_leaks_app.estimate($$SELECT * FROM attack_leaks.messages WHERE lower(body) = 'b: merger with initech closes 1'$$) AS right_by_index,
       attack_leaks_app.estimate($$SELECT * FROM attack_leaks.messages WHERE lower(body) = 'b: merger with acme closes 1'$$) AS wrong_by_index;
RESET SESSION AUTHORIZATION;
RESET phleet.hide_statistics;
-- (the statistics do exist: a superuser sees them)
SELECT count(*) > 0 AS stats_exist FROM pg_stats
 WHERE schemaname = 'attack_leaks' AND tablename = 'leads';

DROP SCHEMA attack_leaks, attack_leaks_app CASCADE;
SELECT phleet.unbind_role('regress_attack_leaks_app');
DROP ROLE regress_attack_leaks_app, regress_attack_leaks_owner;
