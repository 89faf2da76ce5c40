-- Attack: slip an operator of one's own into what phleet runs as the owner
-- of its tables (the extension owner, a superuser).
--
-- forget() and reveal() read and write phleet.vault through SPI as that
-- owner.  An application role that can create objects in some schema
-- defines "=" for uuid and text there and puts that schema before
-- pg_catalog in its search_path: had phleet's queries resolved names
-- through the caller's search_path, the operator's function would have run
-- as a superuser (ALTER ROLE ... SUPERUSER).  phleet runs them with
-- search_path pg_catalog, pg_temp and qualified operators, and puts the
-- caller's search_path back afterwards.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-sp-a');
CREATE ROLE regress_attack_sp_app LOGIN IN ROLE phleet_gateway;    -- may CREATE in its schema
CREATE ROLE regress_attack_sp_agent LOGIN IN ROLE phleet_gateway, phleet_reveal;
CREATE SCHEMA attack_sp AUTHORIZATION regress_attack_sp_app;
GRANT USAGE ON SCHEMA attack_sp TO regress_attack_sp_agent;
-- vault entries, so that a query of the vault that used the attacker's "="
-- (no index serves it) would call it for each of them
CREATE TABLE attack_sp_leads (id int PRIMARY KEY, phone text);
SELECT phleet.govern('attack_sp_leads');
SELECT phleet.classify('attack_sp_leads', 'phone', 'communication', 'phone', reveal => true);
BEGIN;
SELECT phleet.enter('atk-sp-a') IS NOT NULL AS entered;
INSERT INTO attack_sp_leads VALUES (1, '+1 555 000 0101'), (2, '+1 555 000 0102');
COMMIT;

SET ROLE regress_attack_sp_app;
CREATE TABLE attack_sp.ran (who name, as_super boolean);
GRANT INSERT ON attack_sp.ran TO PUBLIC;
CREATE FUNCTION attack_sp.evil_eq(anyelement, anyelement) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack_sp.ran SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
    BEGIN
        EXECUTE 'ALTER ROLE regress_attack_sp_app SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE FUNCTION attack_sp.evil_uuid(uuid, uuid) RETURNS boolean LANGUAGE sql
    AS $$ SELECT attack_sp.evil_eq($1, $2) $$;
CREATE FUNCTION attack_sp.evil_text(text, text) RETURNS boolean LANGUAGE sql
    AS $$ SELECT attack_sp.evil_eq($1, $2) $$;
CREATE OPERATOR attack_sp.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = attack_sp.evil_uuid);
CREATE OPERATOR attack_sp.= (LEFTARG = text, RIGHTARG = text, FUNCTION = attack_sp.evil_text);
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA attack_sp TO PUBLIC;

-- forget(), through every query it runs as the owner
SELECT phleet.enter('atk-sp-a', for_session => true);
SET search_path = attack_sp, pg_catalog;
SELECT phleet.forget('+1 555 000 0101', 'phone') AS forgotten;   -- its vault entry goes
SHOW search_path;                                   -- the caller's, put back
RESET ROLE;

-- reveal(), by a member of phleet_reveal with the same search_path
SET ROLE regress_attack_sp_agent;
SELECT phleet.enter('atk-sp-a', for_session => true);
SET search_path = attack_sp, pg_catalog;
SELECT phleet.reveal(phleet.pseudonym('+1 555 000 0102', 'phone')) AS revealed;
SHOW search_path;
RESET search_path;
SELECT phleet.leave();
RESET ROLE;

-- the operator never ran as a superuser (nor at all), and nobody became one
SELECT count(*) AS evil_runs, count(*) FILTER (WHERE as_super) AS as_superuser FROM attack_sp.ran;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 'regress_attack_sp%' ORDER BY 1;
SELECT action, outcome FROM phleet.audit_log WHERE controller = 'atk-sp-a' ORDER BY at, action;

DROP SCHEMA attack_sp CASCADE;
DROP TABLE attack_sp_leads;
DROP ROLE regress_attack_sp_app, regress_attack_sp_agent;
