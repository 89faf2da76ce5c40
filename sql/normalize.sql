-- Normalizers: phleet.normalize, phleet.generalize_ip and their settings.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

-- The full error of a failure, as one line: SQLSTATE, message, detail.
CREATE FUNCTION pg_temp.norm(v text, k text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    RETURN phleet.normalize(v, k);
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN format('ERROR %s: %s / %s', SQLSTATE, SQLERRM, d);
END $$;

-- errors: full form, kind named, value never echoed
SELECT phleet.normalize('555-CALL-NOW', 'phone');
SELECT phleet.normalize('john doe@example.com', 'email');
SELECT phleet.normalize('300.1.1.1', 'ip');
SELECT phleet.normalize('', 'device');
SELECT phleet.normalize('x', 'fax');
SELECT phleet.normalize('x', 'Phone');
SELECT phleet.normalize(NULL, 'phone') IS NULL AS strict_value,
       phleet.normalize('x', NULL) IS NULL AS strict_kind;

SHOW phleet.default_country;

-- phones, national numbers read as US
SELECT v AS phone, pg_temp.norm(v, 'phone') FROM (VALUES
    ('(555) 123-0000'),
    ('555-123-0000'),
    ('555.123.0000'),
    ('5551230000'),
    ('1 555 123 0000'),
    ('1-555-123-0000'),
    ('+1 (555) 123-0000'),
    ('  +1 555 123 0000  '),
    ('011 44 20 7946 0958'),
    ('011-33-1-23-45-67-89'),
    ('0044 20 7946 0958'),
    ('00 49 30 1234567'),
    ('+44 20 7946 0958'),
    ('+44 (0)20 7946 0958'),
    ('+44 020 7946 0958'),
    ('+39 06 1234 5678'),
    ('+7 8 800 555 35 35'),
    ('+7 (800) 555-35-35'),
    ('+81 3-1234-5678'),
    ('+86 10 1234 5678'),
    ('+800 1234 5678'),
    ('(+44) 20 7946 0958'),
    ('+421 2/212 345 56'),
    ('+52 1 222 123 4567'),
    ('555/123/0000'),
    -- too short, too long
    ('555-0000'),
    ('123'),
    ('+44 20 79'),
    ('+1 555 123 00001'),
    ('+44 20 7946 0958 123'),
    ('+49 30 1234 5678 9012 34'),
    ('1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5'),
    -- unassigned or missing country calling codes
    ('+999 1234 5678'),
    ('+210 1234 5678'),
    ('+0 44 20 7946 0958'),
    ('+4'),
    ('00'),
    -- NANP area codes never start with 0 or 1
    ('+1 155 123 0000'),
    ('055 123 0000'),
    -- letters and other characters
    ('555-CALL-NOW'),
    ('+1 555 123 0000 ext 12'),
    ('555_123_0000'),
    ('+1 555 123 0000+'),
    ('++1 555 123 0000'),
    ('1 (555 123 0000'),
    ('1 555) 123 (0000'),
    ('1 ((555)) 123 0000'),
    ('５５５ 123 0000'),
    ('---'),
    ('')
) AS t(v);

-- the same national numbers read in other countries
SET phleet.default_country = 'GB';
SHOW phleet.default_country;
SELECT v AS phone, pg_temp.norm(v, 'phone') FROM (VALUES
    ('020 7946 0958'),
    ('(020) 7946 0958'),
    ('07700 900123'),
    ('7700 900123'),
    ('0113 496 0000'),
    ('011 44 20 7946 0958'),
    ('0044 20 7946 0958'),
    ('+1 555 123 0000'),
    ('(555) 123-0000')
) AS t(v);

SET phleet.default_country = 'de';
SHOW phleet.default_country;
SELECT pg_temp.norm('030 1234567', 'phone'), pg_temp.norm('0049 30 1234567', 'phone');
SET phleet.default_country = 'IT';   -- no trunk prefix: the 0 is part of the number
SELECT pg_temp.norm('06 1234 5678', 'phone'), pg_temp.norm('011 123 4567', 'phone');
SET phleet.default_country = 'RU';   -- trunk prefix 8
SELECT pg_temp.norm('8 (495) 123-45-67', 'phone'), pg_temp.norm('8 800 555 35 35', 'phone'),
       pg_temp.norm('495 123 45 67', 'phone');
SET phleet.default_country = 'HU';   -- trunk prefix 06
SELECT pg_temp.norm('06 1 234 5678', 'phone');
SET phleet.default_country = 'MX';   -- prefixes abolished in 2019, still written
SELECT pg_temp.norm('01 55 1234 5678', 'phone'), pg_temp.norm('044 55 1234 5678', 'phone'),
       pg_temp.norm('55 1234 5678', 'phone');
SET phleet.default_country = 'BY';   -- "8 0" before the area code
SELECT pg_temp.norm('8 029 491-19-43', 'phone'), pg_temp.norm('029 491 19 43', 'phone'),
       pg_temp.norm('801 123 4531', 'phone');
SET phleet.default_country = 'SK';
SELECT pg_temp.norm('02/212 345 56', 'phone');
SET phleet.default_country = 'JM';   -- NANP outside the US: 011 is its international prefix
SELECT pg_temp.norm('876 555 1234', 'phone'), pg_temp.norm('011 44 20 7946 0958', 'phone');
SET phleet.default_country = 'ES';   -- no trunk prefix
SELECT pg_temp.norm('612 345 678', 'phone'), pg_temp.norm('0612 345 678', 'phone');

-- bad default countries are refused; the setting keeps its value
SET phleet.default_country = 'ZZ';
SET phleet.default_country = 'USA';
SET phleet.default_country = '';
SET phleet.default_country = 'AQ';
SHOW phleet.default_country;
RESET phleet.default_country;
SHOW phleet.default_country;
-- a transaction-local default country
BEGIN;
SET LOCAL phleet.default_country = 'FR';
SELECT phleet.normalize('01 23 45 67 89', 'phone');
COMMIT;
SELECT pg_temp.norm('01 23 45 67 89', 'phone');

-- emails
SELECT left(v, 40) AS email, left(pg_temp.norm(v, 'email'), 120) AS norm FROM (VALUES
    ('John.Doe@Example.COM'),
    ('  alice@example.org  '),
    (E'\tbob@example.org\n'),
    ('a.b+tag@sub.example.co.uk'),
    ('o''brien!#$%&*/=?^_`{|}~-@example.com'),
    ('x@xn--bcher-kva.de'),
    ('x@123.example.com'),
    ('ünïcode@example.com'),
    (repeat('a', 64) || '@example.com'),
    ('a@' || repeat('b', 63) || '.com'),
    ('a@' || repeat(repeat('b', 60) || '.', 4) || 'com'),
    -- refused
    (repeat('a', 65) || '@example.com'),
    ('a@' || repeat('b', 64) || '.com'),
    ('a@' || repeat(repeat('b', 60) || '.', 5) || 'com'),
    ('example.com'),
    ('a@b@example.com'),
    ('@example.com'),
    ('a@'),
    ('a@localhost'),
    ('a@example.123'),
    ('a@[192.0.2.1]'),
    ('a@bücher.de'),
    ('.a@example.com'),
    ('a.@example.com'),
    ('a..b@example.com'),
    ('a@.example.com'),
    ('a@example.com.'),
    ('a@example..com'),
    ('a@-example.com'),
    ('a@example-.com'),
    ('a@exa_mple.com'),
    ('john doe@example.com'),
    ('"john doe"@example.com'),
    (E'a\x01b@example.com'),
    ('a(comment)@example.com'),
    ('')
) AS t(v);

-- IP addresses
SELECT v AS ip, pg_temp.norm(v, 'ip') FROM (VALUES
    ('192.168.1.1'),
    (' 10.0.0.1 '),
    ('0.0.0.0'),
    ('255.255.255.255'),
    ('2001:DB8:0:0:0:0:0:1'),
    ('2001:0db8:0000:0000:0000:ff00:0042:8329'),
    ('2001:db8:0:0:1:0:0:1'),
    ('2001:db8::0:1:0:0:1'),
    ('2001:db8:0:1:1:1:1:1'),
    ('::'),
    ('::1'),
    ('::ffff:192.0.2.128'),
    ('::FFFF:c000:0280'),
    ('64:ff9b::192.0.2.128'),
    -- refused
    ('192.168.001.1'),
    ('010.0.0.1'),
    ('256.1.1.1'),
    ('1.2.3'),
    ('1.2.3.4.5'),
    ('0x7f.0.0.1'),
    ('1.2.3.4/32'),
    ('fe80::1%eth0'),
    ('2001:db8::/32'),
    ('2001:db8:::1'),
    ('1:2:3:4:5:6:7:8:9'),
    ('example.com'),
    ('')
) AS t(v);

-- device ids and generic values: exact text
SELECT v AS value, pg_temp.norm(v, 'device') AS device, pg_temp.norm(v, 'generic') AS generic
FROM (VALUES
    ('6F9619FF-8B86-D011-B42D-00C04FC964FF'),
    ('6f9619ff-8b86-d011-b42d-00c04fc964ff'),
    ('fcm:APA91bH-x_y'),
    (' padded '),
    (E'tab\there'),
    (E'new\nline'),
    ('ünïcode'),
    ('')
) AS t(v);
SELECT length(phleet.normalize(repeat('x', 1024), 'device')) AS device_max,
       length(phleet.normalize(repeat('x', 1024), 'generic')) AS generic_max;
SELECT phleet.normalize(repeat('x', 1025), 'device');
SELECT phleet.normalize(repeat('x', 1025), 'generic');

-- no error message or detail ever repeats the value
SELECT count(*) AS echoed FROM (VALUES
    ('555-CALL-NOW', 'phone'), ('+999 1234 5678', 'phone'), ('secret-person@', 'email'),
    ('secret person@example.com', 'email'), ('999.999.999.999', 'ip'),
    (E'secret\tdevice', 'device')
) AS t(v, k)
WHERE position(v IN pg_temp.norm(v, k)) > 0;

-- normalizing a canonical value again changes nothing
SELECT count(*) AS not_idempotent FROM (VALUES
    ('(555) 123-0000', 'phone'), ('+44 (0)20 7946 0958', 'phone'), ('+7 8 800 555 35 35', 'phone'),
    (' John.Doe@Example.COM', 'email'), ('2001:DB8:0:0:1:0:0:1', 'ip'), ('::ffff:1.2.3.4', 'ip')
) AS t(v, k)
WHERE phleet.normalize(phleet.normalize(v, k), k) <> phleet.normalize(v, k);

-- generalize_ip
SHOW phleet.generalize_ipv4_prefix;
SHOW phleet.generalize_ipv6_prefix;
SELECT v AS ip, phleet.generalize_ip(v) FROM (VALUES
    ('192.168.1.77'::inet),
    ('192.168.1.77/32'),
    ('10.1.2.3/8'),
    ('0.0.0.0'),
    ('2001:db8:1234:5678::1'),
    ('2001:db8:1234:ffff:ffff::/64'),
    ('::1'),
    ('::ffff:192.0.2.128'),
    ('::ffff:192.0.2.128/120')
) AS t(v);
SET phleet.generalize_ipv4_prefix = 16;
SET phleet.generalize_ipv6_prefix = 56;
SELECT phleet.generalize_ip('192.168.1.77'), phleet.generalize_ip('2001:db8:1234:5678::1');
SET phleet.generalize_ipv4_prefix = 0;
SET phleet.generalize_ipv6_prefix = 128;
SELECT phleet.generalize_ip('192.168.1.77'), phleet.generalize_ip('2001:db8:1234:5678::1');
SET phleet.generalize_ipv4_prefix = 31;
SELECT phleet.generalize_ip('192.168.1.77');
SET phleet.generalize_ipv4_prefix = 33;
SET phleet.generalize_ipv4_prefix = -1;
SET phleet.generalize_ipv6_prefix = 129;
RESET phleet.generalize_ipv4_prefix;
RESET phleet.generalize_ipv6_prefix;
SELECT phleet.generalize_ip('192.168.1.77'), phleet.generalize_ip(NULL) IS NULL AS strict;

-- both functions are STABLE PARALLEL SAFE STRICT, with a comment
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p
WHERE p.pronamespace = 'phleet'::regnamespace
  AND p.proname IN ('normalize', 'generalize_ip')
ORDER BY 1;
