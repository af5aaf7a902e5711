#!/bin/bash
# natprobe punch --open-ttl auto through real NATs: the hop sweep
# (probe/hops.c) finds the TTL that passes this side's NATs. One probe
# alone in a lab's cli1 against natreflector: with no other probe its one
# trial is setup-failed (after --setup-timeout 1), and the record, with
# open_ttl_sweep, is written all the same.
#
#   masq: cli1 --- [nat 10.0.1.1] --- refl 203.0.113.10
#           TTL 1 dies at the NAT (private), 2 reaches the reflector: TTL 2
#   cgn:  cli1 --- [home 192.168.1.1] --- [cgn 100.64.0.1] --- refl
#           private, shared, the reflector at 3: TTL 3 (2 would die at the CGN)
#   cgn's inet (203.0.113.126, no NAT): no sweep's TTL, the default and why
#   masq, --open-ttl 5: no sweep, the TTL given
#   two-nats, from the other side (wan-b):
#         peer --- [natb 10.0.2.1] --- [inet 198.51.100.126] --- refl
#           private, then a public router: TTL 2; and the same with the
#           router silent (its time exceeded dropped): still 2
#
# From cli1 the reflector sits on the network right beyond the outermost NAT
# (wan-a: inet bridges it), so only wan-b's side has a router on the way.
set -u
BIN=$(cd "${1:-bin}" && pwd)
SUITE=hops
# shellcheck source=tests/lib.sh
. tests/lib.sh
need_root

NATLAB=testbeds/natlab
export NATLAB_BIN=$BIN NATLAB_LABECHO=0
unset NATLAB_INET_DELAY
lab=
refl=
cleanup() {
    [ -n "$refl" ] && kill "$refl" 2>/dev/null && wait "$refl" 2>/dev/null
    [ -n "$lab" ] && $NATLAB down "$lab" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/secret"

# lab_up PROFILE: the lab (its id in $lab) and the reflector; 1 when it failed.
lab_up() {
    $NATLAB up "$1" >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up $1"; return 1; }
    lab=$(awk '/^lab /{ print $2 }' "$tmp/up")
    $NATLAB exec "$lab" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 --session-secret "$tmp/secret" >"$tmp/refl" 2>&1 &
    refl=$!
    for _ in $(seq 100); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
}
lab_down() {
    kill "$refl" 2>/dev/null && wait "$refl" 2>/dev/null
    $NATLAB down "$lab" >/dev/null 2>&1
    refl=
    lab=
}

# punch ROLE SESSION [OPTIONS...]: one natprobe punch in ROLE, alone; its
# summary in $tmp/out, its record in $tmp/rec.json, its status in $rc.
punch() {
    local role=$1 session=$2 key
    shift 2
    key=$("$BIN/natreflector" --session-secret "$tmp/secret" --issue-session "$session" |
        awk '{ print $4 }')
    rm -f "$tmp/rec.json"
    $NATLAB exec "$lab" "$role" timeout 30 "$BIN/natprobe" punch --session "$session" \
        --key "$key" --trials 1 --setup-timeout 1 --techniques udp-hole-punching \
        --json "$tmp/rec.json" "$@" 203.0.113.10 >"$tmp/out" 2>&1
    rc=$?
    cat "$tmp/rec.json" >>"$tmp/out" 2>/dev/null
}

# sweep_is JSON: the record's open_ttl_sweep, exactly (natprobe writes it
# compact, its keys in this order).
sweep_is() {
    grep -qF "\"open_ttl_sweep\":$1," "$tmp/rec.json" 2>/dev/null
}

if lab_up masq; then
    punch cli1 hops1
    if [ "$rc" -eq 1 ] &&
        sweep_is '{"ttl":2,"decided":"sweep","reason":"one past the last private or shared hop, with a public address beyond it","hops":[{"ttl":1,"from":"10.0.1.1","realm":"private"}],"server_at":2}' &&
        grep -q '"punch_settings":{"open_ttl":2,' "$tmp/rec.json" &&
        grep -q '^natprobe punch: opening TTL 2 (hop sweep: 10\.0\.1\.1 private, reflector at 2)$' "$tmp/out"; then
        ok
    else
        bad "masq: exit $rc (want 1: setup-failed), opening TTL 2 from the sweep, hop 1 10.0.1.1 private"
    fi
    # A TTL given: no sweep, no open_ttl_sweep, the TTL as given.
    punch cli1 hops2 --open-ttl 5
    if [ "$rc" -eq 1 ] && ! grep -q '"open_ttl_sweep"' "$tmp/rec.json" &&
        grep -q '"punch_settings":{"open_ttl":5,' "$tmp/rec.json" && ! grep -q 'opening TTL' "$tmp/out"; then
        ok
    else
        bad "masq, --open-ttl 5: exit $rc (want 1), no sweep, open_ttl 5"
    fi
    lab_down
fi

if lab_up cgn; then
    punch cli1 hops3
    if [ "$rc" -eq 1 ] &&
        sweep_is '{"ttl":3,"decided":"sweep","reason":"one past the last private or shared hop, with a public address beyond it","hops":[{"ttl":1,"from":"192.168.1.1","realm":"private"},{"ttl":2,"from":"100.64.0.1","realm":"shared"}],"server_at":3}' &&
        grep -q '"punch_settings":{"open_ttl":3,' "$tmp/rec.json" &&
        grep -q '^natprobe punch: opening TTL 3 (hop sweep: 192\.168\.1\.1 private, 100\.64\.0\.1 shared, reflector at 3)$' "$tmp/out"; then
        ok
    else
        bad "cgn: exit $rc (want 1: setup-failed), opening TTL 3 from the sweep, hops private then shared"
    fi
    # The internet's router has no NAT: the TTL opens nothing; the default, said why.
    punch inet hops4
    if [ "$rc" -eq 1 ] &&
        grep -q '"open_ttl_sweep":{"ttl":2,"decided":"default",.*"server_at":1}' "$tmp/rec.json" &&
        grep -q '^natprobe punch: opening TTL 2 (default: natprobe found no NAT on this side' "$tmp/out"; then
        ok
    else
        bad "no NAT (inet): exit $rc (want 1), the default TTL 2, the reflector at hop 1"
    fi
    lab_down
fi

if lab_up two-nats; then
    punch peer hops5
    if [ "$rc" -eq 1 ] &&
        sweep_is '{"ttl":2,"decided":"sweep","reason":"one past the last private or shared hop, with a public address beyond it","hops":[{"ttl":1,"from":"10.0.2.1","realm":"private"},{"ttl":2,"from":"198.51.100.126","realm":"public"}],"server_at":3}'; then
        ok
    else
        bad "two-nats, peer: exit $rc (want 1), opening TTL 2, hop 2 the public router 198.51.100.126"
    fi
    # A silent router (as natemu --forward-only was): a hop of none. The
    # first run's classification spent natb's ICMP errors toward peer
    # (hops.c); Linux gives one back a second.
    $NATLAB exec "$lab" inet nft -f - <<'NFT'
table ip hopstest {
	chain out {
		type filter hook output priority 0; policy accept;
		icmp type time-exceeded drop
	}
}
NFT
    sleep 1
    punch peer hops6
    if [ "$rc" -eq 1 ] &&
        sweep_is '{"ttl":2,"decided":"sweep","reason":"one past the last private or shared hop, with a public address beyond it","hops":[{"ttl":1,"from":"10.0.2.1","realm":"private"},{"ttl":2,"from":null}],"server_at":3}'; then
        ok
    else
        bad "two-nats, peer, the router silent: exit $rc (want 1), opening TTL 2, hop 2 none"
    fi
    lab_down
fi

summary
