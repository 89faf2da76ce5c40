#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]: build every libFuzzer harness fuzz/<name>_fuzz.c into
# fuzz/bin/ and run each for SECONDS (default 60), one after the other.
# Exits non-zero when a build fails or a harness finds a crash, leak or
# failed check (the reproducer is left as fuzz/bin/<name>-crash-*).
# Skips (exit 0) only when clang-14 is not installed.
#
# Adding a harness: drop fuzz/<name>_fuzz.c, with a line
#     FUZZ_SOURCES: src/<pure file>.c ...
# naming the pure C files it links (never anything that needs postgres.h), and
# seed inputs in fuzz/corpus/<name>/.  New inputs found while fuzzing go to
# fuzz/bin/work/<name>/, never into the committed corpus.
#
#   fuzz/run.sh 10                     short run (make test)
#   FUZZ_ONLY=token fuzz/run.sh 300    one harness
#   fuzz/bin/token_fuzz fuzz/bin/token-crash-...   replay a reproducer
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
CC=${FUZZ_CC:-clang-14}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz: $CC not found, skipping (apt-get install clang-14)"
    exit 0
fi

mkdir -p fuzz/bin/work
status=0
for harness in fuzz/*_fuzz.c; do
    [ -e "$harness" ] || continue
    name=$(basename "$harness" _fuzz.c)
    if [ -n "${FUZZ_ONLY:-}" ] && [ "$name" != "$FUZZ_ONLY" ]; then
        continue
    fi
    # the .c paths on the first FUZZ_SOURCES line (a trailing */ is ignored)
    sources=$(sed -n 's/^.*FUZZ_SOURCES:[[:space:]]*//p' "$harness" | head -n 1 |
        grep -o '[[:alnum:]_./-]*\.c' | tr '\n' ' ')
    sources=${sources% }
    bin=fuzz/bin/${name}_fuzz
    echo "=== fuzz $name ($sources), ${seconds}s"
    # shellcheck disable=SC2086
    if ! "$CC" -g -O1 -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
            -Isrc -o "$bin" "$harness" $sources; then
        echo "fuzz $name: build failed"
        status=1
        continue
    fi
    corpus=fuzz/bin/work/$name
    mkdir -p "$corpus"
    seeds=()
    [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
    if "$bin" -max_total_time="$seconds" -max_len=2048 -timeout=10 \
            -print_final_stats=1 -artifact_prefix="fuzz/bin/$name-" \
            "$corpus" "${seeds[@]}" >"fuzz/bin/$name.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz/bin/$name.log")
        echo "fuzz $name: ok, ${runs:-?} executions"
    else
        tail -n 40 "fuzz/bin/$name.log"
        echo "fuzz $name: FAILED (log fuzz/bin/$name.log)"
        status=1
    fi
done
exit $status
