-- Attack: write controller B's rows from controller A's context (or from
-- outside any context).
--
-- The attacker is an application role (no SUPERUSER, no BYPASSRLS, not the
-- table owner) bound to A.  It tries INSERT and COPY FROM STDIN of rows
-- tagged B, INSERT ... ON CONFLICT DO UPDATE hitting B's row through a
-- unique key, UPDATE moving a row to B, UPDATE/DELETE of B's rows, and
-- MERGE.  Each must fail or touch nothing: the stamp trigger refuses any
-- row whose controller is not the current one and any change of a row's
-- controller (the only check on phleet's COPY path), and the RESTRICTIVE
-- policy hides B's rows from UPDATE/DELETE/MERGE/ON CONFLICT and rejects
-- them in WITH CHECK.  At the end a superuser lists B's rows: unchanged.
-- With the TRIGGER and REFERENCES privileges (both in GRANT ALL) it tries to
-- attach its own triggers and foreign keys to the governed table: refused.
-- Then the side channels row-level security cannot close (document-only):
-- unique and foreign-key existence probes, closed by keys that lead with the
-- controller column, and ON DELETE CASCADE from a shared parent.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-wr-a'), phleet.controller_create('atk-wr-b');
CREATE ROLE regress_attack_writes_owner NOLOGIN;
CREATE ROLE regress_attack_writes_app LOGIN;        -- bound to A
CREATE ROLE regress_attack_writes_anon LOGIN;       -- bound to nothing, no gateway
SELECT phleet.bind_role('regress_attack_writes_app', 'atk-wr-a');
CREATE SCHEMA attack_writes AUTHORIZATION regress_attack_writes_owner;
GRANT USAGE ON SCHEMA attack_writes TO PUBLIC;
CREATE TABLE attack_writes.leads (id int PRIMARY KEY, phone text);
CREATE TABLE attack_writes.batches (id int, phone text) PARTITION BY RANGE (id);
CREATE TABLE attack_writes.batches_1 PARTITION OF attack_writes.batches FOR VALUES FROM (0) TO (100);
ALTER TABLE attack_writes.leads OWNER TO regress_attack_writes_owner;
ALTER TABLE attack_writes.batches OWNER TO regress_attack_writes_owner;
ALTER TABLE attack_writes.batches_1 OWNER TO regress_attack_writes_owner;
SELECT phleet.govern('attack_writes.leads'), phleet.govern('attack_writes.batches');
GRANT SELECT, INSERT, UPDATE, DELETE ON attack_writes.leads, attack_writes.batches,
    attack_writes.batches_1 TO regress_attack_writes_app, regress_attack_writes_anon;
BEGIN;
SELECT phleet.enter('atk-wr-a');
INSERT INTO attack_writes.leads VALUES (1, '+1555000101'), (2, '+1555000102');
SELECT phleet.enter('atk-wr-b');
INSERT INTO attack_writes.leads VALUES (3, '+1555000203'), (4, '+1555000204');
COMMIT;

\set seen 'SELECT phleet.current_controller() AS ctx, count(*) AS rows, count(*) FILTER (WHERE controller = ''atk-wr-b'') AS b_rows FROM attack_writes.leads'

SET SESSION AUTHORIZATION regress_attack_writes_app;
:seen;

-------------------------------------------------------------------------------
-- 1. INSERT and COPY FROM STDIN of rows tagged B
-------------------------------------------------------------------------------
INSERT INTO attack_writes.leads VALUES (10, 'x', 'atk-wr-b');
INSERT INTO attack_writes.leads
    SELECT 11, 'x', NULL UNION ALL SELECT 12, 'y', 'atk-wr-b';
COPY attack_writes.leads FROM STDIN;
13	x	atk-wr-b
\.
COPY attack_writes.leads FROM STDIN (FORMAT csv);
14,x,atk-wr-a
15,y,atk-wr-b
\.
COPY attack_writes.batches FROM STDIN;
16	x	atk-wr-b
\.
COPY attack_writes.batches_1 FROM STDIN;
17	x	atk-wr-b
\.
-- the legitimate path still works: rows left NULL are stamped A
COPY attack_writes.leads (id, phone) FROM STDIN;
18	+1555000118
\.
SELECT id, controller FROM attack_writes.leads WHERE id > 4 ORDER BY id;
DELETE FROM attack_writes.leads WHERE id = 18;

-------------------------------------------------------------------------------
-- 2. INSERT ... ON CONFLICT DO UPDATE hitting B's row through its key
-------------------------------------------------------------------------------
INSERT INTO attack_writes.leads VALUES (3, 'pwned')
    ON CONFLICT (id) DO UPDATE SET phone = excluded.phone;
INSERT INTO attack_writes.leads VALUES (3, 'pwned')
    ON CONFLICT ON CONSTRAINT leads_pkey DO UPDATE SET phone = excluded.phone, controller = 'atk-wr-a';
-- hitting its own row and pushing it to B
INSERT INTO attack_writes.leads VALUES (1, 'x')
    ON CONFLICT (id) DO UPDATE SET controller = 'atk-wr-b';

-------------------------------------------------------------------------------
-- 3. UPDATE moving a row to B; UPDATE and DELETE of B's rows
-------------------------------------------------------------------------------
UPDATE attack_writes.leads SET controller = 'atk-wr-b' WHERE id = 1;
UPDATE attack_writes.leads SET controller = NULL WHERE id = 1;
WITH u AS (UPDATE attack_writes.leads SET phone = 'pwned' WHERE id IN (3, 4) RETURNING id)
SELECT count(*) AS b_rows_updated FROM u;
WITH d AS (DELETE FROM attack_writes.leads WHERE controller = 'atk-wr-b' RETURNING id)
SELECT count(*) AS b_rows_deleted FROM d;

-------------------------------------------------------------------------------
-- 4. MERGE
-------------------------------------------------------------------------------
-- B's row 3 is invisible, so it does not match and the insert hits its key
MERGE INTO attack_writes.leads l USING (VALUES (3, 'pwned')) v(id, phone) ON l.id = v.id
    WHEN MATCHED THEN UPDATE SET phone = v.phone
    WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.phone);
MERGE INTO attack_writes.leads l USING (VALUES (3)) v(id) ON l.id = v.id
    WHEN MATCHED THEN DELETE;
MERGE INTO attack_writes.leads l USING (VALUES (1)) v(id) ON l.id = v.id
    WHEN MATCHED THEN UPDATE SET controller = 'atk-wr-b';
MERGE INTO attack_writes.leads l USING (VALUES (20, 'x')) v(id, phone) ON l.id = v.id
    WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.phone, 'atk-wr-b');
:seen;
RESET SESSION AUTHORIZATION;

-- outside any context nothing can be written at all
SET SESSION AUTHORIZATION regress_attack_writes_anon;
INSERT INTO attack_writes.leads VALUES (21, 'x', 'atk-wr-b');
COPY attack_writes.leads FROM STDIN;
22	x	atk-wr-b
\.
WITH u AS (UPDATE attack_writes.leads SET phone = 'pwned' RETURNING id)
SELECT count(*) AS rows_updated FROM u;
RESET SESSION AUTHORIZATION;

-- a superuser's view: B's rows are as B wrote them, nothing was added
SELECT * FROM attack_writes.leads ORDER BY id;
SELECT count(*) AS batches FROM attack_writes.batches;

-------------------------------------------------------------------------------
-- 5. Triggers of the attacker's own.  GRANT ALL includes the TRIGGER
--    privilege, and a trigger runs in every session that writes the table,
--    in that session's context: an AFTER INSERT trigger would copy B's new
--    rows into a table A reads, and a BEFORE trigger firing after
--    phleet_stamp could re-tag A's COPY rows to B (COPY applies no WITH
--    CHECK).  phleet refuses CREATE TRIGGER on a governed table (and its
--    partitions) to all but the table owner and phleet_admin.
-------------------------------------------------------------------------------
GRANT TRIGGER ON attack_writes.leads, attack_writes.batches_1 TO regress_attack_writes_app;
CREATE SCHEMA attack_writes_app AUTHORIZATION regress_attack_writes_app;
SET SESSION AUTHORIZATION regress_attack_writes_app;
CREATE TABLE attack_writes_app.loot (LIKE attack_writes.leads);
GRANT INSERT ON attack_writes_app.loot TO PUBLIC;
CREATE FUNCTION attack_writes_app.siphon() RETURNS trigger LANGUAGE plpgsql
    AS 'BEGIN INSERT INTO attack_writes_app.loot SELECT NEW.*; RETURN NEW; END';
CREATE FUNCTION attack_writes_app.retag() RETURNS trigger LANGUAGE plpgsql
    AS $$BEGIN NEW.controller := 'atk-wr-b'; RETURN NEW; END$$;
CREATE TRIGGER zz_siphon AFTER INSERT ON attack_writes.leads
    FOR EACH ROW EXECUTE FUNCTION attack_writes_app.siphon();
CREATE TRIGGER zz_retag BEFORE INSERT ON attack_writes.leads
    FOR EACH ROW EXECUTE FUNCTION attack_writes_app.retag();
CREATE OR REPLACE TRIGGER zz_retag BEFORE INSERT ON attack_writes.leads
    FOR EACH ROW EXECUTE FUNCTION attack_writes_app.retag();
CREATE CONSTRAINT TRIGGER zz_siphon AFTER INSERT ON attack_writes.leads
    FOR EACH ROW EXECUTE FUNCTION attack_writes_app.siphon();
CREATE TRIGGER zz_retag BEFORE INSERT ON attack_writes.batches_1
    FOR EACH ROW EXECUTE FUNCTION attack_writes_app.retag();
RESET SESSION AUTHORIZATION;
-- B keeps writing; nothing of it reaches A
BEGIN;
SELECT phleet.enter('atk-wr-b');
INSERT INTO attack_writes.leads VALUES (5, '+1555000205');
COMMIT;
SELECT count(*) AS looted FROM attack_writes_app.loot;
SELECT count(*) AS triggers_on_leads FROM pg_trigger
 WHERE tgrelid = 'attack_writes.leads'::regclass AND NOT tgisinternal;
-- the owner may still add triggers of its own
SET ROLE regress_attack_writes_owner;
CREATE FUNCTION attack_writes.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER owners_own BEFORE INSERT ON attack_writes.leads
    FOR EACH ROW EXECUTE FUNCTION attack_writes.noop();
DROP TRIGGER owners_own ON attack_writes.leads;
RESET ROLE;

-------------------------------------------------------------------------------
-- 6. Foreign keys of the attacker's own.  GRANT ALL includes REFERENCES, and
--    a foreign key sees every controller's rows and holds them: a table of
--    A's pointing at B's keys would learn which exist and block every later
--    DELETE of them, B's own and a superuser's retention purge alike.
--    phleet refuses a foreign key to a governed table to all but the table
--    owner and phleet_admin, however it is declared.
-------------------------------------------------------------------------------
GRANT REFERENCES ON attack_writes.leads TO regress_attack_writes_app;
SET SESSION AUTHORIZATION regress_attack_writes_app;
CREATE TABLE attack_writes_app.pins (lead_id int REFERENCES attack_writes.leads);
CREATE TABLE attack_writes_app.pins (lead_id int, FOREIGN KEY (lead_id) REFERENCES attack_writes.leads (id) NOT VALID);
CREATE TABLE attack_writes_app.pins (lead_id int);
ALTER TABLE attack_writes_app.pins ADD FOREIGN KEY (lead_id) REFERENCES attack_writes.leads;
ALTER TABLE attack_writes_app.pins ADD COLUMN other_id int REFERENCES attack_writes.leads;
RESET SESSION AUTHORIZATION;
-- B can still delete its rows
BEGIN;
SELECT phleet.enter('atk-wr-b');
DELETE FROM attack_writes.leads WHERE id = 5 RETURNING id;
COMMIT;

-------------------------------------------------------------------------------
-- Control: the usual hand-rolled setup makes COPY work by letting the
-- application own its table (RLS on current_setting('app.controller') does
-- not apply to the owner; with FORCE, PostgreSQL refuses COPY FROM
-- altogether) and stamps NULLs in a PL/pgSQL trigger.  The same COPY of a
-- row tagged B then succeeds.
-------------------------------------------------------------------------------
CREATE TABLE attack_writes.handrolled (id int, controller text NOT NULL);
ALTER TABLE attack_writes.handrolled ENABLE ROW LEVEL SECURITY;
CREATE POLICY handrolled_isolation ON attack_writes.handrolled
    USING (controller = current_setting('app.controller', true));
CREATE FUNCTION attack_writes.handrolled_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.controller := coalesce(NEW.controller, current_setting('app.controller', true));
    RETURN NEW;
END $$;
CREATE TRIGGER handrolled_stamp BEFORE INSERT OR UPDATE ON attack_writes.handrolled
    FOR EACH ROW EXECUTE FUNCTION attack_writes.handrolled_stamp();
-- a role subject to its policy (FORCE) cannot COPY at all
ALTER TABLE attack_writes.handrolled FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON attack_writes.handrolled TO regress_attack_writes_app;
SET SESSION AUTHORIZATION regress_attack_writes_app;
SET app.controller = 'atk-wr-a';
COPY attack_writes.handrolled FROM STDIN;
1	atk-wr-a
\.
RESET SESSION AUTHORIZATION;
-- so the application owns it, and the attack succeeds
ALTER TABLE attack_writes.handrolled NO FORCE ROW LEVEL SECURITY;
ALTER TABLE attack_writes.handrolled OWNER TO regress_attack_writes_app;
SET SESSION AUTHORIZATION regress_attack_writes_app;
SET app.controller = 'atk-wr-a';
COPY attack_writes.handrolled FROM STDIN;
2	\N
3	atk-wr-b
\.
RESET SESSION AUTHORIZATION;
SELECT * FROM attack_writes.handrolled ORDER BY id;

-------------------------------------------------------------------------------
-- Side channels (document-only): existence probes through keys.
-- Unique and foreign-key checks look at every row, other controllers'
-- included.  With keys that do not lead with the controller column, A can
-- learn that B has a given key.  Keys that lead with it close both probes.
-------------------------------------------------------------------------------
-- the leaky design: keys on id alone
CREATE TABLE attack_writes.accounts (id int PRIMARY KEY, name text);
CREATE TABLE attack_writes.calls (id int PRIMARY KEY, account_id int REFERENCES attack_writes.accounts);
SELECT phleet.govern('attack_writes.accounts'), phleet.govern('attack_writes.calls');
GRANT SELECT, INSERT ON attack_writes.accounts, attack_writes.calls TO regress_attack_writes_app;
BEGIN;
SELECT phleet.enter('atk-wr-b');
INSERT INTO attack_writes.accounts VALUES (30, 'B''s customer');
COMMIT;
SET SESSION AUTHORIZATION regress_attack_writes_app;
SELECT count(*) AS visible_accounts FROM attack_writes.accounts;
-- unique probe: the key is taken, so B has account 30 (PostgreSQL omits the
-- key values from the error under row-level security, the fact remains)
INSERT INTO attack_writes.accounts VALUES (30, 'probe');
INSERT INTO attack_writes.accounts VALUES (30, 'probe') ON CONFLICT DO NOTHING RETURNING id;
-- foreign-key probe: a reference to B's invisible account is accepted, a
-- reference to a missing one is not
INSERT INTO attack_writes.calls VALUES (1, 30);
INSERT INTO attack_writes.calls VALUES (2, 99);
RESET SESSION AUTHORIZATION;
-- the safe design: every key leads with the controller column
CREATE TABLE attack_writes.accounts2 (id int, name text);
CREATE TABLE attack_writes.calls2 (id int, account_id int);
SELECT phleet.govern('attack_writes.accounts2'), phleet.govern('attack_writes.calls2');
ALTER TABLE attack_writes.accounts2 ADD PRIMARY KEY (controller, id);
ALTER TABLE attack_writes.calls2 ADD PRIMARY KEY (controller, id),
    ADD FOREIGN KEY (controller, account_id) REFERENCES attack_writes.accounts2 (controller, id);
GRANT SELECT, INSERT ON attack_writes.accounts2, attack_writes.calls2 TO regress_attack_writes_app;
BEGIN;
SELECT phleet.enter('atk-wr-b');
INSERT INTO attack_writes.accounts2 VALUES (30, 'B''s customer'), (31, 'B''s other customer');
COMMIT;
SET SESSION AUTHORIZATION regress_attack_writes_app;
-- no unique probe: A's account 30 is a different key from B's
INSERT INTO attack_writes.accounts2 VALUES (30, 'A''s own customer') RETURNING id, controller;
-- no foreign-key probe: B's 31 and a missing 99 give the same answer
INSERT INTO attack_writes.calls2 VALUES (1, 31);
INSERT INTO attack_writes.calls2 VALUES (2, 99);
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- Side channel (document-only): referential actions run as the table owner
-- without row-level security.  A governed table referencing a shared,
-- ungoverned table with ON DELETE CASCADE loses B's rows when A deletes the
-- shared row.  (ON UPDATE CASCADE and SET NULL would change B's rows and are
-- refused by the stamp trigger, which also tells A that B has such rows.)
-- Design: ON DELETE RESTRICT towards shared tables, or let only admins
-- delete from them.
-------------------------------------------------------------------------------
CREATE TABLE attack_writes.campaigns (id int PRIMARY KEY);
CREATE TABLE attack_writes.optins (id int, campaign_id int REFERENCES attack_writes.campaigns ON DELETE CASCADE);
ALTER TABLE attack_writes.optins OWNER TO regress_attack_writes_owner;
SELECT phleet.govern('attack_writes.optins');
GRANT SELECT, DELETE ON attack_writes.campaigns TO regress_attack_writes_app;
INSERT INTO attack_writes.campaigns VALUES (1);
BEGIN;
SELECT phleet.enter('atk-wr-b');
INSERT INTO attack_writes.optins VALUES (1, 1), (2, 1);
COMMIT;
SET SESSION AUTHORIZATION regress_attack_writes_app;
DELETE FROM attack_writes.campaigns WHERE id = 1;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS b_optins_left FROM attack_writes.optins;

DROP SCHEMA attack_writes, attack_writes_app CASCADE;
SELECT phleet.unbind_role('regress_attack_writes_app');
DROP ROLE regress_attack_writes_app, regress_attack_writes_anon, regress_attack_writes_owner;
