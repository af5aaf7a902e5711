#!/bin/bash
# natprobe's depth and portmap tests through real NATs and the real
# miniupnpd (probe/depth.c, probe/portmapcmd.c), against each lab's truth:
#
#   masq      one NAT at hop 1, no protocol                  depth 1, cgn false
#   cgn       home NAT, then the CGN's 100.64.0.1 at hop 2   depth 2, cgn true
#   firewall  no NAT                                         depth 0, cgn false
#   upnp      masquerade + miniupnpd (UPnP IGD, NAT-PMP, PCP): each reports
#             203.0.113.1, grants a UDP mapping that the reflector's datagram
#             reaches and a TCP one that its connection reaches (an order of
#             a natlab session), deletes them; miniupnpd's rules are gone after
#   upnp-cgn-naive  miniupnpd behind a CGN, sure its 100.64 address is
#             public: both mappings granted, neither reached
#   upnp-cgn  miniupnpd behind a CGN: every protocol answers, none has a
#             public address, nothing is mapped; depth 2, cgn true
#   cgn-ttl   the CGN sets TTL 64 (hidden from the sweep); the gateway says it
#             has no public address: the methods disagree, depth and cgn
#             inconclusive (null), never 1
#
# And a natprobe stopped by SIGTERM at any point of the portmap test leaves
# miniupnpd's table empty (every mapping deleted before it exits).
# Last, the hop-k keepalive test on cgn with one NAT's UDP timeout short.
set -u
BIN=$(cd "${1:-bin}" && pwd)
SUITE=portmap
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

# A natlab session for the TCP reach test's orders.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/secret"
key=$("$BIN/natreflector" --session-secret "$tmp/secret" --issue-session portmap | awk '{ print $NF }')

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

# probe TESTS: natprobe in cli1; its summary and record in $tmp/out, the
# record alone in $tmp/rec.json, its status in $rc.
probe() {
    rm -f "$tmp/rec.json"
    $NATLAB exec "$lab" cli1 timeout 30 "$BIN/natprobe" --tests "$1" --json "$tmp/rec.json" \
        --session portmap --key "$key" 203.0.113.10 >"$tmp/out" 2>&1
    rc=$?
    cat "$tmp/rec.json" >>"$tmp/out" 2>/dev/null
}

# has TEXT...: every TEXT is in the record (compact JSON, keys in order).
has() {
    local t
    for t in "$@"; do
        grep -qF -- "$t" "$tmp/rec.json" 2>/dev/null || { echo "missing: $t" >>"$tmp/out"; return 1; }
    done
}

# The depth verdicts of one lab, from a fresh lab (a NAT's ICMP tokens unspent).
depth_is() {
    local profile=$1 depth=$2 cgn=$3
    shift 3
    lab_up "$profile" || return
    probe nat,depth,portmap
    if has "\"nat_depth\":$depth,\"cgn\":$cgn,\"depth\":" "$@" "\"answered\":[],\"works\":[]}"; then
        ok
    else
        bad "$profile: nat_depth $depth, cgn $cgn, no protocol answering"
    fi
    lab_down
}

depth_is masq 1 false '"reason":"the hops leave this host'"'"'s realm once' \
    '"hops":[{"ttl":1,"from":"10.0.1.1","realm":"private"}],"reflector_at_ttl":2}'
depth_is cgn 2 true '"cgn_reason":"hop 2 answered from 100.64.0.0/10 (RFC 6598)"' \
    '{"ttl":2,"from":"100.64.0.1","realm":"shared"}'
depth_is firewall 0 false '"reason":"no NAT: the reflector sees this host'"'"'s own address 203.0.113.130"'

# miniupnpd's rules (its chains in the home router's table inet miniupnpd):
# the number of rules in its filter and DNAT chains.
mapped_rules() {
    $NATLAB exec "$lab" "$1" nft list table inet miniupnpd 2>/dev/null |
        awk '/chain (forward|prerouting|postrouting)_miniupnpd/ { on = 1; next }
             on && /}/ { on = 0 } on && NF { n++ } END { print n + 0 }'
}

# One protocol's record: answered, the external address ADDRESS, a UDP and
# a TCP mapping granted, reached (REACHED: true or false) and deleted.
# works PROTOCOL [ADDRESS REACHED]
works() {
    local ext=${2:-203.0.113.1} reached=${3:-true} m
    m="\\{\"granted\":true,\"internal_port\":[0-9]+,\"external_port\":[0-9]+,\"lifetime_s\":[0-9]+,\"reached\":$reached,\"reach_target\":\"203\\.0\\.113\\.1:[0-9]+\",\"deleted\":true\\}"
    grep -qE "\"$1\":\\{\"answered\":true,\"server\":\"[^\"]*\",\"external\":\"${ext//./\\.}\",\"no_public\":false,\"mapping\":$m,\"tcp_mapping\":$m" \
            "$tmp/rec.json" || { echo "not working as wanted: $1" >>"$tmp/out"; return 1; }
}

if lab_up upnp; then
    if [ "$(mapped_rules nat)" = 0 ]; then ok; else bad "upnp: miniupnpd's table is not empty before the run"; fi
    probe nat,depth,portmap
    if [ "$rc" -eq 0 ] && works upnp && works nat-pmp && works pcp &&
        has '"answered":["upnp","nat-pmp","pcp"],"works":["upnp","nat-pmp","pcp"]}' \
            '"nat_depth":1,"cgn":false,' \
            '"triple":{"n":1,"at_least":false,"why":"upnp: the gateway'"'"'s external address 203.0.113.1 is the one the reflector sees"'; then
        ok
    else
        bad "upnp: every protocol reports 203.0.113.1, maps, is reached and deletes; depth 1 by the triple"
    fi
    # Every mapping deleted: miniupnpd's chains hold no rule again, and its own
    # list (UPnP's GetGenericPortMappingEntry, asked with upnpc) is empty.
    if [ "$(mapped_rules nat)" = 0 ] &&
        ! $NATLAB exec "$lab" cli1 timeout 10 upnpc -u http://10.0.1.1:5000/rootDesc.xml -l 2>&1 |
        grep -qE '^ *[0-9]+ UDP'; then
        ok
    else
        bad "upnp: miniupnpd still holds mappings after natprobe exited"
    fi
    # Without the portmap test (depth alone) nothing is mapped, the external
    # address is still asked.
    probe nat,depth
    if [ "$rc" -eq 0 ] && has '"nat_depth":1,"cgn":false,' && ! grep -q '"portmap"' "$tmp/rec.json" &&
        [ "$(mapped_rules nat)" = 0 ]; then
        ok
    else
        bad "upnp, --tests nat,depth: depth 1 from the gateway's address, no portmap record, nothing mapped"
    fi
    # Stopped at any point: the mappings are deleted before natprobe dies
    # of the signal. natprobe itself gets it (ip netns exec execs it; natlab
    # exec's shell would die alone); it is bounded on its own (about 1.2 s).
    leftover=
    for delay in 0.02 0.1 0.3 0.6 1.1; do
        ip netns exec "nl$lab-cli1" "$BIN/natprobe" --tests portmap 203.0.113.10 >"$tmp/out" 2>&1 &
        pid=$!
        sleep "$delay"
        kill -TERM "$pid" 2>/dev/null
        wait "$pid"
        rc=$?
        n=$(mapped_rules nat)
        { [ "$n" = 0 ] && { [ "$rc" -eq 143 ] || [ "$rc" -eq 0 ]; }; } || leftover="$leftover $delay:$n:exit$rc"
    done
    if [ -z "$leftover" ]; then
        ok
    else
        bad "upnp: natprobe stopped by SIGTERM left miniupnpd rules, or did not die of it (after seconds:rules:status)$leftover"
    fi
    lab_down
fi

# No public address behind the CGN: each protocol says so its own way.
if lab_up upnp-cgn; then
    probe nat,depth,portmap
    if has '"nat_depth":2,"cgn":true,' \
        '"upnp":{"answered":true,' '"nat-pmp":{"answered":true,' '"pcp":{"answered":true,' \
        '"answered":["upnp","nat-pmp","pcp"],"works":[]}' \
        '"external":null,"no_public":true,"mapping":{"granted":false,' &&
        ! grep -q '"granted":true' "$tmp/rec.json" && [ "$(mapped_rules home)" = 0 ]; then
        ok
    else
        bad "upnp-cgn: depth 2, cgn true, every protocol answering without a public address, nothing mapped"
    fi
    lab_down
fi

# A gateway that took its 100.64 address for public (STUN inside the CGN's
# realm) grants UDP and TCP mappings that nothing from outside reaches: the
# reach tests must say false (the reflector answered the control, and its
# connection was refused), not true and not unknown.
if lab_up upnp-cgn-naive; then
    probe portmap
    if works upnp 100.64.0.2 false && works nat-pmp 100.64.0.2 false && works pcp 100.64.0.2 false &&
        has '"answered":["upnp","nat-pmp","pcp"],"works":[]}' && [ "$(mapped_rules home)" = 0 ]; then
        ok
    else
        bad "upnp-cgn-naive: every protocol maps UDP and TCP at 100.64.0.2, none reached, all deleted"
    fi
    lab_down
fi

# The CGN hiding from TTL: the two methods disagree, so no number.
if lab_up cgn-ttl; then
    probe nat,depth,portmap
    if [ "$rc" -eq 0 ] && has '"nat_depth":null,"cgn":null,"depth":{"at_least":1,"reason":"the methods disagree' \
        '"triple":{"n":2,"at_least":true,' '"sweep":{"n":1,"at_least":false,'; then
        ok
    else
        bad "cgn-ttl: nat_depth and cgn null (inconclusive), the triple at least 2, the sweep 1"
    fi
    lab_down
fi

# The hop-k keepalive test (--keepalive=HOLD_S), in parallel labs: the UDP
# timeout of one NAT set to 3 s (conntrack's, both kinds of flow), a hold of
# 6 s. The NAT whose timeout matters is the one with the short timeout: the
# CGN at hop 2 (its router 100.64.0.1 in the sweep), or the home NAT at hop
# 1; with no short timeout the hold outlasts none and the hop is null (exit 1,
# keepalive.hop named open). keepalive_lab PROFILE SHORT_ROLE HOP ALIVE_BY_TTL ROUTER
keepalive_lab() {
    local profile=$1 role=$2 hop=$3 by_ttl=$4 router=$5 id pid want
    $NATLAB up "$profile" >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up $profile"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    [ -z "$role" ] || $NATLAB exec "$id" "$role" sysctl -q -w net.netfilter.nf_conntrack_udp_timeout=3 \
        net.netfilter.nf_conntrack_udp_timeout_stream=3
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 >"$tmp/refl" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
    $NATLAB exec "$id" cli1 timeout 30 "$BIN/natprobe" --tests keepalive --keepalive=6 \
        --json "$tmp/rec.json" 203.0.113.10 >"$tmp/out" 2>&1
    rc=$?
    cat "$tmp/rec.json" >>"$tmp/out" 2>/dev/null
    want="\"keepalive\":{\"hop\":$hop,\"router\":$router,\"hold_s\":6,\"alive_by_ttl\":$by_ttl,"
    if has "$want" && { [ "$hop" = null ] || [ "$rc" -eq 0 ]; } &&
        { [ "$hop" != null ] || { [ "$rc" -eq 1 ] && grep -q '^  open .*keepalive.hop' "$tmp/out"; }; }; then
        ok
    else
        bad "$profile, ${role:-no NAT} with a 3 s timeout: keepalive $want (exit $rc)"
    fi
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    $NATLAB down "$id" >/dev/null 2>&1
}
par keepalive_lab cgn cgn 2 '[false,true]' '"100.64.0.1"'
par keepalive_lab cgn home 1 '[true,true]' '"192.168.1.1"'
par keepalive_lab masq "" null '[true]' null
par_wait

summary
