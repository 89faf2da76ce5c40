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
# measured: COPY of $ROWS rows (all identifiers distinct), single-row INSERT
# TPS (pgbench, 2 clients, $TPS_ROUNDS interleaved rounds of $TPS_SECONDS s,
# one transaction per insert, as a role bound to the controller), and SELECT phleet.pseudonym(x, 'phone')
# over $ROWS rows vs pgcrypto hmac(x, key, 'sha256').
#
#   bench/pseudonym.sh                      full run (about 10 minutes)
#   ROWS=100000 TPS_SECONDS=10 bench/pseudonym.sh    quick look
#   PG_CONFIG=/path/to/pg_config bench/pseudonym.sh  another PostgreSQL 15
#
# Prints a Markdown section for bench/RESULTS.md (also left in
# bench/out/pseudonym/result.md).  Needs phleet installed (make install).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
ROWS=${ROWS:-1000000}
TPS_SECONDS=${TPS_SECONDS:-20}
TPS_ROUNDS=${TPS_ROUNDS:-3}
port=${PHLEET_BENCH_PORT:-5496}
out=$top/bench/out/pseudonym
data=$out/data
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_() { as_pg "$bindir/psql" -h "$out/sock" -p "$port" -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }

stop() { [ -f "$data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true; }
trap stop EXIT
stop
rm -rf "$out"
mkdir -p "$out/sock"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$out"

as_pg "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg sh -c "umask 077 && openssl rand -hex 32 > '$data/phleet.key'"
cat >> "$data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$out/sock'
shared_preload_libraries = 'phleet'
phleet.master_key_file = 'phleet.key'
shared_buffers = 512MB
max_wal_size = 4GB
max_parallel_workers_per_gather = 0
CONF
as_pg "$bindir/pg_ctl" -D "$data" -l "$out/server.log" -w start >/dev/null
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

GRANT INSERT ON bench_a, bench_b, bench_c TO bench_app;
GRANT SELECT, INSERT ON bench_b_vault TO bench_app;
GRANT USAGE ON SEQUENCE bench_a_id_seq, bench_b_id_seq, bench_c_id_seq TO bench_app;

-- the rows to COPY: distinct phones and emails, as applications write them
COPY (SELECT '+1 (555) ' || lpad((g / 10000)::text, 3, '0') || '-' || lpad((g % 10000)::text, 4, '0'),
             'Lead.' || g || '@Example.com', 'note ' || g
        FROM generate_series(1, $ROWS) g) TO '$out/rows.tsv';
CREATE TABLE nums AS SELECT '+1555' || lpad(g::text, 7, '0') AS x FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE nums;
SQL

# COPY: each table empty, after a checkpoint, in the controller's context
declare -A copy_s
declare -A tps_all
for t in a b c d; do
    psql_ -U postgres bench -c "TRUNCATE bench_a, bench_b, bench_c, bench_d, bench_b_vault, phleet.vault" -c "CHECKPOINT"
    t0=$(now)
    psql_ -U postgres bench <<SQL
BEGIN;
SELECT phleet.enter('acme') \g /dev/null
COPY bench_$t (phone, email, note) FROM '$out/rows.tsv';
COMMIT;
SQL
    t1=$(now)
    copy_s[$t]=$(echo "$t1 - $t0" | bc -l)
    if [ "$t" = c ]; then vault_c=$(psql_ -U postgres bench -At -c "SELECT count(*) FROM phleet.vault"); fi
done
psql_ -U postgres bench -c "TRUNCATE bench_d" >/dev/null

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

# SELECT phleet.pseudonym() vs pgcrypto hmac() over $ROWS values (no parallel query)
sel() {
    psql_ -U postgres bench -At <<SQL | tail -n 1
BEGIN;
SELECT phleet.enter('acme') \g /dev/null
SELECT $1 FROM nums \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) \gset t0_
SELECT $1 FROM nums \g /dev/null
SELECT round(1000 * (extract(epoch FROM clock_timestamp()) - :t0_extract), 1);
COMMIT;
SQL
}
base_ms=$(sel "count(x)")
ps_ms=$(sel "count(phleet.pseudonym(x, 'phone'))")
hmac_ms=$(sel "count(hmac(x, 'b7c1e0a94d2f4f3c8e5a6d7b9c0e1f2a', 'sha256'))")

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(nproc)
mem=$(free -g | awk '/^Mem:/ {print $2}')
load=$(cut -d' ' -f1-3 /proc/loadavg)
pgv=$("$bindir/postgres" --version | sed 's/^postgres (PostgreSQL) //')
sslv=$(openssl version | cut -d' ' -f1-2)
r() { printf '%.2f' "$(echo "$1" | bc -l)"; }
us() { printf '%.2f' "$(echo "($1 - $base_ms) * 1000 / $ROWS" | bc -l)"; }

{
cat <<MD
# Pseudonyms (bench/pseudonym.sh)

\`bench/pseudonym.sh\`, one run on $(date -u +%Y-%m-%d): $cpu, $ncpu cores, ${mem} GB RAM,
PostgreSQL $pgv, $sslv; load average before/while running: $load (the machine is
shared with other sessions: figures vary by ±30 %).  shared_buffers 512MB, fsync and
synchronous_commit on, no parallel query.

(a) governed table, nothing classified; (b) governed table with a PL/pgSQL trigger:
pgcrypto \`hmac()\` for phone and email, \`pgp_sym_encrypt(..., 's2k-mode=1')\` of the
phone into a vault table (\`INSERT ... ON CONFLICT DO NOTHING\`); (c) phleet, phone
classified with \`reveal => true\`, email classified.  Every identifier distinct.

| | (a) governed | (b) hand-rolled | (c) phleet | c / b | c / a |
|---|---|---|---|---|---|
| COPY $ROWS rows, s | $(r "${copy_s[a]}") | $(r "${copy_s[b]}") | $(r "${copy_s[c]}") | $(r "${copy_s[b]} / ${copy_s[c]}") × faster | $(r "${copy_s[a]} / ${copy_s[c]}") |
| single-row INSERT, TPS (2 clients, median of $TPS_ROUNDS × ${TPS_SECONDS} s) | ${tps[a]} | ${tps[b]} | ${tps[c]} | $(r "${tps[c]} / ${tps[b]}") | $(r "${tps[c]} / ${tps[a]}") |

TPS of every round: a:${tps_all[a]}; b:${tps_all[b]}; c:${tps_all[c]}.

(c) wrote $vault_c vault entries during its COPY.  The same COPY into a table whose two
columns are classified without reveal (no vault) took $(r "${copy_s[d]}") s ($(r "${copy_s[a]} / ${copy_s[d]}") × a).

| $ROWS calls | ms | µs per call (minus a bare scan of $base_ms ms) |
|---|---|---|
| \`phleet.pseudonym(x, 'phone')\` (normalize + 2 HMAC-SHA256) | $ps_ms | $(us "$ps_ms") |
| pgcrypto \`hmac(x, key, 'sha256')\` | $hmac_ms | $(us "$hmac_ms") |
| ratio | $(r "$hmac_ms / $ps_ms") × (whole query) | $(r "($hmac_ms - $base_ms) / ($ps_ms - $base_ms)") × (per call) |
MD
} | tee "$out/result.md"
