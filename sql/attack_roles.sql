-- Attack: act for controller B through roles, phleet.enter() or tokens.
--
-- The attacker is an application role (no SUPERUSER, no BYPASSRLS, not the
-- table owner) that may act for A at most.  It tries SET ROLE to a role
-- bound to B, phleet.enter('B') without the right, and phleet.enter_token()
-- with forged, expired, truncated and malformed tokens.  Each must fail with
-- its own error and leave no context behind: the binding of the session's
-- login role wins over any role it switches to, enter() requires
-- phleet_gateway or a binding to that controller, and a token is accepted
-- only with an HMAC-SHA256 under the installation secret and a future expiry.
-- Last, what PostgreSQL 15's CREATEROLE lets a role do (documented, not
-- closed by phleet).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

SELECT phleet.controller_create('atk-rol-a'), phleet.controller_create('atk-rol-b');
CREATE ROLE regress_attack_roles_owner NOLOGIN;
CREATE ROLE regress_attack_roles_b NOLOGIN;         -- bound to B
CREATE ROLE regress_attack_roles_app LOGIN;         -- bound to A, member of the B role
CREATE ROLE regress_attack_roles_anon LOGIN;        -- bound to nothing, no gateway
SELECT phleet.bind_role('regress_attack_roles_b', 'atk-rol-b');
SELECT phleet.bind_role('regress_attack_roles_app', 'atk-rol-a');
GRANT regress_attack_roles_b TO regress_attack_roles_app;
CREATE SCHEMA attack_roles AUTHORIZATION regress_attack_roles_owner;
GRANT USAGE ON SCHEMA attack_roles TO PUBLIC;
CREATE TABLE attack_roles.leads (id int PRIMARY KEY, phone text);
ALTER TABLE attack_roles.leads OWNER TO regress_attack_roles_owner;
SELECT phleet.govern('attack_roles.leads');
GRANT SELECT, INSERT, UPDATE, DELETE ON attack_roles.leads
    TO regress_attack_roles_b, regress_attack_roles_app, regress_attack_roles_anon;
BEGIN;
SELECT phleet.enter('atk-rol-a');
INSERT INTO attack_roles.leads VALUES (1, '+1555000101'), (2, '+1555000102');
SELECT phleet.enter('atk-rol-b');
INSERT INTO attack_roles.leads VALUES (3, '+1555000203'), (4, '+1555000204');
COMMIT;

\set seen 'SELECT phleet.current_controller() AS ctx, count(*) AS rows, count(*) FILTER (WHERE controller = ''atk-rol-b'') AS b_rows FROM attack_roles.leads'

-------------------------------------------------------------------------------
-- 1. SET ROLE to a role bound to B
-------------------------------------------------------------------------------
-- not a member: PostgreSQL refuses the switch itself
SET SESSION AUTHORIZATION regress_attack_roles_anon;
SET ROLE regress_attack_roles_b;
:seen;
RESET SESSION AUTHORIZATION;
-- a login role bound to A that IS a member of the B role: the switch
-- succeeds, but the context is the login role's, so it stays A
SET SESSION AUTHORIZATION regress_attack_roles_app;
SET ROLE regress_attack_roles_b;
SELECT current_user, session_user;
:seen;
SELECT phleet.enter('atk-rol-b');
INSERT INTO attack_roles.leads VALUES (9, 'x', 'atk-rol-b');
RESET ROLE;
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- 2. phleet.enter() without the right
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_attack_roles_anon;
SELECT phleet.enter('atk-rol-b');
SELECT phleet.enter('atk-rol-b', for_session => true);
:seen;
-- nor can it mint a token or read or replace the secret that signs them
SELECT phleet.mint_token('atk-rol-b', '1 hour');
SELECT phleet.set_token_secret(NULL);
SELECT secret FROM phleet.token_secret;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_attack_roles_app;
SELECT phleet.enter('atk-rol-b', for_session => true);
:seen;
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- 3. Tokens: forged, expired, truncated, malformed
-------------------------------------------------------------------------------
-- sign(msg, key) builds a token exactly as the format documents it:
-- msg || '.' || base64url(HMAC-SHA256(key, msg)), unpadded.
CREATE FUNCTION attack_roles.sign(msg text, key bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT msg || '.' || rtrim(translate(encode(hmac(convert_to(msg, 'UTF8'), key, 'sha256'), 'base64'), '+/', '-_'), '=') $$;
SELECT phleet.mint_token('atk-rol-a', '1 hour') AS tok_a \gset
SELECT split_part(:'tok_a', '.', 3) AS exp_a, split_part(:'tok_a', '.', 4) AS sig_a \gset
SELECT secret AS real_secret FROM phleet.token_secret \gset
-- the tokens the attacker tries (never printed: they change on every run)
SELECT 'phleet1.atk-rol-b.' || :'exp_a' || '.' || :'sig_a' AS changed_handle,
       'phleet1.atk-rol-a.' || (:'exp_a'::bigint + 86400) || '.' || :'sig_a' AS changed_expiry,
       attack_roles.sign('phleet1.atk-rol-b.' || :'exp_a', decode(repeat('5a', 32), 'hex')) AS other_secret,
       attack_roles.sign('phleet1.atk-rol-a.1000000000', :'real_secret') AS expired,
       left(:'tok_a', length(:'tok_a') - 1) AS truncated,
       attack_roles.sign('phleet1.atk-rol-zz.' || :'exp_a', :'real_secret') AS unknown_controller,
       attack_roles.sign('phleet1.atk-rol-b.' || :'exp_a', :'real_secret') AS genuine_b
\gset
-- only the primary messages matter here (each failure has its own)
\set VERBOSITY terse
-- control: sign() is right; with the real secret a B token works
SET SESSION AUTHORIZATION regress_attack_roles_anon;
BEGIN;
SELECT phleet.enter_token(:'genuine_b');
:seen;
ROLLBACK;
-- the attacks, each from inside A's context entered with A's own token
BEGIN;
SELECT phleet.enter_token(:'tok_a');
:seen;
SAVEPOINT s;
SELECT phleet.enter_token(:'changed_handle');          -- A's token, handle changed to B
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(:'changed_expiry');          -- A's token, expiry pushed back
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(:'other_secret');            -- B token signed with another key
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(:'expired');                 -- genuine signature, expired
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(:'truncated');               -- last character cut off
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(left(:'tok_a', 20));         -- cut in the middle
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(:'tok_a' || 'A');            -- one character too many
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(replace(:'tok_a', 'phleet1', 'phleet2'));
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(:'tok_a' || '.x');           -- a fifth field
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token(:'unknown_controller');      -- genuine, no such controller
ROLLBACK TO SAVEPOINT s;
SELECT phleet.enter_token('');
ROLLBACK TO SAVEPOINT s;
:seen;
COMMIT;
-- outside any context, a failed token leaves none
SELECT phleet.enter_token(:'changed_handle');
:seen;
RESET SESSION AUTHORIZATION;
-- a genuine B token is useless to a login role bound to A
SET SESSION AUTHORIZATION regress_attack_roles_app;
SELECT phleet.enter_token(:'genuine_b');
:seen;
RESET SESSION AUTHORIZATION;

\set VERBOSITY default

-------------------------------------------------------------------------------
-- 4. CREATEROLE (PostgreSQL 15): documented, not closed by phleet.
--    A CREATEROLE role may grant itself any non-superuser role.  Granting
--    itself the table owner's role gains nothing while FORCE ROW LEVEL
--    SECURITY and phleet's policy are in place: the owner is filtered like
--    anyone else.  But an owner may ALTER the table (NO FORCE, DROP POLICY,
--    DISABLE TRIGGER), and phleet_gateway is a role like any other, so in
--    PostgreSQL 15 CREATEROLE must be treated as equivalent to superuser:
--    never give it to an application role.  (PostgreSQL 16 requires ADMIN
--    OPTION on a role to grant it.)
-------------------------------------------------------------------------------
CREATE ROLE regress_attack_roles_cr LOGIN CREATEROLE;
SET SESSION AUTHORIZATION regress_attack_roles_cr;
GRANT regress_attack_roles_owner TO regress_attack_roles_cr;
SET ROLE regress_attack_roles_owner;
:seen;
BEGIN;
ALTER TABLE attack_roles.leads NO FORCE ROW LEVEL SECURITY;
:seen;
ROLLBACK;
RESET ROLE;
GRANT phleet_gateway TO regress_attack_roles_cr;
BEGIN;
SELECT phleet.enter('atk-rol-b');
SELECT count(*) AS b_rows_via_gateway FROM attack_roles.leads;
ROLLBACK;
RESET SESSION AUTHORIZATION;

DROP SCHEMA attack_roles CASCADE;
SELECT phleet.unbind_role('regress_attack_roles_app'), phleet.unbind_role('regress_attack_roles_b');
DROP ROLE regress_attack_roles_cr, regress_attack_roles_app, regress_attack_roles_anon,
    regress_attack_roles_b, regress_attack_roles_owner;
