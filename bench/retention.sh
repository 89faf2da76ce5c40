#!/usr/bin/env bash
# Retention benchmark: phleet.purge() vs one plain DELETE, and the partition
# path vs the same rows deleted row by row.
#
#   bench/retention.sh                      10M rows, half expired, 20 controllers
#   ROWS=2000000 bench/retention.sh         smaller
#   PG_CONFIG=/path/to/pg_config bench/retention.sh
#   PARTITION_ONLY=1 bench/retention.sh     only the partitioned table's two contenders
#   REPEAT=3 PARTITION_ONLY=1 bench/retention.sh   the two partition contenders 3 times, alternating
#   BENCH_DIR=/mnt/x/bench bench/retention.sh      cluster (data directory) on another file system
#   LOAD_ONLY=1 bench/retention.sh          load, then leave the server running (stop it yourself)
#
# Builds and installs nothing: phleet must be installed for PG_CONFIG.  Makes
# a throwaway cluster in $BENCH_DIR (port $BENCH_PORT; the directory is
# emptied first, and the report names its file system and mount options:
# dropping tables costs what the file system takes to release their files),
# loads the data once
# into template databases and runs every contender on a fresh copy
# (CREATE DATABASE ... STRATEGY FILE_COPY), with the copy prewarmed into
# shared_buffers and a CHECKPOINT just before, so each starts from the same
# state.  Prints a Markdown section for bench/RESULTS.md.
#
# Data: ROWS rows over 200 days, in time order, controllers interleaved
# (row i belongs to controller i % CONTROLLERS); rows older than 101 days
# (half) are past the 100-day policy, rows of the last 99 days are kept.  The
# partitioned copy has 10-day RANGE partitions on the time column with a
# bound at the cut-off, so the expired half is exactly 10 whole partitions.
#
# Measured: wall time of the deleting statement(s); rows/s; the longest
# transaction: for the plain DELETE its whole duration, for phleet.purge()
# the longest batch as phleet.purge_runs.longest_batch records it (from the
# batch's transaction start to just before its COMMIT; the commit's WAL
# flush, a few ms, is not included).
set -euo pipefail

ROWS=${ROWS:-10000000}
CONTROLLERS=${CONTROLLERS:-20}
BATCHES=${BATCHES:-"10000 50000 10000:async"}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BENCH_DIR=${BENCH_DIR:-/tmp/phleet-bench-retention}
BENCH_PORT=${BENCH_PORT:-5548}
SHARED_BUFFERS=${SHARED_BUFFERS:-3GB}
PARTITION_ONLY=${PARTITION_ONLY:-0}
LOAD_ONLY=${LOAD_ONLY:-0}
REPEAT=${REPEAT:-1}

if [ "$(id -u)" -eq 0 ]; then
    exec runuser -u postgres -- env ROWS="$ROWS" CONTROLLERS="$CONTROLLERS" BATCHES="$BATCHES" \
        PG_CONFIG="$PG_CONFIG" BENCH_DIR="$BENCH_DIR" BENCH_PORT="$BENCH_PORT" \
        SHARED_BUFFERS="$SHARED_BUFFERS" PARTITION_ONLY="$PARTITION_ONLY" LOAD_ONLY="$LOAD_ONLY" REPEAT="$REPEAT" "$0" "$@"
fi

BIN=$("$PG_CONFIG" --bindir)
DATA=$BENCH_DIR/data
SOCK=$BENCH_DIR/sock
LOG=$BENCH_DIR/log

psql_() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$BENCH_PORT" "$@"; }
q() { local db=$1; shift; psql_ -d "$db" -Atc "$*"; }
say() { echo "# $(date +%T) $*" >&2; }

stop() { [ -f "$DATA/postmaster.pid" ] && "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null || true; }
trap stop EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$SOCK"
"$BIN/initdb" -D "$DATA" -A trust >/dev/null
cat >> "$DATA/postgresql.conf" <<EOF
port = $BENCH_PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'phleet'
shared_buffers = $SHARED_BUFFERS
max_wal_size = 40GB
checkpoint_timeout = 1h
maintenance_work_mem = 512MB
work_mem = 64MB
EOF
"$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w start >/dev/null

# ---------------------------------------------------------------- load
# Rows are loaded with session_replication_role = replica, which skips
# phleet's stamp trigger (it would want one controller context per row);
# the controller index phleet.govern() made is built after the load.
load_sql() {   # load_sql <partitioned: 0|1>
cat <<EOF
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
CREATE EXTENSION pg_prewarm;
SELECT count(phleet.controller_create('c' || g)) FROM generate_series(0, $CONTROLLERS - 1) g;
-- the cut-off of a 100-day policy, fixed at load time; no row within a day of it
CREATE TABLE bench_anchor AS SELECT date_trunc('hour', now()) - interval '100 days' AS cut;
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL, payload text)
    $( [ "$1" = 1 ] && echo "PARTITION BY RANGE (at)" );
DO \$\$
DECLARE cut timestamptz := (SELECT a.cut FROM bench_anchor a);
BEGIN
    IF $1 = 1 THEN
        FOR k IN -10 .. 9 LOOP
            EXECUTE format('CREATE TABLE events_p%s PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                           k + 10, cut + k * interval '10 days', cut + (k + 1) * interval '10 days');
        END LOOP;
    END IF;
END
\$\$;
SELECT phleet.govern('events');
DROP INDEX events_controller_idx;
SET session_replication_role = replica;
INSERT INTO events (id, controller, at, payload)
SELECT g, 'c' || (g % $CONTROLLERS),
       CASE WHEN g <= $ROWS / 2
            THEN a.cut - interval '1 day' - (($ROWS / 2 - g) * interval '98 days') / ($ROWS / 2)
            ELSE a.cut + interval '1 day' + ((g - $ROWS / 2) * interval '98 days') / ($ROWS / 2) END,
       'lead ' || g
  FROM generate_series(1, $ROWS) g, bench_anchor a;
RESET session_replication_role;
CREATE INDEX events_controller_idx ON events (controller);
SELECT phleet.retain('events', '100 days', 'at');
VACUUM ANALYZE events;
EOF
}

kinds="plain parted"
[ "$PARTITION_ONLY" = 1 ] && kinds=parted
for kind in $kinds; do
    say "loading $ROWS rows, $CONTROLLERS controllers ($kind)"
    t0=$(date +%s)
    psql_ -d postgres -c "CREATE DATABASE base_$kind"
    load_sql "$( [ $kind = parted ] && echo 1 || echo 0 )" | psql_ -d base_$kind >/dev/null
    say "loaded in $(( $(date +%s) - t0 )) s"
done

if [ "$LOAD_ONLY" = 1 ]; then
    trap - EXIT
    say "loaded; server left running on port $BENCH_PORT, socket $SOCK"
    exit 0
fi
base=base_plain
[ "$PARTITION_ONLY" = 1 ] && base=base_parted
expired=$(q $base "SELECT count(*) FROM events, bench_anchor a WHERE at < a.cut")
total=$(q $base "SELECT count(*) FROM events")
size=$(q $base "SELECT pg_size_pretty(sum(pg_total_relation_size(t.relid))) FROM pg_partition_tree('events') t")

# ---------------------------------------------------------------- runs
fresh() {   # fresh <template> <name>: a copy, prewarmed, after a checkpoint
    psql_ -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2 TEMPLATE $1 STRATEGY FILE_COPY"
    q "$2" "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.relkind IN ('r', 'i') AND c.relnamespace = 'public'::regnamespace" >/dev/null
    q "$2" "CHECKPOINT"
}
secs() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
now_() { date +%s.%N; }

results=()
row() { results+=("$1"); }

if [ "$PARTITION_ONLY" != 1 ]; then
# plain DELETE, one statement, one transaction
fresh base_plain run
say "plain DELETE"
t1=$(now_)
n=$(q run "WITH d AS (DELETE FROM events WHERE at < now() - interval '100 days' RETURNING 1) SELECT count(*) FROM d")
t2=$(now_)
plain_s=$(secs "$t1" "$t2")
plain_rate=$(python3 -c "print(round($n / $plain_s))")
row "| plain \`DELETE ... WHERE at < now() - interval '100 days'\` | $n | $plain_s s | $plain_rate | $plain_s s (one transaction) |"
left=$(q run "SELECT count(*) FROM events")
psql_ -d postgres -c "DROP DATABASE run"

# phleet.purge(); "N:async" runs it with synchronous_commit = off
for spec in $BATCHES; do
    b=${spec%%:*}
    opts="-c client_min_messages=warning"
    label="\`CALL phleet.purge($b)\`"
    if [ "$spec" != "$b" ]; then
        opts="$opts -c synchronous_commit=off"
        label="$label, \`synchronous_commit = off\`"
    fi
    fresh base_plain run
    say "phleet.purge($spec)"
    t1=$(now_)
    PGOPTIONS="$opts" q run "CALL phleet.purge($b, '1 hour')" >/dev/null
    t2=$(now_)
    s=$(secs "$t1" "$t2")
    read -r n longest batches status < <(q run "SELECT r.rows_deleted, round(extract(epoch FROM r.longest_batch)::numeric, 3),
                                                    (SELECT sum(l.batches) FROM phleet.purge_log l WHERE l.run_id = r.run_id
                                                       AND l.controller = 'c0'), r.status
                                               FROM phleet.purge_runs r" | tr '|' ' ')
    rate=$(python3 -c "print(round($n / $s))")
    ratio=$(python3 -c "print('%.2f' % ($rate / $plain_rate))")
    row "| $label ($batches committed batches) | $n | $s s | $rate (${ratio}× plain) | $longest s |"
    [ "$(q run "SELECT count(*) FROM events")" = "$left" ] || { echo "purge left a different row count" >&2; exit 1; }
    psql_ -d postgres -c "DROP DATABASE run"
done
fi

# partitioned: whole partitions dropped vs the same rows deleted row by row,
# REPEAT times, alternating
speedups=()
for r in $(seq 1 "$REPEAT"); do
fresh base_parted run
say "phleet.purge() on the partitioned table, partitions dropped (round $r)"
t1=$(now_)
PGOPTIONS="-c client_min_messages=warning" q run "CALL phleet.purge(10000, '1 hour')" >/dev/null
t2=$(now_)
drop_s=$(secs "$t1" "$t2")
read -r n longest parts < <(q run "SELECT rows_deleted, round(extract(epoch FROM longest_batch)::numeric, 3), partitions_dropped FROM phleet.purge_runs" | tr '|' ' ')
detach_ms=$(q run "SELECT round(extract(epoch FROM max(l.finished - l.started))::numeric * 1000, 1) FROM phleet.purge_log l WHERE l.method = 'partition' AND l.controller = 'c0'")
drop_rate=$(python3 -c "print(round($n / $drop_s))")
row "| partitioned, \`CALL phleet.purge()\`: $parts partitions detached in one transaction, then dropped in one (round $r) | $n | $drop_s s | $drop_rate | $longest s (the detach transaction — SHARE locks on the partitions, counts, checks, DETACHes under ACCESS EXCLUSIVE on the table — or the drop transaction, which locks only the detached tables; commits not included) |"
psql_ -d postgres -c "DROP DATABASE run"

fresh base_parted run
say "phleet.purge() on the partitioned table, row by row (round $r)"
t1=$(now_)
PGOPTIONS="-c client_min_messages=warning -c phleet.purge_partitions=off" q run "CALL phleet.purge(10000, '1 hour')" >/dev/null
t2=$(now_)
rows_s=$(secs "$t1" "$t2")
read -r n longest < <(q run "SELECT rows_deleted, round(extract(epoch FROM longest_batch)::numeric, 3) FROM phleet.purge_runs" | tr '|' ' ')
rows_rate=$(python3 -c "print(round($n / $rows_s))")
speedup=$(python3 -c "print('%.0f' % ($rows_s / $drop_s))")
speedups+=("${speedup}×")
row "| partitioned, same rows row by row (\`phleet.purge_partitions = off\`) (round $r) | $n | $rows_s s | $rows_rate | $longest s |"
psql_ -d postgres -c "DROP DATABASE run"
done

# ---------------------------------------------------------------- report
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cat <<EOF

## Retention

\`bench/retention.sh\` (ROWS=$ROWS, CONTROLLERS=$CONTROLLERS), $(date -u +%Y-%m-%d).
Machine: $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, shared with other
jobs (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)); $("$BIN/postgres" --version);
shared_buffers = $SHARED_BUFFERS, max_wal_size = 40GB, synchronous_commit = on, fsync = on.
Data directory on $(findmnt -no SOURCE,FSTYPE,OPTIONS --target "$BENCH_DIR" | awk '{print $1 " (" $2 ", mount options " $3 ")"}').
Table: $total rows ($size with its two indexes), $expired of them past a 100-day policy,
controllers interleaved in time order.  Each contender ran on a fresh copy of
the same data, prewarmed, right after a CHECKPOINT.

| contender | rows deleted | time | rows/s | longest transaction |
|---|---|---|---|---|
$(printf '%s\n' "${results[@]}")

Partition path vs the same rows deleted row by row, per round: ${speedups[*]}.  The $parts
partitions were detached in one transaction, then dropped in one transaction whose commit
scans shared_buffers once and releases all their files; from the detach's start to the drop
(last round): ${detach_ms} ms (controller c0's log rows, commit of the drop not included).
EOF
