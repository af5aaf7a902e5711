#!/bin/sh
# Command-line tests for the programs in BINDIR ($1): exit statuses, the
# lines users read, and errors that say what was wrong and where.
set -u
BIN=${1:-bin}
V=tests/vectors
PW=VOkJxbRl1RmTxUk/WvJxBt
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME STATUS PATTERN -- COMMAND...: COMMAND exits STATUS and its
# stdout+stderr has a line matching the grep -E PATTERN.
expect() {
    name=$1 want=$2 pattern=$3
    shift 4
    "$@" >"$tmp/out" 2>&1
    got=$?
    if [ "$got" -eq "$want" ] && grep -Eq -- "$pattern" "$tmp/out"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name: exit $got (want $want), output:" >&2
        sed 's/^/    /' "$tmp/out" >&2
    fi
}

D=$BIN/stundecode
expect "vector 2.2 decodes its mapped address" 0 'XOR-MAPPED-ADDRESS +0x0020 +8  192\.0\.2\.1:32853$' -- \
    "$D" --password "$PW" "$V/rfc5769-response-ipv4.hex"
expect "vector 2.1 integrity verifies" 0 'MESSAGE-INTEGRITY .* ok$' -- \
    "$D" --password "$PW" "$V/rfc5769-request.hex"
expect "wrong password fails integrity" 1 'MESSAGE-INTEGRITY .* integrity-mismatch$' -- \
    "$D" --password wrong "$V/rfc5769-request.hex"
expect "no key: integrity not checked" 0 'not checked: no --password' -- \
    "$D" "$V/rfc5769-request.hex"
expect "long-term key verifies vector 2.4" 0 'MESSAGE-INTEGRITY .* ok$' -- \
    "$D" --long-term "$(printf '\343\203\236\343\203\210\343\203\252\343\203\203\343\202\257\343\202\271'):example.org:TheMatrIX" \
    "$V/rfc5769-request-long-term.hex"
expect "bad --long-term syntax" 2 "wants USER:REALM:PASS, not 'nocolons'" -- \
    "$D" --long-term nocolons "$V/rfc5769-request.hex"

sed 's/80 28 00 04 c0 7d 4c 96/80 28 00 04 c0 7d 4c 97/' "$V/rfc5769-response-ipv4.hex" >"$tmp/badfp.hex"
expect "changed FINGERPRINT is reported" 1 'FINGERPRINT .* fingerprint-mismatch$' -- "$D" "$tmp/badfp.hex"

printf '00 01 00 08 21 12 a4 42 000102030405060708090a0b 0001 0008 00000000' >"$tmp/overrun.hex"
expect "attribute overrun is named" 1 'malformed: attr-overrun' -- "$D" "$tmp/overrun.hex"
printf '0001 0000 deadbeef 000102030405060708090a0b' >"$tmp/legacy.hex"
expect "no cookie without --legacy" 1 'bad-cookie .*--legacy accepts' -- "$D" "$tmp/legacy.hex"
expect "no cookie with --legacy" 0 'RFC 3489 \(no magic cookie\)' -- "$D" --legacy "$tmp/legacy.hex"
printf '0001 0004 2112a442 000102030405060708090a0b 0030 0000' >"$tmp/unknown.hex"
expect "unknown required attribute" 1 '420' -- "$D" "$tmp/unknown.hex"

printf '00 01\n00 0g' >"$tmp/badhex.hex"
expect "bad hex says line and column" 2 "badhex.hex: line 2, column 5: 'g' is not a hex digit" -- \
    "$D" "$tmp/badhex.hex"
expect "missing file" 2 'nosuch: No such file or directory' -- "$D" "$tmp/nosuch"
expect "raw input" 0 'Binding success, 80 bytes' -- "$D" --raw fuzz/corpus/stun/rfc5769-response-ipv4.bin
expect "stdin input" 0 'stdin: Binding request' -- sh -c "\"$D\" <$V/rfc5769-request.hex"
expect "worst status wins" 1 'fingerprint-mismatch' -- \
    "$D" --password "$PW" "$V/rfc5769-request.hex" "$tmp/badfp.hex"
expect "--help" 0 '^usage: stundecode' -- "$D" --help
expect "unknown option" 2 '^usage: stundecode' -- "$D" --bogus

P=$BIN/natprobe
expect "natprobe lists its tests" 0 '^filtering +endpoint-independent' -- "$P" --list-tests
expect "natprobe: an unknown test" 2 "no test 'bogus' \\(see --list-tests\\)" -- "$P" --tests nat,bogus 127.0.0.1
expect "natprobe: no server" 2 'want one SERVER' -- "$P"
expect "refltest: a bad --wait" 2 "wants a number from 50 to 3000, not 'soon'" -- \
    "$BIN/refltest" --session s --key k --action udp --from pp --wait soon 127.0.0.1:9
expect "natprobe: a bad --lifetime bound" 2 "lifetime: '9999' is not a number of seconds from 2 to 3600" -- \
    "$P" --lifetime=9999 127.0.0.1
expect "natprobe: the lifetime test is listed, and opt-in" 0 '^lifetime +binding lifetime' -- \
    "$P" --list-tests
expect "natprobe: a bad --tcp-lifetime bound" 2 \
    "tcp-lifetime: '1' is not a number of seconds from 2 to 10800" -- "$P" --tcp-lifetime=1 127.0.0.1
expect "natprobe: the TCP opt-in tests are listed" 0 '^tcp-syn-hold +RFC 5382 REQ-4' -- \
    "$P" --list-tests
expect "natprobe: a bad server" 2 "bad port '99999'" -- "$P" 127.0.0.1:99999
# Loopback port 9 (discard) answers nothing: exit 3, every verdict inconclusive
# with its reason, and the record still written.
expect "natprobe: an unreachable reflector" 3 'mapping +inconclusive +no answer from the reflector' -- \
    "$P" --json "$tmp/r.json" 127.0.0.1:9
expect "natprobe: its record says why" 0 '"reasons":\{"nat":"no answer from the reflector' -- cat "$tmp/r.json"
expect "natprobe: an unwritable record, found first" 2 \
    'json /nonexistent/dir/r.json: No such file or directory' -- \
    "$P" --json /nonexistent/dir/r.json 127.0.0.1:9
# The second host: a peer that is not there is said, and the run goes on
# without it (exit 3 here only because the reflector is not there either);
# the agent's own usage errors are exit 2 with the value named.
# shellcheck disable=SC2016 # the backquotes are the message's own
expect "natprobe: a --peer that does not answer" 3 \
    'peer 127.0.0.1:9\) did not answer: no answer from the peer \(is `natprobe peer` running there\?\); going on without it' -- \
    "$P" --peer 127.0.0.1:9 127.0.0.1:9
# With a reflector there (loopback: no NAT), a missing peer loses nothing one
# host can measure: the record is written, the verdicts that needed the peer
# say why, and the exit status is the reflector's and the verdicts' (0: all
# that applies without a NAT was reached), not 3.
"$BIN/natreflector" --primary 127.0.0.1 --alternate 127.0.0.2 --port 34790 --alt-port 34791 \
    --rate 0 --metrics 127.0.0.1:34799 >"$tmp/refl.log" 2>&1 &
refl=$!
for _ in $(seq 50); do grep -q '^natreflector ready' "$tmp/refl.log" && break; sleep 0.02; done
expect "natprobe: a missing --peer, a reachable reflector: measured, exit 0" 0 \
    '^  mapping +none' -- "$P" --peer 127.0.0.1:9 --json "$tmp/nopeer.json" 127.0.0.1:34790
expect "natprobe: a missing --peer: the record written, with the reason" 0 \
    '"port_overloading":"the second host \(--peer 127.0.0.1:9\) did not answer' -- cat "$tmp/nopeer.json"
expect "natprobe: a missing --peer: filtering still measured" 0 '"filtering":"endpoint-independent"' -- \
    cat "$tmp/nopeer.json"
# --spool DIR: each run one closed file, DIR/YYYY/MM/DD/STAMP-RUN_ID.json,
# the record itself (as --json writes it), a fresh run_id (a version 4
# UUID) each run, no temporary file left; natreport reads the spool.
uuid='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
scraped() { curl -s http://127.0.0.1:34799/metrics | sed -n 's/^natreflector_requests_total{reason="answered"} //p'; }
answered_before=$(scraped)
for n in 1 2; do
    "$P" --tests nat --spool "$tmp/spool" --json "$tmp/spool$n.json" 127.0.0.1:34790 >/dev/null 2>&1
done
day=$(date -u +%Y/%m/%d)
spooled=$(find "$tmp/spool" -type f | sort)
expect "natprobe --spool: two runs, two files named by date, time and run_id" 0 '^2$' -- \
    sh -c "find '$tmp/spool/$day' -type f | grep -Ec '/[0-9]{8}T[0-9]{6}Z-$uuid\.json\$'"
expect "natprobe --spool: nothing else in the spool (no temporary file)" 0 '^2$' -- \
    sh -c "find '$tmp/spool' -type f | wc -l"
expect "natprobe --spool: a file is the record --json wrote, its run_id in its name" 0 'same' -- \
    sh -c "for f in $(echo "$spooled" | tr '\n' ' '); do id=\${f##*Z-}; id=\${id%.json};
        grep -q \"\\\"run_id\\\":\\\"\$id\\\"\" \"\$f\" || exit 1;
        cmp -s \"\$f\" '$tmp/spool1.json' || cmp -s \"\$f\" '$tmp/spool2.json' || exit 1; done; echo same"
expect "natprobe: two runs, two run_ids" 0 '^2$' -- \
    sh -c "cat '$tmp/spool1.json' '$tmp/spool2.json' | grep -Eo '\"run_id\":\"$uuid\"' | sort -u | wc -l"
expect "natreport reads the spool folder" 0 '^natreport: 2 records from 2 inputs, 0 skipped' -- "$BIN/natreport" "$tmp/spool"
# natreflector --metrics: its counters in Prometheus' format. Over the two
# --spool runs (UDP only) it answered no fewer requests than they got
# answers, and no more than they sent (they were its only clients then).
packets=$(cat "$tmp/spool1.json" "$tmp/spool2.json" |
    grep -o '"packets":{"sent":[0-9]*,"answers":[0-9]*}' | tr -c '0-9\n' ' ' |
    awk '{ s += $1; a += $2 } END { print s, a }')
answered=$(($(scraped) - answered_before))
expect "natreflector --metrics: answered between natprobe's answers and sends ($packets)" 0 'in' -- \
    awk -v n="$answered" -v p="$packets" 'BEGIN { split(p, v, " ");
        if (n >= v[2] && n <= v[1] && v[2] > 0) print "in"; else print "out: " n }'
kill "$refl" 2>/dev/null
wait "$refl" 2>/dev/null
expect "natreflector --metrics without a port" 2 "natreflector: --metrics: " -- \
    "$BIN/natreflector" --primary 127.0.0.1 --alternate 127.0.0.2 --metrics 127.0.0.1
touch "$tmp/notafolder"
expect "natprobe --spool: a folder that cannot be made, refused before measuring" 2 \
    "natprobe: --spool $tmp/notafolder/x: Not a directory" -- "$P" --spool "$tmp/notafolder/x" 127.0.0.1:9
expect "natprobe: a bad --peer" 2 "peer: bad port '0x'" -- "$P" --peer 127.0.0.1:0x 127.0.0.1
expect "natprobe peer: a bad --timeout" 2 "'soon' is not a number of seconds" -- \
    "$P" peer --timeout soon
expect "natprobe peer: --help" 0 '^usage: natprobe peer' -- "$P" peer --help
# A live agent on loopback: natprobe reaches it, asks for sockets, and the
# record carries the verdicts that need it (null for overloading: no NAT).
"$P" peer --listen 127.0.0.1:34801 --timeout 20 >"$tmp/peer.log" 2>&1 &
agent=$!
for _ in $(seq 50); do grep -q '^natprobe-peer ready' "$tmp/peer.log" && break; sleep 0.02; done
expect "natprobe: with a live peer, the peer's verdicts are in the record" 3 \
    'overload +inconclusive +no answer from the reflector' -- \
    "$P" --peer 127.0.0.1:34801 --tests overloading,hairpin 127.0.0.1:9
expect "natprobe peer: it served that natprobe" 0 '^natprobe-peer session ' -- cat "$tmp/peer.log"
kill "$agent" 2>/dev/null
wait "$agent" 2>/dev/null

# natprobe's tags: in the record, and refused with the reason when malformed.
expect "natprobe: --tag in the record" 0 '"label":"L","tags":\{"isp":"x","region":"eu"\}' -- \
    sh -c "'$P' --label L --tag isp=x --tag region=eu --json - 127.0.0.1:9 2>/dev/null; true"
expect "natprobe: a --tag without =" 2 "tag 'isp': want NAME=VALUE" -- "$P" --tag isp 127.0.0.1:9
expect "natprobe: a --tag twice" 2 'tag isp given twice' -- "$P" --tag isp=a --tag isp=b 127.0.0.1:9

# natreport: usage, unreadable and bad input, and the diff's exit statuses.
R=$BIN/natreport
rec() { printf '{"schema":"natlab.result/1","label":"%s","udp":{"nat":true,"mapping":"%s"}}\n' "$1" "$2"; }
{ rec a endpoint-independent; rec b address-dependent; } >"$tmp/base.jsonl"
{ rec a address-dependent; rec b address-dependent; } >"$tmp/cur.jsonl"
{ rec a endpoint-independent; echo '{"schema":"natlab.result/1","label":"cut'; rec b address-dependent; } >"$tmp/bad.jsonl"
expect "natreport: no RECORD" 2 'no RECORD given' -- "$R"
expect "natreport: a bad --devices" 2 "devices 'many' is not 0-1000" -- "$R" --devices many "$tmp/base.jsonl"
expect "natreport: a missing file" 3 'nope.jsonl: No such file or directory' -- "$R" "$tmp/nope.jsonl"
expect "natreport: an empty file" 3 'empty.jsonl: no records \(empty input\)' -- sh -c ": >'$tmp/empty.jsonl'; '$R' '$tmp/empty.jsonl'"
expect "natreport: a cut line is named, the rest reported" 4 'bad.jsonl:2: record cut short' -- "$R" "$tmp/bad.jsonl"
expect "natreport: ... and the rest is in the table" 4 '^b +true +AD ' -- "$R" "$tmp/bad.jsonl"
expect "natreport: Markdown to a file" 0 '^\| 4787 REQ-1 \| endpoint-independent mapping \| MUST \| pass' -- \
    sh -c "'$R' --markdown '$tmp/r.md' '$tmp/base.jsonl' >/dev/null && cat '$tmp/r.md'"
expect "natreport: an unwritable Markdown file" 3 'markdown /nonexistent/r.md: No such file' -- \
    "$R" --markdown /nonexistent/r.md "$tmp/base.jsonl"
# A name too long to open: the message is cut in the name, never in the reason.
long=$(printf 'x%.0s' $(seq 5000))
expect "natreport: a path too long, its reason kept" 4 "^natreport: x{4095}: File name too long\$" -- \
    "$R" "$long" "$tmp/base.jsonl"
expect "natreport: ... and the next message on a line of its own" 4 '^natreport: 2 records from 1 input' -- \
    "$R" "$long" "$tmp/base.jsonl"
expect "natreport: a bad NATREPORT_THREADS" 2 "NATREPORT_THREADS 'two' is not 0-16" -- \
    env NATREPORT_THREADS=two "$R" "$tmp/base.jsonl"
# A device shown after bad records is read with its evidence all the same
# (the workers guess by place which records will be shown; a miss is read again).
{ printf '{"schema":"natlab.result/1",x}\n%.0s' 1 2 3; head -n 1 results/reference/labs.jsonl; } >"$tmp/late.jsonl"
for t in 0 2; do
    expect "natreport: evidence of a device after bad records ($t threads)" 4 \
        '^\| NAT \| true \| local 192\.168\.1\.2:[0-9]+, mapped 203\.0\.113\.1:[0-9]+ \|$' -- \
        env NATREPORT_THREADS=$t "$R" --devices 1 --markdown - "$tmp/late.jsonl"
done
expect "natreport diff: no change" 0 '2 labels in the baseline, 2 in the current records: 0 changes' -- \
    "$R" diff "$tmp/base.jsonl" "$tmp/base.jsonl"
expect "natreport diff: a change" 1 '^  a: udp.mapping endpoint-independent -> address-dependent$' -- \
    "$R" diff --junit "$tmp/j.xml" "$tmp/base.jsonl" "$tmp/cur.jsonl"
expect "natreport diff: its JUnit XML" 0 '<failure message="endpoint-independent -&gt; address-dependent"/>' -- \
    cat "$tmp/j.xml"
expect "natreport diff: one side unreadable" 3 'the baseline \(.*nope\) has no records' -- \
    "$R" diff "$tmp/nope" "$tmp/cur.jsonl"
expect "natreport diff: wants two sets" 2 'wants BASELINE and CURRENT' -- "$R" diff "$tmp/cur.jsonl"

# Host names where users type addresses, in a namespace of our own
# (nlh<PID>): `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts,
# which names the two addresses on its lo, and /etc/netns/NAME/resolv.conf,
# whose resolver is the namespace's own loopback, where nothing listens: no
# query leaves the namespace, and a name not in the file fails at once.
names_ns=nlh$$
names_refl=
names_cleanup() {
    if [ -n "$names_refl" ]; then
        kill "$names_refl" 2>/dev/null
        wait "$names_refl" 2>/dev/null
        names_refl=
    fi
    ip netns del "$names_ns" 2>/dev/null
    rm -rf "/etc/netns/$names_ns"
    rmdir /etc/netns 2>/dev/null # when we made it, and no one else uses it
}
inns() { ip netns exec "$names_ns" "$@"; }
if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        fail=$((fail + 1))
        echo "FAIL: host names: CI must run as root (a namespace of our own)" >&2
    else
        echo "cli: host-name checks skipped (a namespace needs root)"
    fi
else
    trap 'names_cleanup; rm -rf "$tmp"' EXIT
    trap 'exit 1' HUP INT TERM
    mkdir -p "/etc/netns/$names_ns"
    printf '198.51.100.1 reflector.lab\n198.51.100.2 reflector2.lab\n' >"/etc/netns/$names_ns/hosts"
    echo 'nameserver 127.0.0.1' >"/etc/netns/$names_ns/resolv.conf"
    ip netns add "$names_ns"
    ip -n "$names_ns" link set lo up
    ip -n "$names_ns" addr add 198.51.100.1/32 dev lo
    ip -n "$names_ns" addr add 198.51.100.2/32 dev lo
    # Not through inns: $! must be natreflector itself (ip execs it).
    ip netns exec "$names_ns" "$BIN/natreflector" --primary reflector.lab --alternate reflector2.lab \
        --port 34792 --alt-port 34793 --rate 0 >"$tmp/names.log" 2>&1 &
    names_refl=$!
    for _ in $(seq 100); do grep -q '^natreflector ready' "$tmp/names.log" && break; sleep 0.02; done
    expect "natreflector: --primary and --alternate by host name" 0 '^natreflector ready .*families=1' -- \
        cat "$tmp/names.log"
    expect "natreflector bound by name: the primary's address answers STUN" 0 ' valid=20 invalid=0 lost=0 ' -- \
        inns "$BIN/stunload" --requests 20 198.51.100.1:34792
    expect "natreflector bound by name: the alternate's address answers STUN" 0 ' valid=20 invalid=0 lost=0 ' -- \
        inns "$BIN/stunload" --requests 20 198.51.100.2:34793
    expect "stunload: SERVER by host name" 0 ' valid=20 invalid=0 lost=0 ' -- \
        inns "$BIN/stunload" --requests 20 --source 198.51.100.1 reflector2.lab:34793
    expect "refltest: SERVER by host name (reached: natlab tests are off there)" 1 \
        '^refltest error=403 ' -- \
        inns "$BIN/refltest" --session s --key k --action udp --from pp reflector.lab:34792
    expect "refltest: --local in the server's family" 2 \
        "^refltest: --local: '::1' is an IPv6 address, not IPv4\$" -- \
        inns "$BIN/refltest" --session s --key k --action udp --from pp --local '[::1]:5000' reflector.lab:34792
    expect "natprobe peer: --listen by host name" 0 '^natprobe-peer ready .* listen=198\.51\.100\.2:34802$' -- \
        inns "$P" peer --listen reflector2.lab:34802 --timeout 0.2
    expect "natprobe: SERVER by host name" 0 '^  mapping +none' -- \
        inns "$P" --json "$tmp/names.json" reflector.lab:34792
    expect "natprobe: the record keeps the name given and the address used" 0 \
        '"reflector":\{"primary":"198\.51\.100\.1:34792","alternate":"198\.51\.100\.2:34793","given":"reflector\.lab:34792"\}' -- \
        cat "$tmp/names.json"
    expect "natprobe: -6 and a name with only an IPv4 address" 2 \
        "^natprobe: SERVER: 'reflector\.lab' has no IPv6 address\$" -- inns "$P" -6 reflector.lab:34792
    expect "natprobe: a SERVER name that does not resolve" 2 \
        "^natprobe: SERVER: cannot resolve 'nosuch\.invalid': " -- inns "$P" nosuch.invalid
    expect "natprobe: a --peer name that does not resolve" 2 \
        "^natprobe: --peer: cannot resolve 'nosuch\.invalid': " -- inns "$P" --peer nosuch.invalid reflector.lab
    t0=$(date +%s%N)
    expect "natreflector: a name that does not resolve is bad usage" 2 \
        "^natreflector: --primary: cannot resolve 'nosuch\.invalid': " -- \
        inns "$BIN/natreflector" --primary nosuch.invalid --alternate reflector2.lab
    ms=$((($(date +%s%N) - t0) / 1000000))
    expect "natreflector: ... said at once" 0 "^took $ms ms\$" -- sh -c "echo took $ms ms; [ $ms -lt 2000 ]"
    expect "natprobe peer: a --listen name that does not resolve" 2 \
        "^natprobe peer: --listen: cannot resolve 'nosuch\.invalid': " -- inns "$P" peer --listen nosuch.invalid
    expect "stunload: a SERVER name that does not resolve" 2 "^stunload: cannot resolve 'nosuch\.invalid': " -- \
        inns "$BIN/stunload" nosuch.invalid:3478
    expect "refltest: a SERVER name that does not resolve" 2 "^refltest: cannot resolve 'nosuch\.invalid': " -- \
        inns "$BIN/refltest" --session s --key k --action udp --from pp nosuch.invalid:3478
    expect "natreflector: a name's port refused before any lookup" 2 \
        "^natreflector: --primary: unexpected port '80' in 'reflector\.lab:80' \(want a host name or address\)\$" -- \
        inns "$BIN/natreflector" --primary reflector.lab:80 --alternate reflector2.lab
    names_cleanup
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
