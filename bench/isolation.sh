#!/usr/bin/env bash
#
# bench/isolation.sh — what does phleet's isolation cost?  (issue 2, section 7)
#
# One script, one run, by hand; never part of a timed test.  It starts a
# throwaway cluster (phleet preloaded), creates three tables side by side with
# the same 1M rows and the same primary key (controller, id):
#
#   t_a  plain table; every query writes the controller filter by hand
#   t_b  the usual hand-rolled setup: PL/pgSQL BEFORE INSERT trigger stamping
#        current_setting('app.controller'), RLS ENABLE+FORCE, one policy
#        USING/WITH CHECK (controller = current_setting('app.controller'))
#   t_c  phleet.govern()ed table
#
# and runs pgbench scripts bench/{insert,point,range}_{a,b,c}.sql with 2 and 4
# clients, interleaving a/b/c so machine noise hits all three alike.  Every
# run connects as bench_app: LOGIN, not superuser, not the tables' owner;
# ALTER ROLE bench_app SET app.controller = 'c07' (for t_b) and
# phleet.bind_role('bench_app', 'c07') (for t_c: the bound-role context holds
# from the first statement, so nothing but steady state is measured).
#
# Settings (environment):
#   PG_CONFIG   pg_config of the PostgreSQL 15 where phleet is installed
#               (default /usr/lib/postgresql/15/bin/pg_config)
#   DURATION    seconds per pgbench run (6)        REPS      passes (6)
#   CLIENTS     client counts ("2 4"), -j 2         WORKLOADS ("insert point range")
#   PORT        server port (55491)                BASE      cluster dir (/tmp/phleet-bench)
#   OUT         results dir (bench/out)            KEEP=1    leave the cluster running
#
# Output: a table of TPS (median of the passes) with c/a and c/b, also in
# $OUT/summary.md; raw runs in $OUT/results.csv, pgbench logs in $OUT/runs/,
# query plans in $OUT/plans.txt, machine details in $OUT/machine.txt.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
DURATION=${DURATION:-6}
REPS=${REPS:-6}
CLIENTS=${CLIENTS:-"2 4"}
WORKLOADS=${WORKLOADS:-"insert point range"}
PORT=${PORT:-55491}
BASE=${BASE:-/tmp/phleet-bench}
OUT=${OUT:-$HERE/out}
KEEP=${KEEP:-0}

NCONTROLLERS=20
PER_CONTROLLER=50000
NROWS=$((NCONTROLLERS * PER_CONTROLLER))

BINDIR=$("$PG_CONFIG" --bindir)
PGDATA=$BASE/data
SOCK=$BASE/sock
DB=bench

die() { echo "isolation.sh: $*" >&2; exit 1; }

# Server-side commands run as the postgres OS user when we are root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql_su()  { as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d "$DB" "$@"; }
psql_app() { as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U bench_app -d "$DB" "$@"; }

[ -f "$("$PG_CONFIG" --pkglibdir)/phleet.so" ] ||
	die "phleet is not installed for $PG_CONFIG; run: make install PG_CONFIG=$PG_CONFIG"
"$BINDIR/postgres" --version | grep -q ' 15\.' || die "PostgreSQL 15 expected at $BINDIR"
[ -x "$BINDIR/pgbench" ] || die "pgbench not found in $BINDIR"

stop_cluster() {
	if [ -f "$PGDATA/postmaster.pid" ]; then
		as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
}
cleanup() {
	if [ "$KEEP" = 1 ]; then
		echo "cluster left running: psql -h $SOCK -p $PORT -U bench_app $DB"
		return
	fi
	stop_cluster
	rm -rf "$BASE"
}

# ---------------------------------------------------------------- machine
mkdir -p "$OUT/runs"
rm -f "$OUT"/runs/*.log "$OUT"/runs/*.time "$OUT/results.csv" "$OUT/summary.md" "$OUT/plans.txt"
{
	echo "date:       $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc:      $(nproc)"
	echo "cpu:        $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "ram:        $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel:     $(uname -r)"
	echo "postgres:   $("$BINDIR/postgres" --version)"
	echo "phleet:     $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$HERE/.." diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
	echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) (at start)"
	echo "settings:   DURATION=$DURATION REPS=$REPS CLIENTS='$CLIENTS' WORKLOADS='$WORKLOADS' rows=$NROWS"
} | tee "$OUT/machine.txt"

# ---------------------------------------------------------------- cluster
stop_cluster
rm -rf "$BASE"
mkdir -p "$SOCK"
chown -R postgres: "$BASE" 2>/dev/null || true
chmod 700 "$SOCK"
trap cleanup EXIT

as_pg "$BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
# fsync stays on.  synchronous_commit = off for every table alike: the commit
# then does not wait for the WAL flush, so the inserts measure CPU work
# (triggers, policies) instead of the virtual disk's flush latency.
# Autovacuum off so that no vacuum of one table runs during another's runs.
as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<EOF

# --- phleet bench/isolation.sh ---
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'phleet'
shared_buffers = 2GB
effective_cache_size = 8GB
work_mem = 16MB
maintenance_work_mem = 512MB
synchronous_commit = off
max_wal_size = 8GB
checkpoint_timeout = 30min
autovacuum = off
max_connections = 50
EOF
as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -l "$BASE/server.log" -w start >/dev/null ||
	{ cat "$BASE/server.log" >&2; die "server did not start"; }
as_pg "$BINDIR/createdb" -h "$SOCK" -p "$PORT" -U postgres "$DB"

# ---------------------------------------------------------------- schema + data
echo "loading $NROWS rows into each of t_a, t_b, t_c ..."
t0=$(date +%s)
psql_su <<EOF
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
CREATE EXTENSION pg_prewarm;
SELECT count(phleet.controller_create(format('c%s', lpad(i::text, 2, '0'))))
  FROM generate_series(0, $NCONTROLLERS - 1) i \g /dev/null

CREATE ROLE bench_app LOGIN;

-- Three identical tables.  The key leads with the controller column
-- (NOTES.md: it closes the unique/FK existence probes and serves every query
-- below); it is built after the load on all three, so the indexes are alike.
CREATE TABLE t_a (
    id         bigint GENERATED BY DEFAULT AS IDENTITY,
    phone      text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    controller text NOT NULL
);
CREATE TABLE t_b (
    id         bigint GENERATED BY DEFAULT AS IDENTITY,
    phone      text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    controller text NOT NULL
);
-- t_c gets its controller column (last, as in t_a and t_b) from
-- phleet.govern(): in this phleet version govern() fails to adopt an existing
-- controller column ("has rows whose controller "" is not a controller",
-- src/govern.sql tests FOUND after EXECUTE ... INTO, which EXECUTE never sets).
CREATE TABLE t_c (
    id         bigint GENERATED BY DEFAULT AS IDENTITY,
    phone      text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
SELECT phleet.govern('t_c') \g /dev/null

-- Controllers interleaved (id % 20), as rows of many tenants arrive over time.
INSERT INTO t_a (id, phone, body, created_at, controller)
SELECT i,
       '+1555' || lpad((i::bigint * 7919 % 10000000)::text, 7, '0'),
       'Lead ' || i || ': ' || md5(i::text) || ' ' || md5((i + 1)::text) || ' please call back',
       timestamptz '2024-01-01' + i * interval '10 seconds',
       format('c%s', lpad((i % $NCONTROLLERS)::text, 2, '0'))
  FROM generate_series(1, $NROWS) i;
INSERT INTO t_b SELECT * FROM t_a;
-- bulk load of all controllers' rows at once: skip the stamp trigger (which
-- takes one controller's rows only) for this one statement
SET session_replication_role = replica;
INSERT INTO t_c SELECT * FROM t_a;
RESET session_replication_role;

ALTER TABLE t_a ADD PRIMARY KEY (controller, id);
ALTER TABLE t_b ADD PRIMARY KEY (controller, id);
ALTER TABLE t_c ADD PRIMARY KEY (controller, id);
DO \$\$
DECLARE i regclass;
BEGIN
    -- govern() created an index on (controller) alone; the key now leads with it
    FOR i IN SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 't_c'::regclass AND NOT indisprimary LOOP
        EXECUTE format('DROP INDEX %s', i);
    END LOOP;
END
\$\$;
ALTER TABLE t_a ALTER COLUMN id RESTART WITH $((NROWS + 1));
ALTER TABLE t_b ALTER COLUMN id RESTART WITH $((NROWS + 1));
ALTER TABLE t_c ALTER COLUMN id RESTART WITH $((NROWS + 1));

-- (b) the usual hand-rolled setup
CREATE FUNCTION t_b_stamp() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    NEW.controller := current_setting('app.controller');
    RETURN NEW;
END
\$\$;
CREATE TRIGGER t_b_stamp BEFORE INSERT ON t_b FOR EACH ROW EXECUTE FUNCTION t_b_stamp();
ALTER TABLE t_b ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY t_b_isolation ON t_b
    USING (controller = current_setting('app.controller'))
    WITH CHECK (controller = current_setting('app.controller'));
ALTER ROLE bench_app SET app.controller = 'c07';

-- (c) phleet: governed above; the benchmark role is bound to c07
SELECT phleet.bind_role('bench_app', 'c07') \g /dev/null

GRANT SELECT, INSERT ON t_a, t_b, t_c TO bench_app;

VACUUM (ANALYZE) t_a, t_b, t_c;
CHECKPOINT;
EOF
echo "loaded in $(( $(date +%s) - t0 )) s"

# ---------------------------------------------------------------- sanity
# The benchmark is meaningless unless bench_app is really isolated on t_b/t_c.
check=$(psql_app -At <<'EOF'
SELECT concat_ws(' ',
    (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user),
    (SELECT bool_or(pg_has_role(current_user, c.relowner, 'USAGE')) FROM pg_class c
      WHERE c.relname IN ('t_a', 't_b', 't_c')),
    coalesce(phleet.current_controller(), 'none'),
    current_setting('app.controller'),
    (SELECT count(*) FROM t_a),
    (SELECT count(*) FROM t_b),
    (SELECT count(*) FROM t_c),
    (SELECT count(*) FROM t_c WHERE controller <> 'c07'));
EOF
)
expect="f f c07 c07 $NROWS $PER_CONTROLLER $PER_CONTROLLER 0"
[ "$check" = "$expect" ] || die "sanity check failed: got '$check', expected '$expect'"
layout=$(psql_su -At <<'EOF'
SELECT concat_ws(' ',
    (SELECT string_agg(format('%s:%s', c.relname, (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)), ',' ORDER BY c.relname)
       FROM pg_class c WHERE c.relname IN ('t_a', 't_b', 't_c')),
    (SELECT rls_enabled AND rls_forced FROM phleet.governed_tables WHERE table_name = 't_c'::regclass),
    (SELECT tgenabled FROM pg_trigger WHERE tgrelid = 't_c'::regclass AND tgname = 'phleet_stamp'));
EOF
)
[ "$layout" = "t_a:1,t_b:1,t_c:1 t O" ] || die "table layout check failed: got '$layout'"
echo "sanity: bench_app not superuser/owner, context c07, sees $NROWS / $PER_CONTROLLER / $PER_CONTROLLER rows in t_a / t_b / t_c"

# Plans of the benchmark queries, as bench_app (index use must be alike).
for t in a b c; do
	if [ "$t" = a ]; then f="controller = 'c07' AND "; else f=""; fi
	{
		echo "== t_$t point"
		psql_app -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id, phone, body, created_at FROM t_$t WHERE ${f}id = 700007"
		echo "== t_$t range"
		psql_app -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id, phone, body, created_at FROM t_$t WHERE ${f}id >= 500000 ORDER BY id LIMIT 100"
	} >>"$OUT/plans.txt"
done
grep -q 'Seq Scan\|Sort' "$OUT/plans.txt" && die "a benchmark query does not use the (controller, id) index; see $OUT/plans.txt"

psql_su -At -c "SELECT sum(pg_prewarm(c)) FROM unnest(array['t_a','t_b','t_c','t_a_pkey','t_b_pkey','t_c_pkey']::regclass[]) c" >/dev/null

# ---------------------------------------------------------------- runs
# Besides TPS, every run records CPU time per transaction, which other
# sessions on a shared machine disturb far less than wall-clock TPS:
#   server: user+system time of the run's backends.  The postmaster reaps
#           every backend that exits, so its cutime+cstime grows by exactly
#           their CPU time (read once they have all exited);
#   client: user+system time of pgbench itself.
# WAL writer and checkpointer are not counted (they were forked before).
PM=$(head -1 "$PGDATA/postmaster.pid")
TICK=$(getconf CLK_TCK)
NBASE=$(pgrep -c -P "$PM")
reaped_ticks() { awk '{print $16 + $17}' "/proc/$PM/stat"; }
wait_reaped() {
	local i
	for i in $(seq 1 100); do
		[ "$(pgrep -c -P "$PM")" -le "$NBASE" ] && return 0
		sleep 0.1
	done
	die "backends of the last run did not exit"
}

# Each pass runs every (workload, clients) group with the tables in one of
# the six orders, so each table runs first, second and third equally often.
ORDERS=("a b c" "b c a" "c a b" "c b a" "b a c" "a c b")
echo "rep,workload,clients,table,tps,latency_ms,xacts,server_cpu_s,client_cpu_s" >"$OUT/results.csv"
nruns=$(( REPS * $(wc -w <<<"$WORKLOADS") * $(wc -w <<<"$CLIENTS") * 3 ))
echo "running $nruns pgbench runs of ${DURATION}s (about $(( nruns * (DURATION + 1) / 60 + 1 )) min) ..."
TIMEFORMAT='%U %S'
n=0
for rep in $(seq 1 "$REPS"); do
	order=${ORDERS[$(( (rep - 1) % 6 ))]}
	for wl in $WORKLOADS; do
		for c in $CLIENTS; do
			for t in $order; do
				n=$((n + 1))
				log="$OUT/runs/${wl}_${t}_c${c}_r${rep}.log"
				wait_reaped
				t0=$(reaped_ticks)
				{ time as_pg "$BINDIR/pgbench" -n -M prepared -T "$DURATION" -c "$c" -j 2 \
					-h "$SOCK" -p "$PORT" -U bench_app -f "$HERE/${wl}_${t}.sql" "$DB" >"$log" 2>&1; } 2>"$log.time" ||
					{ cat "$log" >&2; die "pgbench failed: $log"; }
				wait_reaped
				t1=$(reaped_ticks)
				grep -q '^number of failed transactions: 0 ' "$log" ||
					die "pgbench reported failed transactions: $log"
				tps=$(awk '/^tps = / {print $3; exit}' "$log")
				lat=$(awk '/^latency average = / {print $4; exit}' "$log")
				xacts=$(awk -F': ' '/^number of transactions actually processed/ {print $2 + 0; exit}' "$log")
				server=$(awk -v d=$((t1 - t0)) -v k="$TICK" 'BEGIN {printf "%.2f", d / k}')
				client=$(awk '{printf "%.2f", $1 + $2}' "$log.time")
				echo "$rep,$wl,$c,$t,$tps,$lat,$xacts,$server,$client" >>"$OUT/results.csv"
				printf '  [%2d/%d] pass %s %-6s -c %s t_%s %9.0f tps %7.1f us server CPU/xact\n' \
					"$n" "$nruns" "$rep" "$wl" "$c" "$t" "$tps" "$(awk -v s="$server" -v x="$xacts" 'BEGIN {print 1e6 * s / x}')"
			done
		done
	done
done

# ---------------------------------------------------------------- summary
awk -F, -v reps="$REPS" '
function median(arr, n,   i, j, t, a) {
	for (i = 1; i <= n; i++) a[i] = arr[i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function med(g, what, t,   i, arr) {
	for (i = 1; i <= reps; i++) arr[i] = val[g, what, t, i]
	return median(arr, reps)
}
# median over the passes of a per-pass ratio x/y of the same group
function medratio(g, what, x, y,   i, arr) {
	for (i = 1; i <= reps; i++) arr[i] = val[g, what, x, i] / val[g, what, y, i]
	return median(arr, reps)
}
function spread(g, what, t,   i, lo, hi, v) {
	lo = hi = val[g, what, t, 1]
	for (i = 2; i <= reps; i++) { v = val[g, what, t, i]; if (v < lo) lo = v; if (v > hi) hi = v }
	return sprintf("%.0f–%.0f", lo, hi)
}
NR == 1 { next }
{
	g = $2 SUBSEP $3
	if (!(g in seen)) { seen[g] = 1; order[++ng] = g }
	val[g, "tps", $4, $1] = $5
	val[g, "srv", $4, $1] = 1e6 * $8 / $7
	val[g, "tot", $4, $1] = 1e6 * ($8 + $9) / $7
}
END {
	print "## TPS (median of " reps " passes; range in parentheses; ratios = median of the per-pass ratios)"
	print ""
	print "| workload | clients | (a) plain | (b) plpgsql+RLS | (c) phleet | c/a | c/b | target |"
	print "|---|---:|---:|---:|---:|---:|---:|---|"
	for (k = 1; k <= ng; k++) {
		g = order[k]; split(g, p, SUBSEP)
		ca = medratio(g, "tps", "c", "a"); cb = medratio(g, "tps", "c", "b")
		ok = p[1] == "insert" ? (ca >= 0.90 && cb > 1.0) : (ca >= 0.95)
		printf "| %s | %s | %.0f (%s) | %.0f (%s) | %.0f (%s) | %.3f | %.3f | %s |\n", p[1], p[2],
			med(g, "tps", "a"), spread(g, "tps", "a"), med(g, "tps", "b"), spread(g, "tps", "b"),
			med(g, "tps", "c"), spread(g, "tps", "c"), ca, cb, ok ? "met" : "missed"
	}
	print ""
	print "## CPU time per transaction in µs (median of " reps " passes)"
	print ""
	print "server = the backends; total = backends + pgbench. \"c/a by CPU\" = total(a) / total(c), the TPS"
	print "ratio to expect when this benchmark alone saturates the cores; it is far less disturbed by"
	print "other sessions than TPS is."
	print ""
	print "| workload | clients | server a | server b | server c | c − a | c − b | total a | total b | total c | c/a by CPU | c/b by CPU | target |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for (k = 1; k <= ng; k++) {
		g = order[k]; split(g, p, SUBSEP)
		sa = med(g, "srv", "a"); sb = med(g, "srv", "b"); sc = med(g, "srv", "c")
		ta = med(g, "tot", "a"); tb = med(g, "tot", "b"); tc = med(g, "tot", "c")
		ca = medratio(g, "tot", "a", "c"); cb = medratio(g, "tot", "b", "c")
		ok = p[1] == "insert" ? (ca >= 0.90 && cb > 1.0) : (ca >= 0.95)
		printf "| %s | %s | %.1f | %.1f | %.1f | %+.1f | %+.1f | %.1f | %.1f | %.1f | %.3f | %.3f | %s |\n", p[1], p[2],
			sa, sb, sc, sc - sa, sc - sb, ta, tb, tc, ca, cb, ok ? "met" : "missed"
	}
}' "$OUT/results.csv" | tee "$OUT/summary.md"
echo "load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
