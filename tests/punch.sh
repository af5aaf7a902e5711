#!/bin/bash
# natprobe punch end to end, with real sockets, in a namespace of our own
# with no NAT: two probes meet at natreflector's rendezvous and run every
# technique; a probe alone, a wrong key and a reflector without a session
# secret each give their own outcome. Then through real NATs, in pair labs
# (three at once): the kernel pair with and without path delay and with a
# late side, a decoy at the other's private address (RFC 5128 6.1), natemu
# pairs (birthday punching and loss), one NAT, a public
# peer, nested NATs behind a CGN with and without hairpinning; then
# subsets of natemu's grid and of the kernel grid through natlab
# punch-matrix (natemu mapping pairs, natemu TCP settings, the kernel).
#
#   [ns nlp<PID>: lo 203.0.113.10, 203.0.113.11]
#     natreflector --session-secret    natprobe punch (A)    natprobe punch (B)
set -u
BIN=$(cd "${1:-bin}" && pwd)
SUITE=punch
# shellcheck source=tests/lib.sh
. tests/lib.sh
need_root

ns=nlp$$
refl=
cleanup() {
    [ -n "$refl" ] && kill "$refl" 2>/dev/null && wait "$refl" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
inns() { ip netns exec "$ns" "$@"; }

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add 203.0.113.10/32 dev lo
ip -n "$ns" addr add 203.0.113.11/32 dev lo
ip -n "$ns" addr add 203.0.113.99/32 dev lo # the victim of the abuse tests
secret=$tmp/secret # shared by the parallel labs below, whose $tmp are their own
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret"
key=$("$BIN/natreflector" --session-secret "$secret" --issue-session s1 | awk '{ print $4 }')
# A session's trials are met once: another run needs another session (or a
# minute, until the rendezvous forgets the first).
key2=$("$BIN/natreflector" --session-secret "$secret" --issue-session s2 | awk '{ print $4 }')

start_refl() {
    ip netns exec "$ns" "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 "$@" >"$tmp/refl" 2>&1 &
    refl=$!
    for _ in $(seq 100); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
}
stop_refl() { kill "$refl" 2>/dev/null; wait "$refl" 2>/dev/null; refl=; }

# Two probes, two trials of each UDP technique (the group udp: relay and
# the UDP ones; TCP's are below): all succeed, as predicted.
start_refl --session-secret "$secret"
inns timeout 60 "$BIN/natprobe" punch --session s1 --key "$key" --trials 2 --techniques udp \
    --json "$tmp/a.json" 203.0.113.10 >"$tmp/a.out" 2>&1 &
a=$!
inns timeout 60 "$BIN/natprobe" punch --session s1 --key "$key" --trials 2 --techniques udp \
    --json "$tmp/b.json" 203.0.113.10 >"$tmp/b.out" 2>&1
rb=$?
wait "$a"
ra=$?
cat "$tmp/a.out" "$tmp/b.out" "$tmp/a.json" >"$tmp/out"
if [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ]; then ok; else bad "two probes: exit $ra and $rb, want 0"; fi
for t in relay udp-hole-punching udp-hole-punching-private connection-reversal \
    udp-port-prediction udp-birthday; do
    if grep -Eq "\"technique\":\"$t\",\"trials\":2,\"successes\":2,\"setup_failed\":0,.*\"expected\":\"works\"" \
        "$tmp/a.json" && grep -Eq "^  $t +2/2 .*agrees$" "$tmp/b.out"; then
        ok
    else
        bad "two probes: $t not 2 of 2, as predicted"
    fi
done
# Both directions proven, and the answers did not answer each other.
sent=$(grep -o '"sent":[0-9]*' "$tmp/a.json" | cut -d: -f2 | sort -n | tail -1)
if grep -q '"strict":true' "$tmp/a.json" && [ "${sent:-999}" -le 30 ]; then
    ok
else
    bad "two probes: packets per trial ${sent:-?} (want at most 30), or no strict success"
fi
# No impostor where only the two probes send (RFC 5128 6.1; the decoy lab has one).
if [ "$(grep -o '"impostor_packets":0' "$tmp/a.json" | wc -l)" -eq 7 ] &&
    ! grep -q IMPOSTOR "$tmp/a.out" "$tmp/b.out"; then
    ok
else
    bad "two probes: an impostor counted where there is none"
fi
# The private technique's trials tried the other's own endpoint first, then its public one.
if sed 's/{"technique":/\n&/g' "$tmp/a.json" | grep '^{"technique":"udp-hole-punching-private"' |
    grep -q '"tried":\[{"endpoint":"[0-9.:]*","path":"private","predicted":false},{"endpoint":"[0-9.:]*","path":"public","predicted":false}\]'; then
    ok
else
    bad "two probes: the private technique's record does not list its endpoints, private first"
fi
# Fourteen meetings (seven techniques, two trials each); the relay's trials went through
# the reflector (path relay).
kill -USR1 "$refl"
sleep 0.2
if grep -q 'reason="rendezvous matched" packets=14' "$tmp/refl" &&
    grep -q 'reason="relayed" packets=[1-9]' "$tmp/refl" &&
    grep -q '"technique":"relay",.*"path":"relay"' "$tmp/a.json"; then
    ok
else
    cat "$tmp/refl" >>"$tmp/out"
    bad "the reflector counted 14 meetings and relayed the relay's packets"
fi

# The TCP techniques (RFC 5128 3.4 and 3.6; 3.1 and 3.2 over TCP), without
# NAT: each 2 of 2, as predicted from the TCP classes; the rendezvous met
# over connections (the reflector counts eight meetings and relays the
# relay's packets); simultaneous open proven on a connection one of this side's own
# moves made, no opening TTL without NAT.
ktcp=$("$BIN/natreflector" --session-secret "$secret" --issue-session tcp1 | awk '{ print $4 }')
tcp_pair() { # SESSION KEY OUT: both probes, TCP techniques; exit statuses in TCP_RC
    inns timeout 60 "$BIN/natprobe" punch --session "$1" --key "$2" --trials 2 \
        --techniques tcp-relay,tcp-connection-reversal,tcp-simultaneous-open,tcp-port-prediction \
        --json "$tmp/$3a.json" 203.0.113.10 \
        >"$tmp/$3a.out" 2>&1 &
    local pa=$!
    inns timeout 60 "$BIN/natprobe" punch --session "$1" --key "$2" --trials 2 \
        --techniques tcp-relay,tcp-connection-reversal,tcp-simultaneous-open,tcp-port-prediction \
        --json "$tmp/$3b.json" 203.0.113.10 \
        >"$tmp/$3b.out" 2>&1
    local rb=$?
    wait "$pa"
    TCP_RC="$? $rb"
}
kill -USR1 "$refl"
sleep 0.2
before=$(grep -o 'reason="rendezvous matched" packets=[0-9]*' "$tmp/refl" | tail -1 | sed 's/.*=//')
tcp_pair tcp1 "$ktcp" tcp
kill -USR1 "$refl"
sleep 0.2
after=$(grep -o 'reason="rendezvous matched" packets=[0-9]*' "$tmp/refl" | tail -1 | sed 's/.*=//')
cat "$tmp/tcpa.out" "$tmp/tcpb.out" "$tmp/tcpa.json" >"$tmp/out"
if [ "$TCP_RC" = "0 0" ] && [ $((after - ${before:-0})) -eq 8 ] &&
    grep -Eq '^  tcp-connection-reversal +2/2 .*expected works: agrees$' "$tmp/tcpb.out" &&
    grep -Eq '^  tcp-relay +2/2 .*expected works: agrees$' "$tmp/tcpb.out" &&
    grep -Eq '^  tcp-simultaneous-open +2/2 .*expected works: agrees$' "$tmp/tcpb.out" &&
    grep -Eq '^  tcp-port-prediction +2/2 .*expected works: agrees$' "$tmp/tcpb.out" &&
    grep -q '"tcp":{"mapping":"none",' "$tmp/tcpa.json" &&
    grep -q '"technique":"tcp-relay",.*"path":"relay".*"transport":"tcp"' "$tmp/tcpa.json" &&
    grep -q '"won":"\(connect\|accept\)","open_ttl":0,"accepted":[0-9],"attempts":\[{"endpoint"' "$tmp/tcpa.json"; then
    ok
else
    bad "TCP without NAT: exit $TCP_RC (want 0 0), tcp-relay, -connection-reversal, -simultaneous-open and -port-prediction 2/2 as predicted, $((after - ${before:-0})) meetings (want 8)"
fi

# The TCP techniques over IPv6, without NAT: they meet over connections to
# the reflector's IPv6 address and each succeeds 2 of 2; the first SYN at
# the full hop limit (IPv6 has no IP_MINTTL); the reflector's SYN tests are
# IPv4 only, so the TCP filtering is inconclusive there and the predictions
# depend (not judged), never a wrong one.
ip -n "$ns" addr add 2001:db8::10/128 dev lo nodad
ip -n "$ns" addr add 2001:db8::11/128 dev lo nodad
ip netns exec "$ns" "$BIN/natreflector" --primary 2001:db8::10 --alternate 2001:db8::11 \
    --rate 0 --session-secret "$secret" >"$tmp/refl6" 2>&1 &
refl6=$!
for _ in $(seq 100); do grep -q '^natreflector ready' "$tmp/refl6" && break; sleep 0.02; done
k6=$("$BIN/natreflector" --session-secret "$secret" --issue-session tcp6 | awk '{ print $4 }')
inns timeout 60 "$BIN/natprobe" punch --session tcp6 --key "$k6" --trials 2 --techniques tcp \
    --json "$tmp/t6a.json" '[2001:db8::10]' >"$tmp/t6a.out" 2>&1 &
pa=$!
inns timeout 60 "$BIN/natprobe" punch --session tcp6 --key "$k6" --trials 2 --techniques tcp \
    --json "$tmp/t6b.json" '[2001:db8::10]' >"$tmp/t6b.out" 2>&1
rb=$?
wait "$pa"
ra=$?
kill "$refl6" 2>/dev/null
wait "$refl6" 2>/dev/null
cat "$tmp/t6a.out" "$tmp/t6b.out" >"$tmp/out"
if [ "$ra $rb" = "0 0" ] && [ "$(grep -Ec '^  tcp-[a-z-]+ +2/2 ' "$tmp/t6b.out")" -eq 5 ] &&
    ! grep -q CONTRADICTION "$tmp/out" && grep -q '"reflector":{"primary":"\[2001:db8::10\]' "$tmp/t6a.json" &&
    [ "$(grep -o '"open_ttl":0,"accepted"' "$tmp/t6a.json" | wc -l)" -ge 6 ]; then
    ok
else
    bad "TCP over IPv6 without NAT: exit $ra $rb (want 0 0), each TCP technique 2/2, first SYNs at the full hop limit"
fi

# A probe alone: its trials could not start (outside the success rate), said why, exit 1.
inns timeout 30 "$BIN/natprobe" punch --session s2 --key "$key2" --trials 1 --setup-timeout 1 \
    --techniques udp-hole-punching --json "$tmp/alone.json" 203.0.113.10 >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q '"setup_failed":1' "$tmp/alone.json" &&
    grep -q '"reason":"the other probe never arrived at the rendezvous"' "$tmp/alone.json" &&
    grep -q '"success_rate":null' "$tmp/alone.json" && grep -q '"punch_peer":null' "$tmp/alone.json"; then
    ok
else
    bad "a probe alone: exit $rc (want 1), setup-failed with the reason"
fi

# The reflector vanishes mid-run: the trials after it cannot start
# (setup-failed, with the reason, outside the success rate), the record
# keeps the trials already measured, and nothing is called a contradiction.
key3=$("$BIN/natreflector" --session-secret "$secret" --issue-session s3 | awk '{ print $4 }')
vanish() {
    inns timeout 60 "$BIN/natprobe" punch --session s3 --key "$key3" --trials 4 --setup-timeout 1 \
        --techniques udp-hole-punching --json "$tmp/v$1.json" 203.0.113.10 >"$tmp/v$1.out" 2>&1
    echo $? >"$tmp/v$1.rc"
}
vanish a &
va=$!
vanish b &
vb=$!
for _ in $(seq 100); do grep -q 'trial 1: success' "$tmp/va.out" 2>/dev/null && break; sleep 0.05; done
stop_refl
wait "$va" "$vb"
cat "$tmp/va.out" "$tmp/va.json" >"$tmp/out"
if [ "$(cat "$tmp/va.rc")" = 1 ] && grep -q '"successes":[1-3],"setup_failed":[1-3],' "$tmp/va.json" &&
    grep -Eq '"outcome":"setup-failed","reason":"(no answer from the reflector|the reflector.s rendezvous answered, then fell silent)' "$tmp/va.json" &&
    ! grep -q 'the other probe never arrived' "$tmp/va.json" &&
    grep -q '"agrees":true' "$tmp/va.json" && ! grep -q CONTRADICTION "$tmp/va.out"; then
    ok
else
    bad "the reflector gone mid-run: exit $(cat "$tmp/va.rc") (want 1), the trials before it kept, the rest setup-failed"
fi
start_refl --session-secret "$secret"

# A wrong key: refused by the reflector (401), bad usage.
inns timeout 30 "$BIN/natprobe" punch --session s1 --key 00000000000000000000000000000000 \
    --trials 1 203.0.113.10 >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'the reflector refused: 401' "$tmp/out"; then ok; else bad "a wrong key: exit $rc, want 2 and 401"; fi

# RFC 5128 6.2 and 6.3: the rendezvous is no amplifier and no port scanner.
# rdvabuse sends 89 bad requests (a 20-byte header up, unsigned, junk, a
# wrong key): fewer bytes come back than went. Then, as a key holder, it
# registers 16 trials from a victim's 32 ports, blind as a spoofer is
# (never echoing the cookie), naming the victim's port 22, asking for the
# relay, and sends signed packets to be relayed: the victim gets less than
# was sent, no start, no packet that names a peer, nothing relayed. The
# control, the same echoing the cookies as natprobe does, meets 16 times
# and is relayed: the zeros above are the reflector's doing.
abuse() { # SESSION [--echo-cookies]: rdvabuse's lines, in $tmp/abuse.$1
    local k
    k=$("$BIN/natreflector" --session-secret "$secret" --issue-session "$1" | awk '{ print $4 }')
    inns timeout 30 "$BIN/rdvabuse" --session "$1" --key "$k" --victim 203.0.113.99 "${@:2}" \
        203.0.113.10 >"$tmp/abuse.$1" 2>&1
}
field() { sed -n "s/^$1 \(.* \)*$2=\([0-9]*\).*/\2/p" "$3"; }
abuse ab1
abuse ab2 --echo-cookies
cat "$tmp/abuse.ab1" "$tmp/abuse.ab2" >"$tmp/out"
f=$tmp/abuse.ab1
if [ "$(field amplify bytes_in "$f")" -le "$(field amplify bytes_out "$f")" ] &&
    [ "$(field amplify requests "$f")" -eq 89 ]; then
    ok
else
    bad "the rendezvous as an amplifier: $(grep amplify "$f")"
fi
if [ "$(field forge bytes_in "$f")" -le "$(field forge bytes_out "$f")" ] &&
    [ "$(field forge starts "$f")" -eq 0 ] && [ "$(field forge peers "$f")" -eq 0 ] &&
    [ "$(field relay relayed "$f")" -eq 0 ] && [ "$(field forge registrations "$f")" -eq 128 ]; then
    ok
else
    bad "the rendezvous as a scanner of 203.0.113.99: $(grep -E 'forge|relay' "$f")"
fi
f=$tmp/abuse.ab2
if [ "$(field forge starts "$f")" -eq 16 ] && [ "$(field relay relayed "$f")" -gt 0 ]; then
    ok
else
    bad "the control, echoing cookies, did not meet 16 times and get relayed: $(grep -E 'forge|relay' "$f")"
fi
stop_refl

# A reflector without a session secret: no rendezvous (403).
start_refl
inns timeout 30 "$BIN/natprobe" punch --session s1 --key "$key" --trials 1 203.0.113.10 >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'the reflector refused: 403 rendezvous not enabled' "$tmp/out"; then
    ok
else
    bad "no session secret: exit $rc, want 2 and 403"
fi
stop_refl

# Through the real Linux NAT: the two-nats lab, a masquerade on each side
# (endpoint-independent mapping, address-and-port-dependent filtering).
# Predicted, and measured: hole punching works (the opening round, TTL 2,
# dies between the NATs so that neither side's first packet takes the
# other's conntrack tuple); connection reversal fails (neither filter takes
# a packet it has not asked for).
NATLAB=testbeds/natlab
export NATLAB_BIN=$BIN NATLAB_LABECHO=0
# pair_lab SESSION KEY TTL [PROFILE [TRIALS]]: the lab, the reflector, both probes,
# down; their exit statuses in LAB_RC, their summaries in la.out and lb.out.
# STAGGER_B: the second probe's --stagger (ms late); INET_DELAY: one way
# between wan-a and wan-b (natlab's NATLAB_INET_DELAY; 10 ms unless set);
# TECHNIQUES: natprobe punch's list (relay, hole punching, reversal unless set).
pair_lab() {
    local id session=$1 key=$2 ttl=$3 profile=${4:-two-nats} trials=${5:-3} ra rb
    local techniques=${TECHNIQUES:-relay,udp-hole-punching,connection-reversal}
    NATLAB_INET_DELAY=${INET_DELAY:-10} $NATLAB up "$profile" >"$tmp/up" 2>&1 ||
        { cp "$tmp/up" "$tmp/out"; bad "natlab up $profile"; return 1; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 --session-secret "$secret" >"$tmp/labrefl" 2>&1 &
    for _ in $(seq 100); do grep -q '^natreflector ready' "$tmp/labrefl" && break; sleep 0.02; done
    $NATLAB exec "$id" cli1 timeout 60 "$BIN/natprobe" punch --session "$session" --key "$key" \
        --trials "$trials" --open-ttl "$ttl" --techniques "$techniques" \
        --json "$tmp/la.json" 203.0.113.10 >"$tmp/la.out" 2>&1 &
    ra=$!
    $NATLAB exec "$id" peer timeout 60 "$BIN/natprobe" punch --session "$session" --key "$key" \
        --trials "$trials" --open-ttl "$ttl" --techniques "$techniques" \
        --stagger "${STAGGER_B:-0}" --json "$tmp/lb.json" 203.0.113.10 >"$tmp/lb.out" 2>&1
    rb=$?
    wait "$ra"
    ra=$?
    $NATLAB down "$id" >/dev/null 2>&1
    cat "$tmp/la.out" "$tmp/lb.out" >"$tmp/out"
    LAB_RC="$ra $rb"
}
two_nats() {
    local key3
    key3=$("$BIN/natreflector" --session-secret "$secret" --issue-session lab1 | awk '{ print $4 }')
    pair_lab lab1 "$key3" 2 || return
    if [ "$LAB_RC" = "0 0" ] &&
        grep -Eq '^  udp-hole-punching +3/3 .*expected works: agrees$' "$tmp/la.out" &&
        grep -Eq '^  udp-hole-punching +3/3 .*expected works: agrees$' "$tmp/lb.out" &&
        grep -Eq '^  connection-reversal +0/3 .*expected fails: agrees$' "$tmp/la.out" &&
        grep -Eq '^  relay +3/3 .*expected works: agrees$' "$tmp/la.out" &&
        grep -q '"path":"public","connect_ms"' "$tmp/la.json"; then
        ok
    else
        bad "two-nats: exit $LAB_RC (want 0 0), relay and hole punching 3 of 3, reversal 0 of 3, as predicted"
    fi
}
# With 60 ms one way between the NATs and no opening round: each NAT's
# first packet out leaves before the other's first packet can arrive, as on
# a real path, and hole punching works, as predicted; the connect time is at
# least the path's round trip, less a millisecond: netem keeps its delay to
# within a timer tick, and CI once measured 119.9 ms. (The round trip, 120 ms, is longer than the
# registrations' interval: the rendezvous' waits must come from round trips
# timed per request, and the two must meet only once both are known.)
two_nats_delay() {
    local key5 ms
    key5=$("$BIN/natreflector" --session-secret "$secret" --issue-session lab5 | awk '{ print $4 }')
    INET_DELAY=60 pair_lab lab5 "$key5" 0 || return
    ms=$(grep -o '"technique":"udp-hole-punching",[^{]*"median_connect_ms":[0-9.]*' "$tmp/la.json" |
        sed 's/.*://')
    if [ "$LAB_RC" = "0 0" ] &&
        grep -Eq '^  udp-hole-punching +3/3 .*expected works: agrees$' "$tmp/la.out" &&
        grep -Eq '^  udp-hole-punching +3/3 .*expected works: agrees$' "$tmp/lb.out" &&
        awk -v m="${ms:-0}" 'BEGIN { exit !(m >= 119) }'; then
        ok
    else
        bad "two-nats, 60 ms one way, no opening round: exit $LAB_RC (want 0 0), hole punching 3 of 3, connect ${ms:-?} ms (want 119 or more)"
    fi
}
# A side 100 ms late (--stagger), without the opening round: the first
# side's packets reach the late side's NAT before its host has sent, and
# conntrack files them on the tuple that host needs; its packets leave from
# another port, and the punch fails. natprobe must say loudly that the
# result contradicts the prediction (exit 1), on both sides. (Without the
# stagger this is a race that either side may win: no test for it.)
two_nats_late() {
    local key4
    key4=$("$BIN/natreflector" --session-secret "$secret" --issue-session lab2 | awk '{ print $4 }')
    STAGGER_B=100 pair_lab lab2 "$key4" 0 || return
    if [ "$LAB_RC" = "1 1" ] && grep -q 'udp-hole-punching .*expected works: CONTRADICTION$' "$tmp/la.out" &&
        grep -q 'udp-hole-punching .*expected works: CONTRADICTION$' "$tmp/lb.out" &&
        grep -q '"agrees":false' "$tmp/la.json" &&
        grep -q '"punch_settings":{"open_ttl":0,"stagger_ms":100}' "$tmp/lb.json"; then
        ok
    else
        bad "two-nats, one side 100 ms late, no opening round: exit $LAB_RC (want 1 1) and a CONTRADICTION"
    fi
}
# RFC 5128 6.1, the impostor: on cli1's network a decoy owns the other
# probe's private address and mirrors what it gets, datagrams and TCP
# connections' bytes (two-nats-decoy). The private techniques, UDP's and
# TCP's, try that address first: every trial meets the decoy, counts it as
# an impostor named by its address, and succeeds on the public path, never
# the private one; the other side, with no decoy, counts none.
decoy_named() { # TECHNIQUE: its trials in la.json that name the decoy
    sed 's/{"technique":/\n&/g' "$tmp/la.json" | grep "^{\"technique\":\"$1\"" |
        grep -o '"impostors":\[{"endpoint":"10\.0\.2\.2:[0-9]*","packets":[1-9]' | wc -l
}
two_nats_decoy() {
    local key6 udp tcp
    key6=$("$BIN/natreflector" --session-secret "$secret" --issue-session lab6 | awk '{ print $4 }')
    TECHNIQUES=udp-hole-punching-private,tcp-simultaneous-open-private \
        pair_lab lab6 "$key6" 2 two-nats-decoy || return
    udp=$(decoy_named udp-hole-punching-private)
    tcp=$(decoy_named tcp-simultaneous-open-private)
    if [ "$LAB_RC" = "0 0" ] &&
        grep -Eq '^  udp-hole-punching-private +3/3 .*expected works: agrees$' "$tmp/la.out" &&
        grep -Eq '^  tcp-simultaneous-open-private +3/3 .*expected works: agrees$' "$tmp/la.out" &&
        grep -q '^    IMPOSTOR: [0-9]* unauthenticated packets from 10\.0\.2\.2:' "$tmp/la.out" &&
        [ "$udp" -eq 3 ] && [ "$tcp" -eq 3 ] &&
        ! grep -q '"outcome":"success","path":"private"' "$tmp/la.json" &&
        grep -q '"impostor_packets":0' "$tmp/lb.json" && ! grep -q IMPOSTOR "$tmp/lb.out"; then
        ok
    else
        bad "two-nats-decoy: exit $LAB_RC (want 0 0), UDP's and TCP's private technique 3/3 on the public path, the decoy at 10.0.2.2 an impostor in each of 3 trials (named in $udp UDP, $tcp TCP)"
    fi
}

# TCP simultaneous open (RFC 5128 3.4) through the two masquerades, one side
# 100 ms late: without the opening TTL, the early side's SYN reaches the
# late side's NAT before its host has sent and draws a RST (Linux answers a
# SYN it has no mapping for), and neither side connects: 0 of 3, the
# connects refused. With the first SYN at TTL 2 it opens this side's NAT
# and dies between the NATs; the router's time exceeded does not end the
# connect (IP_MINTTL), and the kernel's SYN a second later, at full TTL,
# finds both NATs open: 3 of 3, about a second, each side's own connect
# won. The issue's cell where the low TTL must make the difference, and
# both as predicted from the two TCP classes exchanged at the rendezvous
# (masquerade: RST to a SYN it did not ask for, SYNs may cross, ICMP errors
# end nothing): works with the opening TTL, depends (a race) without.
two_nats_tcp() {
    local k0 k2 low0 low2
    k0=$("$BIN/natreflector" --session-secret "$secret" --issue-session lab7 | awk '{ print $4 }')
    k2=$("$BIN/natreflector" --session-secret "$secret" --issue-session lab8 | awk '{ print $4 }')
    TECHNIQUES=tcp-simultaneous-open STAGGER_B=100 pair_lab lab7 "$k0" 0 || return
    low0=$LAB_RC
    grep -Eq '^  tcp-simultaneous-open +0/3 .*expected depends: nothing to judge$' "$tmp/la.out" &&
        grep -q '"ttl":0,"outcome":"refused"' "$tmp/la.json" && low0="$low0 ok"
    TECHNIQUES=tcp-simultaneous-open STAGGER_B=100 pair_lab lab8 "$k2" 2 || return
    low2=$LAB_RC
    grep -Eq '^  tcp-simultaneous-open +3/3 .*expected works: agrees$' "$tmp/la.out" &&
        grep -Eq '^  tcp-simultaneous-open +3/3 .*expected works: agrees$' "$tmp/lb.out" &&
        grep -q '"punch_peer":{[^}]*}*,"tcp":{"mapping":"endpoint-independent","filtering":"address-and-port-dependent",.*"unsolicited_syn":"rst","simultaneous_open":true,"icmp_kept":true' "$tmp/la.json" &&
        [ "$(grep -o '"won":"connect","open_ttl":2' "$tmp/la.json" | wc -l)" -eq 3 ] && low2="$low2 ok"
    if [ "$low0" = "0 0 ok" ] && [ "$low2" = "0 0 ok" ]; then
        ok
    else
        bad "two-nats TCP, one side 100 ms late: without the opening TTL '$low0' (want 0 0 ok: 0/3, refused), with it '$low2' (want 0 0 ok: 3/3, connect won)"
    fi
}

# The pair labs are independent: several at once (tests/lib.sh, par).
par two_nats
par two_nats_late
par two_nats_decoy
par two_nats_tcp
# Quick (NATLAB_CHECK_QUICK=1, CI's sanitizer pass): path delay, birthday
# punching and loss are timing and statistics over code paths the other
# labs take; the full pass runs them.
[ "${NATLAB_CHECK_QUICK:-0}" = 1 ] || par two_nats_delay

# Birthday punching through natemu, a port-restricted cone (easy) against a
# symmetric NAT with random ports (hard): 256 sockets against 1024 guesses
# succeed about 98% of the time (the record says what the counts predict),
# so at least one of three trials must; hole punching cannot. A success is
# still only one proven both ways.
birthday_lab() {
    NATEMU_SETTINGS="mapping=endpoint-independent filtering=address-and-port-dependent" \
        NATEMU_SETTINGS_B="mapping=address-and-port-dependent filtering=address-and-port-dependent ports=random" \
        NATLAB_PUNCH_OPTIONS="--techniques udp-hole-punching,udp-birthday" \
        $NATLAB punch --trials 3 --json "$tmp/bd.json" natemu natemu >"$tmp/out" 2>&1
    if grep -Eq '^ +udp-birthday +[1-3]/3 ' "$tmp/out" &&
        grep -Eq '^ +udp-hole-punching +0/3 .*expected fails: agrees$' "$tmp/out" &&
        grep -q '"birthday":{"role":"easy","ports":"random","sockets":256,"probes":1024,' "$tmp/bd.json" &&
        grep -q '"guessed_ports":[1-9]' "$tmp/bd.json" &&
        grep -q '"predicted_success":0.98' "$tmp/bd.json"; then
        ok
    else
        bad "birthday punching through natemu (random ports): want 1 to 3 of 3, hole punching 0 of 3"
    fi
}
[ "${NATLAB_CHECK_QUICK:-0}" = 1 ] || par birthday_lab

# 10% loss at both NATs (natemu --loss 10), where hole punching and reversal
# cannot work: never a success (a success needs signed packets both ways),
# whatever loss does to the relay's, which is logged.
loss_lab() {
    NATEMU_SETTINGS="mapping=endpoint-independent filtering=address-and-port-dependent" \
        NATEMU_SETTINGS_B="mapping=address-and-port-dependent filtering=address-and-port-dependent ports=random" \
        NATEMU_OPTIONS="--loss 10" NATEMU_OPTIONS_B="--loss 10" \
        NATLAB_PUNCH_OPTIONS="--techniques relay,udp-hole-punching,connection-reversal" \
        $NATLAB punch --trials 3 natemu natemu >"$tmp/out" 2>&1
    if grep -Eq '^ +udp-hole-punching +0/3 .*expected fails: agrees$' "$tmp/out" &&
        grep -Eq '^ +connection-reversal +0/3 .*expected fails: agrees$' "$tmp/out"; then
        ok
        echo "punch: with 10% loss at each NAT, relay $(awk '$1 == "relay" { print $2 }' "$tmp/out"), no false success"
    else
        bad "10% loss: a success where none can be"
    fi
}
[ "${NATLAB_CHECK_QUICK:-0}" = 1 ] || par loss_lab

# natlab punch with a second side of the lab's own: behind one public
# address (the lab's cli2) and with a public peer. punch_cell LAB TECHNIQUE
# COUNT [PATH]: the summary line (and record) of one technique.
punch_cell() {
    grep -Eq "^ +$2 +$3 " "$tmp/$1.out" &&
        { [ -z "${4:-}" ] || sed 's/{"technique":/\n&/g' "$tmp/$1.json" |
            grep "^{\"technique\":\"$2\"" | grep -q "\"path\":\"$4\""; }
}
# punch_lab A B WANT...: natlab punch A B, 2 trials, the techniques of
# LAB_TECHNIQUES (udp unless set); each WANT is "TECHNIQUE COUNT [PATH]"
# and must hold, and nothing may contradict.
punch_lab() {
    local a=$1 b=$2 name=$1+$2 w
    shift 2
    $NATLAB punch --trials 2 --techniques "${LAB_TECHNIQUES:-udp}" --json "$tmp/$name.json" \
        "$a" "$b" >"$tmp/$name.out" 2>&1
    cp "$tmp/$name.out" "$tmp/out"
    for w in "$@"; do
        # shellcheck disable=SC2086 # the words of a want
        if ! punch_cell "$name" $w; then
            bad "natlab punch $a $b: want $w"
            return
        fi
    done
    if grep -q CONTRADICTION "$tmp/$name.out"; then bad "natlab punch $a $b: a contradiction"; else ok; fi
}
# Two clients of one masquerade: their own endpoints share a network, so the
# private techniques work, UDP's and TCP's (path private, as predicted); the
# public endpoints would need hairpinning, which Linux's masquerade does not
# do.
LAB_TECHNIQUES=udp,tcp-simultaneous-open-private par punch_lab masq same "relay 2/2 relay" \
    "udp-hole-punching-private 2/2 private" "tcp-simultaneous-open-private 2/2 private" \
    "udp-hole-punching 0/2" "connection-reversal 0/2"
# A peer with no NAT: everything works, as predicted.
par punch_lab masq public "relay 2/2" "udp-hole-punching 2/2 public" \
    "connection-reversal 2/2"
# Nested NATs (RFC 5128 3.3.3): two homes behind one CGN. Without
# hairpinning at the CGN only the relay gets through; with it, hole
# punching works through the CGN's hairpin (path hairpin).
par punch_lab cgn-homes same "relay 2/2" "udp-hole-punching 0/2" "udp-hole-punching-private 0/2"
NATEMU_OPTIONS="--delay 5" par punch_lab cgn-homes-hairpin same "relay 2/2" \
    "udp-hole-punching 2/2 hairpin" "udp-hole-punching-private 2/2 hairpin"
# The port-mapping technique through the real miniupnpd: a home router that
# holds the public address maps the trial's port, waits, and the other side
# reaches it (both ways: upnp first and second); one that maps behind a CGN
# (upnp-cgn-naive: its 100.64 address taken for public) is never reached;
# one that refuses behind a CGN (upnp-cgn) leaves it to the other side's.
# portmap_lab A B COUNT EXPECT [RECORD]: natlab punch A B, port-mapping
# alone, 2 trials: COUNT of them, expected EXPECT and agreeing, and RECORD
# (an extended regular expression) in the records when given.
portmap_lab() {
    local a=$1 b=$2 n=$3 want=$4 rec=${5:-} name=$1+$2
    $NATLAB punch --trials 2 --techniques port-mapping --json "$tmp/$name.json" "$a" "$b" \
        >"$tmp/$name.out" 2>&1
    cp "$tmp/$name.out" "$tmp/out"
    if grep -Eq "^ +port-mapping +$n/2 .*expected $want: agrees$" "$tmp/$name.out" &&
        { [ -z "$rec" ] || grep -Eq -- "$rec" "$tmp/$name.json"; }; then
        ok
    else
        bad "natlab punch $a $b: port-mapping $n/2, expected $want and agreeing${rec:+, the record with $rec}"
    fi
}
par portmap_lab upnp masq 2 works '"path":"public",.*"this_side":\{"protocol":"upnp","granted":true,'
par portmap_lab masq upnp 2 works '"other_side":\{"protocol":"upnp","granted":true,.*"waited":false'
par portmap_lab upnp-cgn-naive masq 0 fails \
    '"this_side":\{"protocol":"upnp","granted":true,"external_port":[0-9]+,"at_public_address":false,"nat_depth":2\}'
par portmap_lab upnp-cgn upnp 2 works
par_wait

# The grids through real labs, subsets for make check (the whole of them:
# natlab punch-matrix, with --natemu-grid, README), every technique, one
# trial a cell, through natlab punch-matrix itself. Every cell the
# prediction judges must agree (a CONTRADICTION, a setup failure or a
# missing cell fails the test and names the cell), both judgements must
# occur, and each record must carry the other side's mapping as it told
# the rendezvous. Alone, after the other labs: punch-matrix runs its pairs
# nine at once (NATLAB_PUNCH_JOBS) itself: they wait on timers more than they
# compute (nine took 52 s where six took 68; twelve, 51).
# matrix_subset NAME CELLS ARGS...: punch-matrix ARGS; CELLS rows wanted.
matrix_subset() {
    local name=$1 cells=$2 rc bad_cells
    shift 2
    NATLAB_PUNCH_JOBS=${NATLAB_PUNCH_JOBS:-9} $NATLAB punch-matrix --trials 1 --json "$tmp/$name.json" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    cp "$tmp/$name.out" "$tmp/out"
    bad_cells=$(awk 'NR > 1 && $5 != "agrees" && $5 != "not-judged"' "$tmp/$name.out")
    if [ "$rc" -eq 0 ] && [ -z "$bad_cells" ] && [ "$(awk 'NR > 1' "$tmp/$name.out" | wc -l)" -eq "$cells" ] &&
        awk 'NR > 1 && $4 == "works" && $5 == "agrees"' "$tmp/$name.out" | grep -q . &&
        awk 'NR > 1 && $4 == "fails" && $5 == "agrees"' "$tmp/$name.out" | grep -q .; then
        ok
    else
        bad "$name: exit $rc (want 0), $cells cells, each agrees or not judged; these do not: ${bad_cells:-none}"
    fi
}
# peer_mappings NAME SIDE...: each pair's record (cli1's) names the other
# side's mapping, as natemu's settings give it.
peer_mappings() {
    local name=$1 a b m
    shift
    for a in "$@"; do
        for b in "$@"; do
            m=${b#natemu:mapping=}
            m=${m%%,*}
            grep -F "\"label\":\"natlab:$a+$b\"" "$tmp/$name.json" |
                grep -Fq "\"punch_peer\":{\"mapping\":\"$m\"" ||
                { bad "$name: $a+$b's record lacks the other side's mapping $m"; return; }
        done
    done
    ok
}
# natemu: four kinds (a full cone with sequential ports, a port-restricted
# cone, address-dependent with random ports, symmetric with sequential
# ports), every ordered pair: 16 pairs, 112 cells (port-mapping among the
# UDP techniques: no gateway answers there, so it fails, as predicted).
# shellcheck disable=SC2054 # a side's settings are one word, commas and all
natemu_sides=(natemu:mapping=endpoint-independent,filtering=endpoint-independent,ports=sequential
    natemu:mapping=endpoint-independent,filtering=address-and-port-dependent
    natemu:mapping=address-dependent,filtering=address-dependent,ports=random
    natemu:mapping=address-and-port-dependent,filtering=address-and-port-dependent,ports=sequential)
# The UDP techniques there (TCP's mapping grid is the simulated one's,
# tests/test_punch_tcp_net.c, and the TCP grid's below).
# natemu's TCP settings (natlab punch-matrix --natemu-tcp-grid has all 36
# pairs), the TCP techniques: a NAT that drops a SYN it did not ask for and
# lets SYNs cross; one that answers it with an ICMP error and does not let
# SYNs cross; and a symmetric NAT with sequential ports that answers it with
# a RST, where simultaneous open fails against the others and port
# prediction (RFC 5128 3.6) works: 9 pairs, 45 cells.
# shellcheck disable=SC2054
tcp_sides=(natemu:unsolicited-syn=drop,simultaneous-open=on
    natemu:unsolicited-syn=icmp,simultaneous-open=off
    natemu:mapping=address-and-port-dependent,ports=sequential,unsolicited-syn=rst,simultaneous-open=on)
# Quick (NATLAB_CHECK_QUICK=1, CI's sanitizer pass: the code paths, not
# every cell, which the full pass has): the full cone and the symmetric NAT
# only, 4 pairs, 28 cells; no TCP grid (the TCP labs above take its code
# paths: without NAT, over IPv6, the late side, the decoy) and no kernel
# grid (the pair labs above are).
if [ "${NATLAB_CHECK_QUICK:-0}" = 1 ]; then
    natemu_sides=("${natemu_sides[0]}" "${natemu_sides[3]}")
    matrix_subset natemu-grid 28 --techniques udp --only-pairs "${natemu_sides[@]}"
    peer_mappings natemu-grid "${natemu_sides[@]}"
else
    matrix_subset natemu-grid 112 --techniques udp --only-pairs "${natemu_sides[@]}"
    peer_mappings natemu-grid "${natemu_sides[@]}"
    matrix_subset natemu-tcp-grid 45 --techniques tcp --only-pairs "${tcp_sides[@]}"
    # Port prediction's own cells: against the sequential symmetric NAT,
    # simultaneous open fails and port prediction works, both as predicted.
    pp='^natemu:unsolicited-syn=drop,simultaneous-open=on\+natemu:mapping=address-and-port-dependent,ports=sequential,unsolicited-syn=rst,simultaneous-open=on +tcp-'
    if grep -Eq "${pp}simultaneous-open +0/1 +fails +agrees" "$tmp/natemu-tcp-grid.out" &&
        grep -Eq "${pp}port-prediction +1/1 +works +agrees" "$tmp/natemu-tcp-grid.out"; then
        ok
    else
        cp "$tmp/natemu-tcp-grid.out" "$tmp/out"
        bad "natemu TCP grid: against the sequential symmetric NAT, simultaneous open 0/1 (fails) and port prediction 1/1 (works), as predicted"
    fi
    # The kernel: masq-fully-random, snat-pool and cgn (masq's pairs are above
    # and in regression.sh), every ordered pair, each with a second client
    # behind its own NAT and with a public peer, every technique, UDP's and
    # TCP's: 15 pairs, 180 cells.
    matrix_subset kernel-grid 180 masq-fully-random snat-pool cgn
fi

# natlab punch, the command: a pair lab from two profiles (masq on each side),
# both probes, the summary against the prediction, and nothing left behind.
before=$(ip netns list | grep -c "^nl" || true)
if $NATLAB punch --trials 1 masq masq >"$tmp/out" 2>&1 &&
    grep -Eq '^ +udp-hole-punching +1/1 .*expected works: agrees$' "$tmp/out" &&
    grep -Eq '^ +connection-reversal +0/1 .*expected fails: agrees$' "$tmp/out"; then
    ok
else
    bad "natlab punch masq masq: hole punching 1/1 and reversal 0/1, as predicted"
fi
after=$(ip netns list | grep -c "^nl" || true)
if [ "$after" -le "$before" ]; then ok; else bad "natlab punch left namespaces behind"; fi
if $NATLAB punch firewall masq >"$tmp/out" 2>&1; then
    bad "natlab punch firewall masq: a profile that cannot pair was taken"
elif grep -q "'firewall' cannot be a side of a pair lab yet" "$tmp/out"; then
    ok
else
    bad "natlab punch firewall masq: no clear refusal"
fi
# Bad options: said, exit 2, before any lab is built.
before=$(ip netns list | grep -c "^nl" || true)
for args in "punch-matrix --trials" "punch-matrix --trials x masq" "punch --trials 0 masq masq" \
    "punch-matrix --natemu-ports odd --natemu-grid" "punch-matrix --techniques bogus masq" \
    "punch --techniques tcp,bogus masq masq"; do
    # shellcheck disable=SC2086 # the words of a command line
    $NATLAB $args >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" -eq 2 ] && grep -Eq "natlab punch(-matrix)?: --(trials|natemu-ports|techniques)" "$tmp/out"; then
        ok
    else
        bad "natlab $args: exit $rc, want 2 and what was wrong"
    fi
done
after=$(ip netns list | grep -c "^nl" || true)
if [ "$after" -le "$before" ]; then ok; else bad "bad options built a lab"; fi

summary
