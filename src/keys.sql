
-------------------------------------------------------------------------------
-- keys: per-controller keys wrapped under the master key
-------------------------------------------------------------------------------

CREATE TABLE phleet.controller_keys (
    controller    text PRIMARY KEY REFERENCES phleet.controllers (handle) ON DELETE CASCADE,
    wrapped_key   bytea CHECK (pg_catalog.length(wrapped_key) = 61),
    master_key_id text,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    rewrapped_at  timestamptz,
    forgotten_at  timestamptz,
    CONSTRAINT controller_keys_state_check
        CHECK ((wrapped_key IS NULL) = (forgotten_at IS NOT NULL)
               AND (wrapped_key IS NULL) = (master_key_id IS NULL))
);
COMMENT ON TABLE phleet.controller_keys IS
    'Each controller''s random 256-bit key, wrapped (AES-256-GCM) under the master key kept outside the database; NULL once forgotten';
COMMENT ON COLUMN phleet.controller_keys.wrapped_key IS
    'version byte, 12-byte nonce, encrypted key, 16-byte tag; associated data: the controller handle';
COMMENT ON COLUMN phleet.controller_keys.master_key_id IS
    'Id of the master key the key is wrapped under (first 8 bytes of a SHA-256 of it, hex)';
REVOKE ALL ON phleet.controller_keys FROM PUBLIC;
-- admins may see which keys exist and under which master key, never the keys
GRANT SELECT (controller, master_key_id, created_at, rewrapped_at, forgotten_at)
    ON phleet.controller_keys TO phleet_admin;
SELECT pg_catalog.pg_extension_config_dump('phleet.controller_keys', '');

CREATE TRIGGER keys_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON phleet.controller_keys
    FOR EACH STATEMENT EXECUTE FUNCTION phleet.cache_changed();
COMMENT ON TRIGGER keys_changed ON phleet.controller_keys IS
    'phleet: backends drop their cached keys when keys change';

CREATE FUNCTION phleet.controller_key_create() RETURNS trigger
    AS 'MODULE_PATHNAME', 'phleet_controller_key_create'
    LANGUAGE C;
COMMENT ON FUNCTION phleet.controller_key_create() IS
    'Trigger: gives a new controller its key (rows loaded by COPY bring their own)';
CREATE TRIGGER controller_key_create
    AFTER INSERT ON phleet.controllers
    FOR EACH ROW EXECUTE FUNCTION phleet.controller_key_create();
COMMENT ON TRIGGER controller_key_create ON phleet.controllers IS
    'phleet: a new controller gets its key';

CREATE FUNCTION phleet.rewrap_keys()
RETURNS integer
AS 'MODULE_PATHNAME', 'phleet_rewrap_keys'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION phleet.rewrap_keys() IS
    'Re-wrap every controller key under the current master key (keys under phleet.previous_master_key_file are read with it) and create missing keys; returns the number of keys written';

CREATE FUNCTION phleet.controller_forget(handle text)
RETURNS void
AS 'MODULE_PATHNAME', 'phleet_controller_forget'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION phleet.controller_forget(text) IS
    'Crypto-shredding: destroy a controller''s key and vault; its pseudonyms can no longer be computed, linked or revealed (irreversible)';

REVOKE ALL ON FUNCTION phleet.rewrap_keys(), phleet.controller_forget(text),
    phleet.controller_key_create() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION phleet.rewrap_keys(), phleet.controller_forget(text) TO phleet_admin;
