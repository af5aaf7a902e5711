#!/bin/sh
# natreport's figures and page: gnuplot draws every figure the records have
# data for, each from the data the records hold; the page, opened in headless
# Chromium, shows them all (and says so when one is missing); the Markdown
# links reach the figures; a missing or failing gnuplot is a clear error that
# loses no other output.
set -u
BIN=$(cd "${1:-bin}" && pwd)
REC=$(pwd)/tests/golden/records
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check NAME CMD...: CMD must succeed
    name=$1
    shift
    if "$@"; then ok; else bad "$name"; fi
}

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
is_svg() { grep -q '<svg' "$1" && grep -q '</svg>' "$1"; }

# ---- every figure, from records that have data for each ----
out=$tmp/page
"$BIN/natreport" --html "$out" --plots "$tmp/plots" --markdown "$tmp/report.md" \
    "$REC/figures.jsonl" >"$tmp/stdout" 2>"$tmp/stderr"
check "natreport --html --plots exits 0 ($(cat "$tmp/stderr"))" [ $? -eq 0 ]
for dir in "$out" "$tmp/plots"; do
    for f in survey ports lifetime traversal matrix connect; do
        check "$dir/$f.png is a PNG" is_png "$dir/$f.png"
        check "$dir/$f.svg is an SVG" is_svg "$dir/$f.svg"
        check "$dir/$f.gp is the script built in" cmp -s "$dir/$f.gp" "analysis/plots/$f.gp"
    done
done
check "the table still goes to standard output" grep -q '^lab-a ' "$tmp/stdout"

# The data files say what the records say.
check "ports.dat: lab-a's public and local ports" \
    grep -qx '3 40006 40006' "$out/ports.dat"
check "ports.dat: lab-b's public port beside its own local port" \
    grep -qx '1 50002 41234' "$out/ports.dat"
check "traversal.dat: 2 of 10 hole punches for lab-b is 20%" \
    grep -qx '0 1 20.0 10 "udp-hole-punching" "lab-b"' "$out/traversal.dat"
check "traversal.dat: lab-a's birthday, 4 of the 8 trials that started, is 50%" \
    grep -qx '2 0 50.0 8 "udp-birthday" "lab-a"' "$out/traversal.dat"
check "traversal.dat: lab-b's reversal, none started, has no rate (-1), not 0%" \
    grep -qx '4 1 -1.0 0 "connection-reversal" "lab-b"' "$out/traversal.dat"
check "traversal.dat: a technique lab-a did not try has no cell" \
    sh -c "! grep -q 'udp-port-prediction\" \"lab-a\"' '$out/traversal.dat'"
check "lifetime.dat: bounds per flow, '-' for an unknown one" \
    grep -qx '0 "lab-a" 150.0 180.0 300.0 -' "$out/lifetime.dat"
check "connect.dat: lab-b's port prediction has its six connect times" \
    sh -c "awk '/udp-port-prediction/ { on = 1; next } on && NF == 0 { exit } on { n++ } END { exit n != 6 }' '$out/connect.dat'"
check "survey.dat: mapping is half EI, half APD" \
    sh -c "grep -q '^1 \"mapping\" 0.000 50.000 \"EI\" 1 1$' '$out/survey.dat' && grep -q '^1 \"mapping\" 50.000 100.000 \"APD\" 1 2$' '$out/survey.dat'"

# ---- the traversal matrix of a punch-matrix run ----
"$BIN/natreport" --devices 0 --plots "$tmp/matrix" "$REC/matrix.jsonl" >/dev/null 2>"$tmp/stderr"
check "matrix records: exit 0 ($(cat "$tmp/stderr"))" [ $? -eq 0 ]
check "matrix.png is a PNG" is_png "$tmp/matrix/matrix.png"
check "matrix.svg is an SVG" is_svg "$tmp/matrix/matrix.svg"
check "matrix.svg says CONTRADICTION in the cell that has one" grep -q CONTRADICTION "$tmp/matrix/matrix.svg"
check "matrix.dat: 1 of 3 against 'fails' is a contradiction" \
    grep -qx '6 0 33.3 3 1 3 0 1 "udp-hole-punching" "masq-fully-random+masq" "fails"' "$tmp/matrix/matrix.dat"
check "matrix.dat: a setup failure is outside the rate" \
    grep -qx '4 1 0.0 2 0 3 1 0 "udp-hole-punching-private" "masq-random+masq-random" "fails"' "$tmp/matrix/matrix.dat"
check "matrix.dat: no trial started, no rate" \
    grep -qx '8 2 -1.0 0 0 3 3 0 "connection-reversal" "masq-fully-random+masq-fully-random" "depends"' "$tmp/matrix/matrix.dat"
check "matrix.dat: one cell per pair and technique (9 x 3)" [ "$(wc -l <"$tmp/matrix/matrix.dat")" -eq 27 ]
check "matrix: no device figure without devices shown" [ ! -e "$tmp/matrix/traversal.png" ]

# ---- TCP's rows: natemu TCP settings pairs, whose long labels (both sides'
# settings) share their first 96 characters: two pairs, not one ----
"$BIN/natreport" --devices 0 --plots "$tmp/mtcp" "$REC/matrix-tcp.jsonl" >"$tmp/mtcp.txt" 2>"$tmp/stderr"
check "TCP matrix records: exit 0 ($(cat "$tmp/stderr"))" [ $? -eq 0 ]
check "TCP matrix.png is a PNG" is_png "$tmp/mtcp/matrix.png"
check "TCP matrix: two pairs, five TCP techniques each" \
    sh -c "grep -q '^traversal matrix, 2 pairs' '$tmp/mtcp.txt' && [ \$(wc -l <'$tmp/mtcp/matrix.dat') -eq 10 ]"
check "TCP matrix.dat: port prediction works where both NATs let SYNs cross" \
    grep -qx '0 4 100.0 1 1 1 0 0 "tcp-port-prediction" "natemu:unsolicited-syn=drop,simultaneous-open=on+natemu:unsolicited-syn=drop,simultaneous-open=on" "works"' "$tmp/mtcp/matrix.dat"
check "TCP matrix.dat: simultaneous open depends where one NAT does not" \
    grep -qx '1 2 100.0 1 1 1 0 0 "tcp-simultaneous-open" "natemu:unsolicited-syn=drop,simultaneous-open=on+natemu:unsolicited-syn=drop,simultaneous-open=off" "depends"' "$tmp/mtcp/matrix.dat"
check "TCP matrix.dat: reversal fails with no endpoint-independent filter" \
    grep -qx '1 1 0.0 1 0 1 0 0 "tcp-connection-reversal" "natemu:unsolicited-syn=drop,simultaneous-open=on+natemu:unsolicited-syn=drop,simultaneous-open=off" "fails"' "$tmp/mtcp/matrix.dat"

# The Markdown links reach the figures, wherever the two are.
check "Markdown links the figures of --plots" grep -q '](<plots/traversal.png>)' "$tmp/report.md"
mkdir -p "$tmp/sub"
"$BIN/natreport" --plots "$tmp/plots" --markdown "$tmp/sub/r.md" "$REC/figures.jsonl" >/dev/null 2>&1
check "Markdown in another folder links ../plots" grep -q '](<../plots/connect.png>)' "$tmp/sub/r.md"

# ---- figures without data are left out, not drawn empty ----
"$BIN/natreport" --plots "$tmp/plots" --markdown "$tmp/survey.md" "$REC/survey.jsonl" \
    >/dev/null 2>"$tmp/stderr"
check "survey records: exit 0" [ $? -eq 0 ]
check "survey records: survey and ports drawn" is_png "$tmp/plots/survey.png"
check "survey records: no traversal figure (no punch[] in them)" \
    sh -c "[ ! -e '$tmp/plots/traversal.png' ] && [ ! -e '$tmp/plots/connect.dat' ]"
check "survey records: the Markdown does not link a traversal figure" \
    sh -c "! grep -q traversal '$tmp/survey.md'"

# ---- gnuplot missing or failing: exit 3, the other outputs still there ----
NATREPORT_GNUPLOT=/nonexistent/gnuplot "$BIN/natreport" --plots "$tmp/nog" \
    --markdown "$tmp/nog.md" "$REC/figures.jsonl" >"$tmp/stdout" 2>"$tmp/stderr"
check "no gnuplot: exit 3" [ $? -eq 3 ]
check "no gnuplot: the message says what" grep -q "cannot run '/nonexistent/gnuplot'" "$tmp/stderr"
check "no gnuplot: said once, not per figure" [ "$(grep -c 'cannot run' "$tmp/stderr")" -eq 1 ]
check "no gnuplot: the Markdown is still written, without figures" \
    sh -c "grep -q '^### lab-b' '$tmp/nog.md' && ! grep -q 'png' '$tmp/nog.md'"
check "no gnuplot: the table still printed" grep -q '^lab-a ' "$tmp/stdout"
NATREPORT_GNUPLOT=false "$BIN/natreport" --plots "$tmp/fails" "$REC/figures.jsonl" \
    >/dev/null 2>"$tmp/stderr"
check "gnuplot failing: exit 3" [ $? -eq 3 ]
check "gnuplot failing: names the script and the log" grep -q 'gnuplot survey.gp failed; its messages are in' "$tmp/stderr"

: >"$tmp/a-file"
"$BIN/natreport" --plots "$tmp/a-file" "$REC/figures.jsonl" >/dev/null 2>"$tmp/stderr"
check "--plots on a file: exit 3" [ $? -eq 3 ]
check "--plots on a file: one message saying so" \
    sh -c "[ \$(wc -l <'$tmp/stderr') -eq 1 ] && grep -q 'cannot make the folder: Not a directory' '$tmp/stderr'"

# ---- the page in headless Chromium ----
chrome() { # chrome ARGS... URL: bounded, without a profile left behind
    timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$tmp/chromium" --virtual-time-budget=10000 "$@" 2>>"$tmp/chromium.log"
}
if ! command -v chromium >/dev/null; then
    bad "chromium is missing (scripts/deps installs it)"
else
    chrome --window-size=1200,5000 --screenshot="$tmp/shot.png" "file://$out/index.html" >/dev/null
    check "Chromium took a screenshot of the page" is_png "$tmp/shot.png"
    check "the screenshot is not blank (over 50 KiB)" [ "$(wc -c <"$tmp/shot.png")" -gt 51200 ]
    chrome --dump-dom "file://$out/index.html" >"$tmp/dom.html"
    check "Chromium: all 6 figures loaded" grep -q 'data-figures="6 of 6"' "$tmp/dom.html"
    check "Chromium: no warning on a whole page" sh -c "! grep -q 'id=.figures-missing' '$tmp/dom.html'"
    # The check itself: a figure moved away must show.
    cp -r "$out" "$tmp/broken"
    rm "$tmp/broken/lifetime.png"
    chrome --dump-dom "file://$tmp/broken/index.html" >"$tmp/dom.html"
    check "Chromium: a missing figure is counted (5 of 6)" grep -q 'data-figures="5 of 6"' "$tmp/dom.html"
    check "Chromium: the page warns of it" grep -q 'id="figures-missing"' "$tmp/dom.html"
fi

echo "figures: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
