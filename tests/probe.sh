#!/bin/bash
# natprobe through real NATs: every kernel profile of the testbeds, and the
# natemu grid (every mapping x filtering, each port allocation), against
# natreflector. Every verdict must be exactly the lab's stated truth; with
# natemu dropping 10% and 30% of packets, right or inconclusive, never wrong.
# Needs root; in CI it must run.
#
#   cli1 (natprobe) --- [nat: kernel profile or natemu] --- inet --- refl (natreflector
#                                                              203.0.113.10, .11)
set -u
BIN=$(cd "${1:-bin}" && pwd)
NATLAB=testbeds/natlab
export NATLAB_BIN=$BIN NATLAB_LABECHO=0
SUITE=probe
# shellcheck source=tests/lib.sh
. tests/lib.sh
need_root

# shellcheck source=testbeds/lib/record.sh
. testbeds/lib/record.sh

# One test session for every lab: the TCP tests order the reflector's SYNs.
# (par gives each job a $tmp of its own: the secret stays where all see it.)
SECRET=$tmp/secret
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET"
SESSION_KEY=$("$BIN/natreflector" --session-secret "$SECRET" --issue-session probe |
    awk '{ print $4 }')

# verdict KEY: the verdict for KEY in the record in $tmp/json (tcp.KEY: in its
# tcp section).
verdict() {
    case $1 in
    tcp.*) record_tcp_verdict "$tmp/json" "${1#tcp.}" ;;
    *) record_verdict "$tmp/json" "$1" ;;
    esac
}

# tcp_hairpin_truth TCP_MAPPING TCP_FILTERING SIMOPEN: what natprobe must say of
# TCP hairpinning, TCP_HAIRPIN_TRUTH (natemu: true for hairpin=external, its
# default; false otherwise; a kernel profile states it). natprobe can tell
# only through an endpoint-independent mapping with simultaneous open or an
# open filter; elsewhere it may say null.
tcp_hairpin_truth() {
    local truth=${TCP_HAIRPIN_TRUTH:-}
    if [ -z "$truth" ]; then
        truth=true
        case " ${NATEMU_SETTINGS:-} " in *" hairpin=off "* | *" hairpin=internal "*) truth=false ;; esac
    fi
    if [ "$truth" = not-applicable ]; then
        echo null
    elif [ "$1" = endpoint-independent ] && { [ "$3" = true ] || [ "$2" = endpoint-independent ]; }; then
        echo "$truth"
    else
        echo "$truth|null"
    fi
}

# probe_lab PROFILE NAT MAPPING FILTERING HAIRPIN [lossy]: up, reflector, natprobe,
# down. A truth may list alternatives ("false|null": no hairpinning, or it cannot
# be seen); HAIRPIN "true:SOURCE" also wants the hairpinned packet's source kind.
# PORTS_TRUTH is the port allocation pattern (preserving unless set); POOL_TRUTH
# the pooling verdict (inconclusive unless set: one address for both hosts);
# CONTIG_TRUTH whether adjacent local ports keep adjacent public ports (true
# unless set).
# cli2 runs `natprobe peer` and natprobe uses it (--peer): OVERLOAD_TRUTH is
# the port overloading verdict (false unless set), and hairpinning between
# the hosts must be HAIRPIN too. TCP: TCP_MAPPING_TRUTH (MAPPING unless set)
# and the port pattern PORTS_TRUTH, as for UDP; TCP_FILTERING_TRUTH
# (FILTERING unless set), SYN_TRUTH the answer to an unsolicited SYN at an
# unused port (drop unless set: natemu's default) and SYN_MAPPED_TRUTH at a
# mapping (pass where FILTERING is endpoint-independent, else SYN_TRUTH);
# SIMOPEN_TRUTH simultaneous open (true unless set); ICMP_TRUTH and
# ICMP_KEPT_TRUTH whether ICMP errors come in translated and leave
# connections alive (true unless set); ALG_TRUTH whether the NAT rewrites
# addresses in TCP payloads (false unless set); TCP_OVERLOAD_TRUTH TCP port
# overloading (OVERLOAD_TRUTH unless set), and hairpinning between the hosts
# over TCP must be what it is on one.
# CLI1_SETUP, when set, is run in cli1 first (a host firewall).
# With "lossy", a verdict may also be inconclusive; counts go to $LOSS_FILE.
probe_lab() {
    local profile=$1 nat=$2 mapping=$3 filtering=$4 hairpin=$5 lossy=${6:-} id what got want peer
    $NATLAB up "$profile" >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up $profile"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    [ -z "${CLI1_SETUP:-}" ] || $NATLAB exec "$id" cli1 sh -c "$CLI1_SETUP"
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 --session-secret "$SECRET" >"$tmp/refl" 2>&1 &
    peer=$($NATLAB exec "$id" cli2 ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')
    $NATLAB exec "$id" cli2 "$BIN/natprobe" peer --timeout 60 >"$tmp/peer" 2>&1 &
    for _ in $(seq 50); do
        grep -q '^natreflector ready' "$tmp/refl" && grep -q '^natprobe-peer ready' "$tmp/peer" && break
        sleep 0.02
    done
    $NATLAB exec "$id" cli1 "$BIN/natprobe" --peer "$peer" --json "$tmp/json.all" \
        --session probe --key "$SESSION_KEY" 203.0.113.10 >"$tmp/out" 2>&1
    tail -n 1 "$tmp/json.all" >"$tmp/json"
    what="$profile ${NATEMU_SETTINGS:-} ${NATEMU_OPTIONS:-}"
    for key in nat mapping filtering hairpinning source pattern pooling port_overloading \
        hairpinning_peer contiguity_preserved tcp.mapping tcp.pattern tcp.filtering \
        tcp.unsolicited_syn tcp.unsolicited_syn_mapped tcp.simultaneous_open tcp.hairpinning \
        tcp.icmp_translated tcp.icmp_keeps_connection tcp.hairpinning_peer tcp.port_overloading \
        tcp.alg_rewrite; do
        case $key in
        tcp.alg_rewrite) want=${ALG_TRUTH:-false} ;;
        tcp.port_overloading) want=${TCP_OVERLOAD_TRUTH:-${OVERLOAD_TRUTH:-false}} ;;
        tcp.icmp_translated) want=${ICMP_TRUTH:-true} ;;
        tcp.icmp_keeps_connection) want=${ICMP_KEPT_TRUTH:-true} ;;
        tcp.hairpinning | tcp.hairpinning_peer) want=$(tcp_hairpin_truth "${TCP_MAPPING_TRUTH:-$mapping}" \
            "${TCP_FILTERING_TRUTH:-$filtering}" "${SIMOPEN_TRUTH:-true}") ;;
        tcp.simultaneous_open) want=${SIMOPEN_TRUTH:-true} ;;
        tcp.filtering) want=${TCP_FILTERING_TRUTH:-$filtering} ;;
        tcp.unsolicited_syn) want=${SYN_TRUTH:-drop} ;;
        tcp.unsolicited_syn_mapped)
            want=${SYN_MAPPED_TRUTH:-${SYN_TRUTH:-drop}}
            [ "${TCP_FILTERING_TRUTH:-$filtering}" = endpoint-independent ] && want=pass
            ;;
        tcp.mapping) want=${TCP_MAPPING_TRUTH:-$mapping} ;;
        tcp.pattern) want=${TCP_PORTS_TRUTH:-${PORTS_TRUTH:-preserving}} ;;
        contiguity_preserved) want=${CONTIG_TRUTH:-true} ;;
        port_overloading) want=${OVERLOAD_TRUTH:-false} ;;
        hairpinning_peer) want=${hairpin%%:*} ;;
        pooling) want=${POOL_TRUTH-inconclusive} ;;
        pattern) want=${PORTS_TRUTH:-preserving} ;;
        nat) want=$nat ;;
        mapping) want=$mapping ;;
        filtering) want=$filtering ;;
        hairpinning) want=${hairpin%%:*} ;;
        source)
            case $hairpin in *:*) want=${hairpin#*:} ;; *) continue ;; esac
            [ "$(verdict hairpinning)" = true ] || continue
            ;;
        esac
        got=$(verdict "$key")
        if [[ "|$want|" == *"|$got|"* ]]; then
            ok
        elif [ "${key#tcp.}" = port_overloading ] && [ "$got" = null ] &&
            grep -q 'peer refused: .*Address already in use' "$tmp/out"; then
            ok # the second host had that port in use itself: nothing to test, said so
        elif [ -n "$lossy" ] && { [ "$got" = inconclusive ] || [ "$got" = null ]; }; then
            ok
            echo "$key" >>"$LOSS_FILE"
        else
            bad "$what: $key is '$got', want '$want'"
        fi
        [ -n "$lossy" ] && echo total >>"$LOSS_FILE"
    done
    $NATLAB down "$id" >/dev/null 2>&1
}

# Every kernel profile, against its written expectations.
for file in testbeds/profiles/*.sh; do
    profile=$(basename "$file" .sh)
    case $profile in natemu | device) continue ;; esac
    grep -q '^PROFILE_PAIR=1' "$file" && continue # pair labs: tests/punch.sh
    # The profile's stated truth, read in a subshell so nothing else leaks out.
    read -r e_udp e_nat e_map e_filt e_hp e_port e_pool e_over e_tmap e_tfilt e_syn e_smap e_simo \
        e_thp e_icmp e_kept e_tover < <(
        # shellcheck disable=SC1090
        . "$file" >/dev/null 2>&1
        echo "${EXPECT_UDP:--} ${EXPECT_NAT:--} ${EXPECT_MAPPING:--} ${EXPECT_FILTERING:--}" \
            "${EXPECT_HAIRPIN:--} ${EXPECT_PORT:--} ${EXPECT_POOL:--} ${EXPECT_OVERLOADING:--}" \
            "${EXPECT_TCP_MAPPING:--} ${EXPECT_TCP_FILTERING:--} ${EXPECT_TCP_SYN:--}" \
            "${EXPECT_SYN_MAPPED:--} ${EXPECT_TCP_SIMOPEN:--} ${EXPECT_TCP_HAIRPIN:--}" \
            "${EXPECT_TCP_ICMP:--} ${EXPECT_TCP_ICMP_KEPT:--} ${EXPECT_TCP_OVERLOADING:--}"
    )
    TCP_FILTERING_TRUTH=$e_tfilt SYN_TRUTH=$e_syn SYN_MAPPED_TRUTH=$e_smap SIMOPEN_TRUTH=$e_simo \
        TCP_HAIRPIN_TRUTH=$e_thp ICMP_TRUTH=$e_icmp ICMP_KEPT_TRUTH=$e_kept
    # Without NAT (or without UDP) there is no public endpoint to share.
    OVERLOAD_TRUTH=$e_over TCP_OVERLOAD_TRUTH=$e_tover
    case $e_over in true | false) ;; *) OVERLOAD_TRUTH=null ;; esac
    case $e_tover in true | false) ;; *) TCP_OVERLOAD_TRUTH=null ;; esac
    # Linux either keeps the port or (random, fully-random) draws it.
    PORTS_TRUTH=preserving CONTIG_TRUTH=true
    [ "$e_port" = not-preserving ] && PORTS_TRUTH=random CONTIG_TRUTH=false
    POOL_TRUTH=inconclusive
    # Linux picks a pool address by source and destination: with two
    # destinations to ask, both may get the same one. "persistent" pairs each
    # host with one address, but both hosts may hash to the same one.
    [ "$e_pool" = several ] && POOL_TRUTH="arbitrary|inconclusive"
    [ "$profile" = snat-pool-persistent ] && POOL_TRUTH="paired|inconclusive"
    if [ "$e_udp" = blocked ]; then
        # No UDP at all: natprobe must say so and claim nothing of UDP; it
        # finds the reflector over TCP, whose verdicts are the lab's.
        PORTS_TRUTH=inconclusive CONTIG_TRUTH=null TCP_MAPPING_TRUTH=$e_tmap TCP_PORTS_TRUTH=preserving \
            par probe_lab "$profile" null inconclusive \
            inconclusive null
        continue
    fi
    # Hairpinning can be seen through endpoint-independent mapping or filtering.
    if [ "$e_nat" = false ]; then
        e_hairpin=null
    elif [ "$e_map" = endpoint-independent ] || [ "$e_filt" = endpoint-independent ]; then
        e_hairpin=$e_hp
    else
        e_hairpin="$e_hp|null"
    fi
    TCP_MAPPING_TRUTH=$e_tmap par probe_lab "$profile" "$e_nat" "$e_map" "$e_filt" "$e_hairpin"
done
par_wait

# The multihomed lab over IPv6: natreflector on both families, natprobe asked
# for the IPv6 primary. cli1's route to the IPv6 alternate leaves from its
# second IPv6 address, as its IPv4 one does (the loop above), so a probe
# whose sockets take their source per destination sees two internal
# endpoints: address-dependent mapping and arbitrary pooling, where there is
# no NAT at all.
probe_multihomed6() {
    local id key got want
    $NATLAB up multihomed >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up multihomed"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --primary 2001:db8::10 --alternate 2001:db8::11 --rate 0 >"$tmp/refl" 2>&1 &
    for _ in $(seq 50); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
    rm -f "$tmp/json"
    $NATLAB exec "$id" cli1 "$BIN/natprobe" --json "$tmp/json" '[2001:db8::10]' >"$tmp/out" 2>&1
    cat "$tmp/json" >>"$tmp/out" 2>/dev/null
    # It did run over IPv6, from cli1's first IPv6 address.
    if grep -q '"primary":"\[2001:db8::10\]:3478","alternate":"\[2001:db8::11\]:3479"' "$tmp/json" &&
        grep -q '"local":"\[2001:db8:0:1::130\]:' "$tmp/json"; then
        ok
    else
        bad "multihomed IPv6: natprobe did not probe [2001:db8::10] from 2001:db8:0:1::130"
    fi
    for key in nat mapping filtering pooling; do
        case $key in
        nat) want=false ;;
        mapping) want=none ;;
        filtering) want=endpoint-independent ;;
        # No NAT, no pool ("no NAT: no pool"), as in the loop above; never
        # arbitrary, which the two sources would make of it.
        pooling) want=inconclusive ;;
        esac
        got=$(verdict "$key")
        if [ "$got" = "$want" ]; then ok; else bad "multihomed IPv6: $key is '$got', want '$want'"; fi
    done
    $NATLAB down "$id" >/dev/null 2>&1
}
probe_multihomed6

# natprobe's exit status, one rule (probe_result_open), through the masq lab.
# One host: pooling is inconclusive by design (one public address: a single
# address and paired pooling look alike), listed as such and not counted, so
# 0. A --peer that never answers: the run goes on, the record is written, and
# what needed the second host (pooling, port overloading) is inconclusive with
# that reason and counted (TCP overloading too), so 1, with the summary naming them.
probe_exit_rule() {
    local id rc
    $NATLAB up masq >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up masq"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 >"$tmp/refl" 2>&1 &
    for _ in $(seq 50); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
    rm -f "$tmp/json"
    $NATLAB exec "$id" cli1 "$BIN/natprobe" --json "$tmp/json" 203.0.113.10 >"$tmp/out" 2>&1
    rc=$?
    cat "$tmp/json" >>"$tmp/out" 2>/dev/null
    if [ "$rc" -eq 0 ] && grep -q '"pooling":"inconclusive"' "$tmp/json" &&
        grep -q '"inconclusive_by_design":\["pooling"\]' "$tmp/json" &&
        grep -q 'pooling .*(not counted in the exit status)$' "$tmp/out"; then
        ok
    else
        bad "masq, one host: exit $rc (want 0), pooling inconclusive by design and said so"
    fi
    rm -f "$tmp/json"
    # cli2 runs no agent here: nothing answers on its port 3480.
    $NATLAB exec "$id" cli1 "$BIN/natprobe" --peer 10.0.1.3 --json "$tmp/json" 203.0.113.10 \
        >"$tmp/out" 2>&1
    rc=$?
    cat "$tmp/json" >>"$tmp/out" 2>/dev/null
    if [ "$rc" -eq 1 ] && grep -q '"mapping":"endpoint-independent"' "$tmp/json" &&
        grep -q '"peer":{"given":"10.0.1.3","address":"10.0.1.3:3480","reached":false}' "$tmp/json" &&
        grep -q '"port_overloading":"the second host (--peer 10.0.1.3:3480) did not answer' "$tmp/json" &&
        grep -q '^  open  *pooling, port_overloading, tcp.port_overloading inconclusive (exit status 1)$' "$tmp/out"; then
        ok
    else
        bad "masq, a --peer that never answers: exit $rc (want 1), the record written, pooling and overloading (UDP, TCP) open"
    fi
    $NATLAB down "$id" >/dev/null 2>&1
}
probe_exit_rule

# natemu's defaults, for the runs below: one address, no overloading, ports
# kept (and so their contiguity).
PORTS_TRUTH=preserving POOL_TRUTH=inconclusive OVERLOAD_TRUTH=false TCP_OVERLOAD_TRUTH=false CONTIG_TRUTH=true
# natemu filters TCP as UDP, and drops an unsolicited SYN.
TCP_FILTERING_TRUTH='' SYN_TRUTH=drop SYN_MAPPED_TRUTH='' SIMOPEN_TRUTH=true TCP_HAIRPIN_TRUTH='' ICMP_TRUTH=true ICMP_KEPT_TRUTH=true

# Other reflectors: coturn's turnserver (RFC 5780 on: two listening addresses)
# and Debian's stund serve in the masq lab; natprobe must still be right.
peer_server() {
    local name=$1 id
    shift
    $NATLAB up masq >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up masq"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    $NATLAB exec "$id" refl "$@" >"$tmp/server" 2>&1 &
    for _ in $(seq 50); do
        $NATLAB exec "$id" cli1 "$BIN/stunload" --requests 1 --timeout 100 203.0.113.10:3478 \
            >/dev/null 2>&1 && break
        sleep 0.1
    done
    $NATLAB exec "$id" cli1 "$BIN/natprobe" --tests nat,mapping,filtering --json - 203.0.113.10 \
        >"$tmp/json" 2>&1
    cp "$tmp/json" "$tmp/out"
    if [ "$(verdict mapping)" = endpoint-independent ] &&
        [ "$(verdict filtering)" = address-and-port-dependent ] && [ "$(verdict nat)" = true ]; then
        ok
    else
        bad "natprobe against $name through masq"
    fi
    $NATLAB down "$id" >/dev/null 2>&1
}
peer_server "coturn's turnserver" turnserver -n --stun-only --listening-ip 203.0.113.10 \
    --listening-ip 203.0.113.11 --listening-port 3478 --alt-listening-port 3479 --no-tls \
    --no-dtls --no-cli --userdb "$tmp/turndb" --pidfile "$tmp/turn.pid" --log-file stdout
peer_server stund stund -h 203.0.113.10 -a 203.0.113.11 -p 3478 -o 3479

# natlab run: the verdicts against the profile, the record with its label; a
# wrong stated truth is caught (exit 1, MISMATCH).
$NATLAB run --json "$tmp/run.jsonl" masq >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^  mapping  *truth endpoint-independent .* ok$' "$tmp/out" &&
    grep -q '^  port_overloading  *truth true  *natprobe true  *ok$' "$tmp/out" &&
    grep -q '"label":"natlab:masq"' "$tmp/run.jsonl"; then ok; else bad "natlab run masq (exit $rc)"; fi
# A wrong truth for mapping: that row, and only that row, is a mismatch.
NATLAB_EXPECT_MAPPING=address-dependent $NATLAB run masq >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q '^  mapping  *truth address-dependent .*MISMATCH$' "$tmp/out" &&
    grep -q '^  filtering  *truth address-and-port-dependent .* ok$' "$tmp/out"; then
    ok
else
    bad "natlab run with a wrong truth: exit $rc, want 1 and MISMATCH"
fi

# hairpin_truth MAPPING FILTERING SETTING: what natprobe must say of natemu's
# hairpin SETTING (external, internal, off).
hairpin_truth() {
    local seen=true
    [ "$3" = off ] && seen=false
    [ "$seen" = true ] && seen="true:$3"
    if [ "$1" = endpoint-independent ] || [ "$2" = endpoint-independent ]; then
        echo "$seen"
    else
        echo "${seen%%:*}|null"
    fi
}

# The natemu grid: mapping x filtering (natemu hairpins with the external
# source by default), each port allocation, and the other hairpin settings.
deps="endpoint-independent address-dependent address-and-port-dependent"
# Quick (NATLAB_CHECK_QUICK=1): the diagonal and the first row, which take
# every verdict's branches; the full pass runs all nine.
for m in $deps; do
    for f in $deps; do
        [ "${NATLAB_CHECK_QUICK:-0}" = 1 ] && [ "$m" != "$f" ] && [ "$m" != endpoint-independent ] &&
            continue
        NATEMU_SETTINGS="mapping=$m filtering=$f" par probe_lab natemu true "$m" "$f" \
            "$(hairpin_truth "$m" "$f" external)"
    done
done
# Sequential with natemu's delta of 1 gives a pair's two ports one after the
# other, unless a mapping of the second host's falls between them (natemu has
# one counter for both hosts, and they run at once): natprobe then says it
# cannot tell. Random does not.
for ports in sequential random; do
    contig="true|null"
    [ "$ports" = random ] && contig=false
    PORTS_TRUTH=$ports CONTIG_TRUTH=$contig \
        NATEMU_SETTINGS="ports=$ports mapping=address-and-port-dependent filtering=address-dependent" \
        par probe_lab natemu true address-and-port-dependent address-dependent \
        "$(hairpin_truth address-and-port-dependent address-dependent external)"
done
# Two public addresses: handed out per mapping, natprobe sees both; one per
# host (natemu's hash puts cli1 and cli2 on different ones), paired.
# Arbitrary pooling keeps ports but draws each mapping's address: a pair on
# two addresses is not contiguous, and pairs that happen to share one are
# no verdict.
for pooling in arbitrary paired; do
    contig=true
    [ "$pooling" = arbitrary ] && contig="false|null"
    POOL_TRUTH=$pooling CONTIG_TRUTH=$contig NATEMU_SETTINGS="pool=203.0.113.1,203.0.113.2 pooling=$pooling" \
        par probe_lab natemu true endpoint-independent address-and-port-dependent \
        "$(hairpin_truth endpoint-independent x external)"
done
# natemu's other answers to an unsolicited SYN, each beside a filter that
# lets the other port in (so the two SYNs' fates differ).
for syn in rst icmp; do
    SYN_TRUTH=$syn NATEMU_SETTINGS="unsolicited-syn=$syn filtering=address-dependent" \
        par probe_lab natemu true endpoint-independent address-dependent \
        "$(hairpin_truth endpoint-independent x external)"
done
# Simultaneous open off: the crossing SYN dropped (three trials) or refused.
for syn in drop rst; do
    SYN_TRUTH=$syn SIMOPEN_TRUTH=false NATEMU_SETTINGS="simultaneous-open=off unsolicited-syn=$syn" \
        par probe_lab natemu true endpoint-independent address-and-port-dependent \
        "$(hairpin_truth endpoint-independent x external)"
done
# A host whose own firewall answers every new inbound SYN with a RST: the
# NAT let the reflector's SYNs through (endpoint-independent filtering), and
# the RST that comes back, the host's, must not be read as the NAT's. Its
# NAT also rewrites addresses in TCP payloads (alg=on, RFC 5382 REQ-6):
# every verdict must stay right, and the rewrite be seen.
CLI1_SETUP="nft add table inet nlhostfw && nft add chain inet nlhostfw in \
'{ type filter hook input priority 0; }' && nft add rule inet nlhostfw in \
tcp flags syn / syn,ack ct state new reject with tcp reset" \
    NATEMU_SETTINGS="filtering=endpoint-independent unsolicited-syn=rst alg=on" SYN_TRUTH=rst \
    ALG_TRUTH=true par probe_lab natemu true endpoint-independent endpoint-independent \
    "$(hairpin_truth endpoint-independent endpoint-independent external)"
# With them, natemu's ICMP modes (RFC 5382 REQ-9, REQ-10): errors not let in
# (hairpin=off) and errors let in that end the connection (internal).
for hp in off internal; do
    icmp=drop in=false kept=true
    [ "$hp" = internal ] && icmp=kill in=true kept=false
    ICMP_TRUTH=$in ICMP_KEPT_TRUTH=$kept NATEMU_SETTINGS="hairpin=$hp icmp=$icmp" \
        par probe_lab natemu true endpoint-independent \
        address-and-port-dependent "$(hairpin_truth endpoint-independent x "$hp")"
    NATEMU_SETTINGS="hairpin=$hp mapping=address-dependent filtering=endpoint-independent" \
        par probe_lab natemu true address-dependent endpoint-independent \
        "$(hairpin_truth x endpoint-independent "$hp")"
done
par_wait

# RFC 5382 REQ-4's hold (tcp-syn-hold, opt-in: 2 s): what met the
# reflector's SYN to a mapping, ours following 2 s later. hold_lab PROFILE
# WANT [NATEMU_SETTINGS].
hold_lab() {
    local profile=$1 want=$2 id got
    NATEMU_SETTINGS=${3:-} $NATLAB up "$profile" >"$tmp/up" 2>&1 ||
        { cp "$tmp/up" "$tmp/out"; bad "natlab up $profile"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 --session-secret "$SECRET" >"$tmp/refl" 2>&1 &
    for _ in $(seq 50); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
    $NATLAB exec "$id" cli1 "$BIN/natprobe" --tests tcp-syn-hold --session probe \
        --key "$SESSION_KEY" --json "$tmp/json" 203.0.113.10 >"$tmp/out" 2>&1
    cat "$tmp/json" >>"$tmp/out" 2>/dev/null
    got=$(verdict tcp.syn_hold)
    if [ "$got" = "$want" ]; then ok; else bad "$profile ${3:-}: tcp.syn_hold is '$got', want '$want'"; fi
    $NATLAB down "$id" >/dev/null 2>&1
}
for file in testbeds/profiles/masq.sh testbeds/profiles/firewall.sh testbeds/profiles/multihomed.sh; do
    par hold_lab "$(basename "$file" .sh)" "$(. "$file" >/dev/null 2>&1; echo "${EXPECT_TCP_SYN_HOLD:-}")"
done
par hold_lab natemu held
par hold_lab natemu icmp "unsolicited-syn=icmp"
par hold_lab natemu pass "filtering=endpoint-independent"
par_wait

# Binding lifetime (--lifetime), against lifetimes set short: Linux's
# conntrack with 3 s for a flow without a lasting exchange and 8 s for one
# with traffic both ways over 2 s (any packet refreshes an entry); natemu with
# 4 s for every mapping, refreshed by outbound packets only. Each lifetime
# must lie between natprobe's alive_s and dead_s (to a tenth of a second).
# lifetime_lab PROFILE NAT_SYSCTLS OUT BIDI REFRESH
lifetime_lab() {
    local profile=$1 sysctls=$2 out=$3 bidi=$4 refresh=$5 id got
    $NATLAB up "$profile" >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up $profile"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    # shellcheck disable=SC2086 # the settings are words
    [ -z "$sysctls" ] || $NATLAB exec "$id" nat sysctl -q -w $sysctls
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 >"$tmp/refl" 2>&1 &
    for _ in $(seq 50); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
    $NATLAB exec "$id" cli1 "$BIN/natprobe" --tests nat --lifetime=20 --json - 203.0.113.10 \
        >"$tmp/json" 2>"$tmp/out"
    cat "$tmp/json" >>"$tmp/out"
    for kind in outbound_only:$out bidirectional:$bidi; do
        got=$(grep -o "\"${kind%%:*}\":{\"alive_s\":[0-9.]*,\"dead_s\":[0-9.]*" "$tmp/json" |
            sed 's/.*alive_s":\([0-9.]*\),"dead_s":\([0-9.]*\)/\1 \2/')
        if [ -n "$got" ] && awk -v t="${kind#*:}" '{ exit !($1 <= t + 0.1 && $2 >= t - 0.1) }' <<<"$got"; then
            ok
        else
            bad "$profile ${NATEMU_SETTINGS:-}: ${kind%%:*} lifetime '$got', want ${kind#*:} s between"
        fi
    done
    got=$(verdict inbound_refresh)
    if [ "$got" = "$refresh" ]; then ok; else bad "$profile: inbound_refresh is '$got', want $refresh"; fi
    $NATLAB down "$id" >/dev/null 2>&1
}
par lifetime_lab masq "net.netfilter.nf_conntrack_udp_timeout=3 net.netfilter.nf_conntrack_udp_timeout_stream=8" \
    3 8 true
NATEMU_SETTINGS="udp-lifetime=4 inbound-refresh=off" par lifetime_lab natemu "" 4 4 false
# TCP (--tcp-lifetime, RFC 5382 REQ-5): established connections dropped
# after 5 s idle (alive at the 4 s check, dead at the 8 s one), half-closed
# ones after 3 s (alive at 2, dead at 4): natemu's timers, and Linux's
# conntrack (a half-closed connection is in FIN_WAIT, then CLOSE_WAIT once
# its FIN is acknowledged). natprobe checks inbound, so Linux's loose pickup
# of an expired connection from its next outbound segment cannot pass for
# a kept one. tcp_lifetime_lab PROFILE NAT_SYSCTLS
tcp_lifetime_lab() {
    local profile=$1 sysctls=$2 id got kind
    $NATLAB up "$profile" >"$tmp/up" 2>&1 || { cp "$tmp/up" "$tmp/out"; bad "natlab up $profile"; return; }
    id=$(awk '/^lab /{ print $2 }' "$tmp/up")
    # shellcheck disable=SC2086 # the settings are words
    [ -z "$sysctls" ] || $NATLAB exec "$id" nat sysctl -q -w $sysctls
    $NATLAB exec "$id" refl "$BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
        --rate 0 --session-secret "$SECRET" >"$tmp/refl" 2>&1 &
    for _ in $(seq 50); do grep -q '^natreflector ready' "$tmp/refl" && break; sleep 0.02; done
    $NATLAB exec "$id" cli1 "$BIN/natprobe" --tests nat --tcp-lifetime=12 --session probe \
        --key "$SESSION_KEY" --json - 203.0.113.10 >"$tmp/json" 2>"$tmp/out"
    cat "$tmp/json" >>"$tmp/out"
    for kind in established_idle:"4 8" transitory_idle:"2 4"; do
        got=$(grep -o "\"${kind%%:*}\":{\"alive_s\":[0-9.]*,\"dead_s\":[0-9.]*" "$tmp/json" |
            sed 's/.*alive_s":\([0-9.]*\),"dead_s":\([0-9.]*\)/\1 \2/; s/\.0//g')
        if [ "$got" = "${kind#*:}" ]; then ok; else
            bad "$profile ${NATEMU_SETTINGS:-}: ${kind%%:*} '$got', want alive, dead: ${kind#*:}"; fi
    done
    $NATLAB down "$id" >/dev/null 2>&1
}
NATEMU_SETTINGS="tcp-established=5 tcp-transitory=3" par tcp_lifetime_lab natemu ""
par tcp_lifetime_lab masq "net.netfilter.nf_conntrack_tcp_timeout_established=5 \
net.netfilter.nf_conntrack_tcp_timeout_fin_wait=3 net.netfilter.nf_conntrack_tcp_timeout_close_wait=3"
par_wait

# Loss: right or inconclusive, never wrong. These labs mostly wait (lost
# SYNs are sent again after a second), so more of them run at once (nine:
# 102 s where six took 129). Quick
# (NATLAB_CHECK_QUICK=1, CI's sanitizer pass): none. Their code paths are
# the engine's under loss and natemu's impairments, which the unit tests
# run under the sanitizers (tests/test_probe.c's lossy simulated NATs,
# tests/test_impair.c); the statistics are the full pass's.
PAR_JOBS=9
losses="10 30"
[ "${NATLAB_CHECK_QUICK:-0}" = 1 ] && losses=
for loss in $losses; do
    LOSS_FILE=$tmp/loss$loss
    for m in $deps; do
        for f in $deps; do
            [ "${NATLAB_CHECK_QUICK:-0}" = 1 ] && [ "$m" != "$f" ] && continue
            NATEMU_OPTIONS="--loss $loss" NATEMU_SETTINGS="mapping=$m filtering=$f" \
                par probe_lab natemu true "$m" "$f" "$(hairpin_truth "$m" "$f" external)" lossy
        done
    done
done
par_wait
for loss in $losses; do
    echo "probe: with ${loss}% loss, $(grep -vc total "$tmp/loss$loss") of $(grep -c total "$tmp/loss$loss") verdicts inconclusive, none wrong unless reported above"
done

summary
