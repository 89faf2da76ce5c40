#!/usr/bin/env bash
# bench/vault_prune.sh: how long the purge's pruning of one controller's vault
# holds that controller's vault lock (writers of its revealable columns wait
# for it), in one step (revealable column not indexed) and in two steps
# (indexed: candidates found without the lock, deleted in transactions of
# 10,000 under it).
#
# One controller, a leads table of $ROWS rows with a revealable phone, every
# other row expired; one purge per mode.  Prints the vault's purge_log row:
# entries deleted, transactions under the lock (batches), the longest of them
# and the time from the first read to the last delete.
#
#   bench/vault_prune.sh                         500,000 rows (about 30 s)
#   ROWS=2000000 bench/vault_prune.sh
#   PG_CONFIG=/path/to/pg_config bench/vault_prune.sh
#
# Needs phleet installed (make install).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${ROWS:-500000}
port=${PHLEET_BENCH_PORT:-5497}
out=$top/bench/out/vault_prune
. bench/lib.sh
psql_() { as_pg "$bindir/psql" -h "$out/sock" -p "$port" -X -q -v ON_ERROR_STOP=1 -U postgres postgres "$@"; }

bench_cluster_start

psql_ >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('big');
CREATE TABLE leads (id bigint PRIMARY KEY, at timestamptz NOT NULL, phone text);
SELECT phleet.govern('leads');
SELECT phleet.classify('leads', 'phone', 'communication', 'phone', reveal => true);
SQL

echo "| pruning | entries deleted | transactions under the lock | longest, s | first read to last delete, s |"
echo "|---|---|---|---|---|"
for mode in one two; do
    index=""
    [ "$mode" = two ] && index="CREATE INDEX leads_phone ON leads (phone);"
    psql_ >/dev/null <<SQL
SET client_min_messages = warning;
TRUNCATE leads, phleet.purge_log, phleet.purge_runs;
DELETE FROM phleet.vault;
DROP INDEX IF EXISTS leads_phone;
SELECT phleet.unretain('leads') FROM phleet.retention_rules WHERE relid = 'leads'::regclass;
BEGIN;
SELECT phleet.enter('big');
INSERT INTO leads
SELECT g, now() - CASE WHEN g % 2 = 0 THEN interval '60 days' ELSE interval '1 day' END,
       '+1555' || lpad(g::text, 7, '0')
  FROM generate_series(1, $ROWS) g;
COMMIT;
SELECT phleet.retain('leads', '30 days', 'at');
$index
VACUUM ANALYZE leads;
VACUUM ANALYZE phleet.vault;
CHECKPOINT;
SET client_min_messages = warning;
CALL phleet.purge(10000, '1 hour');
SQL
    psql_ -At -F ' | ' -c "
SELECT CASE '$mode' WHEN 'one' THEN 'one step (phone not indexed)' ELSE 'two steps (phone indexed)' END,
       rows_deleted, batches, round(extract(epoch FROM longest_batch)::numeric, 3),
       round(extract(epoch FROM finished - started)::numeric, 3)
  FROM phleet.purge_log WHERE method = 'vault'" | sed 's/^/| /; s/$/ |/'
done
