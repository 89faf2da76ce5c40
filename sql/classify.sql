-- Classification: phleet.category, phleet.classify, phleet.unclassify,
-- phleet.classified_columns, the phleet_stamp trigger pseudonymizing every write
-- path, and phleet.pseudonymize_existing.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS phleet CASCADE;
RESET client_min_messages;

CREATE ROLE regress_classify_admin LOGIN IN ROLE phleet_admin;
CREATE ROLE regress_classify_app LOGIN IN ROLE phleet_gateway;
SELECT phleet.controller_create('cl-a'), phleet.controller_create('cl-b');

CREATE TABLE cl_leads (
    id      int PRIMARY KEY,
    phone   text,
    email   varchar,
    ip      text,
    device  varchar(64),
    note    text,
    age     int,
    short   varchar(20)
);
CREATE TABLE cl_plain (id int, phone text);
SELECT phleet.govern('cl_leads');
GRANT SELECT, INSERT, UPDATE, DELETE ON cl_leads TO regress_classify_app;

SELECT enum_range(NULL::phleet.category);

-- errors; a failed call changes nothing
SET ROLE regress_classify_admin;
SELECT phleet.classify('cl_plain', 'phone', 'communication', 'phone');
SELECT phleet.classify('cl_leads', 'nope', 'communication');
SELECT phleet.classify('cl_leads', 'controller', 'business');
SELECT phleet.classify('cl_leads', 'age', 'personal', 'generic');
SELECT phleet.classify('cl_leads', 'short', 'communication', 'phone');
SELECT phleet.classify('cl_leads', 'phone', 'communication', 'ssn');
SELECT phleet.classify('cl_leads', 'phone', 'communication', 'Phone');
SELECT phleet.classify('cl_leads', 'note', 'content', reveal => true);
SELECT phleet.classify('cl_leads', 'phone', 'telepathy', 'phone');
SELECT phleet.classify(NULL, 'phone', 'communication');
SELECT phleet.classify('cl_leads', 'phone', NULL);
SELECT phleet.classify('cl_leads', 'phone', 'communication', 'phone', NULL);
SELECT phleet.unclassify('cl_leads', 'phone');
SELECT * FROM phleet.classified_columns WHERE table_name = 'cl_leads'::regclass;
RESET ROLE;
-- only phleet_admin classifies
SET ROLE regress_classify_app;
SELECT phleet.classify('cl_leads', 'phone', 'communication', 'phone');
SELECT phleet.unclassify('cl_leads', 'phone');
RESET ROLE;

-- classify: identifiers, one of them revealable; plain categories
SET ROLE regress_classify_admin;
SELECT phleet.classify('cl_leads', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.classify('cl_leads', 'email', 'communication', identifier => 'email');
SELECT phleet.classify('cl_leads', 'ip', 'tracking', 'ip');
SELECT phleet.classify('cl_leads', 'device', 'device', 'device');
SELECT phleet.classify('cl_leads', 'note', 'content');
SELECT phleet.classify('cl_leads', 'age', 'personal');
-- re-classifying changes category and reveal, but never the identifier kind
SELECT phleet.classify('cl_leads', 'age', 'usage');
SELECT phleet.classify('cl_leads', 'email', 'personal', 'generic');
SELECT phleet.classify('cl_leads', 'email', 'communication');
SELECT table_name, column_name, category, identifier, reveal
  FROM phleet.classified_columns WHERE table_name = 'cl_leads'::regclass ORDER BY column_name;
RESET ROLE;
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'cl_leads'::regclass AND NOT tgisinternal ORDER BY tgname;

SET ROLE regress_classify_app;
-- no context, no write
INSERT INTO cl_leads (id, phone) VALUES (1, '+1 555 123 0000');

SELECT phleet.enter('cl-a', for_session => true);
-- INSERT: identifiers become pseudonyms, NULL stays NULL, other columns untouched
INSERT INTO cl_leads (id, phone, email, ip, device, note, age)
VALUES (1, '+1 (555) 123-0000', 'Jane.Doe@Example.com', '2001:DB8::1', 'dev-1', 'likes tea', 42),
       (2, NULL, NULL, NULL, NULL, 'nothing known', NULL);
SELECT id, phone = phleet.pseudonym('+15551230000', 'phone') AS phone_ok,
       email = phleet.pseudonym('jane.doe@example.com', 'email') AS email_ok,
       ip = phleet.pseudonym('2001:db8::1', 'ip') AS ip_ok,
       device = phleet.pseudonym('dev-1', 'device') AS device_ok,
       note, age, controller
  FROM cl_leads ORDER BY id;
-- look rows up by pseudonym, as an application does
SELECT id FROM cl_leads WHERE phone = phleet.pseudonym('555.123.0000', 'phone');
-- a pseudonym of this controller passes through unchanged
INSERT INTO cl_leads (id, phone) VALUES (3, phleet.pseudonym('+1 555 123 0000', 'phone'));
SELECT count(DISTINCT phone) AS one_pseudonym FROM cl_leads WHERE id IN (1, 3);
-- invalid identifiers are refused, naming the column, never the value, and
-- nothing of the statement is written
INSERT INTO cl_leads (id, phone) VALUES (4, '+1 555 123 0001'), (5, 'call me maybe');
INSERT INTO cl_leads (id, email) VALUES (4, 'jane.doe');
INSERT INTO cl_leads (id, ip) VALUES (4, '999.1.1.1');
INSERT INTO cl_leads (id, device) VALUES (4, '');
SELECT count(*) AS rows_after_refusals FROM cl_leads;
-- pseudonyms of another kind or controller are refused
INSERT INTO cl_leads (id, email) SELECT 4, phone FROM cl_leads WHERE id = 1;
SELECT phleet.enter('cl-b', for_session => true);
CREATE TEMP TABLE cl_b_phone AS SELECT phleet.pseudonym('+1 555 123 0000', 'phone') AS p;
SELECT phleet.enter('cl-a', for_session => true);
INSERT INTO cl_leads (id, phone) SELECT 4, p FROM cl_b_phone;

-- UPDATE
UPDATE cl_leads SET phone = '+1 555 999 0000' WHERE id = 2;
SELECT phone = phleet.pseudonym('+15559990000', 'phone') AS updated_ok FROM cl_leads WHERE id = 2;
UPDATE cl_leads SET phone = 'not a phone' WHERE id = 2;
-- an UPDATE of other columns keeps the pseudonyms as they are
UPDATE cl_leads SET note = 'likes coffee' WHERE id = 1;
SELECT phone = phleet.pseudonym('+15551230000', 'phone') AS kept FROM cl_leads WHERE id = 1;
-- INSERT ... ON CONFLICT, both arms
INSERT INTO cl_leads (id, phone) VALUES (10, '+1 555 000 0010')
    ON CONFLICT (id) DO UPDATE SET phone = EXCLUDED.phone;
INSERT INTO cl_leads (id, phone) VALUES (10, '+1 555 000 0011')
    ON CONFLICT (id) DO UPDATE SET phone = EXCLUDED.phone;
INSERT INTO cl_leads (id, phone) VALUES (10, '+1 555 000 0012')
    ON CONFLICT (id) DO UPDATE SET email = 'jd@example.com';
SELECT phone = phleet.pseudonym('+15550000011', 'phone') AS upserted,
       email = phleet.pseudonym('jd@example.com', 'email') AS upsert_set
  FROM cl_leads WHERE id = 10;
-- MERGE, both arms
MERGE INTO cl_leads t
USING (VALUES (10, '+1 555 000 0020'), (11, '+1 555 000 0021')) s(id, phone) ON t.id = s.id
 WHEN MATCHED THEN UPDATE SET phone = s.phone
 WHEN NOT MATCHED THEN INSERT (id, phone) VALUES (s.id, s.phone);
SELECT id, phone = phleet.pseudonym('+1 555 000 00' || (id + 10)::text, 'phone') AS merged
  FROM cl_leads WHERE id IN (10, 11) ORDER BY id;
MERGE INTO cl_leads t USING (VALUES (12, 'nope')) s(id, phone) ON t.id = s.id
 WHEN NOT MATCHED THEN INSERT (id, phone) VALUES (s.id, s.phone);
-- COPY FROM STDIN
COPY cl_leads (id, phone, email, note) FROM STDIN;
20	+44 20 7946 0000	x@example.org	from copy
21	\N	\N	from copy
\.
SELECT id, phone = phleet.pseudonym('+442079460000', 'phone') AS phone_ok,
       email = phleet.pseudonym('x@example.org', 'email') AS email_ok, note
  FROM cl_leads WHERE id >= 20 ORDER BY id;
COPY cl_leads (id, phone) FROM STDIN;
22	+1 555 000 0022
23	garbage
\.
SELECT count(*) AS copied_rows FROM cl_leads WHERE id >= 20;
-- a failing COPY's context names the line, never its content (PostgreSQL
-- quotes the line there, and the server log gets the same context)
\set SHOW_CONTEXT always
COPY cl_leads (id, phone) FROM STDIN;
24	not a phone
\.
COPY cl_leads (id, phone, note) FROM STDIN (FORMAT csv);
20,+1 555 000 0024,"two
lines"
\.
COPY cl_leads (id, phone) FROM STDIN;
x	+1 555 000 0025
\.
\set SHOW_CONTEXT never
-- no raw identifier is left anywhere in the table
SELECT count(*) AS raw_values FROM cl_leads
 WHERE NOT (coalesce(phleet.is_pseudonym(phone), true) AND coalesce(phleet.is_pseudonym(email), true)
            AND coalesce(phleet.is_pseudonym(ip), true) AND coalesce(phleet.is_pseudonym(device), true));
SELECT phleet.leave();
RESET ROLE;

-- partitioned tables: partitions, old and new, follow their root
CREATE TABLE cl_events (id int, phone text, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE cl_events_2025 PARTITION OF cl_events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT phleet.govern('cl_events');
SELECT phleet.classify('cl_events', 'phone', 'communication', 'phone');
SELECT phleet.classify('cl_events_2025', 'phone', 'communication', 'phone');
CREATE TABLE cl_events_2026 PARTITION OF cl_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT phleet.enter('cl-a', for_session => true);
INSERT INTO cl_events VALUES (1, '+1 555 123 0000', '2025-06-01'), (2, '+1 555 123 0000', '2026-06-01');
INSERT INTO cl_events_2026 VALUES (3, '+1 555 123 0000', '2026-07-01');
SELECT tableoid::regclass, id, phone = phleet.pseudonym('+15551230000', 'phone') AS ok
  FROM cl_events ORDER BY id;
SELECT phleet.leave();
-- a table attached with raw identifiers gets classify()'s notice, and
-- pseudonymize_existing() of the root converts them
CREATE TABLE cl_events_2024 (id int, phone text, at date NOT NULL, controller text NOT NULL);
CREATE TABLE cl_events_2023 (LIKE cl_events_2024);
SELECT phleet.enter('cl-a', for_session => true);
INSERT INTO cl_events_2024 VALUES (4, '+1 555 123 0000', '2024-06-01', 'cl-a'),
                                  (5, phleet.pseudonym('+1 555 123 0001', 'phone'), '2024-07-01', 'cl-a');
INSERT INTO cl_events_2023 VALUES (6, phleet.pseudonym('+1 555 123 0001', 'phone'), '2023-07-01', 'cl-a');
SELECT phleet.leave();
ALTER TABLE cl_events ATTACH PARTITION cl_events_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
ALTER TABLE cl_events ATTACH PARTITION cl_events_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');  -- no notice
CALL phleet.pseudonymize_existing('cl_events', 'phone');
SELECT phleet.enter('cl-a', for_session => true);
SELECT tableoid::regclass, id, phone IN (phleet.pseudonym('+15551230000', 'phone'), phleet.pseudonym('+15551230001', 'phone')) AS ok
  FROM cl_events WHERE id >= 4 ORDER BY id;
SELECT phleet.leave();
-- a partition key column cannot hold pseudonyms (rows are routed first)
CREATE TABLE cl_hashed (id int, phone text) PARTITION BY HASH (phone);
SELECT phleet.govern('cl_hashed');
SELECT phleet.classify('cl_hashed', 'phone', 'communication', 'phone');
SELECT phleet.classify('cl_hashed', 'phone', 'communication');   -- not an identifier: fine
CREATE TABLE cl_listed (id int, email text, email_kind text) PARTITION BY LIST (lower(email));
SELECT phleet.govern('cl_listed');
SELECT phleet.classify('cl_listed', 'email', 'personal', 'email');
SELECT phleet.classify('cl_listed', 'email_kind', 'personal', 'generic');   -- not in the key: fine
DROP TABLE cl_hashed, cl_listed;

-- schema changes: a classified column cannot be renamed or retyped away from
-- text; dropping it drops its classification
ALTER TABLE cl_leads RENAME COLUMN phone TO mobile;
ALTER TABLE cl_leads RENAME COLUMN note TO remark;
ALTER TABLE cl_leads ALTER COLUMN ip TYPE bytea USING convert_to(ip, 'UTF8');
ALTER TABLE cl_leads ALTER COLUMN ip TYPE varchar(100);
ALTER TABLE cl_leads RENAME COLUMN short TO brief;
ALTER TABLE cl_leads DROP COLUMN device;
SELECT column_name, identifier FROM phleet.classified_columns
 WHERE table_name = 'cl_leads'::regclass ORDER BY column_name;
SELECT pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'cl_leads'::regclass AND tgname = 'phleet_stamp';
SELECT phleet.enter('cl-a', for_session => true);
INSERT INTO cl_leads (id, ip) VALUES (30, '10.0.0.1');
SELECT ip = phleet.pseudonym('10.0.0.1', 'ip') AS still_pseudonymized FROM cl_leads WHERE id = 30;
-- phleet_stamp made by hand with wrong arguments: refused at the first write
CREATE TABLE cl_handmade (id int, controller text, phone text);
CREATE TRIGGER phleet_stamp BEFORE INSERT ON cl_handmade
    FOR EACH ROW EXECUTE FUNCTION phleet.stamp_controller();
INSERT INTO cl_handmade (id, phone) VALUES (1, '+15551230000');
DROP TRIGGER phleet_stamp ON cl_handmade;
CREATE TRIGGER phleet_stamp BEFORE INSERT ON cl_handmade
    FOR EACH ROW EXECUTE FUNCTION phleet.stamp_controller('controller', 'phone');
INSERT INTO cl_handmade (id, phone) VALUES (1, '+15551230000');
DROP TRIGGER phleet_stamp ON cl_handmade;
CREATE TRIGGER phleet_stamp BEFORE INSERT ON cl_handmade
    FOR EACH ROW EXECUTE FUNCTION phleet.stamp_controller('controller', 'phone', 'fax', 'f');
INSERT INTO cl_handmade (id, phone) VALUES (1, '+15551230000');
DROP TRIGGER phleet_stamp ON cl_handmade;
CREATE TRIGGER phleet_stamp BEFORE INSERT ON cl_handmade
    FOR EACH ROW EXECUTE FUNCTION phleet.stamp_controller('controller', 'mobile', 'phone', 'f');
INSERT INTO cl_handmade (id, phone) VALUES (1, '+15551230000');
DROP TRIGGER phleet_stamp ON cl_handmade;
CREATE TRIGGER phleet_stamp BEFORE INSERT ON cl_handmade
    FOR EACH ROW EXECUTE FUNCTION phleet.stamp_controller('controller', 'phone', 'phone', 'f');
INSERT INTO cl_handmade (id, phone) VALUES (1, '+1 555 123 0000');
SELECT controller, phone = phleet.pseudonym('+15551230000', 'phone') AS pseudonymized FROM cl_handmade;
DROP TABLE cl_handmade;
SELECT phleet.leave();

-- unclassify: later writes are stored as given, pseudonyms already written stay
SET ROLE regress_classify_admin;
SELECT phleet.unclassify('cl_leads', 'email');
SELECT phleet.unclassify('cl_leads', 'email');
RESET ROLE;
SELECT phleet.enter('cl-a', for_session => true);
INSERT INTO cl_leads (id, email) VALUES (31, 'plain@example.com');
SELECT id, email FROM cl_leads WHERE id = 31;
SELECT phleet.is_pseudonym(email) AS old_value_stays FROM cl_leads WHERE id = 1;
SELECT phleet.leave();
-- dropping the table forgets its classifications
DROP TABLE cl_events;
SELECT count(*) FROM phleet.classified_columns WHERE table_name::text LIKE 'cl_events%';

-- pseudonymize_existing: raw identifiers written before classification
CREATE TABLE cl_legacy (id int PRIMARY KEY, controller text NOT NULL, phone text);
INSERT INTO cl_legacy
SELECT g, CASE WHEN g % 3 = 0 THEN 'cl-b' ELSE 'cl-a' END, '+1 555 100 ' || lpad(g::text, 4, '0')
  FROM generate_series(1, 600) g;
INSERT INTO cl_legacy VALUES (601, 'cl-a', 'not a number'), (602, 'cl-b', NULL);
SELECT phleet.govern('cl_legacy');
GRANT SELECT ON cl_legacy TO regress_classify_app;
ANALYZE cl_legacy;
SET ROLE regress_classify_admin;
CALL phleet.pseudonymize_existing('cl_legacy', 'phone');
SELECT phleet.classify('cl_legacy', 'phone', 'communication', 'phone', reveal => true);
CALL phleet.pseudonymize_existing('cl_legacy', 'phone', 0);
CALL phleet.pseudonymize_existing('cl_legacy', NULL);
BEGIN;
CALL phleet.pseudonymize_existing('cl_legacy', 'phone', 200);
ROLLBACK;
CALL phleet.pseudonymize_existing('cl_legacy', 'phone', 200);
-- resumable: a second run finds nothing left but the invalid value
CALL phleet.pseudonymize_existing('cl_legacy', 'phone', 200);
-- the caller's context is untouched
SELECT phleet.current_controller() IS NULL AS no_context;
RESET ROLE;
SET ROLE regress_classify_app;
CALL phleet.pseudonymize_existing('cl_legacy', 'phone');
SELECT phleet.enter('cl-b', for_session => true);
SELECT count(*) AS rows_b, count(*) FILTER (WHERE phleet.is_pseudonym(phone)) AS pseudonyms_b,
       count(*) FILTER (WHERE phone = phleet.pseudonym('+1 555 100 0003', 'phone')) AS found_b
  FROM cl_legacy;
SELECT phleet.enter('cl-a', for_session => true);
SELECT count(*) AS rows_a, count(*) FILTER (WHERE phleet.is_pseudonym(phone)) AS pseudonyms_a,
       count(*) FILTER (WHERE NOT phleet.is_pseudonym(phone)) AS left_raw
  FROM cl_legacy;
SELECT phleet.leave();
RESET ROLE;
SELECT controller, count(*) AS vault_entries FROM phleet.vault
 WHERE controller IN ('cl-a', 'cl-b') GROUP BY controller ORDER BY controller;

-- the trigger stamps the controller of a new row with identifiers (one new
-- tuple instead of two); phleet_stamp still refuses another controller's row
SET ROLE regress_classify_app;
SELECT phleet.enter('cl-a', for_session => true);
INSERT INTO cl_leads (id, phone) VALUES (50, '+1 555 123 0050') RETURNING controller;
INSERT INTO cl_leads (id, phone, controller) VALUES (51, '+1 555 123 0051', 'cl-a') RETURNING controller;
INSERT INTO cl_leads (id, phone, controller) VALUES (52, '+1 555 123 0052', 'cl-b');
UPDATE cl_leads SET phone = '+1 555 123 0053', controller = 'cl-b' WHERE id = 50;
SELECT id, controller FROM cl_leads WHERE id IN (50, 51, 52) ORDER BY id;
SELECT phleet.leave();
RESET ROLE;

-- a wide table: more columns than the trigger handles on its stack (39 and
-- a dropped one, the last added after the row was written), ten classified,
-- four of them revealable; each value lands in its own column, each
-- revealable one in the vault
SELECT format('CREATE TABLE cl_wide (id int PRIMARY KEY, %s)',
              string_agg(format('c%s text', g), ', ' ORDER BY g))
  FROM generate_series(1, 38) g \gexec
ALTER TABLE cl_wide DROP COLUMN c2;
SELECT phleet.govern('cl_wide');
GRANT SELECT, INSERT, UPDATE ON cl_wide TO regress_classify_app;
SELECT count(phleet.classify('cl_wide', 'c' || g, 'communication',
                             CASE WHEN g % 8 = 3 THEN 'phone' ELSE 'email' END,
                             reveal => g IN (3, 19, 35)))
  FROM generate_series(3, 35, 4) g;
SET ROLE regress_classify_app;
SELECT phleet.enter('cl-a', for_session => true);
INSERT INTO cl_wide (id, c1, c3, c7, c11, c15, c19, c20, c23, c27, c31, c35, c38)
VALUES (1, 'plain', '+1 555 777 0003', 'W7@Example.com', '+1 555 777 0011', 'w15@example.com',
        '+1 555 777 0019', 'kept as given', 'w23@example.com', '+1 555 777 0027',
        'w31@example.com', '+1 555 777 0035', 'W38@Example.com');
RESET ROLE;
ALTER TABLE cl_wide ADD COLUMN c39 text;
SELECT phleet.classify('cl_wide', 'c39', 'communication', 'email', reveal => true);
SET ROLE regress_classify_app;
UPDATE cl_wide SET c39 = 'W39@Example.com' WHERE id = 1;
SELECT c1, c20, c38, c4 IS NULL AS c4_null, controller,
       c3 = phleet.pseudonym('555.777.0003', 'phone') AND c7 = phleet.pseudonym('w7@example.com', 'email') AND
       c11 = phleet.pseudonym('+15557770011', 'phone') AND c15 = phleet.pseudonym('w15@example.com', 'email') AND
       c19 = phleet.pseudonym('+15557770019', 'phone') AND c23 = phleet.pseudonym('w23@example.com', 'email') AND
       c27 = phleet.pseudonym('+15557770027', 'phone') AND c31 = phleet.pseudonym('w31@example.com', 'email') AND
       c35 = phleet.pseudonym('+15557770035', 'phone') AND c39 = phleet.pseudonym('w39@example.com', 'email')
         AS all_pseudonymized
  FROM cl_wide;
-- an invalid value after a revealable one: nothing written, nothing kept
INSERT INTO cl_wide (id, c3, c7) VALUES (2, '+1 555 777 1003', 'not an email');
SELECT phleet.leave();
RESET ROLE;
BEGIN;
SELECT phleet.enter('cl-a');
SELECT count(*) AS not_in_vault FROM phleet.vault WHERE controller = 'cl-a'
   AND mac = phleet.pseudonym_mac(phleet.pseudonym('+1 555 777 1003', 'phone'));
ROLLBACK;
SELECT count(*) AS vault_entries FROM phleet.vault v, cl_wide w
 WHERE v.controller = 'cl-a' AND v.mac IN (phleet.pseudonym_mac(w.c3), phleet.pseudonym_mac(w.c19),
                                          phleet.pseudonym_mac(w.c35), phleet.pseudonym_mac(w.c39),
                                          phleet.pseudonym_mac(w.c7), phleet.pseudonym_mac(w.c11));
DROP TABLE cl_wide;

-- a forgotten controller cannot write identifiers any more
SET ROLE regress_classify_admin;
SELECT phleet.controller_forget('cl-b');
RESET ROLE;
SELECT phleet.enter('cl-b', for_session => true);
INSERT INTO cl_leads (id, phone) VALUES (40, '+1 555 123 0000');
INSERT INTO cl_leads (id, note) VALUES (41, 'no identifier, no key needed');
SELECT phleet.leave();

-- classifications travel with pg_dump
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) x(oid) JOIN pg_class c ON c.oid = x.oid
 WHERE e.extname = 'phleet' AND c.relname = 'classifications';

-- a table with classified columns is not ungoverned behind their back
SELECT phleet.ungovern('cl_leads');

DROP TABLE cl_leads, cl_plain, cl_legacy, cl_b_phone;
DROP ROLE regress_classify_app;
