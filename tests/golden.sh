#!/bin/sh
# natreport's golden files (tests/golden/TESTLIST): each test's output must
# be byte for byte the expected one. On a difference the diff is shown;
# tests/golden/update rewrites the expected files when a change is meant.
set -u
BIN=$(cd "${1:-bin}" && pwd)
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run ARGS...: natreport's output as a golden file holds it.
run() {
    (cd tests/golden && NATREPORT_THREADS=$threads "$BIN/natreport" "$@" >"$tmp/stdout" 2>"$tmp/stderr")
    rc=$?
    cat "$tmp/stdout" "$tmp/stderr"
    echo "exit $rc"
}

# Each test on one thread, and with worker threads parsing: the same bytes.
for threads in 0 2 5; do
    while read -r name expected args; do
        case $name in '' | '#'*) continue ;; esac
        # shellcheck disable=SC2086 # the arguments are words
        run $args >"$tmp/got"
        if cmp -s "$tmp/got" "tests/golden/expected/$expected"; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1))
            echo "FAIL: golden $name, $threads worker threads (tests/golden/expected/$expected):" >&2
            diff -u "tests/golden/expected/$expected" "$tmp/got" | head -n 40 >&2
        fi
    done <tests/golden/TESTLIST
done
echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
