
-------------------------------------------------------------------------------
-- vault: encrypted originals of revealable identifiers, reveal and its audit
-------------------------------------------------------------------------------

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'phleet_reveal') THEN
        CREATE ROLE phleet_reveal NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE phleet_reveal IS 'phleet: may reveal the identifier behind a pseudonym (every call is audited)';

-- no foreign key to phleet.controllers: its check would cost a query per entry
-- keyed by the pseudonym's 128-bit MAC (16 bytes, compared with memcmp) rather
-- than its 38-character text: a third of the index, and cheap comparisons
CREATE TABLE phleet.vault (
    mac        uuid NOT NULL,
    controller text COLLATE "C" NOT NULL,
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (mac, controller)
);
COMMENT ON TABLE phleet.vault IS
    'Normalized identifiers of columns classified with reveal => true, encrypted (AES-256-GCM) under their controller''s vault key; readable by no role';
COMMENT ON COLUMN phleet.vault.mac IS
    'The 128-bit MAC a pseudonym encodes (the first 16 of the 20 bytes written in its base32 part), as a uuid';
COMMENT ON COLUMN phleet.vault.sealed IS
    'version byte, 12-byte nonce, ciphertext, 16-byte tag; associated data: controller and pseudonym';
REVOKE ALL ON phleet.vault FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('phleet.vault', '');

CREATE TABLE phleet.audit_log (
    at           timestamptz NOT NULL,
    session_role text NOT NULL,
    role_name    text NOT NULL,
    controller   text,
    action       text NOT NULL CHECK (action IN ('reveal', 'forget')),
    pseudonym    text,
    outcome      text NOT NULL CHECK (outcome IN ('revealed', 'denied', 'no_context', 'malformed',
                                                  'forgotten', 'not_this_controller', 'not_in_vault',
                                                  'corrupted', 'error')),
    backend_pid  integer NOT NULL
);
CREATE INDEX ON phleet.audit_log (at);
COMMENT ON TABLE phleet.audit_log IS
    'Every phleet.reveal() call (committed before it returns or fails) and every phleet.forget() that commits (in its transaction; a refused or rolled-back forget() changes nothing and leaves no row): who, when, controller, pseudonym, outcome; never an identifier';
REVOKE ALL ON phleet.audit_log FROM PUBLIC;
GRANT SELECT ON phleet.audit_log TO phleet_admin;
SELECT pg_catalog.pg_extension_config_dump('phleet.audit_log', '');

CREATE FUNCTION phleet.reveal(pseudonym text)
RETURNS text
AS 'MODULE_PATHNAME', 'phleet_reveal'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION phleet.reveal(text) IS
    'Normalized identifier behind a pseudonym of the current controller (reveal columns only); for members of phleet_reveal; every call is recorded in phleet.audit_log';

CREATE FUNCTION phleet.forget(value text, kind text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'phleet_forget'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION phleet.forget(text, text) IS
    'Delete the vault entry of an identifier (or pseudonym) of this kind in the current controller; its pseudonyms stay but can no longer be revealed; true when there was one';

CREATE FUNCTION phleet._vault_lock(controller text)
RETURNS void
AS 'MODULE_PATHNAME', 'phleet_vault_lock_sql'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION phleet._vault_lock(text) IS
    'Internal: for the purge''s pruning, wait until no transaction writing the controller''s revealable columns runs, and keep new ones waiting until this transaction ends';
REVOKE ALL ON FUNCTION phleet._vault_lock(text) FROM PUBLIC;
