
-------------------------------------------------------------------------------
-- normalize: canonical identifiers and generalized IP addresses
-------------------------------------------------------------------------------

CREATE FUNCTION phleet.normalize(value text, kind text)
RETURNS text
AS 'MODULE_PATHNAME', 'phleet_normalize'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION phleet.normalize(text, text) IS
    'Canonical form of an identifier of kind phone (E.164; national numbers in phleet.default_country), email, ip, device or generic; invalid values raise 22023 without echoing the value';

CREATE FUNCTION phleet.generalize_ip(ip inet)
RETURNS inet
AS 'MODULE_PATHNAME', 'phleet_generalize_ip'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION phleet.generalize_ip(inet) IS
    'Network of an address with the prefix length of phleet.generalize_ipv4_prefix (default 24) or phleet.generalize_ipv6_prefix (default 48), host bits zeroed';
