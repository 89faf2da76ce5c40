
-------------------------------------------------------------------------------
-- context: entering and leaving a controller's context, tokens
-------------------------------------------------------------------------------

CREATE FUNCTION phleet.enter(controller text, for_session boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'phleet_enter'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION phleet.enter(text, boolean) IS
    'Act for a controller until the end of the transaction (or the session); for phleet_gateway members and roles bound to it';

CREATE FUNCTION phleet.leave()
RETURNS void
AS 'MODULE_PATHNAME', 'phleet_leave'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION phleet.leave() IS 'End the entered controller context';

CREATE TABLE phleet.token_secret (
    id         integer PRIMARY KEY CHECK (id = 1),
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- the database it was made for: a copy (CREATE DATABASE ... TEMPLATE)
    -- must not accept the original's tokens
    datid      oid NOT NULL
);
COMMENT ON TABLE phleet.token_secret IS
    'Installation secret that signs context tokens, and the database it belongs to; readable by no role but the extension owner, never dumped';
REVOKE ALL ON phleet.token_secret FROM PUBLIC;

CREATE FUNCTION phleet.set_token_secret(secret bytea DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'phleet_set_token_secret'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION phleet.set_token_secret(bytea) IS
    'Install the token secret (at least 32 bytes; random when NULL) and return it for the token authority';

CREATE FUNCTION phleet.mint_token(controller text, ttl interval)
RETURNS text
AS 'MODULE_PATHNAME', 'phleet_mint_token'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION phleet.mint_token(text, interval) IS
    'Sign a context token for a controller, valid for ttl: phleet1.<handle>.<expiry>.<base64url HMAC-SHA256>';

CREATE FUNCTION phleet.enter_token(token text)
RETURNS text
AS 'MODULE_PATHNAME', 'phleet_enter_token'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION phleet.enter_token(text) IS
    'Act for the controller a valid, unexpired token names, until the end of the transaction';

REVOKE ALL ON FUNCTION phleet.set_token_secret(bytea), phleet.mint_token(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION phleet.set_token_secret(bytea), phleet.mint_token(text, interval) TO phleet_admin;

-- A fresh installation gets a random secret; a restored one must set its own
-- (phleet.check() says so), which also invalidates tokens minted before.
SELECT phleet.set_token_secret();
