-- phleet walkthrough, run by `make demo` against a throwaway cluster.
\set VERBOSITY default
\set SHOW_CONTEXT never
\pset footer off

\echo
\echo '== 1. Install phleet (it pulls pgcrypto) and create two business customers'
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
RESET client_min_messages;
SELECT phleet.controller_create('acme', 'Acme Roofing');
SELECT phleet.controller_create('globex', 'Globex Dental');

\echo
\echo '== 2. Roles: a trusted connection pool, a login role bound to acme, and a plain app role'
CREATE ROLE app_gateway LOGIN IN ROLE phleet_gateway;
CREATE ROLE acme_app LOGIN;
CREATE ROLE app_plain LOGIN;
SELECT phleet.bind_role('acme_app', 'acme');

\echo
\echo '== 3. One table for every customer''s leads, governed by phleet'
CREATE TABLE leads (
    id         bigserial,
    phone      text,
    message    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);
SELECT phleet.govern('leads');
GRANT SELECT, INSERT, UPDATE, DELETE ON leads TO app_gateway, acme_app, app_plain;
GRANT USAGE ON SEQUENCE leads_id_seq TO app_gateway, acme_app, app_plain;
\d leads

\echo
\echo '== 4. The pool writes for each customer inside its context; phleet stamps the controller'
\c - app_gateway
BEGIN;
SELECT phleet.enter('acme');
INSERT INTO leads (phone, message) VALUES ('+15551230001', 'Do you fix flat roofs?'),
                                          ('+15551230002', 'Quote for shingles please');
COMMIT;
BEGIN;
SELECT phleet.enter('globex');
INSERT INTO leads (phone, message) VALUES ('+15559870001', 'Can I move my cleaning to Friday?');
COPY leads (phone, message) FROM STDIN;
+15559870002	Bulk-loaded lead, stamped by the trigger
\.
SELECT id, phone, message, controller FROM leads ORDER BY id;
COMMIT;

\echo
\echo '== 5. Each customer sees only its own rows; outside a context nothing is visible'
SELECT count(*) AS rows_outside_any_context FROM leads;
\c - acme_app
SELECT phleet.current_controller() AS bound_to, id, phone, message FROM leads ORDER BY id;

\echo
\echo '== 6. Escape attempts, all refused'
\echo '-- forging the context setting'
SET phleet.controller = 'globex';
SELECT set_config('phleet.controller', 'globex', false);
\echo '-- a role bound to acme entering globex'
SELECT phleet.enter('globex');
\echo '-- writing a row tagged for globex'
INSERT INTO leads (phone, message, controller) VALUES ('+15550000000', 'spoof', 'globex');
\echo '-- moving a row to globex'
UPDATE leads SET controller = 'globex';
\echo '-- TRUNCATE, which row-level security does not cover'
TRUNCATE leads;
\echo '-- a plain role choosing its own tenant'
\c - app_plain
SELECT phleet.enter('acme');

\echo
\echo '== 7. Signed tokens: an auth service picks the tenant, the app only passes the token on'
\c - postgres
SELECT phleet.mint_token('globex', '5 minutes') AS token \gset
\c - app_plain
BEGIN;
SELECT phleet.enter_token(:'token');
SELECT id, phone, message FROM leads ORDER BY id;
COMMIT;
SELECT count(*) AS rows_after_commit FROM leads;

\echo
\echo '== 8. Pseudonyms: phone numbers are kept as per-customer pseudonyms, never in the clear'
\c - postgres
SELECT phleet.classify('leads', 'phone', 'personal', identifier => 'phone', reveal => true);
CALL phleet.pseudonymize_existing('leads', 'phone');
-- lookups by pseudonym, and the purge's pruning of the vault, use it
CREATE INDEX leads_phone ON leads (controller, phone);
\c - acme_app
INSERT INTO leads (phone, message) VALUES ('(555) 123-0003', 'Typed by hand, stored as a pseudonym');
SELECT id, phone, message FROM leads ORDER BY id;
\echo '-- the application still finds a lead by its phone number, through an index'
SELECT id, message FROM leads WHERE phone = phleet.pseudonym('555.123.0003', 'phone');
\echo '-- revealing needs phleet_reveal, and every attempt is audited'
SELECT phleet.reveal(phone) FROM leads WHERE id = 1;
\c - postgres
CREATE ROLE acme_support LOGIN IN ROLE phleet_reveal;
SELECT phleet.bind_role('acme_support', 'acme');
GRANT SELECT ON leads TO acme_support;
\c - acme_support
SELECT id, phleet.reveal(phone) AS phone FROM leads WHERE id = 1;
\c - postgres
SELECT role_name, controller, action, outcome FROM phleet.audit_log ORDER BY at;

\echo
\echo '== 9. Retention: 90 days by default, a year for acme, a legal hold, and a purge on schedule'
\c - postgres
\echo '-- (make some leads old enough to expire; the pool role is subject to the policies)'
\c - app_gateway
BEGIN; SELECT phleet.enter('globex'); UPDATE leads SET created_at = now() - interval '200 days'; COMMIT;
BEGIN; SELECT phleet.enter('acme'); UPDATE leads SET created_at = now() - interval '200 days' WHERE id <= 2; COMMIT;
\c - postgres
SELECT phleet.retain('leads', '90 days', 'created_at');
SELECT phleet.retain('leads', '1 year', 'created_at', 'acme');
SELECT table_name, controller, keep, source FROM phleet.retention_policies ORDER BY controller;
SELECT phleet.hold('globex', 'leads', 'litigation 2026-117') AS hold_id \gset
SELECT controller, rows_to_delete, rows_held FROM phleet.purge_preview() ORDER BY controller;
SELECT phleet.release(:hold_id);
\echo '-- pg_cron runs the purge every minute; wait for its first run (up to 70 seconds)'
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT phleet.schedule_purge('* * * * *') > 0 AS scheduled;
SELECT jobname, schedule, command FROM cron.job;
DO $$
BEGIN
    FOR i IN 1..70 LOOP
        EXIT WHEN EXISTS (SELECT FROM phleet.purge_runs WHERE status <> 'running');
        PERFORM pg_sleep(1);
    END LOOP;
END
$$;
SELECT status, rows_deleted, rows_held FROM phleet.purge_runs ORDER BY run_id LIMIT 1;
SELECT table_name, controller, method, rows_deleted FROM phleet.purge_log ORDER BY id;
SELECT phleet.unschedule_purge() > 0 AS unscheduled;

\echo
\echo '== 10. The installation audit'
\c - postgres
SELECT severity, object, finding FROM phleet.check() ORDER BY 1, 2;
