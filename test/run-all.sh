#!/usr/bin/env bash
# `make test`: install what is needed, build (warnings are errors), install,
# and run every suite as the postgres OS user: pg_regress, isolation, TAP
# (attack, pooler, crash), then a short fuzz run.  Prints one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "$(id -u)" -eq 0 ]; then
    test/deps.sh || exit 1
fi
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
export PG_CONFIG

passed=0
failed=0
failures=()
suite() {
    local name=$1; shift
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- env PATH="$PATH" PG_CONFIG="$PG_CONFIG" "$@"
    else
        "$@"
    fi
}

build() {
    make -s clean >/dev/null &&
    make -s check-werror PG_CONFIG="$PG_CONFIG" >/dev/null &&
    make -s clean >/dev/null &&
    make -s PG_CONFIG="$PG_CONFIG" &&
    if [ "$(id -u)" -eq 0 ]; then make -s install PG_CONFIG="$PG_CONFIG" >/dev/null; else sudo make -s install; fi
}
suite build build || { echo "0 passed, 1 failed"; exit 1; }

# the postgres OS user runs the servers and writes results into the tree
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$top"

show_diffs() {
    for f in regression.diffs output_iso/regression.diffs; do
        [ -s "$f" ] && { echo "--- $f"; cat "$f"; }
    done
    ls tmp_check/log/*.log >/dev/null 2>&1 && tail -n 30 tmp_check/log/*.log
    return 1
}
suite regress as_pg make -s installcheck-regress || show_diffs
suite isolation as_pg make -s installcheck-isolation || show_diffs
suite tap as_pg make -s installcheck-tap
if [ -x fuzz/run.sh ]; then
    suite fuzz as_pg fuzz/run.sh 10
fi

echo
[ ${#failures[@]} -gt 0 ] && echo "failed suites: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
