# shellcheck shell=bash
# Shared by the lab test suites: counting, failure reports and the root rule.
# Set SUITE before sourcing; a failing check's details are read from $tmp/out.

pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }

bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
    if [ -s "$tmp/out" ]; then sed 's/^/    /' "$tmp/out" >&2; fi
}

# Labs need root. Skipping is for a developer's unprivileged run; CI must run them.
need_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "$SUITE: CI must run as root" >&2
        exit 1
    fi
    echo "$SUITE: skipped (labs need root)"
    exit 0
}

# The closing line CI reads, and the suite's exit status.
summary() {
    echo "$SUITE: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
