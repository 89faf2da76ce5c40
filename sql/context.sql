-- Controller context: phleet.enter, phleet.leave, phleet.current_controller.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
SELECT current_user AS regress_super \gset

CREATE ROLE regress_context_admin IN ROLE phleet_admin;
CREATE ROLE regress_context_gw LOGIN IN ROLE phleet_gateway;
CREATE ROLE regress_context_app LOGIN;
CREATE ROLE regress_context_bound LOGIN;
SET ROLE regress_context_admin;
SELECT phleet.controller_create('ctx-a'), phleet.controller_create('ctx-b');
SELECT phleet.bind_role('regress_context_bound', 'ctx-a');
RESET ROLE;

CREATE TABLE context_t (id int, note text);
SELECT phleet.govern('context_t');
GRANT SELECT, INSERT, UPDATE, DELETE ON context_t TO PUBLIC;

-- outside any context
SELECT phleet.current_controller() IS NULL AS outside;
SHOW phleet.controller;

-- a member of phleet_gateway enters any controller; the context ends at COMMIT
SET ROLE regress_context_gw;
BEGIN;
SELECT phleet.enter('ctx-a');
SELECT phleet.current_controller();
SHOW phleet.controller;
INSERT INTO context_t (id, note) VALUES (1, 'a1');
SELECT phleet.enter('ctx-b');  -- switching is allowed
INSERT INTO context_t (id, note) VALUES (2, 'b2');
SELECT id, note, controller FROM context_t ORDER BY id;
COMMIT;
SELECT phleet.current_controller() IS NULL AS ended_at_commit;
SELECT count(*) AS visible_outside FROM context_t;

-- ROLLBACK of the entering transaction ends it too
BEGIN;
SELECT phleet.enter('ctx-a');
ROLLBACK;
SELECT phleet.current_controller() IS NULL AS ended_at_rollback;

-- ROLLBACK TO SAVEPOINT undoes an enter made inside the savepoint
BEGIN;
SELECT phleet.enter('ctx-a');
SAVEPOINT s1;
SELECT phleet.enter('ctx-b');
SELECT phleet.current_controller();
ROLLBACK TO SAVEPOINT s1;
SELECT phleet.current_controller();
SAVEPOINT s2;
SELECT phleet.leave();
SELECT phleet.current_controller() IS NULL AS left;
ROLLBACK TO SAVEPOINT s2;
SELECT phleet.current_controller();
RELEASE SAVEPOINT s2;
SAVEPOINT s3;
SELECT phleet.enter('ctx-b');
RELEASE SAVEPOINT s3;         -- a released savepoint keeps the change
SELECT phleet.current_controller();
COMMIT;
SELECT phleet.current_controller() IS NULL AS ended_at_commit;

-- entering outside a transaction block lasts for that statement only
SELECT phleet.enter('ctx-a');
SELECT phleet.current_controller() IS NULL AS already_ended;

-- for_session => true keeps it across transactions, leave() ends it
SELECT phleet.enter('ctx-a', for_session => true);
SELECT phleet.current_controller();
BEGIN;
SELECT phleet.enter('ctx-b');   -- a local switch inside the session context
SELECT phleet.current_controller();
COMMIT;
SELECT phleet.current_controller();  -- back to the session's
SELECT id, note FROM context_t ORDER BY id;
BEGIN;
SELECT phleet.leave();
ROLLBACK;                       -- leave() inside a rolled-back transaction is undone
SELECT phleet.current_controller();
SELECT phleet.leave();
SELECT phleet.current_controller() IS NULL AS left;
SELECT phleet.leave();          -- leaving twice is harmless
SELECT phleet.enter('ctx-b', for_session => NULL);  -- NULL means false
SELECT phleet.current_controller() IS NULL AS transaction_only;

-- RESET ALL and DISCARD ALL clear a session context
SELECT phleet.enter('ctx-a', true);
RESET ALL;
SELECT phleet.current_controller() IS NULL AS cleared_by_reset_all;
SET ROLE regress_context_gw;
SELECT phleet.enter('ctx-a', true);
RESET ROLE;
DISCARD ALL;
SELECT phleet.current_controller() IS NULL AS cleared_by_discard_all;
-- the setting is PGC_SUSET: a non-superuser cannot even RESET it (leave() does)
SET ROLE regress_context_gw;
SELECT phleet.enter('ctx-b', true);
RESET phleet.controller;
SELECT phleet.current_controller();
SELECT phleet.leave();
RESET ROLE;
-- a superuser may RESET it (which only clears it)
SELECT phleet.enter('ctx-b', true);
RESET phleet.controller;
SELECT phleet.current_controller() IS NULL AS cleared_by_reset;
SET ROLE regress_context_gw;

-- bad arguments, each with its own error; a failed enter changes nothing
BEGIN;
SELECT phleet.enter('ctx-a');
SELECT phleet.enter('ctx-nope');
ROLLBACK;
BEGIN;
SELECT phleet.enter('ctx-a');
SAVEPOINT s;
SELECT phleet.enter(NULL);
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter('CTX-A');
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter('');
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter(repeat('x', 64));
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter('ctx a; drop table context_t');
ROLLBACK TO SAVEPOINT s;
SELECT phleet.current_controller();
COMMIT;
RESET ROLE;

-- a role that is neither a gateway nor bound to the controller is refused,
-- whether or not the controller exists
SET ROLE regress_context_app;
SELECT phleet.enter('ctx-a');
SELECT phleet.enter('ctx-nope');
SELECT phleet.enter('ctx-a', true);
SELECT phleet.current_controller() IS NULL AS still_outside;
-- outside a context a governed table shows nothing and refuses writes
SELECT count(*) FROM context_t;
INSERT INTO context_t (id) VALUES (99);
WITH u AS (UPDATE context_t SET note = 'x' RETURNING 1) SELECT count(*) AS updated FROM u;
WITH d AS (DELETE FROM context_t RETURNING 1) SELECT count(*) AS deleted FROM d;
RESET ROLE;

-- changing the context while a cursor is open is refused
SET ROLE regress_context_gw;
BEGIN;
SELECT phleet.enter('ctx-a');
DECLARE c CURSOR FOR SELECT id, note FROM context_t ORDER BY id;
FETCH 1 FROM c;
SELECT phleet.enter('ctx-b');
ROLLBACK;
BEGIN;
SELECT phleet.enter('ctx-a');
DECLARE c CURSOR FOR SELECT id FROM context_t;
SELECT phleet.enter('ctx-a');  -- re-entering the same context changes nothing
SAVEPOINT s;
SELECT phleet.leave();
ROLLBACK TO SAVEPOINT s;
CLOSE c;
SELECT phleet.enter('ctx-b');  -- fine once the cursor is closed
SELECT id, note FROM context_t ORDER BY id;
COMMIT;
-- a cursor opened outside a context cannot be read inside one either
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM context_t;
SELECT phleet.enter('ctx-a');
ROLLBACK;

-- DECLARE ... WITH HOLD is refused in an entered context, allowed outside one
BEGIN;
SELECT phleet.enter('ctx-a');
DECLARE h CURSOR WITH HOLD FOR SELECT id FROM context_t;
ROLLBACK;
SELECT phleet.enter('ctx-a', true);
DECLARE h CURSOR WITH HOLD FOR SELECT id FROM context_t;
SELECT phleet.leave();
DECLARE h CURSOR WITH HOLD FOR SELECT count(*) FROM context_t;
SELECT phleet.enter('ctx-a', true);  -- a held cursor is an open cursor
FETCH ALL FROM h;
CLOSE h;
SELECT phleet.enter('ctx-a', true);
SELECT phleet.leave();
RESET ROLE;

-- a bound login role acts for its controller from its first statement, can
-- enter only that one, and stays in it after leave()
\c - regress_context_bound
SELECT session_user, phleet.current_controller();
SELECT id, note, controller FROM context_t ORDER BY id;
INSERT INTO context_t (id, note) VALUES (3, 'a3');
INSERT INTO context_t (id, note, controller) VALUES (4, 'b4', 'ctx-b');
SELECT phleet.enter('ctx-b');
SELECT phleet.enter('ctx-b', true);
SELECT phleet.enter('ctx-a');
SELECT phleet.current_controller();
SELECT phleet.leave();
SELECT phleet.current_controller();
SELECT id, note, controller FROM context_t ORDER BY id;
RESET ALL;
DISCARD ALL;
SELECT phleet.current_controller();
\c - regress_context_app
SELECT session_user, phleet.current_controller() IS NULL AS unbound;
\c - :regress_super

-- the binding a session caches follows unbind_role/bind_role at once
GRANT regress_context_admin TO regress_context_bound;
\c - regress_context_bound
SELECT phleet.current_controller();
SET ROLE regress_context_admin;
SELECT phleet.unbind_role('regress_context_bound');
SELECT phleet.current_controller() IS NULL AS unbound;
RESET ROLE;
SELECT phleet.enter('ctx-a');  -- no longer bound, not a gateway
SET ROLE regress_context_admin;
SELECT phleet.bind_role('regress_context_bound', 'ctx-b');
RESET ROLE;
SELECT phleet.current_controller();
\c - :regress_super

SELECT phleet.unbind_role('regress_context_bound');
DROP TABLE context_t;
DROP ROLE regress_context_admin, regress_context_gw, regress_context_app, regress_context_bound;
