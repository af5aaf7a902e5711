#!/bin/bash
# natreflector against real STUN clients, through real NATs: coturn's
# turnutils_natdiscovery (RFC 5780) and Debian's stun (RFC 3489) run behind
# the NAT of a natlab lab and must report the NAT's true behaviour.
# Then natreflector alone, on the loopback of a namespace of its own, under
# load: floods of malformed datagrams, TCP framing and caps, the per-source
# rate limit, IPv6, dropped privileges and bad usage, driven by stunload.
# Needs root; in CI it must run.
#
#   namespace nlt<PID>-lo:  lo 127.0.0.1 127.0.0.2 (and all 127/8)
#                              2001:db8::10 2001:db8::11
#   natreflector --primary 127.0.0.1 --alternate 127.0.0.2 [--primary 2001:db8::10 ...]
#   stunload     from 127.0.0.1, 127.0.0.3, 127.0.0.4 ... (--distinct)
set -u
BIN=$(cd "${1:-bin}" && pwd)
NATLAB=testbeds/natlab
export NATLAB_BIN=$BIN NATLAB_LABECHO=0
SUITE=reflector
# shellcheck source=tests/lib.sh
. tests/lib.sh
need_root

# clients PROFILE NATDISCOVERY_MAPPING NATDISCOVERY_FILTERING STUN_SUMMARY
clients() {
    local profile=$1 id
    $NATLAB up "$profile" >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up $profile"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 \
        --alternate 203.0.113.11 >"$tmp/refl" 2>&1 &
    for _ in $(seq 50); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
    $NATLAB exec "$id" cli1 timeout 30 turnutils_natdiscovery -m -f 203.0.113.10 >"$tmp/out" 2>&1
    if grep -q "^NAT with $2 Mapping!" "$tmp/out" && grep -q "^NAT with $3 Filtering!" "$tmp/out"; then
        ok
    else
        bad "turnutils_natdiscovery through $profile ${NATEMU_SETTINGS:-}: want $2 / $3"
    fi
    $NATLAB exec "$id" cli1 timeout 30 stun 203.0.113.10 >"$tmp/out" 2>&1
    if grep -q "^Primary: $4" "$tmp/out"; then
        ok
    else
        bad "stun through $profile ${NATEMU_SETTINGS:-}: want '$4'"
    fi
    $NATLAB down "$id" >/dev/null 2>&1
}

clients masq "Endpoint Independent" "Address and Port Dependent" \
    "Independent Mapping, Port Dependent Filter, preserves ports, no hairpin"
NATEMU_SETTINGS="filtering=endpoint-independent" clients natemu "Endpoint Independent" \
    "Endpoint Independent" "Independent Mapping, Independent Filter, preserves ports, will hairpin"
NATEMU_SETTINGS="filtering=address-dependent" clients natemu "Endpoint Independent" \
    "Address Dependent" "Independent Mapping, Address Dependent Filter, preserves ports"
NATEMU_SETTINGS="mapping=address-and-port-dependent" clients natemu \
    "Address and Port Dependent" "Address and Port Dependent" "Dependent Mapping"

# ---- natlab's own tests through real NATs: refltest asks, natreflector sends and watches ----

printf 'natlab-test-secret-%s-0123456789\n' "$$" >"$tmp/secret"
key=$("$BIN/natreflector" --session-secret "$tmp/secret" --issue-session t1 | awk '{ print $4 }')

# own_tests PROFILE then lines of "WHAT|PATTERN|REFLTEST ARGS..." on stdin.
own_tests() {
    local profile=$1 id what pattern args
    $NATLAB up "$profile" >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up $profile"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --session-secret "$tmp/secret" --user nobody >"$tmp/refl" 2>&1 &
    for _ in $(seq 50); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
    while IFS='|' read -r what pattern args; do
        # shellcheck disable=SC2086 # args is a list of words
        $NATLAB exec "$id" cli1 timeout 10 "$BIN/refltest" --session t1 --key "$key" $args \
            203.0.113.10:3478 >"$tmp/out" 2>&1
        if grep -q -- "$pattern" "$tmp/out"; then ok; else bad "$profile ${NATEMU_SETTINGS:-}: $what: want '$pattern'"; fi
    done
    $NATLAB down "$id" >/dev/null 2>&1
}

# masq: address-and-port-dependent filtering; the NAT host itself answers what
# it does not forward (ICMP port unreachable for UDP, RST for a SYN).
own_tests masq <<'EOF2'
udp from the mapping's own endpoint arrives|outcome=nothing .*received=yes|--action udp --from pp
udp from the other port is filtered|outcome=icmp icmp_type=3 icmp_code=3 observed_from=203.0.113.1 .*received=no|--action udp --from pa
udp from the other address is filtered|outcome=icmp .*received=no|--action udp --from aa
an unsolicited SYN gets the NAT's RST, sent by the NAT itself (TTL 64, not one less)|outcome=rst observed_from=203.0.113.1 ttl=64 |--action syn --from aa --tcp
a wrong key is refused|error=401|--action udp --from pp --key 00000000000000000000000000000000
EOF2
# natemu: endpoint-independent filtering lets both through; a listening
# client answers the SYN itself.
NATEMU_SETTINGS="filtering=endpoint-independent" own_tests natemu <<'EOF2'
udp from the other address arrives|outcome=nothing .*received=yes|--action udp --from aa
udp to another port of the mapped address|outcome=|--action udp --from aa --target-port 9
the SYN reaches a listening client, whose SYN-ACK the NAT forwards (TTL 63)|outcome=syn-ack observed_from=203.0.113.1 ttl=63 |--action syn --from aa --tcp --listen
EOF2
# natemu: what it does with an unsolicited SYN is what the reflector sees.
NATEMU_SETTINGS="unsolicited-syn=drop" own_tests natemu <<'EOF2'
udp from the other address is dropped|outcome=nothing .*received=no|--action udp --from aa --wait 200
a dropped SYN: nothing|outcome=nothing |--action syn --from aa --tcp --wait 300
EOF2
NATEMU_SETTINGS="unsolicited-syn=icmp" own_tests natemu <<'EOF2'
a refused SYN: ICMP administratively prohibited|outcome=icmp icmp_type=3 icmp_code=13 |--action syn --from pa --tcp
EOF2
NATEMU_SETTINGS="unsolicited-syn=rst" own_tests natemu <<'EOF2'
a refused SYN: RST, natemu's own (TTL 64)|outcome=rst observed_from=203.0.113.1 ttl=64 |--action syn --from ap --tcp
EOF2

# ---- natreflector alone, on a namespace's loopback ----

ns=nlt$$-lo
rpid=
cleanup() {
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
    # Anything still running in our namespace, by PID.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
if ! { ip netns add "$ns" && ip -n "$ns" link set lo up &&
    ip -n "$ns" addr add 2001:db8::10/128 dev lo nodad &&
    ip -n "$ns" addr add 2001:db8::11/128 dev lo nodad; }; then
    bad "namespace $ns"
    summary
    exit
fi
inns() { ip netns exec "$ns" "$@"; }

# start_refl ARGS...: natreflector on 127.0.0.1/127.0.0.2 with ARGS; waits for "ready".
start_refl() {
    # Not through inns: $! must be natreflector itself (ip netns exec execs it).
    ip netns exec "$ns" "$BIN/natreflector" --primary 127.0.0.1 --alternate 127.0.0.2 "$@" \
        >"$tmp/refl" 2>&1 &
    rpid=$!
    for _ in $(seq 100); do grep -q '^natreflector ready' "$tmp/refl" && return 0; sleep 0.02; done
    cp "$tmp/refl" "$tmp/out"
    bad "natreflector $* did not start"
}

# stop_refl: SIGTERM; it must exit 0 and print its counters.
stop_refl() {
    kill -TERM "$rpid"
    wait "$rpid"
    local rc=$?
    rpid=
    cp "$tmp/refl" "$tmp/out"
    if [ "$rc" -eq 0 ] && grep -q '^natreflector stopping ' "$tmp/refl"; then ok; else bad "natreflector exit $rc on SIGTERM"; fi
}

# usage_error WANT ARGS...: natreflector ARGS exits 2 with a message saying WANT.
usage_error() {
    local want=$1; shift
    inns "$BIN/natreflector" "$@" >"$tmp/out" 2>&1
    local rc=$?
    if [ "$rc" -eq 2 ] && grep -q -- "$want" "$tmp/out"; then ok; else bad "natreflector $* (exit $rc): want '$want'"; fi
}

# count REASON: the counter for REASON in the last report.
count() {
    awk -v r="reason=\"$1\"" 'index($0, r) { n = $NF; sub("packets=", "", n) } END { print n + 0 }' "$tmp/refl"
}

# field KEY: KEY's value in stunload's result line ($tmp/out).
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$tmp/out"; }

load() { inns "$BIN/stunload" "$@" >"$tmp/out" 2>&1; }

# A flood: a malformed datagram for every request. Every request is answered
# and every malformed datagram is counted, under a named reason, and dropped.
start_refl --rate 0
if load --requests 50000 --malformed 100 127.0.0.1:3478; then ok; else bad "answers under a malformed flood"; fi
malformed=$(field malformed_sent)
kill -USR1 "$rpid"; sleep 0.2
dropped=0
for r in truncated "not a request" short-header fingerprint-mismatch not-stun; do
    dropped=$((dropped + $(count "$r")))
done
cp "$tmp/refl" "$tmp/out"
if [ "$malformed" -gt 40000 ] && [ "$dropped" -eq "$malformed" ] && [ "$(count answered)" -eq 50000 ]; then
    ok
else
    bad "flood: $malformed malformed sent, $dropped counted as dropped, $(count answered) answered"
fi
# ... and it still answers, from every role, over UDP and TCP.
for dst in 127.0.0.1:3478 127.0.0.1:3479 127.0.0.2:3478 127.0.0.2:3479; do
    if load --requests 2000 "$dst" && load --tcp --clients 4 --requests 2000 "$dst"; then ok; else bad "answers on $dst after the flood"; fi
done
# 5,000 client endpoints, each its own address and port, all answered.
if load --distinct --clients 50 --requests 5000 127.0.0.1:3478; then ok; else bad "distinct clients"; fi
stop_refl

# TCP: a stream that is not STUN is closed and counted; the caps hold.
start_refl --rate 0 --tcp-per-source 2 --tcp-max 3
inns bash -c 'exec 3<>/dev/tcp/127.0.0.1/3478; printf "GET / HTTP/1.0\r\n\r\n" >&3; cat <&3' >/dev/null 2>&1
load --tcp --clients 4 --requests 400 --timeout 300 127.0.0.1:3478
closed=$(field closed)
load --tcp --clients 2 --requests 200 --timeout 300 --source 127.0.0.3 127.0.0.1:3478
closed3=$(field closed)
kill -USR1 "$rpid"; sleep 0.2
cp "$tmp/refl" "$tmp/out"
if [ "$(count "tcp stream not stun")" -eq 1 ]; then ok; else bad "a non-STUN stream closed and counted"; fi
if [ "$closed" -eq 2 ] && [ "$(count "tcp per-source cap")" -eq 2 ]; then ok; else bad "per-source cap 2: $closed of 4 connections closed"; fi
# 127.0.0.3's two come while 127.0.0.1's may still be open: the total cap (3) or none.
if [ "$closed3" -eq "$(count "tcp connection cap")" ]; then ok; else bad "total cap: $closed3 closed, counted $(count "tcp connection cap")"; fi
stop_refl

# The per-source rate limit: 50/s with a burst of 50. A source that sends
# 500 at once gets the burst and the rate, no more; another source is served.
start_refl --rate 50 --burst 50
load --requests 500 --window 500 --timeout 400 127.0.0.1:3478
answered=$(field answered) secs=$(field seconds)
max=$(awk -v s="$secs" 'BEGIN { print int(50 + 50 * s) + 2 }')
if [ "$answered" -ge 50 ] && [ "$answered" -le "$max" ]; then ok; else bad "rate 50 burst 50: $answered answered in $secs s (want 50..$max)"; fi
if load --requests 40 --source 127.0.0.4 127.0.0.1:3478; then ok; else bad "another source is not limited"; fi
stop_refl
cp "$tmp/refl" "$tmp/out"
if [ "$(count "rate limited")" -eq $((500 - answered)) ]; then ok; else bad "rate-limited drops counted"; fi

# --workers 2: the kernel spreads 64 clients over both workers' sockets, and
# every request is answered once; natlab's own requests all reach worker 0
# (each refltest run is a fresh source port: without the steering, half would
# land on worker 1); the counters add up across workers.
# worker KEY: each worker's KEY (packets, answered) from the last report, one per line.
worker() { awk -v k="$1=" '/^natreflector worker id=/ { for (i = 4; i <= NF; i++) if (index($i, k) == 1) print substr($i, length(k) + 1) }' "$tmp/refl"; }
start_refl --rate 0 --workers 2 --session-secret "$tmp/secret"
if load --requests 20000 --clients 64 127.0.0.1:3478 && load --tcp --clients 4 --requests 400 127.0.0.2:3479; then ok; else bad "--workers 2: UDP and TCP answered"; fi
natlab=0
for _ in 1 2 3 4 5 6 7 8; do
    inns timeout 10 "$BIN/refltest" --session t1 --key "$key" --action udp --from pp 127.0.0.1:3478 >"$tmp/out" 2>&1
    grep -q "outcome=nothing .*received=yes" "$tmp/out" && natlab=$((natlab + 1))
done
if [ "$natlab" -eq 8 ]; then ok; else bad "--workers 2: natlab tests answered by worker 0: $natlab of 8"; fi
stop_refl
read -r -d '' w0 w1 < <(worker answered)
if [ "${w0:-0}" -gt 0 ] && [ "${w1:-0}" -gt 0 ] && [ $((w0 + w1)) -eq 20400 ] && [ "$(count answered)" -eq 20400 ] &&
    [ "$(count "natlab test udp")" -eq 8 ] && [ "$(count "natlab request missed worker 0")" -eq 0 ]; then
    ok
else
    bad "--workers 2: answers by worker $w0 + $w1, $(count answered) in all (want 20400, both > 0), $(count "natlab test udp") natlab tests"
fi
# The rate limit is one per source across the workers: 500 requests from 64
# ports of one address, which reach both workers, get the burst and the rate
# once (with a table per worker, both would give a burst).
start_refl --rate 50 --burst 50 --workers 2
load --requests 500 --window 500 --clients 64 --timeout 400 127.0.0.1:3478
answered=$(field answered) secs=$(field seconds)
max=$(awk -v s="$secs" 'BEGIN { print int(50 + 50 * s) + 2 }')
stop_refl
read -r -d '' w0 w1 < <(worker packets)
cp "$tmp/refl" "$tmp/out"
if [ "$answered" -ge 50 ] && [ "$answered" -le "$max" ] && [ "${w0:-0}" -gt 0 ] && [ "${w1:-0}" -gt 0 ] &&
    [ "$(count "rate limited")" -eq $((500 - answered)) ]; then
    ok
else
    bad "--workers 2 --rate 50 --burst 50: $answered answered in $secs s (want 50..$max, by worker $w0 + $w1), $(count "rate limited") limited"
fi
# SO_REUSEPORT must not let a second natreflector share the ports unnoticed.
start_refl --workers 2
usage_error "cannot serve UDP 127.0.0.1:3478: Address already in use" --primary 127.0.0.1 --alternate 127.0.0.2 --workers 2
stop_refl
usage_error "--workers wants a number from 1 to 64, not '0'" --primary 127.0.0.1 --alternate 127.0.0.2 --workers 0

# IPv6 beside IPv4: each family answers on its four roles, with its own
# OTHER-ADDRESS (turnutils_stunclient -f prints it); two workers, each with
# both families' sockets, after the drop of privileges.
start_refl --primary 2001:db8::10 --alternate 2001:db8::11 --user nobody --rate 0 --workers 2
for dst in '[2001:db8::10]:3478' '[2001:db8::11]:3479' 127.0.0.2:3479; do
    if load --requests 1000 "$dst" && load --tcp --requests 100 "$dst"; then ok; else bad "answers on $dst"; fi
done
inns timeout 10 turnutils_stunclient -f 2001:db8::10 >"$tmp/out" 2>&1
if grep -q 'Other addr: : 2001:db8::11:3479' "$tmp/out"; then ok; else bad "IPv6 OTHER-ADDRESS"; fi
# --user: after binding, it runs as nobody, both workers' threads.
threads=(/proc/"$rpid"/task/*/status)
if [ "${#threads[@]}" -eq 2 ] && [ "$(awk '/^Uid:/ && $2 == 65534 && $3 == 65534' "${threads[@]}" | wc -l)" -eq 2 ]; then ok; else
    bad "--user nobody, two threads: $(grep -h Uid: "${threads[@]}")"; fi
stop_refl

# Bad usage: exit 2, and a message naming the problem.
start_refl
usage_error "cannot serve UDP 127.0.0.1:3478: Address already in use" --primary 127.0.0.1 --alternate 127.0.0.2
stop_refl
usage_error "cannot serve UDP 192.0.2.1:3478" --primary 192.0.2.1 --alternate 127.0.0.2
usage_error "--rate wants a number from 0 to 1000000, not 'fast'" --primary 127.0.0.1 --alternate 127.0.0.2 --rate fast
usage_error "IPv6 needs both --primary and --alternate" --primary 127.0.0.1 --alternate 127.0.0.2 --primary ::1
usage_error "no user 'no-such-user'" --primary 127.0.0.1 --alternate 127.0.0.2 --user no-such-user
usage_error "--port and --alt-port must differ" --primary 127.0.0.1 --alternate 127.0.0.2 --alt-port 3478
printf 'short\n' >"$tmp/short"
usage_error "want 16 to 1023 bytes, not 5" --primary 127.0.0.1 --alternate 127.0.0.2 --session-secret "$tmp/short"
usage_error "--session-secret $tmp/none: No such file" --primary 127.0.0.1 --alternate 127.0.0.2 --session-secret "$tmp/none"

# Without --session-secret, natlab tests are refused, with 403.
start_refl
inns "$BIN/refltest" --session t1 --key "$key" --action udp --from pp 127.0.0.1:3478 >"$tmp/out" 2>&1
if [ $? -eq 1 ] && grep -q "error=403" "$tmp/out"; then ok; else bad "natlab tests without a secret: want 403"; fi
stop_refl

summary
