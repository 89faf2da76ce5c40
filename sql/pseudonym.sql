-- Pseudonyms: phleet.pseudonym and phleet.is_pseudonym.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

CREATE ROLE regress_pseudonym_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('ps-a'), phleet.controller_create('ps-b');

-- outside a context there is no key to use
SELECT phleet.pseudonym('+1 555 123 0000', 'phone');
-- NULL in, NULL out (the function is strict)
SELECT phleet.pseudonym(NULL, 'phone') IS NULL AS null_value, phleet.pseudonym('x', NULL) IS NULL AS null_kind;

SET ROLE regress_pseudonym_app;
SELECT phleet.enter('ps-a', for_session => true);
-- the text form: ps1, a kind letter, "_", 32 characters of base32
SELECT k AS kind, p ~ ('^ps1' || left(k, 1) || '_[a-z2-7]{32}$') AS well_formed, length(p) AS len,
       phleet.is_pseudonym(p) AS is_pseudonym
  FROM (VALUES ('phone', '+1 555 123 0000'), ('email', 'Jane.Doe@Example.COM'), ('ip', '192.0.2.1'),
               ('device', 'A1B2-C3D4'), ('generic', 'customer 42')) v(k, x),
       LATERAL (SELECT phleet.pseudonym(x, k) AS p) s
 ORDER BY k;
-- the default kind is generic
SELECT phleet.pseudonym('customer 42') = phleet.pseudonym('customer 42', 'generic') AS default_generic;
-- deterministic, over the normalized value
SELECT count(DISTINCT phleet.pseudonym(x, 'phone')) AS one_phone
  FROM (VALUES ('+1 555 123 0000'), ('+15551230000'), ('(555) 123-0000'), ('555.123.0000'),
               ('001 555 123 0000')) v(x);
SELECT count(DISTINCT phleet.pseudonym(x, 'email')) AS one_email
  FROM (VALUES ('jane.doe@example.com'), ('  Jane.Doe@EXAMPLE.com ')) v(x);
SELECT count(DISTINCT phleet.pseudonym(x, 'ip')) AS one_ip
  FROM (VALUES ('2001:db8::1'), ('2001:0DB8:0:0:0:0:0:1')) v(x);
-- device and generic identifiers are taken exactly
SELECT phleet.pseudonym('abc', 'device') <> phleet.pseudonym('ABC', 'device') AS device_exact,
       phleet.pseudonym('abc ', 'generic') <> phleet.pseudonym('abc', 'generic') AS generic_exact;
-- kinds do not link: the same text as different kinds gives unrelated pseudonyms
SELECT substr(phleet.pseudonym('a@b.org', 'email'), 6) <> substr(phleet.pseudonym('a@b.org', 'generic'), 6)
       AS kinds_unlinked;
-- a pseudonym of this controller and kind passes through unchanged
SELECT phleet.pseudonym(phleet.pseudonym('+1 555 123 0000', 'phone'), 'phone')
       = phleet.pseudonym('+1 555 123 0000', 'phone') AS idempotent;
CREATE TEMP TABLE ps_a AS SELECT phleet.pseudonym('+1 555 123 0000', 'phone') AS phone,
                                 phleet.pseudonym('customer 42') AS generic;
-- ... one of another kind is refused, even as a generic value
SELECT phleet.pseudonym(phone, 'generic') FROM ps_a;
SELECT phleet.pseudonym(generic, 'phone') FROM ps_a;
-- invalid identifiers are refused without echoing them
SELECT phleet.pseudonym('555-CALL-NOW', 'phone');
SELECT phleet.pseudonym('jane.doe at example.com', 'email');
SELECT phleet.pseudonym('192.0.2.256', 'ip');
SELECT phleet.pseudonym('', 'generic');
-- unknown kinds
SELECT phleet.pseudonym('x', 'Phone');
SELECT phleet.pseudonym('x', 'ssn');

-- controllers do not link: another controller, another pseudonym ...
SELECT phleet.enter('ps-b', for_session => true);
SELECT phleet.pseudonym('+1 555 123 0000', 'phone') <> phone AS controllers_unlinked FROM ps_a;
-- ... and the other controller's pseudonyms are refused
SELECT phleet.pseudonym(phone, 'phone') FROM ps_a;

-- the same pseudonym after leaving and entering again
SELECT phleet.leave();
SELECT phleet.pseudonym('+1 555 123 0000', 'phone');
SELECT phleet.enter('ps-a', for_session => true);
SELECT phleet.pseudonym('+1 555 123 0000', 'phone') = phone AS stable FROM ps_a;
SELECT phleet.leave();
RESET ROLE;

-- usable as an index key under row-level security
CREATE TABLE ps_leads (id int PRIMARY KEY, phone text);
SELECT phleet.govern('ps_leads');
CREATE INDEX ON ps_leads (controller, phone);
GRANT SELECT ON ps_leads TO regress_pseudonym_app;
BEGIN;
SELECT phleet.enter('ps-a');
INSERT INTO ps_leads SELECT g, phleet.pseudonym('+1555' || lpad(g::text, 7, '0'), 'phone') FROM generate_series(1, 2000) g;
COMMIT;
ANALYZE ps_leads;
SET ROLE regress_pseudonym_app;
BEGIN;
SELECT phleet.enter('ps-a');
EXPLAIN (COSTS OFF) SELECT id FROM ps_leads WHERE phone = phleet.pseudonym('+1 555 000 0042', 'phone');
SELECT id FROM ps_leads WHERE phone = phleet.pseudonym('+1 555 000 0042', 'phone');
COMMIT;
-- parallel workers compute the same pseudonyms as the leader
BEGIN;
SELECT phleet.enter('ps-a');
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL force_parallel_mode = on;
SELECT count(*) AS matching FROM ps_leads WHERE phone = phleet.pseudonym('+1555' || lpad(id::text, 7, '0'), 'phone');
COMMIT;
RESET ROLE;

-- is_pseudonym: a pure syntax check, for any controller
SELECT x, phleet.is_pseudonym(x)
  FROM (VALUES ('ps1p_' || repeat('a', 32)), ('ps1g_' || repeat('7', 32)),
               ('ps1x_' || repeat('a', 32)),          -- unknown kind letter
               ('PS1P_' || repeat('A', 32)),          -- upper case
               ('ps1p_' || repeat('a', 31)),          -- too short
               ('ps1p_' || repeat('a', 33)),          -- too long
               ('ps1p_' || repeat('a', 31) || '1'),   -- not base32
               ('ps2p_' || repeat('a', 32)),          -- other version
               ('ps1p-' || repeat('a', 32)),
               (''), ('+15551230000')) v(x);
SELECT phleet.is_pseudonym(NULL) IS NULL AS strict;

-- function properties
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef
  FROM pg_proc p WHERE p.pronamespace = 'phleet'::regnamespace
   AND p.proname IN ('pseudonym', 'is_pseudonym') ORDER BY 1;

DROP TABLE ps_leads;
DROP ROLE regress_pseudonym_app;
