#!/bin/bash
# The main job as make check runs it, and the regression check it carries:
# `natlab report` through every standard lab gives the records, the report,
# its page and figures, and `natreport diff` against the committed reference
# records (results/reference/labs.jsonl) finds no change. A changed verdict
# must be caught, so the same diff runs against an altered reference too.
# Needs root (labs); in CI it must run.
set -u
BIN=$(cd "${1:-bin}" && pwd)
export NATLAB_BIN=$BIN
SUITE=regression
REFERENCE=results/reference/labs.jsonl
# shellcheck source=tests/lib.sh
. tests/lib.sh
need_root
# Quick (NATLAB_CHECK_QUICK=1, CI's sanitizer pass): skipped. It looks for
# behaviour that changed against the reference records; its programs' code
# paths are tests/probe.sh's labs and tests/figures.sh's report, which the
# sanitizer pass runs.
if [ "${NATLAB_CHECK_QUICK:-0}" = 1 ]; then
    echo "$SUITE: skipped in the quick pass (NATLAB_CHECK_QUICK=1): the first pass runs it"
    exit 0
fi

lab_namespaces() { ip netns list | awk '$1 ~ /^nl[0-9a-f]{6}-/ { print $1 }' | sort; }
before=$(lab_namespaces)
labs_before=$(ls /run/natlab/labs 2>/dev/null)
out=$tmp/labs

# The traversal part over masq's pairs only (masq + masq, same, public), two
# techniques: the whole grid is natlab punch-matrix's (tests/punch.sh).
NATLAB_REPORT_TRAVERSAL=masq NATLAB_PUNCH_OPTIONS="--techniques relay,udp-hole-punching" \
    testbeds/natlab report --out "$out" >"$tmp/out" 2>&1
status=$?
cat "$tmp/out"
if [ "$status" -eq 0 ]; then ok; else bad "natlab report: exit $status"; fi
nlabs=$(grep -c '^\[[ 0-9]*/[0-9]*\]' "$tmp/out")
# device needs a physical device, and pair labs (PROFILE_PAIR=1) are for natlab
# punch: neither is among the standard labs (natlab's all_profiles).
nprofiles=$(for f in testbeds/profiles/*.sh; do
    [ "$(basename "$f")" = device.sh ] || grep -q '^PROFILE_PAIR=1' "$f" || echo "$f"
done | wc -l)
if [ "$nlabs" -eq "$nprofiles" ] && [ "$nlabs" -ge 9 ]; then ok; else
    bad "one progress line per lab: $nlabs lines for $nprofiles profiles"; fi
if [ "$(wc -l <"$out/records.jsonl")" -eq "$nprofiles" ]; then ok; else
    bad "records.jsonl: one record per lab"; fi
if [ ! -e "$out/records.jsonl.partial" ]; then ok; else bad "the partial records file was left"; fi
for f in report.md index.html report.txt survey.png survey.svg ports.png ports.svg; do
    if [ -s "$out/$f" ]; then ok; else bad "natlab report wrote no $f"; fi
done
if grep -q '^### natlab:masq-fully-random' "$out/report.md" &&
    grep -q '!\[Port allocation' "$out/report.md"; then ok; else
    bad "report.md lacks a lab or the figures"; fi
# The traversal trials: three pair records, their matrix in the report.
if [ "$(wc -l <"$out/traversal.jsonl" 2>/dev/null)" = 3 ] &&
    grep -q '"label":"natlab:masq+same"' "$out/traversal.jsonl" &&
    grep -Eq '^masq\+masq +udp-hole-punching +2/2 +works +agrees' "$out/traversal.txt" &&
    grep -q 'masq+public' "$out/report.md"; then
    ok
else
    bad "natlab report's traversal trials: records, table or report"
fi

# The regression check: no verdict differs from the reference.
if grep -q "against results/reference/labs.jsonl: $nprofiles labels in the baseline, $nprofiles in the current records: 0 changes" "$tmp/out"; then
    ok
else
    bad "natlab report's line against the reference"
    cat "$out/diff.txt" >&2
fi
"$BIN/natreport" diff --junit "$tmp/junit.xml" "$REFERENCE" "$out/records.jsonl" >"$tmp/out" 2>&1
status=$?
if [ "$status" -eq 0 ]; then ok; else bad "natreport diff against $REFERENCE: exit $status"; fi
if grep -q '<testsuite name="natreport diff" tests="[1-9][0-9]*" failures="0"' "$tmp/junit.xml"; then
    ok
else
    bad "JUnit XML: no failure expected"
    head -n 3 "$tmp/junit.xml" >&2
fi

# The check can fail: masq's mapping altered in a copy of the reference.
sed '/"label":"natlab:masq"/ s/"mapping":"endpoint-independent"/"mapping":"address-dependent"/' \
    "$REFERENCE" >"$tmp/altered.jsonl"
"$BIN/natreport" diff --junit "$tmp/junit.xml" "$tmp/altered.jsonl" "$out/records.jsonl" \
    >"$tmp/out" 2>&1
status=$?
if [ "$status" -eq 1 ] &&
    grep -q 'natlab:masq: udp.mapping address-dependent -> endpoint-independent' "$tmp/out"; then
    ok
else
    bad "an altered reference: exit $status, the change not named"
fi
if grep -q 'failures="1"' "$tmp/junit.xml"; then ok; else bad "JUnit XML: one failure expected"; fi

# A profile that does not exist is refused before the output folder is made.
testbeds/natlab report --out "$tmp/typo" masq no-such-profile >"$tmp/out" 2>&1
status=$?
if [ "$status" -eq 2 ] && [ ! -e "$tmp/typo" ] && grep -q "no profile 'no-such-profile'" "$tmp/out"; then
    ok
else
    bad "natlab report with an unknown profile: exit $status"
fi

left=$(comm -13 <(echo "$before") <(lab_namespaces))
left_labs=$(comm -13 <(echo "$labs_before") <(ls /run/natlab/labs 2>/dev/null))
if [ -z "$left" ] && [ -z "$left_labs" ]; then ok; else bad "left behind: $left $left_labs"; fi

summary
