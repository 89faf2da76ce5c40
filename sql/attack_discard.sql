-- Attack: find a context left behind.  A pooled server connection is reset
-- with DISCARD ALL (session poolers) or RESET ALL, or not at all
-- (transaction poolers, see test/t/020_attack_pgbouncer.pl); the next
-- client must not inherit the previous one's controller.  The entered
-- context is an ordinary setting (not GUC_NO_RESET_ALL, no C static), so
-- DISCARD ALL, RESET ALL and RESET clear it, for_session or not; a context
-- entered for the transaction ends with COMMIT or ROLLBACK.  A login role's
-- binding is not a setting and survives all of them: such a session can
-- never act for another controller anyway.  (DISCARD ALL also resets the
-- session authorization, so the bound role's DISCARD ALL is tested over a
-- real login in test/t/010_attack_connect.pl.)
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-dis-a'), phleet.controller_create('atk-dis-b');
CREATE ROLE regress_attack_discard_owner NOLOGIN;
CREATE ROLE regress_attack_discard_pool LOGIN IN ROLE phleet_gateway;   -- a trusted pool
CREATE ROLE regress_attack_discard_app LOGIN;                           -- bound to A
SELECT phleet.bind_role('regress_attack_discard_app', 'atk-dis-a');
CREATE SCHEMA attack_discard AUTHORIZATION regress_attack_discard_owner;
GRANT USAGE ON SCHEMA attack_discard TO PUBLIC;
CREATE TABLE attack_discard.leads (id int PRIMARY KEY, phone text);
ALTER TABLE attack_discard.leads OWNER TO regress_attack_discard_owner;
SELECT phleet.govern('attack_discard.leads');
GRANT SELECT ON attack_discard.leads TO regress_attack_discard_pool, regress_attack_discard_app;
BEGIN;
SELECT phleet.enter('atk-dis-a');
INSERT INTO attack_discard.leads VALUES (1, '+1555000101'), (2, '+1555000102');
SELECT phleet.enter('atk-dis-b');
INSERT INTO attack_discard.leads VALUES (3, '+1555000203');
COMMIT;

\set seen 'SELECT phleet.current_controller() AS ctx, current_setting(''phleet.controller'') AS setting, count(*) AS rows FROM attack_discard.leads'

SET SESSION AUTHORIZATION regress_attack_discard_pool;
-- a transaction's context ends with it, committed or rolled back
BEGIN;
SELECT phleet.enter('atk-dis-b');
COMMIT;
:seen;
BEGIN;
SELECT phleet.enter('atk-dis-b');
ROLLBACK;
:seen;
-- entered in a savepoint that is rolled back
BEGIN;
SAVEPOINT s;
SELECT phleet.enter('atk-dis-b');
ROLLBACK TO SAVEPOINT s;
:seen;
COMMIT;
-- for_session, then RESET ALL
SELECT phleet.enter('atk-dis-b', for_session => true);
:seen;
RESET ALL;
:seen;
-- for_session, then leave()
SELECT phleet.enter('atk-dis-b', for_session => true);
SELECT phleet.leave();
:seen;
-- for_session, then DISCARD ALL (which also ends SET SESSION AUTHORIZATION:
-- the pool role is taken again to look)
SELECT phleet.enter('atk-dis-b', for_session => true);
DISCARD ALL;
SET SESSION AUTHORIZATION regress_attack_discard_pool;
:seen;
RESET SESSION AUTHORIZATION;

-- a bound login role stays bound: RESET ALL and leave() change nothing
SET SESSION AUTHORIZATION regress_attack_discard_app;
:seen;
RESET ALL;
:seen;
SELECT phleet.leave();
:seen;
RESET SESSION AUTHORIZATION;

DROP SCHEMA attack_discard CASCADE;
SELECT phleet.unbind_role('regress_attack_discard_app');
DROP ROLE regress_attack_discard_app, regress_attack_discard_pool, regress_attack_discard_owner;
