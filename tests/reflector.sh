#!/bin/bash
# natreflector against real STUN clients, through real NATs: coturn's
# turnutils_natdiscovery (RFC 5780) and Debian's stun (RFC 3489) run behind
# the NAT of a natlab lab and must report the NAT's true behaviour.
# Needs root; in CI it must run.
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

summary
