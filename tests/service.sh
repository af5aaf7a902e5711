#!/bin/bash
# The installed services run as their units say, short of systemd itself
# (a test machine's PID 1 need not be systemd; tests/install.sh verifies the
# units): each unit's ExecStart line with options as its EnvironmentFile
# would give them, as an unprivileged user holding only the unit's
# AmbientCapabilities and no new privileges (setpriv), in a namespace of
# our own, on ports under 1024 so that CAP_NET_BIND_SERVICE is needed:
#
#   namespace nls<PID>-svc:  lo 127.0.0.1 127.0.0.2
#     natreflector  uid 65534, CAP_NET_RAW + CAP_NET_BIND_SERVICE
#                   127.0.0.1, 127.0.0.2 : 478, 479  --workers 2 --session-secret
#     natcollect    uid 65534, CAP_NET_BIND_SERVICE   127.0.0.1:480
#     stunload, refltest, curl as root
#
# Each must serve (natlab's tests need raw sockets and capture: CAP_NET_RAW
# is enough), hold those capabilities and no more, and without them fail
# to start with a message saying so.
set -u
BIN=$(cd "${1:-bin}" && pwd)
SUITE=service
# shellcheck source=tests/lib.sh
. tests/lib.sh
need_root

ns=nls$$-svc
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
if ! { ip netns add "$ns" && ip -n "$ns" link set lo up; }; then bad "namespace $ns"; summary; exit; fi
inns() { ip netns exec "$ns" "$@"; }

P=$tmp/prefix
chmod 755 "$tmp"
if scripts/install "$BIN" "" "$P" >"$tmp/out" 2>&1; then ok; else bad "scripts/install into $P"; fi

# unit_argv UNIT OPTIONS: the unit's ExecStart, its $..._OPTIONS replaced by
# OPTIONS and split into words as systemd splits an unquoted variable.
unit_argv() {
    local line
    line=$(sed -n 's/^ExecStart=//p' "$P/lib/systemd/system/$1.service")
    line=$(sed -E 's/\$[A-Z]+_OPTIONS/'"${2//\//\\/}"'/' <<<"$line")
    read -ra argv <<<"$line"
}
# caps_of UNIT: the capability names in its AmbientCapabilities, for setpriv.
caps_of() {
    sed -n 's/^AmbientCapabilities=//p' "$P/lib/systemd/system/$1.service" |
        tr '[:upper:]' '[:lower:]' | sed 's/cap_//g; s/ /,+/g; s/^/+/'
}
# as_unit CAPS LOG: argv as user 65534 holding CAPS only (setpriv's list,
# e.g. +net_raw,+net_bind_service; -all for none), in the namespace.
as_unit() {
    local caps=$1 log=$2
    # Not through inns: $! must be the program (ip netns exec and setpriv exec it).
    ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
        --inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" --bounding-set=-all,"$caps" \
        "${argv[@]}" >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
}
wait_ready() { # LOG WORD: until the log says WORD, 5 s at most
    for _ in $(seq 250); do grep -q "$2" "$1" && return 0; sleep 0.02; done
    return 1
}
# held PID: "uid CapEff NoNewPrivs" of a running process.
held() { awk '/^Uid:/ { u = $2 } /^CapEff:/ { c = $2 } /^NoNewPrivs:/ { n = $2 } END { print u, c, n }' "/proc/$1/status"; }
# serve_as_unit UNIT CAPS CAPEFF READY: argv started as UNIT's unit runs it;
# its AmbientCapabilities must be CAPS (setpriv's spelling), its log must say
# READY, and it must hold uid 65534, exactly CAPEFF, no new privileges.
# The program's PID in $pid, its log in $tmp/UNIT.log.
serve_as_unit() {
    local unit=$1 want=$2 eff=$3 ready=$4 caps
    caps=$(caps_of "$unit")
    as_unit "$caps" "$tmp/$unit.log"
    if [ "$caps" = "$want" ] && wait_ready "$tmp/$unit.log" "$ready"; then ok; else
        cp "$tmp/$unit.log" "$tmp/out"; bad "$unit as its unit runs it ($caps, want $want): ready"; fi
    if [ "$(held "$pid")" = "65534 $eff 1" ]; then ok; else bad "$unit holds: $(held "$pid") (want 65534 $eff 1)"; fi
}

# ---- natreflector ----
printf 'natlab-service-secret-%s-0123456789\n' "$$" >"$tmp/secret"
chmod 644 "$tmp/secret"
key=$("$BIN/natreflector" --session-secret "$tmp/secret" --issue-session svc | awk '{ print $4 }')
opts="--primary 127.0.0.1 --alternate 127.0.0.2 --port 478 --alt-port 479 --rate 0 --workers 2"
unit_argv natreflector "$opts --session-secret $tmp/secret --metrics 127.0.0.1:9465"
# 0x2400: CAP_NET_RAW (13) and CAP_NET_BIND_SERVICE (10), nothing else.
serve_as_unit natreflector +net_raw,+net_bind_service 0000000000002400 \
    '^natreflector ready .*natlab_tests=on .*workers=2'
refl=$pid
if inns "$BIN/stunload" --requests 2000 --timeout 500 127.0.0.1:478 >"$tmp/out" 2>&1 &&
    inns "$BIN/stunload" --tcp --clients 2 --requests 100 --timeout 500 127.0.0.2:479 >"$tmp/out" 2>&1; then ok; else
    bad "natreflector as a service answers on 478 (UDP) and 479 (TCP)"; fi
inns timeout 10 "$BIN/refltest" --session svc --key "$key" --action udp --from aa 127.0.0.1:478 >"$tmp/out" 2>&1
if grep -q "outcome=nothing .*received=yes" "$tmp/out"; then ok; else bad "natreflector as a service: a natlab test (raw socket, capture)"; fi
if inns curl -s http://127.0.0.1:9465/metrics | grep -q '^natreflector_requests_total{reason="answered"} 2100$'; then ok; else
    bad "natreflector as a service: its metrics count 2100 answers"; fi
kill "$refl"
wait "$refl"
# Each capability is needed: without CAP_NET_RAW no natlab tests (it says
# so and exits 2); without CAP_NET_BIND_SERVICE no port under 1024.
refused() { # CAPS WANT: natreflector holding CAPS exits 2 saying WANT
    as_unit "$1" "$tmp/refl-refused"
    wait "$pid"
    local rc=$?
    cp "$tmp/refl-refused" "$tmp/out"
    if [ "$rc" -eq 2 ] && grep -q "$2" "$tmp/refl-refused"; then ok; else bad "natreflector with $1 only: exit $rc, want 2 and '$2'"; fi
}
refused +net_bind_service "natlab tests (--session-secret) need: capture on 'any': socket: Operation not permitted"
unit_argv natreflector "$opts"
refused +net_raw "cannot serve UDP 127.0.0.1:478: Permission denied"

# ---- natcollect ----
mkdir -p "$tmp/records"
chown 65534:65534 "$tmp/records"
printf 'fleet %s\n' "service-token-0123456789" >"$tmp/tokens"
chmod 644 "$tmp/tokens"
unit_argv natcollect "--listen 127.0.0.1:480"
argv=("${argv[@]/\/etc\/natlab\/natcollect.tokens/$tmp/tokens}")
argv=("${argv[@]/\/var\/lib\/natcollect/$tmp/records}")
serve_as_unit natcollect +net_bind_service 0000000000000400 '^natcollect ready '
record=$(head -n 1 results/reference/labs.jsonl | sed 's/^{"schema":"natlab.result\/1",/&"run_id":"5e7c1ce0-aaaa-4bbb-8ccc-000000000001",/')
got=$(inns curl -s -o "$tmp/out" -w '%{http_code}' -H "Authorization: Bearer service-token-0123456789" \
    --data-binary "$record" http://127.0.0.1:480/v1/records)
if [ "$got" = 201 ] && [ "$(find "$tmp/records" -name '*.jsonl' -user 65534 | wc -l)" -eq 1 ]; then ok; else
    bad "natcollect as a service: a record stored (HTTP $got), in a file of its user"; fi
summary
