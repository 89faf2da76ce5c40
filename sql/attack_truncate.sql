-- Attack: empty controller B's rows with TRUNCATE.
--
-- TRUNCATE ignores row-level security: a role with the TRUNCATE privilege
-- removes every controller's rows at once.  The attacker is an application
-- role (no SUPERUSER, no BYPASSRLS, not the table owner) bound to A and
-- GRANTed TRUNCATE on everything, so that only phleet can stop it.  It
-- truncates a governed table directly, a partitioned governed table through
-- its parent and through one partition, and a governed table reached by
-- TRUNCATE ... CASCADE from an ungoverned table it references.  phleet's
-- object access hook (OAT_TRUNCATE, raised for every relation a TRUNCATE
-- empties) refuses each one to all but members of phleet_admin, also inside
-- a SECURITY DEFINER function of the table owner.  A superuser then counts
-- the rows: all still there.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-tr-a'), phleet.controller_create('atk-tr-b');
CREATE ROLE regress_attack_truncate_owner NOLOGIN;
CREATE ROLE regress_attack_truncate_app LOGIN;       -- bound to A
CREATE ROLE regress_attack_truncate_admin LOGIN IN ROLE phleet_admin;
SELECT phleet.bind_role('regress_attack_truncate_app', 'atk-tr-a');
CREATE SCHEMA attack_truncate AUTHORIZATION regress_attack_truncate_owner;
GRANT USAGE ON SCHEMA attack_truncate TO PUBLIC;
CREATE TABLE attack_truncate.leads (id int PRIMARY KEY, phone text);
CREATE TABLE attack_truncate.parted (id int, phone text) PARTITION BY RANGE (id);
CREATE TABLE attack_truncate.parted_1 PARTITION OF attack_truncate.parted FOR VALUES FROM (0) TO (100);
CREATE TABLE attack_truncate.campaigns (id int PRIMARY KEY);            -- shared, ungoverned
CREATE TABLE attack_truncate.optins (id int, campaign_id int REFERENCES attack_truncate.campaigns);
SELECT phleet.govern('attack_truncate.leads'), phleet.govern('attack_truncate.parted'),
       phleet.govern('attack_truncate.optins');
-- a partition attached after govern() is governed too
CREATE TABLE attack_truncate.parted_2 PARTITION OF attack_truncate.parted FOR VALUES FROM (100) TO (200);
ALTER TABLE attack_truncate.leads OWNER TO regress_attack_truncate_owner;
ALTER TABLE attack_truncate.optins OWNER TO regress_attack_truncate_owner;
GRANT ALL ON ALL TABLES IN SCHEMA attack_truncate TO regress_attack_truncate_app;
INSERT INTO attack_truncate.campaigns VALUES (1);
BEGIN;
SELECT phleet.enter('atk-tr-a');
INSERT INTO attack_truncate.leads VALUES (1, '+1555000101');
INSERT INTO attack_truncate.parted (id) VALUES (1), (101);
INSERT INTO attack_truncate.optins VALUES (1, 1);
SELECT phleet.enter('atk-tr-b');
INSERT INTO attack_truncate.leads VALUES (3, '+1555000203');
INSERT INTO attack_truncate.parted (id) VALUES (2), (102);
INSERT INTO attack_truncate.optins VALUES (2, 1);
COMMIT;
-- the table owner's SECURITY DEFINER function (the owner is not an admin)
CREATE FUNCTION attack_truncate.reset_leads() RETURNS void LANGUAGE sql SECURITY DEFINER
    AS 'TRUNCATE attack_truncate.leads';
ALTER FUNCTION attack_truncate.reset_leads() OWNER TO regress_attack_truncate_owner;
-- and a superuser's SECURITY DEFINER function: the session is not an admin
CREATE FUNCTION attack_truncate.su_reset_leads() RETURNS void LANGUAGE sql SECURITY DEFINER
    AS 'TRUNCATE attack_truncate.leads';
GRANT EXECUTE ON FUNCTION attack_truncate.su_reset_leads() TO PUBLIC;

\set rows 'SELECT (SELECT count(*) FROM attack_truncate.leads) AS leads, (SELECT count(*) FROM attack_truncate.parted) AS parted, (SELECT count(*) FROM attack_truncate.optins) AS optins, (SELECT count(*) FROM attack_truncate.campaigns) AS campaigns'

SET SESSION AUTHORIZATION regress_attack_truncate_app;
TRUNCATE attack_truncate.leads;
TRUNCATE attack_truncate.leads RESTART IDENTITY;
TRUNCATE attack_truncate.parted;
TRUNCATE attack_truncate.parted_1;
TRUNCATE attack_truncate.parted_2;
TRUNCATE attack_truncate.campaigns;             -- plain FK error: needs CASCADE
TRUNCATE attack_truncate.campaigns CASCADE;     -- reaches optins
TRUNCATE attack_truncate.campaigns, attack_truncate.optins;
SELECT attack_truncate.reset_leads();
SELECT attack_truncate.su_reset_leads();
-- inside its context it is refused just the same
BEGIN;
SELECT phleet.current_controller();
TRUNCATE attack_truncate.leads;
ROLLBACK;
RESET SESSION AUTHORIZATION;
-- a superuser counts: nothing was removed
:rows;

-- phleet_admin may (the guard is about rights, not about TRUNCATE itself)
GRANT TRUNCATE ON ALL TABLES IN SCHEMA attack_truncate TO regress_attack_truncate_admin;
SET SESSION AUTHORIZATION regress_attack_truncate_admin;
BEGIN;
TRUNCATE attack_truncate.leads, attack_truncate.parted;
ROLLBACK;
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- Control: the usual hand-rolled setup (forced RLS on
-- current_setting('app.controller')) loses B's rows to the same TRUNCATE.
-------------------------------------------------------------------------------
CREATE TABLE attack_truncate.handrolled (id int, controller text NOT NULL);
ALTER TABLE attack_truncate.handrolled OWNER TO regress_attack_truncate_owner;
ALTER TABLE attack_truncate.handrolled ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY handrolled_isolation ON attack_truncate.handrolled
    USING (controller = current_setting('app.controller', true));
INSERT INTO attack_truncate.handrolled VALUES (1, 'atk-tr-a'), (3, 'atk-tr-b');
GRANT ALL ON attack_truncate.handrolled TO regress_attack_truncate_app;
SET SESSION AUTHORIZATION regress_attack_truncate_app;
SET app.controller = 'atk-tr-a';
TRUNCATE attack_truncate.handrolled;            -- the attack: succeeds here
RESET SESSION AUTHORIZATION;
SELECT count(*) AS handrolled_rows_left FROM attack_truncate.handrolled;

DROP SCHEMA attack_truncate CASCADE;
SELECT phleet.unbind_role('regress_attack_truncate_app');
DROP ROLE regress_attack_truncate_app, regress_attack_truncate_admin, regress_attack_truncate_owner;
