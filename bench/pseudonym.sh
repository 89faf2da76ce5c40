#!/usr/bin/env bash
# bench/pseudonym.sh: what pseudonymizing identifiers costs, side by side
# (issue 3 section 6).  One run, on a throwaway cluster in bench/out/pseudonym:
#
#   (a) a governed table, no classified columns
#   (b) the usual hand-rolled setup: the same governed table with a PL/pgSQL
#       trigger calling pgcrypto hmac() for two identifier columns and
#       pgp_sym_encrypt() into a vault table for one of them
#   (c) phleet: the same two columns classified, one with reveal => true
#
# measured, always as the application's role (LOGIN, not superuser, bound to
# the controller: row-level security applies, as in production):
#   - COPY FROM STDIN of $ROWS rows in two shapes of data:
#       messages: $ROWS messages from $ROWS/$PER_LEAD leads (phone and email
#                 repeat, in random order), what an SMS platform writes most;
#       contacts: $ROWS leads, every phone and email new (an import of new
#                 leads; the worst case for the vault: one entry per row);
#       full:     the messages of "messages" as whole rows of a messages table
#                 (direction, status, a body of 60-160 characters, campaign,
#                 time sent) with an index on phone, as an application looks
#                 conversations up by lead; the tables above hold only
#                 phone, email and a short note, phleet's worst relative case;
#     (a), (c) and (d) in $COPY_ROUNDS interleaved rounds (median), (b) once;
#   - single-row INSERT TPS (pgbench, 2 clients, $TPS_ROUNDS interleaved
#     rounds of $TPS_SECONDS s, one transaction per insert);
#   - SELECT phleet.pseudonym(x, 'phone') over $ROWS rows vs pgcrypto
#     hmac(x, key, 'sha256'), $SELECT_ROUNDS interleaved rounds (median).
#
#   bench/pseudonym.sh                      full run (about 20 minutes)
#   ROWS=100000 TPS_SECONDS=10 bench/pseudonym.sh    quick look
#   PG_CONFIG=/path/to/pg_config bench/pseudonym.sh  another PostgreSQL 15
#
# Prints a Markdown section for bench/RESULTS.md (also left in
# bench/out/pseudonym/result.md).  Needs phleet installed (make install).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${ROWS:-1000000}
TPS_SECONDS=${TPS_SECONDS:-20}
TPS_ROUNDS=${TPS_ROUNDS:-3}
COPY_ROUNDS=${COPY_ROUNDS:-3}
SELECT_ROUNDS=${SELECT_ROUNDS:-5}
PER_LEAD=${PER_LEAD:-10}
port=${PHLEET_BENCH_PORT:-5496}
out=$top/bench/out/pseudonym
. bench/lib.sh
psql_() { as_pg "$bindir/psql" -h "$out/sock" -p "$port" -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }

bench_cluster_start "max_parallel_workers_per_gather = 0"
as_pg "$bindir/createdb" -h "$out/sock" -p "$port" -U postgres bench

psql_ -U postgres bench >/dev/null <<SQL
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('acme');
ALTER DATABASE bench SET bench.key = 'b7c1e0a94d2f4f3c8e5a6d7b9c0e1f2a';
CREATE ROLE bench_app LOGIN;
SELECT phleet.bind_role('bench_app', 'acme');

-- (a) governed, nothing classified
CREATE TABLE bench_a (id bigserial PRIMARY KEY, phone text, email text, note text);
SELECT phleet.govern('bench_a');

-- (b) hand-rolled: PL/pgSQL trigger, pgcrypto hmac() and pgp_sym_encrypt()
CREATE TABLE bench_b (id bigserial PRIMARY KEY, phone text, email text, note text);
SELECT phleet.govern('bench_b');
CREATE TABLE bench_b_vault (controller text, pseudonym text, sealed bytea,
                            PRIMARY KEY (controller, pseudonym));
CREATE FUNCTION bench_b_pseudonymize() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE
    k text := current_setting('bench.key');
    p text;
BEGIN
    IF NEW.phone IS NOT NULL THEN
        p := regexp_replace(NEW.phone, '[^0-9+]', '', 'g');
        NEW.phone := encode(hmac(p, k, 'sha256'), 'hex');
        INSERT INTO bench_b_vault VALUES (NEW.controller, NEW.phone, pgp_sym_encrypt(p, k, 's2k-mode=1'))
            ON CONFLICT DO NOTHING;
    END IF;
    IF NEW.email IS NOT NULL THEN
        NEW.email := encode(hmac(lower(btrim(NEW.email)), k, 'sha256'), 'hex');
    END IF;
    RETURN NEW;
END
\$\$;
-- named to fire after phleet_stamp, so the controller is known
CREATE TRIGGER pseudonymize_b BEFORE INSERT OR UPDATE ON bench_b
    FOR EACH ROW EXECUTE FUNCTION bench_b_pseudonymize();

-- (c) phleet
CREATE TABLE bench_c (id bigserial PRIMARY KEY, phone text, email text, note text);
SELECT phleet.govern('bench_c');
SELECT phleet.classify('bench_c', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.classify('bench_c', 'email', 'communication', 'email');

-- (c') phleet without reveal, to show what the vault costs
CREATE TABLE bench_d (id bigserial PRIMARY KEY, phone text, email text, note text);
SELECT phleet.govern('bench_d');
SELECT phleet.classify('bench_d', 'phone', 'communication', 'phone');
SELECT phleet.classify('bench_d', 'email', 'communication', 'email');

-- the same four, as whole message rows with an index on phone
DO \$\$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['a', 'b', 'c', 'd'] LOOP
        EXECUTE format('CREATE TABLE bench_%s_full (id bigserial PRIMARY KEY, phone text, email text,
                          direction text NOT NULL, status text NOT NULL, body text,
                          campaign_id integer, sent_at timestamptz NOT NULL)', t);
        PERFORM phleet.govern(format('bench_%s_full', t)::regclass);
        EXECUTE format('CREATE INDEX ON bench_%s_full (phone)', t);
        EXECUTE format('GRANT INSERT ON bench_%s_full TO bench_app', t);
        EXECUTE format('GRANT USAGE ON SEQUENCE bench_%s_full_id_seq TO bench_app', t);
    END LOOP;
END
\$\$;
CREATE TRIGGER pseudonymize_b BEFORE INSERT OR UPDATE ON bench_b_full
    FOR EACH ROW EXECUTE FUNCTION bench_b_pseudonymize();
SELECT phleet.classify('bench_c_full', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.classify('bench_c_full', 'email', 'communication', 'email');
SELECT phleet.classify('bench_d_full', 'phone', 'communication', 'phone');
SELECT phleet.classify('bench_d_full', 'email', 'communication', 'email');

GRANT INSERT ON bench_a, bench_b, bench_c, bench_d TO bench_app;
GRANT SELECT, INSERT ON bench_b_vault TO bench_app;
GRANT USAGE ON SEQUENCE bench_a_id_seq, bench_b_id_seq, bench_c_id_seq, bench_d_id_seq TO bench_app;

-- the rows to COPY, phones and emails as applications write them:
-- contacts, every one new; messages, $PER_LEAD per lead on average, in random order
COPY (SELECT '+1 (555) ' || lpad((g / 10000)::text, 3, '0') || '-' || lpad((g % 10000)::text, 4, '0'),
             'Lead.' || g || '@Example.com', 'note ' || g
        FROM generate_series(1, $ROWS) g) TO '$out/contacts.tsv';
SELECT setseed(0.29);
COPY (SELECT '+1 (555) ' || lpad((l / 10000)::text, 3, '0') || '-' || lpad((l % 10000)::text, 4, '0'),
             'Lead.' || l || '@Example.com', 'note ' || g
        FROM (SELECT g, 1 + floor(random() * ($ROWS / $PER_LEAD))::int AS l
                FROM generate_series(1, $ROWS) g) m) TO '$out/messages.tsv';
SELECT setseed(0.29);
COPY (SELECT '+1 (555) ' || lpad((l / 10000)::text, 3, '0') || '-' || lpad((l % 10000)::text, 4, '0'),
             'Lead.' || l || '@Example.com',
             CASE WHEN g % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'delivered',
             left(repeat(md5(g::text), 5), 60 + g % 100), g % 50,
             timestamptz '2026-11-01' + g * interval '1 second'
        FROM (SELECT g, 1 + floor(random() * ($ROWS / $PER_LEAD))::int AS l
                FROM generate_series(1, $ROWS) g) m) TO '$out/full.tsv';
CREATE TABLE nums AS SELECT '+1555' || lpad(g::text, 7, '0') AS x FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE nums;
SQL

# COPY FROM STDIN as the application's role, each table empty, after a
# checkpoint; (a), (c), (d) in interleaved rounds (the order turns), (b) once
declare -A copy_s
declare -A copy_all
declare -A vault_n
declare -A tps_all
all_tables="bench_a, bench_b, bench_c, bench_d, bench_a_full, bench_b_full, bench_c_full, bench_d_full"
copy_one() {   # copy_one <table> <shape>: prints seconds
    psql_ -U postgres bench -c "TRUNCATE $all_tables, bench_b_vault, phleet.vault" -c "CHECKPOINT"
    local t0 t1 into="bench_$1 (phone, email, note)"
    [ "$2" = full ] && into="bench_$1_full (phone, email, direction, status, body, campaign_id, sent_at)"
    t0=$(now)
    psql_ -U bench_app bench -c "\\copy $into FROM '$out/$2.tsv'"
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
orders=("a c d" "d a c" "c d a")
for shape in messages contacts full; do
    for round in $(seq 1 "$COPY_ROUNDS"); do
        for t in ${orders[$(( (round - 1) % 3 ))]}; do
            v=$(copy_one "$t" "$shape")
            copy_all[$shape,$t]="${copy_all[$shape,$t]:-} $v"
            if [ "$t" = c ]; then
                vault_n[$shape]=$(psql_ -U postgres bench -At -c "SELECT count(*) FROM phleet.vault")
            fi
        done
    done
    copy_all[$shape,b]=$(copy_one b "$shape")
done
psql_ -U postgres bench -c "TRUNCATE $all_tables, bench_b_vault, phleet.vault" >/dev/null

# single-row INSERT TPS, 2 clients, as the bound application role;
# $TPS_ROUNDS interleaved rounds, the median is reported
declare -A tps
for t in a b c; do
    cat > "$out/insert_$t.sql" <<SQL
\set n random(1, 999999999)
INSERT INTO bench_$t (phone, email, note) VALUES ('+1 555 ' || lpad((:n % 10000000)::text, 7, '0'), 'lead.' || :n || '@example.com', 'x');
SQL
    [ "$(id -u)" -eq 0 ] && chown postgres: "$out/insert_$t.sql"
done
for round in $(seq 1 "$TPS_ROUNDS"); do
    for t in a b c; do
        psql_ -U postgres bench -c "TRUNCATE bench_$t, bench_b_vault, phleet.vault" -c "CHECKPOINT"
        v=$(as_pg "$bindir/pgbench" -h "$out/sock" -p "$port" -U bench_app -n -c 2 -j 2 -T "$TPS_SECONDS" \
              -f "$out/insert_$t.sql" bench 2>/dev/null | sed -n 's/^tps = \([0-9]*\).*/\1/p' | head -n 1)
        tps[$t]="${tps[$t]:-} $v"
    done
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for t in a b c; do
    tps_all[$t]=${tps[$t]}
    tps[$t]=$(median ${tps[$t]})
done

# SELECT phleet.pseudonym() vs pgcrypto hmac() over $ROWS values (no parallel
# query), in $SELECT_ROUNDS rounds; each round times the bare scan, then both
sel_round() {
    psql_ -U postgres bench -At <<SQL | tail -n 1
BEGIN;
SELECT phleet.enter('acme') \g /dev/null
SELECT count(phleet.pseudonym(x, 'phone')), count(hmac(x, 'k', 'sha256')) FROM nums \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) \gset t0_
SELECT count(x) FROM nums \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) \gset t1_
SELECT count(phleet.pseudonym(x, 'phone')) FROM nums \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) \gset t2_
SELECT count(hmac(x, 'b7c1e0a94d2f4f3c8e5a6d7b9c0e1f2a', 'sha256')) FROM nums \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) \gset t3_
SELECT format('%s %s %s', round(1000 * (:t1_extract - :t0_extract), 1),
              round(1000 * (:t2_extract - :t1_extract), 1), round(1000 * (:t3_extract - :t2_extract), 1));
COMMIT;
SQL
}
sel_base=""; sel_ps=""; sel_hmac=""; sel_ratio=""
for round in $(seq 1 "$SELECT_ROUNDS"); do
    read -r b p h <<<"$(sel_round)"
    sel_base="$sel_base $b"; sel_ps="$sel_ps $p"; sel_hmac="$sel_hmac $h"
    sel_ratio="$sel_ratio $(echo "($h - $b) / ($p - $b)" | bc -l)"
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(nproc)
mem=$(free -g | awk '/^Mem:/ {print $2}')
load=$(cut -d' ' -f1-3 /proc/loadavg)
pgv=$("$bindir/postgres" --version | sed 's/^postgres (PostgreSQL) //')
sslv=$(openssl version | cut -d' ' -f1-2)
r() { printf '%.2f' "$(echo "$1" | bc -l)"; }
# median of the per-round ratios x/y (throughput of y relative to x: time x / time y)
ratio_med() {
    local -a xs=($1) ys=($2); local out="" i
    for i in "${!xs[@]}"; do out="$out $(echo "${xs[$i]} / ${ys[$i]}" | bc -l)"; done
    median $out
}
fmt_all() { local o="" v; for v in $1; do o="$o $(r "$v")"; done; echo "${o# }"; }
for shape in messages contacts full; do
    for t in a c d; do copy_s[$shape,$t]=$(median ${copy_all[$shape,$t]}); done
    copy_s[$shape,b]=${copy_all[$shape,b]}
done
ps_med=$(median $sel_ps); hmac_med=$(median $sel_hmac); base_med=$(median $sel_base)
us() { printf '%.2f' "$(echo "($1 - $base_med) * 1000 / $ROWS" | bc -l)"; }

{
cat <<MD
# Pseudonyms (bench/pseudonym.sh)

\`bench/pseudonym.sh\`, one run on $(date -u +%Y-%m-%d): $cpu, $ncpu cores, ${mem} GB RAM,
PostgreSQL $pgv, $sslv; load average at the end: $load (the machine is shared with other
sessions: single figures vary by ±30 %, hence rounds and medians).  shared_buffers 512MB,
fsync and synchronous_commit on, no parallel query.  Everything runs as \`bench_app\`, a
LOGIN role bound to the controller (not superuser: row-level security applies).

(a) governed table, nothing classified; (b) governed table with a PL/pgSQL trigger:
pgcrypto \`hmac()\` for phone and email, \`pgp_sym_encrypt(..., 's2k-mode=1')\` of the
phone into a vault table (\`INSERT ... ON CONFLICT DO NOTHING\`); (c) phleet, phone
classified with \`reveal => true\`, email classified; (d) as (c) without \`reveal\` (no vault).

\`COPY ... FROM STDIN\` of $ROWS rows into an empty table, after a checkpoint; (a), (c), (d)
in $COPY_ROUNDS interleaved rounds (median seconds; c / a is the median of the per-round
ratios), (b) once.  *messages*: $ROWS rows from $((ROWS / PER_LEAD)) leads, phone and email
repeating in random order; *contacts*: $ROWS rows, every phone and email new.  Tables
\`(id bigserial PRIMARY KEY, phone, email, note)\`: phleet's worst relative case.  *full*:
the rows of *messages* as whole rows of a messages table (\`direction\`, \`status\`, a
\`body\` of 60-160 characters, \`campaign_id\`, \`sent_at\`) with an index on \`phone\`.

| COPY $ROWS rows | (a) governed | (b) hand-rolled | (c) phleet | (d) no vault | c / b | c / a | d / a | vault entries |
|---|---|---|---|---|---|---|---|---|
MD
for shape in messages contacts full; do
    echo "| $shape, s | $(r "${copy_s[$shape,a]}") | $(r "${copy_s[$shape,b]}") | $(r "${copy_s[$shape,c]}") | $(r "${copy_s[$shape,d]}") | $(r "${copy_s[$shape,b]} / ${copy_s[$shape,c]}") × faster | $(r "$(ratio_med "${copy_all[$shape,a]}" "${copy_all[$shape,c]}")") | $(r "$(ratio_med "${copy_all[$shape,a]}" "${copy_all[$shape,d]}")") | ${vault_n[$shape]} |"
done
cat <<MD

Every round, s: messages a: $(fmt_all "${copy_all[messages,a]}"); c: $(fmt_all "${copy_all[messages,c]}"); d: $(fmt_all "${copy_all[messages,d]}");
contacts a: $(fmt_all "${copy_all[contacts,a]}"); c: $(fmt_all "${copy_all[contacts,c]}"); d: $(fmt_all "${copy_all[contacts,d]}");
full a: $(fmt_all "${copy_all[full,a]}"); c: $(fmt_all "${copy_all[full,c]}"); d: $(fmt_all "${copy_all[full,d]}").

| single-row INSERT, TPS (2 clients, median of $TPS_ROUNDS × ${TPS_SECONDS} s) | (a) | (b) | (c) | c / b | c / a |
|---|---|---|---|---|---|
| every identifier new | ${tps[a]} | ${tps[b]} | ${tps[c]} | $(r "${tps[c]} / ${tps[b]}") | $(r "${tps[c]} / ${tps[a]}") |

TPS of every round: a:${tps_all[a]}; b:${tps_all[b]}; c:${tps_all[c]}.

| $ROWS calls, median of $SELECT_ROUNDS rounds | ms | µs per call (minus a bare scan of $(r "$base_med") ms) |
|---|---|---|
| \`phleet.pseudonym(x, 'phone')\` (normalize, HMAC-SHA256, AES check) | $(r "$ps_med") | $(us "$ps_med") |
| pgcrypto \`hmac(x, key, 'sha256')\` | $(r "$hmac_med") | $(us "$hmac_med") |
| ratio, per call | | $(r "$(median $sel_ratio)") × (rounds: $(fmt_all "$sel_ratio")) |
MD
} | tee "$out/result.md"
