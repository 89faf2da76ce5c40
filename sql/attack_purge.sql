-- Attack: become superuser, or read every controller's rows, through the
-- purge.
--
-- phleet.purge() deletes expired rows in SECURITY DEFINER helpers owned by
-- the extension owner, a superuser.  The attacker owns governed tables (a
-- DBA: no SUPERUSER, no BYPASSRLS) and puts code of its own on them, code
-- that the purge's DELETE fires: a trigger that makes its owner superuser
-- and copies every controller's rows of two governed tables into a table of
-- its own, a rule ON DELETE that calls functions doing the same, and a
-- trigger on a table that a foreign key's ON DELETE CASCADE reaches (owned
-- by a second owner), which also tries TRUNCATE of a governed table (which
-- phleet.internal, on in the purge's helpers, would allow).  A member of
-- phleet_admin, in a controller's context, runs the purge.  phleet runs each DELETE of the purge as the table's owner in
-- a security-restricted operation (phleet._purge_as_owner()), outside any
-- controller context and without phleet.internal: the owner's code runs
-- with the owner's privileges and sees, of governed tables, only what row
-- level security shows outside a context (nothing) and the rows being
-- deleted.  The rule is refused.  An ordinary audit trigger still works,
-- and an error in the owner's code is reported without leaving the purge
-- as the owner.
\set SHOW_CONTEXT never
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
-- run ids of this file start at 10 (below those of the purge tests that
-- run after it), whatever ran before
SELECT setval('phleet.purge_runs_run_id_seq', 10, false);

SELECT phleet.controller_create('atk-pg-a'), phleet.controller_create('atk-pg-b');
CREATE ROLE regress_attack_purge_owner NOLOGIN;          -- owns the tables: the attacker
CREATE ROLE regress_attack_purge_owner2 NOLOGIN;         -- owns a table that references them
CREATE ROLE regress_attack_purge_app LOGIN IN ROLE phleet_gateway;
-- the admin can also enter contexts: the purge leaves an entered one
CREATE ROLE regress_attack_purge_admin LOGIN IN ROLE phleet_admin, phleet_gateway;
CREATE SCHEMA attack_purge AUTHORIZATION regress_attack_purge_owner;
CREATE SCHEMA attack_purge2 AUTHORIZATION regress_attack_purge_owner2;
GRANT USAGE ON SCHEMA attack_purge, attack_purge2 TO PUBLIC;

-- events: the table the purge deletes from; other: another governed table
-- of the same owner; ruled: a table with a rule; parent/child: a foreign
-- key with ON DELETE CASCADE into a table of the second owner; audited:
-- an ordinary audit trigger; failing: a trigger that fails for B's rows
CREATE TABLE attack_purge.events (id int PRIMARY KEY, at timestamptz NOT NULL, note text);
CREATE TABLE attack_purge.other (id int PRIMARY KEY, note text);
CREATE TABLE attack_purge.ruled (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE attack_purge.parent (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE attack_purge2.child (id int PRIMARY KEY, parent_id int REFERENCES attack_purge.parent ON DELETE CASCADE);
CREATE TABLE attack_purge.audited (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE attack_purge.failing (id int PRIMARY KEY, at timestamptz NOT NULL);
SELECT phleet.govern('attack_purge.events'), phleet.govern('attack_purge.other'),
       phleet.govern('attack_purge.ruled'), phleet.govern('attack_purge.parent'),
       phleet.govern('attack_purge2.child'),
       phleet.govern('attack_purge.audited'), phleet.govern('attack_purge.failing');
ALTER TABLE attack_purge.events OWNER TO regress_attack_purge_owner;
ALTER TABLE attack_purge.other OWNER TO regress_attack_purge_owner;
ALTER TABLE attack_purge.ruled OWNER TO regress_attack_purge_owner;
ALTER TABLE attack_purge.parent OWNER TO regress_attack_purge_owner;
ALTER TABLE attack_purge.audited OWNER TO regress_attack_purge_owner;
ALTER TABLE attack_purge.failing OWNER TO regress_attack_purge_owner;
ALTER TABLE attack_purge2.child OWNER TO regress_attack_purge_owner2;
GRANT ALL ON ALL TABLES IN SCHEMA attack_purge, attack_purge2 TO regress_attack_purge_app;

-- per controller: one expired row and one kept row per table
SET ROLE regress_attack_purge_app;
BEGIN;
SELECT phleet.enter('atk-pg-a');
INSERT INTO attack_purge.events VALUES (1, now() - interval '20 days', 'a old'), (2, now(), 'a new');
INSERT INTO attack_purge.other VALUES (1, 'a other');
INSERT INTO attack_purge.ruled VALUES (1, now() - interval '20 days'), (2, now());
INSERT INTO attack_purge.parent VALUES (1, now() - interval '20 days'), (2, now());
INSERT INTO attack_purge2.child VALUES (1, 1), (2, 2);
INSERT INTO attack_purge.audited VALUES (1, now() - interval '20 days'), (2, now());
INSERT INTO attack_purge.failing VALUES (1, now() - interval '20 days'), (2, now());
COMMIT;
BEGIN;
SELECT phleet.enter('atk-pg-b');
INSERT INTO attack_purge.events VALUES (11, now() - interval '20 days', 'b old'), (12, now(), 'b new');
INSERT INTO attack_purge.other VALUES (11, 'b other');
INSERT INTO attack_purge.ruled VALUES (11, now() - interval '20 days'), (12, now());
INSERT INTO attack_purge.parent VALUES (11, now() - interval '20 days'), (12, now());
INSERT INTO attack_purge2.child VALUES (11, 11), (12, 12);
INSERT INTO attack_purge.audited VALUES (11, now() - interval '20 days'), (12, now());
INSERT INTO attack_purge.failing VALUES (11, now() - interval '20 days'), (12, now());
COMMIT;
RESET ROLE;

-- the owners' code
SET ROLE regress_attack_purge_owner;
CREATE TABLE attack_purge.loot (via text, note text);
CREATE TABLE attack_purge.seen (via text, running_as text, controller text,
                                visible_events bigint, visible_other bigint, deleted_rows bigint);
CREATE TABLE attack_purge.audit (tbl text, id int, controller text);
CREATE FUNCTION attack_purge.on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_purge.seen
    SELECT TG_TABLE_NAME, CASE WHEN r.rolsuper THEN 'a superuser' ELSE r.rolname END, phleet.current_controller(),
           (SELECT count(*) FROM attack_purge.events), (SELECT count(*) FROM attack_purge.other),
           (SELECT count(*) FROM gone)
      FROM pg_roles r WHERE r.rolname = current_user;
    INSERT INTO attack_purge.loot SELECT 'trigger', note FROM attack_purge.events;
    INSERT INTO attack_purge.loot SELECT 'trigger', note FROM attack_purge.other;
    -- the reviewer's escalation
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_attack_purge_owner SUPERUSER';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER on_delete AFTER DELETE ON attack_purge.events
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION attack_purge.on_delete();
-- a rule: its action calls a PL/pgSQL function and an SQL function
CREATE FUNCTION attack_purge.escalate() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_attack_purge_owner SUPERUSER';
    END IF;
    RETURN true;
END
$$;
CREATE FUNCTION attack_purge.grab() RETURNS boolean LANGUAGE sql AS $$
    INSERT INTO attack_purge.loot SELECT 'rule', note FROM attack_purge.events;
    INSERT INTO attack_purge.loot SELECT 'rule', note FROM attack_purge.other;
    SELECT true
$$;
CREATE RULE on_delete AS ON DELETE TO attack_purge.ruled
    DO ALSO SELECT attack_purge.escalate(), attack_purge.grab();
-- an ordinary audit trigger, and one that fails for rows of B
CREATE FUNCTION attack_purge.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_purge.audit VALUES (TG_TABLE_NAME, OLD.id, OLD.controller);
    RETURN OLD;
END
$$;
CREATE TRIGGER audit AFTER DELETE ON attack_purge.audited FOR EACH ROW EXECUTE FUNCTION attack_purge.audit();
CREATE FUNCTION attack_purge.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.controller = 'atk-pg-b' THEN
        RAISE EXCEPTION 'rows of B are kept by the owner''s trigger (running as %)', current_user;
    END IF;
    INSERT INTO attack_purge.audit VALUES (TG_TABLE_NAME, OLD.id, OLD.controller);
    RETURN OLD;
END
$$;
CREATE TRIGGER refuse BEFORE DELETE ON attack_purge.failing FOR EACH ROW EXECUTE FUNCTION attack_purge.refuse();
GRANT INSERT ON attack_purge.loot, attack_purge.seen TO PUBLIC;
RESET ROLE;
-- the second owner's trigger on the table the cascade reaches (it runs as
-- the role that deleted from the referenced table, as every trigger does)
SET ROLE regress_attack_purge_owner2;
CREATE TABLE attack_purge2.outcome (what text, result text);
GRANT INSERT ON attack_purge2.outcome TO PUBLIC;
CREATE FUNCTION attack_purge2.on_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_purge.seen
    SELECT TG_TABLE_NAME, CASE WHEN r.rolsuper THEN 'a superuser' ELSE r.rolname END, phleet.current_controller(),
           (SELECT count(*) FROM attack_purge.events), (SELECT count(*) FROM attack_purge.other),
           (SELECT count(*) FROM gone)
      FROM pg_roles r WHERE r.rolname = current_user;
    BEGIN
        TRUNCATE attack_purge.other;
        INSERT INTO attack_purge2.outcome VALUES ('truncate other', 'done');
    EXCEPTION WHEN insufficient_privilege THEN
        INSERT INTO attack_purge2.outcome VALUES ('truncate other', 'refused');
    END;
    BEGIN
        ALTER ROLE regress_attack_purge_owner2 SUPERUSER;
        INSERT INTO attack_purge2.outcome VALUES ('superuser', 'done');
    EXCEPTION WHEN insufficient_privilege THEN
        INSERT INTO attack_purge2.outcome VALUES ('superuser', 'refused');
    END;
    RETURN NULL;
END
$$;
CREATE TRIGGER on_cascade AFTER DELETE ON attack_purge2.child
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION attack_purge2.on_cascade();
RESET ROLE;

-- the admin keeps rows for 10 days, enters A's context and purges
SET SESSION AUTHORIZATION regress_attack_purge_admin;
SET client_min_messages = warning;
SELECT phleet.retain('attack_purge.events', '10 days', 'at'),
       phleet.retain('attack_purge.ruled', '10 days', 'at'),
       phleet.retain('attack_purge.parent', '10 days', 'at'),
       phleet.retain('attack_purge.audited', '10 days', 'at'),
       phleet.retain('attack_purge.failing', '10 days', 'at');
RESET client_min_messages;
SELECT phleet.enter('atk-pg-a', for_session => true);
CALL phleet.purge();
-- back as the admin, in A's context
SELECT current_user, phleet.current_controller();
SELECT phleet.leave();
SELECT table_name, controller, status, rows_deleted, error
  FROM phleet.purge_log WHERE run_id = 10 ORDER BY table_name, controller;
RESET SESSION AUTHORIZATION;

-- nobody became superuser
SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 'regress_attack_purge_owner%' ORDER BY 1;
-- the triggers ran as the owner of the table the purge deleted from (the
-- cascade's trigger too: triggers run as the role whose statement fires
-- them), outside any context: no row of a governed table was visible to
-- them, only the rows being deleted (in their transition tables)
SELECT DISTINCT * FROM attack_purge.seen ORDER BY via;
SELECT * FROM attack_purge.loot;
SELECT what, result, count(*) FROM attack_purge2.outcome GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS other_rows FROM attack_purge.other;
-- the purge deleted the expired rows, the cascade the rows referencing
-- them; the table with the rule was left alone
SELECT 'events' AS tbl, id FROM attack_purge.events
UNION ALL SELECT 'ruled', id FROM attack_purge.ruled
UNION ALL SELECT 'parent', id FROM attack_purge.parent
UNION ALL SELECT 'child', id FROM attack_purge2.child
UNION ALL SELECT 'audited', id FROM attack_purge.audited
UNION ALL SELECT 'failing', id FROM attack_purge.failing
ORDER BY 1, 2;
-- the audit trigger saw what went (the failing one what went of A)
SELECT * FROM attack_purge.audit ORDER BY tbl, id;

-- Rows the purge cannot take by time window (more than batch_rows at one
-- time) it deletes by ctid from each partition: as that partition's owner
DELETE FROM attack_purge.seen;
SET SESSION AUTHORIZATION regress_attack_purge_admin;
SELECT phleet.unretain('attack_purge.ruled'), phleet.unretain('attack_purge.failing');
RESET SESSION AUTHORIZATION;
CREATE TABLE attack_purge.parted (id int, at timestamptz NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE attack_purge.parted_1 PARTITION OF attack_purge.parted FOR VALUES FROM (0) TO (100);
SELECT phleet.govern('attack_purge.parted');
ALTER TABLE attack_purge.parted OWNER TO regress_attack_purge_owner2;
ALTER TABLE attack_purge.parted_1 OWNER TO regress_attack_purge_owner;
GRANT ALL ON attack_purge.parted TO regress_attack_purge_app;
CREATE TRIGGER on_delete AFTER DELETE ON attack_purge.parted_1
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION attack_purge.on_delete();
SET ROLE regress_attack_purge_app;
BEGIN;
SELECT phleet.enter('atk-pg-a');
INSERT INTO attack_purge.parted SELECT g, now() - interval '20 days' FROM generate_series(1, 3) g;
COMMIT;
RESET ROLE;
SET SESSION AUTHORIZATION regress_attack_purge_admin;
SET client_min_messages = warning;
SELECT phleet.retain('attack_purge.parted', '10 days', 'at');
CALL phleet.purge(batch_rows => 2);
RESET client_min_messages;
SELECT table_name, controller, status, rows_deleted, batches
  FROM phleet.purge_log WHERE run_id = 11 ORDER BY table_name, controller;
RESET SESSION AUTHORIZATION;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 'regress_attack_purge_owner%' ORDER BY 1;
SELECT * FROM attack_purge.seen ORDER BY deleted_rows;
SELECT count(*) AS parted_rows FROM attack_purge.parted;

-- phleet.pseudonymize_existing() updates rows as the table's owner too, and
-- also without phleet.internal (which switches phleet's guards off): the
-- owner's trigger cannot TRUNCATE a governed table, which only phleet_admin
-- may, nor change the schema (see "Code the owner adds while the purge
-- runs" below)
CREATE TABLE attack_purge.legacy (id int PRIMARY KEY, phone text);
SELECT phleet.govern('attack_purge.legacy');
ALTER TABLE attack_purge.legacy OWNER TO regress_attack_purge_owner;
BEGIN;
SELECT phleet.enter('atk-pg-a');
INSERT INTO attack_purge.legacy (id, phone) VALUES (1, '+1 555 000 0001');
COMMIT;
SET ROLE regress_attack_purge_owner;
CREATE FUNCTION attack_purge.on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        TRUNCATE attack_purge.other;
        INSERT INTO attack_purge.loot VALUES ('pseudonymize_existing', 'truncated a governed table');
    EXCEPTION WHEN insufficient_privilege THEN
        INSERT INTO attack_purge.loot VALUES ('pseudonymize_existing', 'truncate refused');
    END;
    BEGIN
        CREATE INDEX IF NOT EXISTS other_later ON attack_purge.other ((id + 1));
        INSERT INTO attack_purge.loot VALUES ('pseudonymize_existing', 'created an index');
    EXCEPTION WHEN insufficient_privilege THEN
        INSERT INTO attack_purge.loot VALUES ('pseudonymize_existing', 'schema change refused');
    END;
    RETURN NEW;
END
$$;
CREATE TRIGGER on_update BEFORE UPDATE ON attack_purge.legacy
    FOR EACH ROW EXECUTE FUNCTION attack_purge.on_update();
RESET ROLE;
SET SESSION AUTHORIZATION regress_attack_purge_admin;
SELECT phleet.classify('attack_purge.legacy', 'phone', 'communication', 'phone');
SET client_min_messages = warning;
CALL phleet.pseudonymize_existing('attack_purge.legacy', 'phone');
RESET client_min_messages;
RESET SESSION AUTHORIZATION;
SELECT note FROM attack_purge.loot WHERE via = 'pseudonymize_existing' ORDER BY 1;
SELECT count(*) > 0 AS other_kept, (SELECT phleet.is_pseudonym(phone) FROM attack_purge.legacy) AS converted
  FROM attack_purge.other;

-- Code that PostgreSQL runs when it merely reads or plans a table: an
-- immutable function in an index expression is evaluated when the index's
-- expressions are loaded, by whoever plans a query of the table first in a
-- session.  phleet's maintenance reads governed tables as the extension
-- owner: it refuses a table with code of a non-superuser in its indexes,
-- CHECK constraints, statistics or partition key (purge, preview, vault
-- pruning, govern(), ATTACH PARTITION, pseudonymize_existing()), and
-- check() reports it.
SET ROLE regress_attack_purge_owner;
CREATE FUNCTION attack_purge.escalate() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_purge.loot SELECT 'index expression', 'ran as ' ||
        CASE WHEN rolsuper THEN 'a superuser' ELSE rolname END FROM pg_roles WHERE rolname = current_user;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_attack_purge_owner SUPERUSER';
    END IF;
    RETURN 1;
END
$$;
CREATE FUNCTION attack_purge.evil(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM attack_purge.escalate();
    RETURN $1;
END
$$;
CREATE INDEX events_evil ON attack_purge.events ((attack_purge.evil(1)));
RESET ROLE;
DELETE FROM attack_purge.loot WHERE via = 'index expression';   -- (CREATE INDEX ran it as the owner)
SET ROLE regress_attack_purge_app;
BEGIN;
SELECT phleet.enter('atk-pg-a');
INSERT INTO attack_purge.events VALUES (100, now() - interval '20 days', 'a expired');
COMMIT;
RESET ROLE;
\c -
SET SESSION AUTHORIZATION regress_attack_purge_admin;
SELECT count(*) FROM phleet.purge_preview() WHERE table_name = 'attack_purge.events'::regclass;
CALL phleet.purge();
RESET SESSION AUTHORIZATION;
SELECT controller, status, error FROM phleet.purge_log
 WHERE table_name = 'attack_purge.events' AND run_id = (SELECT max(run_id) FROM phleet.purge_runs) ORDER BY 1;
SELECT severity, object, finding FROM phleet.check() WHERE object = 'table attack_purge.events';
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'regress_attack_purge_owner';
SELECT note FROM attack_purge.loot WHERE via = 'index expression';
-- a table with such code cannot be governed, nor attached to a governed table
SET ROLE regress_attack_purge_owner;
CREATE TABLE attack_purge.more (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE INDEX ON attack_purge.more ((attack_purge.evil(1)));
RESET ROLE;
SELECT phleet.govern('attack_purge.more');
SET ROLE regress_attack_purge_owner;
CREATE TABLE attack_purge.part (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
RESET ROLE;
SELECT phleet.govern('attack_purge.part');
SET ROLE regress_attack_purge_owner;
CREATE TABLE attack_purge.part_1 (id int, at timestamptz NOT NULL, controller text NOT NULL);
CREATE INDEX ON attack_purge.part_1 ((attack_purge.evil(1)));
ALTER TABLE attack_purge.part ATTACH PARTITION attack_purge.part_1 FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');
DROP INDEX attack_purge.part_1_evil_idx;
-- nor through a domain: an expression that casts to a domain of the owner's
-- (whose CHECK runs the owner's code when PostgreSQL folds the expression)
CREATE DOMAIN attack_purge.d_evil AS int CHECK (attack_purge.evil(1) = 1);
CREATE TABLE attack_purge.dom (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE STATISTICS attack_purge.dom_s ON ((id::attack_purge.d_evil)) FROM attack_purge.dom;
RESET ROLE;
SELECT phleet.govern('attack_purge.dom');
SET ROLE regress_attack_purge_owner;
DROP TABLE attack_purge.dom;
ALTER TABLE attack_purge.part ATTACH PARTITION attack_purge.part_1 FOR VALUES FROM ('2000-01-01') TO ('2100-01-01');
RESET ROLE;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'regress_attack_purge_owner';
SELECT note FROM attack_purge.loot WHERE via = 'index expression' AND note LIKE '%superuser%';
DROP INDEX attack_purge.events_evil;

-- Settings the owner's code changes do not outlive its statement: a trigger
-- that sets search_path (not LOCAL) to its schema, where a split_part() of
-- its own waits for the rest of the purge's batch, run as the extension
-- owner.  And a purge run by a superuser (as pg_cron's is) gives the owner's
-- code no exemption from phleet's guards: an SQL function in a CHECK
-- constraint that a foreign key's SET NULL evaluates (with the flag that
-- lets owners bypass FORCE ROW LEVEL SECURITY) reads another owner's
-- governed table through that owner's view, and is refused.
SET ROLE regress_attack_purge_owner2;
CREATE TABLE attack_purge2.secrets (id int PRIMARY KEY, secret text);
RESET ROLE;
SELECT phleet.govern('attack_purge2.secrets');
SET ROLE regress_attack_purge_owner2;
CREATE VIEW attack_purge2.secrets_view AS SELECT id, secret, controller FROM attack_purge2.secrets;
GRANT SELECT ON attack_purge2.secrets_view TO PUBLIC;
RESET ROLE;
GRANT INSERT ON attack_purge2.secrets TO regress_attack_purge_app;
SET ROLE regress_attack_purge_app;
BEGIN;
SELECT phleet.enter('atk-pg-a') IS NOT NULL AS a;
INSERT INTO attack_purge2.secrets VALUES (1, 'secret of A');
SELECT phleet.enter('atk-pg-b') IS NOT NULL AS b;
INSERT INTO attack_purge2.secrets VALUES (2, 'secret of B');
COMMIT;
RESET ROLE;
SET ROLE regress_attack_purge_owner;
CREATE FUNCTION attack_purge.split_part(text, text, integer) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_purge.loot SELECT 'split_part', 'ran as ' ||
        CASE WHEN rolsuper THEN 'a superuser' ELSE rolname END FROM pg_roles WHERE rolname = current_user;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_attack_purge_owner SUPERUSER';
    END IF;
    RETURN pg_catalog.split_part($1, $2, $3);
END
$$;
CREATE FUNCTION attack_purge.set_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'attack_purge, pg_catalog', false);
    RETURN NULL;
END
$$;
CREATE FUNCTION attack_purge.peek() RETURNS boolean LANGUAGE sql AS $$
    INSERT INTO attack_purge.loot SELECT 'peek', secret FROM attack_purge2.secrets_view;
    SELECT true $$;
CREATE TABLE attack_purge.pathed (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE attack_purge.peeking (id int PRIMARY KEY,
    pathed_id int REFERENCES attack_purge.pathed ON DELETE SET NULL, CHECK (attack_purge.peek()));
CREATE TRIGGER set_path AFTER DELETE ON attack_purge.pathed
    FOR EACH STATEMENT EXECUTE FUNCTION attack_purge.set_path();
RESET ROLE;
SELECT phleet.govern('attack_purge.pathed');
GRANT ALL ON attack_purge.pathed TO regress_attack_purge_app;
SET ROLE regress_attack_purge_app;
BEGIN;
SELECT phleet.enter('atk-pg-a') IS NOT NULL AS a;
INSERT INTO attack_purge.pathed VALUES (1, now() - interval '20 days'), (2, now() - interval '20 days');
COMMIT;
RESET ROLE;
SET phleet.internal = on;                         -- (the owner's CHECK may read now)
SET ROLE regress_attack_purge_owner;
INSERT INTO attack_purge.peeking VALUES (1, 1);
RESET ROLE;
RESET phleet.internal;
DELETE FROM attack_purge.loot;
SET client_min_messages = error;
SELECT phleet.retain('attack_purge.pathed', '10 days', 'at');
RESET client_min_messages;
-- the purge, by a superuser
CALL phleet.purge();
SELECT table_name, controller, status, rows_deleted, left(error, 70) AS error FROM phleet.purge_log
 WHERE table_name = 'attack_purge.pathed' ORDER BY controller;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'regress_attack_purge_owner';
SELECT via, note FROM attack_purge.loot ORDER BY 1, 2;
SHOW search_path;

-- Code the owner adds while the purge runs: its trigger, fired by the
-- purge's DELETE (as the owner), creates an index with its function on
-- another partition of the table, after the transaction's look for such
-- code.  The purge stops there (a budget of a microsecond) and reads the
-- table again for the oldest row it keeps.  The owner's code may make no
-- schema change while phleet runs it: the trigger fails, and the purge
-- leaves the rows it fires for.
SET ROLE regress_attack_purge_owner;
CREATE TABLE attack_purge.late (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE attack_purge.late_old PARTITION OF attack_purge.late FOR VALUES FROM ('2000-01-01') TO ('2020-01-01');
CREATE TABLE attack_purge.late_new PARTITION OF attack_purge.late FOR VALUES FROM ('2020-01-01') TO ('2100-01-01');
CREATE FUNCTION attack_purge.plant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    CREATE INDEX IF NOT EXISTS late_new_evil ON attack_purge.late_new ((attack_purge.evil(1)));
    RETURN NULL;
END
$$;
CREATE TRIGGER plant AFTER DELETE ON attack_purge.late_old FOR EACH ROW EXECUTE FUNCTION attack_purge.plant();
RESET ROLE;
SELECT phleet.govern('attack_purge.late');
GRANT ALL ON attack_purge.late TO regress_attack_purge_app;
SET ROLE regress_attack_purge_app;
BEGIN;
SELECT phleet.enter('atk-pg-a') IS NOT NULL AS a;
INSERT INTO attack_purge.late VALUES (1, '2010-01-01'), (3, '2011-01-01'), (2, now());
COMMIT;
RESET ROLE;
SET client_min_messages = error;
SELECT phleet.retain('attack_purge.late', '10 days', 'at');
RESET client_min_messages;
DELETE FROM attack_purge.loot;
SET phleet.purge_partitions = off;
CALL phleet.purge(1, '1 microsecond');
RESET phleet.purge_partitions;
SELECT table_name, controller, status, rows_deleted, left(error, 70) AS error FROM phleet.purge_log
 WHERE table_name = 'attack_purge.late' ORDER BY controller;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'regress_attack_purge_owner';
SELECT via, note FROM attack_purge.loot ORDER BY 1, 2;
SELECT count(*) AS evil_indexes FROM pg_index WHERE indrelid = 'attack_purge.late_new'::regclass AND indexprs IS NOT NULL;

-- An index the owner creates from a session of its own between a run's
-- last batch and its end (the batch's lock is gone): the end of a stopped
-- run (here called directly for a run stopped in the table) reads the
-- table for the oldest row kept only under the lock, after a new look.
SET ROLE regress_attack_purge_owner;
CREATE INDEX late_new_evil ON attack_purge.late_new ((attack_purge.evil(1)));
RESET ROLE;
DELETE FROM attack_purge.loot;
INSERT INTO phleet.purge_runs (run_id, batch_rows, time_budget) VALUES (90, 1, '1 microsecond');
INSERT INTO phleet.purge_log (run_id, relid, table_name, controller, method, status)
VALUES (90, 'attack_purge.late'::regclass, 'attack_purge.late', 'atk-pg-a', 'rows', 'running'),
       (90, 'attack_purge.events'::regclass, 'attack_purge.events', 'atk-pg-a', 'rows', 'running');
SELECT * FROM phleet._purge_finish(90, true);
SELECT table_name, status, oldest_kept IS NOT NULL AS oldest_read FROM phleet.purge_log WHERE run_id = 90 ORDER BY 1;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'regress_attack_purge_owner';
SELECT via, note FROM attack_purge.loot ORDER BY 1, 2;
DROP INDEX attack_purge.late_new_evil;

-- phleet._purge_as_owner() is phleet's alone
SET SESSION AUTHORIZATION regress_attack_purge_admin;
SELECT * FROM phleet._purge_as_owner('attack_purge.events', 'DELETE FROM attack_purge.events WHERE id > $1', 0);
SET SESSION AUTHORIZATION regress_attack_purge_owner;
SELECT * FROM phleet._purge_as_owner('attack_purge.events', 'DELETE FROM attack_purge.events WHERE id > $1', 0);
RESET SESSION AUTHORIZATION;
SELECT * FROM phleet._purge_as_owner('attack_purge.events', 'DELETE FROM attack_purge.events WHERE id > $1', 0);
SELECT count(*) AS events_left FROM attack_purge.events;

SET client_min_messages = warning;
DROP SCHEMA attack_purge, attack_purge2 CASCADE;
RESET client_min_messages;
SELECT count(*) AS rules_left FROM phleet.retention_rules WHERE relid::text LIKE 'attack_purge%';
DELETE FROM phleet.purge_runs WHERE run_id >= 10 AND run_id < 100;
DROP ROLE regress_attack_purge_owner, regress_attack_purge_owner2, regress_attack_purge_app, regress_attack_purge_admin;
