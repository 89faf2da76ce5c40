-- Signed context tokens: phleet.set_token_secret, mint_token, enter_token.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;
SELECT current_user AS regress_super \gset

CREATE ROLE regress_tokens_admin IN ROLE phleet_admin;
CREATE ROLE regress_tokens_app;
CREATE ROLE regress_tokens_bound LOGIN;
SET ROLE regress_tokens_admin;
SELECT phleet.controller_create('tok-a'), phleet.controller_create('tok-b'),
       phleet.controller_create('tok-gone');
SELECT phleet.bind_role('regress_tokens_bound', 'tok-b');
RESET ROLE;

-- A token signed by hand, as an outside authority holding the secret would:
--   phleet1.<handle>.<expiry>.<unpadded base64url of HMAC-SHA256(secret, "phleet1.<handle>.<expiry>")>
CREATE FUNCTION tokens_sign(msg text, secret bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT msg || '.' || translate(rtrim(encode(hmac(convert_to(msg, 'UTF8'), secret, 'sha256'), 'base64'), '='), '+/', '-_') $$;

---------------------------------------------------------------------------
-- set_token_secret
---------------------------------------------------------------------------
SET ROLE regress_tokens_app;
SELECT phleet.set_token_secret();
SELECT phleet.set_token_secret(decode(repeat('00', 32), 'hex'));
SELECT * FROM phleet.token_secret;
RESET ROLE;

SET ROLE regress_tokens_admin;
-- random when NULL: 32 bytes, a new one each time
SELECT length(phleet.set_token_secret()) AS random_bytes;
SELECT length(phleet.set_token_secret(NULL)) AS random_bytes;
SELECT phleet.set_token_secret() <> phleet.set_token_secret() AS differ;
-- explicit: at least 32 bytes, returned as given
SELECT phleet.set_token_secret(decode(repeat('ab', 31), 'hex'));
SELECT phleet.set_token_secret(''::bytea);
SELECT phleet.set_token_secret(decode(repeat('5a', 48), 'hex')) = decode(repeat('5a', 48), 'hex') AS returned;
-- the admin holds the secret only through the return value
SELECT * FROM phleet.token_secret;
-- install a random secret and keep it, as the token authority would
SELECT phleet.set_token_secret() AS secret \gset
RESET ROLE;
SELECT secret = :'secret'::bytea AS stored, length(secret) AS bytes FROM phleet.token_secret;

---------------------------------------------------------------------------
-- mint_token
---------------------------------------------------------------------------
SET ROLE regress_tokens_app;
SELECT phleet.mint_token('tok-a', '5 minutes');
RESET ROLE;

SET ROLE regress_tokens_admin;
SELECT phleet.mint_token('tok-a', '5 minutes') AS tok_a \gset
SELECT :'tok_a' ~ '^phleet1\.tok-a\.[0-9]{10}\.[A-Za-z0-9_-]{43}$' AS well_formed;
-- the expiry is the current time plus ttl, rounded up to whole seconds
SELECT split_part(t, '.', 3)::bigint - extract(epoch FROM clock_timestamp()) BETWEEN 290 AND 301 AS expiry_ok
  FROM phleet.mint_token('tok-a', '5 minutes') t;
-- the signature is exactly the documented HMAC (recomputed here with pgcrypto)
SELECT tokens_sign(regexp_replace(:'tok_a', '\.[^.]*$', ''), :'secret'::bytea) = :'tok_a' AS documented_format;
-- bad arguments
SELECT phleet.mint_token('tok-a', '0');
SELECT phleet.mint_token('tok-a', '-1 minute');
SELECT phleet.mint_token('tok-a', '1 minute ago');
SELECT phleet.mint_token('tok-a', '40000 years');
SELECT phleet.mint_token('tok-nope', '5 minutes');
SELECT phleet.mint_token('Tok-A', '5 minutes');
SELECT phleet.mint_token('tok-a.x', '5 minutes');
SELECT phleet.mint_token(NULL, '5 minutes');
SELECT phleet.mint_token('tok-a', NULL);
SELECT phleet.mint_token('tok-gone', '5 minutes') AS tok_gone \gset
SELECT phleet.mint_token('tok-a', '1 millisecond') AS tok_short \gset
SELECT phleet.mint_token('tok-b', '5 minutes') AS tok_b \gset
RESET ROLE;

---------------------------------------------------------------------------
-- enter_token: any role; the context lasts until the end of the transaction
---------------------------------------------------------------------------
CREATE TABLE tokens_t (id int);
SELECT phleet.govern('tokens_t');
GRANT SELECT, INSERT ON tokens_t TO regress_tokens_app, regress_tokens_bound;

SET ROLE regress_tokens_app;
BEGIN;
SELECT phleet.enter_token(:'tok_a');
SELECT phleet.current_controller();
INSERT INTO tokens_t VALUES (1);
SELECT id, controller FROM tokens_t;
COMMIT;
SELECT phleet.current_controller() IS NULL AS ended_at_commit;
-- outside a transaction block it lasts for the statement only
SELECT phleet.enter_token(:'tok_a');
SELECT phleet.current_controller() IS NULL AS ended;

-- a token built by hand with the documented format is accepted
\set tok_hand phleet1.tok-a.4102444800
SELECT tokens_sign(:'tok_hand', :'secret'::bytea) AS tok_hand \gset
BEGIN;
SELECT phleet.enter_token(:'tok_hand');
SELECT id, controller FROM tokens_t;
-- a later token replaces the context (a failing one leaves it unchanged)
SELECT phleet.enter_token(:'tok_b');
SELECT phleet.current_controller();
SAVEPOINT s;
SELECT phleet.enter_token(:'tok_a' || 'x');
ROLLBACK TO SAVEPOINT s;
SELECT phleet.current_controller();
COMMIT;

-- malformed: not four fields, wrong version, bad handle, bad expiry, bad base64
\set sig AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
SELECT phleet.enter_token('');
SELECT phleet.enter_token('garbage');
SELECT phleet.enter_token('phleet1.tok-a.4102444800');
SELECT phleet.enter_token('phleet1.tok-a.4102444800.' || :'sig' || '.x');
SELECT phleet.enter_token('phleet1.tok-a.4102444800.' || :'sig' || '.');
SELECT phleet.enter_token('phleet2.tok-a.4102444800.' || :'sig');
SELECT phleet.enter_token('PHLEET1.tok-a.4102444800.' || :'sig');
SELECT phleet.enter_token('phleet1.Tok-A.4102444800.' || :'sig');
SELECT phleet.enter_token('phleet1..4102444800.' || :'sig');
SELECT phleet.enter_token('phleet1.' || repeat('a', 64) || '.4102444800.' || :'sig');
SELECT phleet.enter_token('phleet1.tok-a..' || :'sig');
SELECT phleet.enter_token('phleet1.tok-a.-4102444800.' || :'sig');
SELECT phleet.enter_token('phleet1.tok-a.41024448OO.' || :'sig');
SELECT phleet.enter_token('phleet1.tok-a.4102444800000.' || :'sig');
SELECT phleet.enter_token('phleet1.tok-a.4102444800.' || replace(:'sig', 'A', '+'));
SELECT phleet.enter_token('phleet1.tok-a.4102444800.' || :'sig' || '=');
SELECT phleet.enter_token('phleet1.tok-a.4102444800.' || :'sig' || 'A');
SELECT phleet.enter_token('phleet1.tok-a.4102444800.' || left(:'sig', 42) || 'B');  -- non-canonical last character
SELECT phleet.enter_token(repeat('x', 10000));

-- truncated: a signature shorter than 43 characters
SELECT phleet.enter_token(left(:'tok_hand', -1));
SELECT phleet.enter_token(left(:'tok_hand', -30));
SELECT phleet.enter_token(regexp_replace(:'tok_hand', '[^.]*$', ''));

-- forged: altered handle, altered expiry, altered signature, another secret
SELECT phleet.enter_token(replace(:'tok_hand', 'tok-a', 'tok-b'));
SELECT phleet.enter_token(replace(:'tok_hand', '4102444800', '4102444801'));
SELECT phleet.enter_token(regexp_replace(:'tok_hand', '[^.]*$', :'sig'));
SELECT phleet.enter_token(tokens_sign('phleet1.tok-a.4102444800', decode(repeat('5a', 48), 'hex')));
-- forged for a controller that does not exist: still "forged", nothing revealed
SELECT phleet.enter_token(replace(:'tok_hand', 'tok-a', 'tok-nope'));

-- expired: signed correctly, expiry in the past (the detail shows when)
SELECT phleet.enter_token(tokens_sign('phleet1.tok-a.1000000000', :'secret'::bytea));
SELECT phleet.enter_token(tokens_sign('phleet1.tok-a.0', :'secret'::bytea));
-- a minted token with a tiny lifetime, used after it
SELECT pg_sleep(1.1);
\set VERBOSITY terse
SELECT phleet.enter_token(:'tok_short');
\set VERBOSITY default

-- NULL
SELECT phleet.enter_token(NULL);
-- none of the failures above left a context behind
SELECT phleet.current_controller() IS NULL AS no_context;
RESET ROLE;

-- a signed token for a controller that was deleted after minting
DELETE FROM phleet.controllers WHERE handle = 'tok-gone';
SET ROLE regress_tokens_app;
SELECT phleet.enter_token(:'tok_gone');
SELECT phleet.enter_token(tokens_sign('phleet1.tok-nope.4102444800', :'secret'::bytea));
RESET ROLE;

-- a login role bound to a controller can enter only that controller's tokens
\c - regress_tokens_bound
SELECT phleet.enter_token(:'tok_a');
BEGIN;
SELECT phleet.enter_token(:'tok_b');
INSERT INTO tokens_t VALUES (2);
SELECT id, controller FROM tokens_t;
COMMIT;
\c - :regress_super

-- no secret (e.g. after a restore: it is not dumped): both ends refuse
DELETE FROM phleet.token_secret;
SET ROLE regress_tokens_admin;
SELECT phleet.mint_token('tok-a', '5 minutes');
SET ROLE regress_tokens_app;
SELECT phleet.enter_token(:'tok_a');
-- malformed tokens are still reported as such
SELECT phleet.enter_token('garbage');
RESET ROLE;
-- reinstalling the same secret brings the old tokens back
SET ROLE regress_tokens_admin;
SELECT phleet.set_token_secret(:'secret'::bytea) = :'secret'::bytea AS reinstalled;
SET ROLE regress_tokens_app;
BEGIN;
SELECT phleet.enter_token(:'tok_a');
COMMIT;
RESET ROLE;
-- a token sent as a literal is hidden from pg_stat_activity while it runs
BEGIN;
SELECT phleet.enter_token(:'tok_a') AS entered,
       (SELECT query FROM pg_stat_get_activity(pg_backend_pid())) AS activity;
COMMIT;
-- a new secret invalidates every token minted before
SET ROLE regress_tokens_admin;
SELECT length(phleet.set_token_secret()) AS new_secret;
SET ROLE regress_tokens_app;
SELECT phleet.enter_token(:'tok_a');
SELECT phleet.enter_token(:'tok_hand');
RESET ROLE;

SELECT phleet.unbind_role('regress_tokens_bound');
DROP TABLE tokens_t;
DROP FUNCTION tokens_sign(text, bytea);
DROP ROLE regress_tokens_admin, regress_tokens_app, regress_tokens_bound;
