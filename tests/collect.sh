#!/bin/bash
# natcollect and natprobe --upload (collector/, probe/upload.c):
#
#   cli1 --- [nat, masquerade] 203.0.113.1 --- refl 203.0.113.10
#   natprobe --spool --upload                  natreflector, natcollect :8480
#
# 1. natcollect alone on loopback: a record stored (201), sent again kept
#    once (200); bad tokens, oversize bodies, bad JSON, what is not a record,
#    a record without run_id, wrong paths and methods refused with their
#    status and counted; a flood over --rate refused (429) and counted, and
#    the collector serves again once the bucket refills; the counters in
#    Prometheus' format add up to the requests made; after a restart a
#    record kept before is still a duplicate.
# 2. Through the lab NAT: 150 records in natprobe's spool and each run's own,
#    uploaded while natcollect is killed (SIGKILL) and restarted under them,
#    runs repeated until the spool is empty (bounded): every record arrives
#    exactly once, none is left pending, no line is cut.
set -u
BIN=$(cd "${1:-bin}" && pwd)
SUITE=collect
# shellcheck source=tests/lib.sh
. tests/lib.sh
need_root

NATLAB=testbeds/natlab
export NATLAB_BIN=$BIN NATLAB_LABECHO=0
unset NATLAB_INET_DELAY
lab='' collector='' refl=''
cleanup() {
    for p in $collector $refl; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "$lab" ] && $NATLAB down "$lab" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

TOKEN=t0k3n-for-natlab-tests-0001
OTHER=t0k3n-for-natlab-tests-0002
printf 'fleet-a %s\n# a comment\nfleet-b %s\n' "$TOKEN" "$OTHER" >"$tmp/tokens"
echo "$TOKEN" >"$tmp/token"

# start_collector WHERE [NETNS]: natcollect in the background, $collector its pid.
extra=() # more options for the next start_collector
start_collector() {
    local where=$1 ns=${2:-}
    ${ns:+ip netns exec "$ns"} "$BIN/natcollect" --tokens "$tmp/tokens" --out "$tmp/records" \
        --listen "$where" --metrics "${where%:*}:8481" --rate "${RATE:-20}" "${extra[@]}" \
        >>"$tmp/collector.log" 2>&1 &
    collector=$!
    for _ in $(seq 100); do
        [ "$(grep -c '^natcollect ready' "$tmp/collector.log")" -gt "${started:-0}" ] && break
        sleep 0.02
    done
    started=$(grep -c '^natcollect ready' "$tmp/collector.log")
}
stop_collector() { kill "${1:--TERM}" "$collector" 2>/dev/null; wait "$collector" 2>/dev/null; collector=; }

URL=http://127.0.0.1:18480/v1/records
# post WANT_STATUS PATTERN [curl args]: one request, its status and body.
post() {
    local want=$1 pattern=$2 got
    shift 2
    got=$(curl -s -o "$tmp/body" -w '%{http_code}' "$@")
    if [ "$got" = "$want" ] && grep -Eq -- "$pattern" "$tmp/body"; then ok; else
        bad "natcollect: POST to ${*: -1}: $got $(head -c 200 "$tmp/body"), want $want /$pattern/"; fi
}
record() { # RUN_ID: a natprobe record of the reference labs with that run_id
    head -n 1 results/reference/labs.jsonl | sed "s/^{\"schema\":\"natlab.result\/1\",/&\"run_id\":\"$1\",/"
}
ID=0b5f3c2e-1111-4222-8333-444455556666

# ---- 1. loopback: what is refused, and why ----
RATE=5 start_collector 127.0.0.1:18480
H=(-H "Authorization: Bearer $TOKEN")
post 201 '"result":"stored"' "${H[@]}" --data-binary "$(record $ID)" "$URL"
post 200 '"result":"duplicate"' "${H[@]}" --data-binary "$(record $ID)" "$URL"
post 401 '"bad_token"' -H "Authorization: Bearer nottherightone-0000" --data-binary "$(record $ID)" "$URL"
post 401 '"bad_token"' --data-binary "$(record $ID)" "$URL"
head -c 70000 /dev/zero | tr '\0' ' ' >"$tmp/big"
post 413 '"too_large"' "${H[@]}" --data-binary @"$tmp/big" "$URL"
post 400 '"bad_json".*not JSON' "${H[@]}" --data-binary '{"schema":' "$URL"
post 400 '"not_a_record".*schema' "${H[@]}" --data-binary '{"schema":"natlab.result/9"}' "$URL"
post 400 '"no_run_id"' "${H[@]}" --data-binary "$(head -n 1 results/reference/labs.jsonl)" "$URL"
post 404 '"not_found"' "${H[@]}" --data-binary x http://127.0.0.1:18480/v2
post 405 '"not_found"' "${H[@]}" "$URL"
sleep 2.1 # the token's bucket full again: 2 x 5
t0=$(date +%s.%N)
codes=$(for i in $(seq 30); do
    curl -s -o /dev/null -w '%{http_code}\n' "${H[@]}" --data-binary "$(record "aaaaaaaa-bbbb-4ccc-8ddd-0000000000$((10 + i))")" "$URL"
done | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
limited=$(sed -n 's/.*429:\([0-9]*\).*/\1/p' <<<"$codes")
taken=$(sed -n 's/.*201:\([0-9]*\).*/\1/p' <<<"$codes")
# Taken: the burst of 10, and 5 a second while the flood lasted.
if [ "${limited:-0}" -gt 0 ] && [ "${taken:-0}" -ge 10 ] &&
    awk -v n="${taken:-0}" -v t="$took" 'BEGIN { exit !(n <= 10 + 5 * t + 1) }'; then ok; else
    bad "natcollect --rate 5: a flood of 30 in $took s: at most 10 + 5/s taken, the rest refused (429): $codes"; fi
sleep 2.1
post 201 '"stored"' -H "Authorization: Bearer $OTHER" --data-binary "$(record 9d2a1f00-aaaa-4bbb-8ccc-dddddddddddd)" "$URL"
curl -s http://127.0.0.1:8481/metrics >"$tmp/metrics"
sum=$(awk '/^natcollect_requests_total/ { s += $2 } END { print s }' "$tmp/metrics")
stored=$(awk '/^natcollect_records / { print $2 }' "$tmp/metrics")
lines=$(cat "$tmp"/records/*/*/*.jsonl | wc -l)
if [ "$sum" -eq 41 ] && [ "$stored" = "$lines" ] && grep -q 'outcome="bad_token"} 2$' "$tmp/metrics" &&
    grep -q 'outcome="duplicate"} 1$' "$tmp/metrics"; then ok; else
    cp "$tmp/metrics" "$tmp/out.txt"
    bad "natcollect metrics: 41 requests counted (got $sum), records $stored = $lines lines"; fi
# A restart keeps the run_ids it had: the first record is still a duplicate.
stop_collector
RATE=5 start_collector 127.0.0.1:18480
post 200 '"result":"duplicate"' "${H[@]}" --data-binary "$(record $ID)" "$URL"
stop_collector
rm -rf "$tmp/records"

# ---- 2. through a NAT, the collector killed under the uploads ----
$NATLAB up masq >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up masq"; summary; exit; }
lab=$(awk '/^lab /{ print $2 }' "$tmp/up")
$NATLAB exec "$lab" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
    --rate 0 >"$tmp/refl" 2>&1 &
refl=$!
for _ in $(seq 100); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
started=0
: >"$tmp/collector.log"
start_collector 203.0.113.10:8480 "nl$lab-refl"
# 150 records already waiting in the spool (earlier runs that could not send).
mkdir -p "$tmp/spool/2026/01/01"
for i in $(seq 100 249); do
    record "cccccccc-dddd-4eee-8fff-000000000$i" >"$tmp/spool/2026/01/01/20260101T000000Z-$i.json"
done
probe() {
    ip netns exec "nl$lab-cli1" "$BIN/natprobe" --tests nat --spool "$tmp/spool" \
        --upload http://203.0.113.10:8480/v1/records --token-file "$tmp/token" 203.0.113.10 \
        >>"$tmp/probe.log" 2>&1
}
# The killer: SIGKILL at 0.2 to 0.7 s, a restart 0.3 s later, 6 times.
kills=0
probe &
prober=$!
for _ in 1 2 3 4 5 6; do
    sleep "0.$((2 + RANDOM % 6))"
    stop_collector -KILL
    kills=$((kills + 1))
    sleep 0.3
    start_collector 203.0.113.10:8480 "nl$lab-refl"
done
wait "$prober"
for _ in 1 2 3 4 5; do # more runs until the spool is empty (bounded)
    [ -z "$(find "$tmp/spool" -path "$tmp/spool/sent" -prune -o -name '*.json' -print)" ] && break
    probe
done
pending=$(find "$tmp/spool" -path "$tmp/spool/sent" -prune -o -name '*.json' -print | wc -l)
sent=$(find "$tmp/spool/sent" -name '*.json' | wc -l)
ids_spool=$(cat "$tmp"/spool/sent/*/*/*/*.json | grep -o '"run_id":"[0-9a-f-]*"' | sort)
ids_out=$(cat "$tmp"/records/*/*/*.jsonl | grep -o '^{"schema":"natlab.result/1","run_id":"[0-9a-f-]*"' |
    sed 's/.*"run_id"/"run_id"/' | sort)
cut=$(for f in "$tmp"/records/*/*/*.jsonl; do [ -z "$(tail -c 1 "$f")" ] || echo "$f"; done)
# Killed mid-stream: some restart found records already kept, but not all.
mid=$(sed -n 's/^natcollect ready .* records=\([0-9]*\) .*/\1/p' "$tmp/collector.log" |
    awk -v all="$sent" '$1 > 0 && $1 < all' | wc -l)
echo "collect: $kills kills, $mid of them mid-stream, under $sent uploads; $(grep -c 'left in the spool' "$tmp/probe.log") runs left records for the next"
if [ "$pending" -eq 0 ] && [ "$sent" -ge 151 ] && [ "$mid" -ge 1 ] && [ "$ids_spool" = "$ids_out" ] &&
    [ -z "$(uniq -d <<<"$ids_out")" ] && [ -z "$cut" ]; then
    ok
else
    { echo "pending $pending, sent $sent, cut: $cut"; diff <(echo "$ids_spool") <(echo "$ids_out"); } >"$tmp/out"
    bad "uploads under kills: every record once at the collector, none pending, no cut line"
fi
# A long outage: 205 older records wait. One run sends the 199 oldest and its
# own (UPLOAD_MAX_FILES, 200) and leaves the 6 newest of the old for the next.
mkdir -p "$tmp/spool/2025/06/01"
for i in $(seq 300 504); do
    record "eeeeeeee-dddd-4eee-8fff-000000000$i" >"$tmp/spool/2025/06/01/20250601T000000Z-$i.json"
done
: >"$tmp/probe.log"
touch "$tmp/before"
probe
left=$(find "$tmp/spool" -path "$tmp/spool/sent" -prune -o -name '*.json' -print | sed 's/.*-//' | sort | tr '\n' ' ')
if [ "$left" = "499.json 500.json 501.json 502.json 503.json 504.json " ] &&
    grep -q "6 left in the spool" "$tmp/probe.log" && [ "$(find "$tmp/spool/sent/2025" -name '*.json' | wc -l)" -eq 199 ] &&
    [ "$(find "$tmp/spool/sent" -newer "$tmp/before" -name '*.json' | wc -l)" -eq 1 ]; then
    ok
else
    { echo "left: $left"; cat "$tmp/probe.log"; } >"$tmp/out"
    bad "past 200 waiting: the oldest 199 and this run's own sent, the newest 6 of the old left"
fi

# HTTPS: natcollect with a certificate for 203.0.113.10 made here. Without
# --ca-file natprobe does not trust it and sends nothing (exit 4: the 6 left
# and its own wait); with it, all 8 go.
stop_collector
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=natcollect-test -addext subjectAltName=IP:203.0.113.10 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >"$tmp/out" 2>&1; then ok; else bad "openssl: a test certificate"; fi
extra=(--tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem")
start_collector 203.0.113.10:8480 "nl$lab-refl"
extra=()
probe_tls() {
    ip netns exec "nl$lab-cli1" "$BIN/natprobe" --tests nat --spool "$tmp/spool" --token-file "$tmp/token" \
        --upload https://203.0.113.10:8480/v1/records "$@" 203.0.113.10 >>"$tmp/probe.log" 2>&1
}
: >"$tmp/probe.log"
probe_tls
untrusted=$?
sent0=$(find "$tmp/spool/sent" -name '*.json' | wc -l)
probe_tls --ca-file "$tmp/cert.pem"
trusted=$?
pending=$(find "$tmp/spool" -path "$tmp/spool/sent" -prune -o -name '*.json' -print | wc -l)
sent1=$(find "$tmp/spool/sent" -name '*.json' | wc -l)
cp "$tmp/probe.log" "$tmp/out"
if [ "$untrusted" -eq 4 ] && grep -q "left in the spool .*certificate" "$tmp/probe.log" &&
    [ "$trusted" -eq 0 ] && [ "$pending" -eq 0 ] && [ $((sent1 - sent0)) -eq 8 ] &&
    grep -q "^natcollect ready .* tls=on " "$tmp/collector.log"; then
    ok
else
    bad "HTTPS: untrusted exit $untrusted (want 4), --ca-file exit $trusted (want 0), $((sent1 - sent0)) sent (want 8), $pending pending"
fi
stop_collector
# Bad TLS files are bad usage.
"$BIN/natcollect" --tokens "$tmp/tokens" --out "$tmp/records" --tls-cert "$tmp/token" --tls-key "$tmp/key.pem" >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--tls-cert $tmp/token: not a PEM file" "$tmp/out"; then ok; else bad "natcollect --tls-cert not PEM: exit $rc"; fi
"$BIN/natcollect" --tokens "$tmp/tokens" --out "$tmp/records" --tls-cert "$tmp/cert.pem" >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--tls-cert and --tls-key go together" "$tmp/out"; then ok; else bad "natcollect --tls-cert alone: exit $rc"; fi
summary
