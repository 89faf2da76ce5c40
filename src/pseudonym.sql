
-------------------------------------------------------------------------------
-- pseudonym: keyed pseudonyms of end-user identifiers
-------------------------------------------------------------------------------

CREATE FUNCTION phleet.pseudonym(value text, kind text DEFAULT 'generic')
RETURNS text
AS 'MODULE_PATHNAME', 'phleet_pseudonym'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION phleet.pseudonym(text, text) IS
    'Pseudonym of an identifier in the current controller: ps1<kind letter>_<base32 of a 128-bit HMAC-SHA256 and a 32-bit check>; deterministic per controller and kind';

CREATE FUNCTION phleet.is_pseudonym(value text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'phleet_is_pseudonym'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION phleet.is_pseudonym(text) IS
    'True when the value has the form of a phleet pseudonym (of any controller)';

CREATE FUNCTION phleet._identifier_valid(value text, kind text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'phleet_identifier_valid'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION phleet._identifier_valid(text, text) IS
    'Internal: true when the value is a valid identifier of the kind (and not a pseudonym)';

CREATE FUNCTION phleet.pseudonym_mac(pseudonym text)
RETURNS uuid
AS 'MODULE_PATHNAME', 'phleet_pseudonym_mac'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION phleet.pseudonym_mac(text) IS
    'The 128-bit MAC a pseudonym encodes, as a uuid: the key of its entry in phleet.vault (column mac); NULL when the value is not a pseudonym';

CREATE FUNCTION phleet._pseudonym_of_mac(controller text, kind text, mac uuid)
RETURNS text
AS 'MODULE_PATHNAME', 'phleet_pseudonym_of_mac'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION phleet._pseudonym_of_mac(text, text, uuid) IS
    'Internal: the pseudonym of this kind whose MAC is mac in the controller (the purge''s pruning looks it up in indexes on revealable columns)';
REVOKE ALL ON FUNCTION phleet._pseudonym_of_mac(text, text, uuid) FROM PUBLIC;
