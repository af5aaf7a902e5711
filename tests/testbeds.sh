#!/bin/bash
# Lab tests for make check: every profile verified with real flows, a wrong
# expectation caught, up/down/failure paths clean, nothing left behind.
# Needs root (network namespaces, nftables); in CI it must run.
set -u
BIN=$(cd "${1:-bin}" && pwd)
NATLAB=testbeds/natlab
export NATLAB_BIN=$BIN
SUITE=testbeds
# shellcheck source=tests/lib.sh
. tests/lib.sh
need_root

lab_namespaces() { ip netns list | awk '$1 ~ /^nl[0-9a-f]{6}-/ { print $1 }' | sort; }
before=$(lab_namespaces)
# Lab records of other runs (another suite, a user's lab) are not ours to count.
labs_before=$(ls /run/natlab/labs 2>/dev/null)

# Every profile is listed with its expectations.
$NATLAB list >"$tmp/out" 2>&1
profiles=$(for f in testbeds/profiles/*.sh; do basename "$f" .sh; done)
missing=0
for p in $profiles; do grep -q "^$p " "$tmp/out" || missing=1; done
if [ "$missing" -eq 0 ]; then ok; else bad "natlab list misses a profile"; fi

# Each profile's written expectation holds for real flows and conntrack.
# Labs are independent: several at once (tests/lib.sh, par).
verify() {
    if $NATLAB verify "$1" >"$tmp/out" 2>&1; then ok; else bad "natlab verify $1"; fi
    cat "$tmp/out"
}
# Quick (NATLAB_CHECK_QUICK=1, CI's sanitizer pass: the code paths, not
# every cell): the profiles whose flows take different paths through
# natlab's own programs (labecho through one kernel NAT, none, several
# addresses; natemu alone, two of them, its hairpin; the gateway's
# protocols), the other kernel profiles being nftables rules over masq's
# paths; natemu's grid on its diagonal; no wrong expectations below (script
# logic, which the full pass checks).
quick=${NATLAB_CHECK_QUICK:-0}
quick_profiles=" masq firewall multihomed natemu two-natemu cgn-homes-hairpin upnp "
for p in $profiles; do
    [ "$p" = device ] && continue # needs interfaces: tested below
    [ "$quick" = 1 ] && [ "${quick_profiles/ $p /}" = "$quick_profiles" ] && continue
    par verify "$p"
done

# natemu: its settings are the expectations; a grid of them, through real flows.
emu() {
    if NATEMU_SETTINGS="$1" $NATLAB verify natemu >"$tmp/out" 2>&1; then ok; else bad "natemu $1"; fi
    grep -E "^natlab verify|MISMATCH" "$tmp/out"
}
for m in endpoint-independent address-dependent address-and-port-dependent; do
    for f in endpoint-independent address-dependent address-and-port-dependent; do
        [ "$quick" = 1 ] && [ "$m" != "$f" ] && continue
        par emu "mapping=$m filtering=$f"
    done
done
par emu "ports=random parity=on range=20000-29999"
par emu "ports=sequential delta=2 mapping=address-and-port-dependent"
par emu "pool=203.0.113.1,203.0.113.2 pooling=arbitrary"
par emu "filtering=endpoint-independent hairpin=internal"
par emu "filtering=endpoint-independent hairpin=external"
par emu "filtering=endpoint-independent hairpin=off"
par emu "unsolicited-syn=rst"
par emu "unsolicited-syn=icmp"
# ... with natemu's ICMP modes beside them: errors kept out, errors that end connections.
par emu "simultaneous-open=off icmp=drop"
par emu "simultaneous-open=off unsolicited-syn=rst icmp=kill"
par_wait

# natemu's impairments, seen by real flows: a 300 ms delay beats a 250 ms
# timeout but not a 1500 ms one; 100% loss blocks everything.
NATEMU_OPTIONS="--delay 300" $NATLAB up natemu >"$tmp/out" 2>&1
id=$(awk '/^lab /{ print $2 }' "$tmp/out")
short=$($NATLAB exec "$id" cli1 "$BIN/labecho" udp --timeout 250 --tries 1 203.0.113.10:3478)
long=$($NATLAB exec "$id" cli1 "$BIN/labecho" udp --timeout 1500 --tries 1 203.0.113.10:3478)
$NATLAB down "$id" >/dev/null 2>&1
if [ "$short" = "no answer" ] && [ "${long%% *}" = mapped ]; then ok; else bad "delay: '$short' / '$long'"; fi
# UDP lifetime and inbound refresh (RFC 4787 REQ-6), with real packets: a
# 3 s mapping, then inbound datagrams at about 1.5 s and 3.75 s. The second
# gets in only if the first refreshed the mapping (alive until 4.5 s) rather
# than leaving it to expire at 3 s.
lifetime_heard() {
    local id f m pid
    NATEMU_SETTINGS="filtering=endpoint-independent udp-lifetime=3 inbound-refresh=$1" \
        $NATLAB up natemu >"$tmp/out" 2>&1
    id=$(awk '/^lab /{ print $2 }' "$tmp/out")
    f="$tmp/lifetime"
    $NATLAB exec "$id" cli1 "$BIN/labecho" udp --local 10.0.1.2:41091 --listen 5500 \
        203.0.113.10:3478 >"$f" &
    pid=$!
    sleep 0.5
    m=$(awk '$1 == "mapped" { print $2 }' "$f")
    sleep 1
    $NATLAB exec "$id" refl "$BIN/labecho" send --local 203.0.113.12:5555 "$m"
    sleep 2.25
    $NATLAB exec "$id" refl "$BIN/labecho" send --local 203.0.113.12:5556 "$m"
    wait "$pid"
    $NATLAB down "$id" >/dev/null 2>&1
    grep -c '^heard ' "$f"
}
heard_on=$(lifetime_heard on)
heard_off=$(lifetime_heard off)
if [ "$heard_on" = 2 ] && [ "$heard_off" = 1 ]; then
    ok
else
    bad "lifetime/refresh: heard $heard_on with refresh, $heard_off without (want 2 and 1)"
fi

# Duplication: every datagram twice, so the answer comes again while cli1 listens on.
NATEMU_OPTIONS="--duplicate 100" $NATLAB up natemu >"$tmp/out" 2>&1
id=$(awk '/^lab /{ print $2 }' "$tmp/out")
$NATLAB exec "$id" cli1 "$BIN/labecho" udp --tries 1 --listen 500 203.0.113.10:3478 >"$tmp/out" 2>&1
$NATLAB down "$id" >/dev/null 2>&1
if grep -q '^mapped' "$tmp/out" && grep -q '^heard 203.0.113.10:3478' "$tmp/out"; then ok; else bad "duplicate"; fi

# natemu as a router (RFC 1812 5.3.1): a datagram that would leave with TTL 0
# draws ICMP time exceeded from natemu's address on the side it came in on.
# cli1's own nftables set the TTL by destination port and count what comes
# back: TTL 1 dies at the NAT (from its lan address, 10.0.1.1), TTL 2 at the
# lab internet's delay router (from its wan-a address, translated back in by
# the NAT). With --ttl-exceeded drop on both, the two die silently.
ttl_exceeded() {
    local id
    NATLAB_INET_DELAY=10 NATLAB_INET_OPTIONS="$1" NATEMU_OPTIONS="$1" \
        $NATLAB up natemu >"$tmp/out" 2>&1
    id=$(awk '/^lab /{ print $2 }' "$tmp/out")
    $NATLAB exec "$id" cli1 nft -f - <<'NFT'
table ip ttl {
    chain out {
        type filter hook output priority 0; policy accept;
        udp dport 33434 ip ttl set 2
        udp dport 33435 ip ttl set 1
    }
    chain in {
        type filter hook input priority 0; policy accept;
        icmp type time-exceeded ip saddr 203.0.113.126 counter
        icmp type time-exceeded ip saddr 10.0.1.1 counter
    }
}
NFT
    $NATLAB exec "$id" cli1 "$BIN/labecho" send 198.51.100.20:33434
    $NATLAB exec "$id" cli1 "$BIN/labecho" send 198.51.100.20:33435
    sleep 0.2
    $NATLAB exec "$id" cli1 nft list chain ip ttl in | awk '/counter/ { printf "%s ", $(NF - 2) }'
    $NATLAB down "$id" >/dev/null 2>&1
}
got=$(ttl_exceeded "")
if [ "$got" = "1 1 " ]; then ok; else bad "time exceeded: from the router and the NAT, got '$got' (want 1 1)"; fi
got=$(ttl_exceeded "--ttl-exceeded drop")
if [ "$got" = "0 0 " ]; then ok; else bad "--ttl-exceeded drop: got '$got' time exceeded (want 0 0)"; fi

# With every packet lost, the SYN check has nothing to go on: inconclusive.
if NATEMU_OPTIONS="--loss 100" NATLAB_EXPECT_UDP=blocked NATLAB_EXPECT_TCP=blocked \
    NATLAB_EXPECT_SYN=inconclusive \
    $NATLAB verify natemu >"$tmp/out" 2>&1; then ok; else bad "natemu --loss 100"; fi

# Device mode, with a namespace playing the physical device: its two cables
# are veth pairs whose free ends wait in a holder namespace, as a NIC waits in
# the host's. The "device" masquerades, so masq's behaviour must be observed.
dut=nlt$$-dut holder=nlt$$-phys
cleanup_device() { ip netns del "$dut" 2>/dev/null; ip netns del "$holder" 2>/dev/null; }
trap 'cleanup_device; rm -rf "$tmp"' EXIT
ip netns add "$dut" && ip netns add "$holder"
ip -n "$dut" link add wan type veth peer name dwan netns "$holder"
ip -n "$dut" link add lan type veth peer name dlan netns "$holder"
ip -n "$dut" addr add 203.0.113.1/25 dev wan
ip -n "$dut" addr add 192.168.1.1/24 dev lan
ip -n "$dut" link set wan up && ip -n "$dut" link set lan up
ip -n "$dut" route add default via 203.0.113.126
ip netns exec "$dut" sysctl -qw net.ipv4.ip_forward=1
printf '%s\n' 'table ip dut {' 'chain post {' \
    'type nat hook postrouting priority srcnat; policy accept;' 'oifname "wan" masquerade' '}' '}' |
    ip netns exec "$dut" nft -f -
if NATLAB_DEVICE_NETNS=$holder NATLAB_DEVICE_WAN=dwan NATLAB_DEVICE_LAN=dlan \
    NATLAB_EXPECT_UDP=pass NATLAB_EXPECT_MAPPING=endpoint-independent \
    NATLAB_EXPECT_FILTERING=address-and-port-dependent NATLAB_EXPECT_PORT=preserving \
    NATLAB_EXPECT_HAIRPIN=false $NATLAB verify device >"$tmp/out" 2>&1; then
    ok
else
    bad "device mode"
fi
cat "$tmp/out"
# The cables are back where they came from.
if ip -n "$holder" link show dwan >/dev/null 2>&1 && ip -n "$holder" link show dlan >/dev/null 2>&1; then
    ok
else
    bad "device mode did not give its interfaces back"
fi
NATLAB_DEVICE_WAN=nosuch0 NATLAB_DEVICE_LAN=nosuch1 $NATLAB up device >"$tmp/out" 2>&1
if [ $? -eq 2 ] && grep -q "no interface 'nosuch0'" "$tmp/out"; then ok; else bad "device: missing interface"; fi
cleanup_device

# A wrong expectation must fail the check (exit 1, MISMATCH on its row).
wrong() {
    local var=$1 value=$2 profile=$3 row=$4
    env "$var=$value" "$NATLAB" verify "$profile" >"$tmp/out" 2>&1
    if [ $? -eq 1 ] && grep -Eq "^  $row .*MISMATCH" "$tmp/out"; then
        ok
    else
        bad "$var=$value did not fail natlab verify $profile"
    fi
}
[ "$quick" = 1 ] || {
    par wrong NATLAB_EXPECT_MAPPING address-and-port-dependent masq mapping
    par wrong NATLAB_EXPECT_FILTERING endpoint-independent masq-random filtering
    par wrong NATLAB_EXPECT_POOL single snat-pool pooling
    par wrong NATLAB_EXPECT_UDP pass udp-blocked udp
    par wrong NATLAB_EXPECT_SYN drop masq syn
    par wrong NATLAB_EXPECT_TCP_FILTERING endpoint-independent masq tcp-filter
    par wrong NATLAB_EXPECT_TCP_SIMOPEN false masq simopen
    par wrong NATLAB_EXPECT_TCP_ICMP_KEPT false masq icmp-kept
    # multihomed's unbound sockets leave from two addresses: "same" is wrong.
    par wrong NATLAB_EXPECT_SOURCES6 same multihomed sources6
    # cgn's two kernel NATs are both in conntrack: one is wrong.
    par wrong NATLAB_EXPECT_DEPTH 1 cgn depth
    # upnp's miniupnpd grants UPnP as well as NAT-PMP.
    par wrong NATLAB_EXPECT_PORTMAP nat-pmp upnp portmap
    NATEMU_SETTINGS="mapping=address-dependent" par wrong NATLAB_EXPECT_MAPPING endpoint-independent natemu mapping
    par_wait
}

# up and down, timed; down is idempotent.
t0=$(date +%s%N)
$NATLAB up masq >"$tmp/out" 2>&1
t1=$(date +%s%N)
id=$(awk '/^lab /{ print $2 }' "$tmp/out")
if [ -n "$id" ] && ip netns list | grep -q "^nl$id-nat"; then ok; else bad "natlab up masq"; fi
$NATLAB down masq >"$tmp/out" 2>&1
t2=$(date +%s%N)
if ! ip netns list | grep -q "^nl$id-"; then ok; else bad "natlab down masq left namespaces"; fi
if $NATLAB down masq >"$tmp/out" 2>&1; then ok; else bad "second natlab down masq"; fi
echo "testbeds: masq lab up in $(((t1 - t0) / 1000000)) ms, down in $(((t2 - t1) / 1000000)) ms (wall clock, whole command)"

# A profile that fails half-way leaves nothing behind and exits 2.
mkdir -p "$tmp/profiles"
cat >"$tmp/profiles/broken.sh" <<'PROFILE'
PROFILE_DESC="fails after building part of a lab"
profile_up() {
	lab_internet
	lab_nat nat inet wan-a 203.0.113.1/25 203.0.113.126 10.0.1.1/24
	lab_snat nat 'this is not nftables'
}
PROFILE
NATLAB_PROFILES=$tmp/profiles $NATLAB up broken >"$tmp/out" 2>&1
status=$?
if [ "$status" -eq 2 ] && grep -q "building profile 'broken' failed" "$tmp/out" &&
    [ "$(lab_namespaces)" = "$before" ]; then
    ok
else
    bad "failed build: exit $status, namespaces left: $(comm -13 <(echo "$before") <(lab_namespaces))"
fi

# Usage errors.
$NATLAB verify no-such-profile >"$tmp/out" 2>&1
if [ $? -eq 2 ] && grep -q "no profile 'no-such-profile'" "$tmp/out"; then ok; else bad "unknown profile"; fi

# After the whole suite: no namespace and no lab process of natlab's remains.
left=$(comm -13 <(echo "$before") <(lab_namespaces))
left_labs=$(comm -13 <(echo "$labs_before") <(ls /run/natlab/labs 2>/dev/null))
if [ -z "$left" ] && [ -z "$left_labs" ]; then ok; else bad "left behind: $left $left_labs"; fi

summary
