# shellcheck shell=bash
# natlab verify: real flows through a lab, compared with what its profile
# says it does. Sourced by testbeds/natlab, with LAB_ID set and the lab up.
#
# Each check sends labecho traffic from cli1 (cli2 for hairpinning) to the
# reflector host and derives the behaviour only from what came back. A check
# whose packets do not decide it says "inconclusive", which matches only an
# expectation of exactly that.

R1=$REFL_PRIMARY
R2=$REFL_ALTERNATE

client_ip() {
	ip -n "$(ns "$1")" -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }'
}

# udp_mapped ROLE LOCAL_PORT SERVER [labecho options]: the mapping the
# server saw, or nothing.
udp_mapped() {
	local role=$1 port=$2 server=$3
	shift 3
	in_ns "$role" "$NATLAB_BIN/labecho" udp --local "$(client_ip "$role"):$port" "$@" "$server" |
		awk '$1 == "mapped" { print $2; exit }'
}

# tcp_mapped ROLE LOCAL_PORT SERVER: the same over a TCP connection.
tcp_mapped() {
	in_ns "$1" "$NATLAB_BIN/labecho" tcp --local "$(client_ip "$1"):$2" "$3" |
		awk '$1 == "mapped" { print $2; exit }'
}

ip_of() { echo "${1%:*}"; }
port_of() { echo "${1##*:}"; }

observe_udp() {
	OBS_M1=$(udp_mapped cli1 41001 "$R1:3478")
	if [ -n "$OBS_M1" ]; then OBS_UDP=pass; else OBS_UDP=blocked; fi
}

observe_tcp() {
	OBS_TCP_MAPPED=$(tcp_mapped cli1 41051 "$R1:3478")
	if [ -n "$OBS_TCP_MAPPED" ]; then OBS_TCP=pass; else OBS_TCP=blocked; fi
}

# RFC 5382 section 7.1: a SYN from the reflector host to a public port of the
# NAT that no inside host has used. What comes back: RST, ICMP, or nothing.
observe_unsolicited_syn() {
	local out
	if [ -z "$OBS_TCP_MAPPED" ]; then
		OBS_SYN=inconclusive
		return
	fi
	out=$(in_ns refl "$NATLAB_BIN/labecho" tcp --timeout 1000 "$(ip_of "$OBS_TCP_MAPPED"):41071")
	case $out in
	mapped*) OBS_SYN=pass ;;
	"no answer: rst"*) OBS_SYN=rst ;;
	"no answer: icmp"*) OBS_SYN=icmp ;;
	"no answer: drop"*) OBS_SYN=drop ;;
	*) OBS_SYN=inconclusive ;;
	esac
}

# natreflector beside labecho (ports 4478, 4479), with a test session, for
# the checks that need its crafted SYNs. 0 when it is ready.
VERIFY_REFL_PORT=4478
verify_reflector() {
	local dir
	dir=$(lab_state_dir)
	[ "${VERIFY_REFL_LAB:-}" = "$LAB_ID" ] && return 0
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/verify-secret"
	VERIFY_KEY=$("$NATLAB_BIN/natreflector" --session-secret "$dir/verify-secret" \
		--issue-session verify | awk '{ print $4 }')
	in_ns refl "$NATLAB_BIN/natreflector" --primary "$R1" --alternate "$R2" \
		--port "$VERIFY_REFL_PORT" --alt-port $((VERIFY_REFL_PORT + 1)) --rate 0 \
		--session-secret "$dir/verify-secret" >"$dir/verify-reflector.log" 2>&1 &
	lab_pid $!
	for _ in $(seq 100); do
		if grep -q '^natreflector ready' "$dir/verify-reflector.log"; then
			VERIFY_REFL_LAB=$LAB_ID
			return 0
		fi
		sleep 0.02
	done
	return 1
}

# refl_syn ROLE LOCAL_PORT: a listener and a connection on cli1's LOCAL_PORT
# to the reflector; natreflector sends a SYN from ROLE to that connection's
# mapping and says what came back (syn-ack: our listener answered).
refl_syn() {
	in_ns cli1 "$NATLAB_BIN/refltest" --session verify --key "$VERIFY_KEY" --action syn \
		--from "$1" --tcp --listen --local "$(client_ip cli1):$2" --wait 300 \
		"$R1:$VERIFY_REFL_PORT" | sed -n 's/.* outcome=\([a-z-]*\).*/\1/p'
}

# RFC 5382 REQ-3 and section 7.1: SYNs to a live TCP mapping from the
# reflector's other port, then from its other address (which the mapping
# never contacted: what answers it is the answer to an unsolicited SYN).
observe_tcp_filtering() {
	local pa aa
	OBS_TCP_FILTERING=inconclusive OBS_SYN_MAPPED=inconclusive
	verify_reflector || return 0
	pa=$(refl_syn pa 41061)
	aa=$(refl_syn aa 41062)
	OBS_TCP_FILTERING_DETAIL="from the other port: ${pa:-?}, from the other address: ${aa:-?}"
	case $pa/$aa in
	syn-ack/syn-ack) OBS_TCP_FILTERING=endpoint-independent ;;
	syn-ack/?*) OBS_TCP_FILTERING=address-dependent ;;
	*/syn-ack | /* | */) ;;
	*) OBS_TCP_FILTERING=address-and-port-dependent ;;
	esac
	case $aa in
	syn-ack) OBS_SYN_MAPPED=pass ;;
	rst | icmp) OBS_SYN_MAPPED=$aa ;;
	nothing) OBS_SYN_MAPPED=drop ;;
	esac
}

# RFC 5382 REQ-2: cli1 connects to a silent port of the reflector's (no
# answer to a SYN at all), which on seeing that SYN connects back from it:
# true when the two SYNs crossed (cli1 answered the reflector's SYN with a
# SYN-ACK) and the connection formed.
observe_tcp_simopen() {
	local out
	OBS_TCP_SIMOPEN=inconclusive
	verify_reflector || return 0
	out=$(in_ns cli1 "$NATLAB_BIN/refltest" --session verify --key "$VERIFY_KEY" \
		--action simopen --from ap --local "$(client_ip cli1):41063" "$R1:$VERIFY_REFL_PORT")
	OBS_TCP_SIMOPEN_DETAIL=$(sed -n 's/.* seen_syn=\([^ ]*\) outcome=\([a-z-]*\) connected=\([a-z]*\).*/our SYN \1, the reflector'"'"'s: \2, our connect: \3/p' <<<"$out")
	case $out in
	*"seen_syn=-"*) ;;
	*"outcome=connected connected=yes"*) OBS_TCP_SIMOPEN=true ;;
	*"outcome=rst"* | *"outcome=icmp"* | *"outcome=nothing"*) OBS_TCP_SIMOPEN=false ;;
	esac
}

# RFC 5382 REQ-9: cli1 connects to a silent port of the reflector's, which
# answers that SYN with ICMP host unreachable: true when cli1's connect()
# failed with it (the NAT translated the error back in). REQ-10: port
# unreachable and time exceeded about a second connection of cli1's: true
# when a Binding over it is still answered, from the same mapping.
observe_tcp_icmp() {
	local out
	OBS_TCP_ICMP=inconclusive OBS_TCP_ICMP_KEPT=inconclusive
	verify_reflector || return 0
	# Twice at most: a trial whose SYN the reflector never saw proves nothing.
	for _ in 1 2; do
		out=$(in_ns cli1 "$NATLAB_BIN/refltest" --session verify --key "$VERIFY_KEY" \
			--action icmp --from ap --local "$(client_ip cli1):41065" "$R1:$VERIFY_REFL_PORT" 2>&1)
		case $out in *"unreachable="*) [[ $out == *"seen_syn=- "* ]] || break ;; esac
	done
	OBS_TCP_ICMP_DETAIL=$(sed -n 's/.* seen_syn=\([^ ]*\) sent=\([0-9/]*\) unreachable=\([a-z]*\).*/our SYN \1, error \2, our connect unreachable: \3/p' <<<"$out")
	OBS_TCP_ICMP_DETAIL=${OBS_TCP_ICMP_DETAIL:-$(head -n 1 <<<"$out")}
	case $out in
	*"seen_syn=- "* | *"sent=0/0"*) ;;
	*"unreachable=yes"*) OBS_TCP_ICMP=true ;;
	*"unreachable=no"*) OBS_TCP_ICMP=false ;;
	esac
	out=$(in_ns cli1 "$NATLAB_BIN/refltest" --session verify --key "$VERIFY_KEY" \
		--action icmp-conn --from ap --local "$(client_ip cli1):41067" "$R1:$VERIFY_REFL_PORT" 2>&1)
	OBS_TCP_ICMP_KEPT_DETAIL=$(sed -n 's/.* victim=\([^ ]*\) sent=\([0-9/]*\) kept=\([a-z]*\).*/mapping \1, errors \2, kept: \3/p' <<<"$out")
	OBS_TCP_ICMP_KEPT_DETAIL=${OBS_TCP_ICMP_KEPT_DETAIL:-$(head -n 1 <<<"$out")}
	case $out in
	*"sent=0/0"*) ;;
	*"kept=yes"*) OBS_TCP_ICMP_KEPT=true ;;
	*"kept=no"* | *"kept=moved"*) OBS_TCP_ICMP_KEPT=false ;;
	esac
}

# RFC 5382 REQ-4's hold: the reflector connect()s from a port X to the
# mapping of a second connection of cli1's at once; cli1 connects from that
# connection's port to X 2 s later. held: nothing answered the reflector's
# SYN and the connection formed; rst, icmp: what answered it (not at cli1's
# own TTL); pass: cli1's kernel answered it (the filter let it in). It waits,
# so it runs beside the other checks: syn_hold_begin, then observe_syn_hold.
syn_hold_begin() {
	SYN_HOLD_OUT=$(lab_state_dir)/verify-syn-hold
	: >"$SYN_HOLD_OUT"
	SYN_HOLD_PID=
	verify_reflector || return 0
	in_ns cli1 "$NATLAB_BIN/refltest" --session verify --key "$VERIFY_KEY" \
		--action syn-hold --from ap --local "$(client_ip cli1):41069" "$R1:$VERIFY_REFL_PORT" \
		>"$SYN_HOLD_OUT" 2>&1 &
	SYN_HOLD_PID=$!
}

observe_syn_hold() {
	local out ttl peer
	OBS_SYN_HOLD=inconclusive
	[ -n "$SYN_HOLD_PID" ] && wait "$SYN_HOLD_PID"
	out=$(cat "$SYN_HOLD_OUT")
	OBS_SYN_HOLD_DETAIL=$(sed -n 's/.* outcome=\([a-z]*\) ttl=\([0-9]*\) peer_ttl=\([0-9]*\) ms=\([0-9]*\) connected=\([a-z]*\).*/the reflector'"'"'s SYN: \1 after \4 ms (TTL \2, ours \3), our connect: \5/p' <<<"$out")
	ttl=$(sed -n 's/.* ttl=\([0-9]*\) .*/\1/p' <<<"$out")
	peer=$(sed -n 's/.* peer_ttl=\([0-9]*\) .*/\1/p' <<<"$out")
	case $out in
	*"outcome=connected"*"connected=yes"*) OBS_SYN_HOLD=held ;;
	*"outcome=rst"* | *"outcome=icmp"*)
		if [ -n "$ttl" ] && [ "$ttl" = "$peer" ]; then
			OBS_SYN_HOLD=pass
		else
			OBS_SYN_HOLD=$(sed -n 's/.* outcome=\([a-z]*\) .*/\1/p' <<<"$out")
		fi
		;;
	esac
}

observe_nat() {
	if [ "$OBS_M1" = "$(client_ip cli1):41001" ]; then OBS_NAT=false; else OBS_NAT=true; fi
}

# RFC 4787 section 4.1 / RFC 5780 section 4.3: one inside endpoint towards
# the same address on another port, then another address.
observe_mapping() {
	local m2 m3
	m2=$(udp_mapped cli1 41001 "$R1:3479")
	m3=$(udp_mapped cli1 41001 "$R2:3478")
	if [ -z "$m2" ] || [ -z "$m3" ]; then
		OBS_MAPPING=inconclusive
	elif [ "$OBS_NAT" = false ]; then
		OBS_MAPPING=none
	elif [ "$OBS_M1" = "$m2" ] && [ "$OBS_M1" = "$m3" ]; then
		OBS_MAPPING=endpoint-independent
	elif [ "$OBS_M1" = "$m2" ]; then
		OBS_MAPPING=address-dependent
	else
		OBS_MAPPING=address-and-port-dependent
	fi
	OBS_MAPPING_DETAIL="$OBS_M1 $m2 $m3"
}

# RFC 5780 section 4.4: answers from the other address, then from the other
# port of the same address, each to a fresh mapping.
observe_filtering() {
	local other_ip other_port f
	# Both at once: where the filter keeps them out, each waits its 0.6 s.
	f=$(mktemp)
	udp_mapped cli1 41022 "$R1:3478" --via "$R1:3479" --timeout 300 --tries 2 >"$f" &
	other_ip=$(udp_mapped cli1 41021 "$R1:3478" --via "$R2:3479" --timeout 300 --tries 2)
	wait $!
	other_port=$(cat "$f")
	rm -f "$f"
	if [ -n "$other_ip" ]; then
		OBS_FILTERING=endpoint-independent
	elif [ -n "$other_port" ]; then
		OBS_FILTERING=address-dependent
	elif [ -n "$(udp_mapped cli1 41023 "$R1:3478")" ]; then
		OBS_FILTERING=address-and-port-dependent
	else
		OBS_FILTERING=inconclusive # not even the direct answer came back
	fi
}

# Three fresh inside ports: kept by the NAT, or not.
observe_port() {
	local kept=0 seen=0 p m
	for p in 41011 41012 41013; do
		m=$(udp_mapped cli1 "$p" "$R1:3478")
		[ -n "$m" ] || continue
		seen=$((seen + 1))
		[ "$(port_of "$m")" = "$p" ] && kept=$((kept + 1))
	done
	if [ "$seen" -lt 3 ]; then
		OBS_PORT=inconclusive
	elif [ "$kept" -eq 3 ]; then
		OBS_PORT=preserving
	elif [ "$kept" -eq 0 ]; then
		OBS_PORT=not-preserving
	else
		OBS_PORT=inconclusive
	fi
}

# The public addresses one inside host shows towards six destinations, from a
# fresh inside port each time (RFC 4787 section 4.1's pooling is per inside
# address; one inside endpoint reuses its mapping on Linux whatever the pool).
observe_pool() {
	local d m addrs="" n=0
	for d in $R1 $R2 $REFL_PEERS; do
		m=$(udp_mapped cli1 $((41031 + n)) "$d:3478")
		[ -n "$m" ] || { OBS_POOL=inconclusive; return; }
		n=$((n + 1))
		addrs="$addrs$(ip_of "$m")
"
	done
	OBS_POOL_DETAIL=$(printf '%s' "$addrs" | sort -u | tr '\n' ' ')
	if [ "$(printf '%s' "$addrs" | sort -u | wc -l)" -eq 1 ]; then
		OBS_POOL=single
	else
		OBS_POOL=several
	fi
}

# RFC 4787 section 6: cli2 sends to cli1's public mapping.
observe_hairpin() {
	local out m
	if [ "$OBS_NAT" = false ]; then
		OBS_HAIRPIN=not-applicable
		return
	fi
	out=$(mktemp)
	in_ns cli1 "$NATLAB_BIN/labecho" udp --local "$(client_ip cli1):41041" --listen 800 \
		"$R1:3478" >"$out" &
	local pid=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		m=$(awk '$1 == "mapped" { print $2 }' "$out")
		[ -n "$m" ] && break
		sleep 0.1
	done
	if [ -n "$m" ]; then
		for _ in 1 2 3; do
			in_ns cli2 "$NATLAB_BIN/labecho" send --local "$(client_ip cli2):41042" "$m"
			sleep 0.1
		done
	fi
	wait "$pid"
	OBS_HAIRPIN_SOURCE=
	if [ -z "$m" ]; then
		OBS_HAIRPIN=inconclusive
	elif grep -q '^heard ' "$out"; then
		OBS_HAIRPIN=true
		# RFC 4787 REQ-9: the sender's public endpoint, not its inside one.
		if grep -q "^heard $(client_ip cli2):41042\$" "$out"; then
			OBS_HAIRPIN_SOURCE=internal
		else
			OBS_HAIRPIN_SOURCE=external
		fi
	else
		OBS_HAIRPIN=false
	fi
	rm -f "$out"
}

# Port overloading over PROTO (udp, tcp): two inside hosts, the same inside
# port PORT, different destinations. Linux gives both the same public
# endpoint when it can, since their 5-tuples still differ; over TCP too
# (RFC 5382 REQ-7), where labecho closes each connection once answered but
# the NAT keeps its entry a while (Linux: TIME_WAIT, 120 s; natemu: its
# transitory timeout), and so its port. Prints the verdict and both mappings.
overloading_of() {
	local a b
	a=$("${1}_mapped" cli1 "$2" "$R1:3478")
	b=$("${1}_mapped" cli2 "$2" "$R2:3478")
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "inconclusive $a $b"
	elif [ "$a" = "$b" ]; then
		echo "true $a $b"
	else
		echo "false $a $b"
	fi
}

observe_overloading() {
	if [ "$OBS_NAT" = false ]; then
		OBS_OVERLOADING=not-applicable
		return
	fi
	read -r OBS_OVERLOADING OBS_OVERLOADING_DETAIL < <(overloading_of udp 41061)
}

observe_tcp_overloading() {
	if [ "$OBS_NAT" = false ]; then
		OBS_TCP_OVERLOADING=not-applicable
		return
	fi
	read -r OBS_TCP_OVERLOADING OBS_TCP_OVERLOADING_DETAIL < <(overloading_of tcp 41053)
}

# The NAT's own record: a conntrack entry for cli1's first flow whose reply
# direction goes to exactly the mapping the reflector saw.
observe_conntrack() {
	local want_ip want_port
	want_ip=$(ip_of "$OBS_M1")
	want_port=$(port_of "$OBS_M1")
	if in_ns "$CT_ROLE" conntrack -L -p udp 2>/dev/null | awk -v r="$R1" -v ip="$want_ip" \
		-v port="$want_port" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1], ++c[kv[1]]] = kv[2] } }
		v["dst", 1] == r && v["dport", 1] == 3478 && v["dst", 2] == ip && v["dport", 2] == port { found = 1 }
		{ delete v; delete c }
		END { exit !found }'; then
		OBS_CONNTRACK=agrees
	else
		OBS_CONNTRACK=disagrees
	fi
}

# A multihomed client: the source address a socket bound to no address gets
# toward the primary and toward the alternate (FAMILY 4 or 6). "different"
# when the two differ and each is one of cli1's own addresses (no NAT
# between), "same" when they agree, "translated" when one is not cli1's.
# A probe whose sockets are not bound to one address would see two
# internal endpoints there.
observe_sources() {
	local family=$1 p=$R1 a=$R2 m1 m2 own ip
	if [ "$family" = 6 ]; then
		p="[$REFL_PRIMARY6]" a="[$REFL_ALTERNATE6]"
	fi
	m1=$(in_ns cli1 "$NATLAB_BIN/labecho" udp "$p:3478" | awk '$1 == "mapped" { print $2; exit }')
	m2=$(in_ns cli1 "$NATLAB_BIN/labecho" udp "$a:3478" | awk '$1 == "mapped" { print $2; exit }')
	OBS_SOURCES_DETAIL="$m1 $m2"
	if [ -z "$m1" ] || [ -z "$m2" ]; then
		OBS_SOURCES=inconclusive
		return
	fi
	own=$(ip -n "$(ns cli1)" "-$family" -o addr show scope global | awk '{ sub("/.*", "", $4); print $4 }')
	for ip in "$(ip_of "$m1")" "$(ip_of "$m2")"; do
		ip=${ip#[}
		if ! grep -qxF "${ip%]}" <<<"$own"; then
			OBS_SOURCES=translated
			return
		fi
	done
	if [ "$(ip_of "$m1")" = "$(ip_of "$m2")" ]; then OBS_SOURCES=same; else OBS_SOURCES=different; fi
}

# conntrack's UDP timeouts as this kernel applies them: an entry whose flow
# saw a reply but lasted under 2 s keeps nf_conntrack_udp_timeout; one with
# traffic both ways for over 2 s becomes ASSURED and gets
# nf_conntrack_udp_timeout_stream. Prints "SHORT/STREAM" in seconds, rounded
# up to tens. The stream's first exchange (ct_timeouts_begin) comes before
# the other checks, its second 2.2 s later at least; only where a profile
# states it.
ct_timeouts_begin() {
	CT_STREAM_START=$(date +%s%N)
	udp_mapped cli1 41081 "$R1:3478" >/dev/null
}

observe_ct_timeouts() {
	local short stream left
	ct_timeout() {
		in_ns "$CT_ROLE" conntrack -L -p udp --orig-port-src "$1" 2>/dev/null |
			awk '{ print int(($3 + 9) / 10) * 10; exit }'
	}
	# A fresh short flow (one exchange), read at once, however long the
	# checks before took on a loaded machine.
	udp_mapped cli1 41091 "$R1:3478" >/dev/null
	left=$((2200 - ($(date +%s%N) - CT_STREAM_START) / 1000000))
	[ "$left" -le 0 ] || sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
	udp_mapped cli1 41081 "$R1:3478" >/dev/null
	udp_mapped cli1 41081 "$R1:3478" >/dev/null
	short=$(ct_timeout 41091)
	stream=$(ct_timeout 41081)
	if [ -n "$short" ] && [ -n "$stream" ]; then
		OBS_CT_TIMEOUTS="$short/$stream"
	else
		OBS_CT_TIMEOUTS=inconclusive
	fi
}

# In 100.64.0.0/10 (RFC 6598's shared address space, a CGN's inside realm)?
shared_addr() {
	local o1 o2
	IFS=. read -r o1 o2 _ <<<"${1%:*}"
	[ "$o1" = 100 ] && [ "$o2" -ge 64 ] 2>/dev/null && [ "$o2" -le 127 ]
}

# ct_translations PROTO: every source translation the conntrack table of any
# of the lab's namespaces holds for a PROTO flow to the reflector's
# primary:3478, one a line: "ROLE ORIGINAL_SOURCE TRANSLATED_SOURCE", the
# translated source being where the reply direction goes.
ct_translations() {
	local name dir pids=()
	dir=$(mktemp -d)
	# Every namespace's table at once (one conntrack each).
	while read -r name; do
		ip netns exec "$name" timeout 5 conntrack -L -p "$1" >"$dir/$name" 2>/dev/null &
		pids+=($!)
	done <"$(lab_state_dir)/namespaces"
	wait "${pids[@]}"
	while read -r name; do
		awk -v r="$R1" -v role="${name#"nl$LAB_ID-"}" '
			{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1], ++c[kv[1]]] = kv[2] } }
			v["dst", 1] == r && v["dport", 1] == 3478 &&
				(v["src", 1] != v["dst", 2] || v["sport", 1] != v["dport", 2]) {
				print role, v["src", 1] ":" v["sport", 1], v["dst", 2] ":" v["dport", 2]
			}
			{ delete v; delete c }' "$dir/$name"
	done <"$(lab_state_dir)/namespaces"
	rm -rf "$dir"
}

# The kernel NATs on cli1's path, from their own records, not from what the
# reflector saw: after a fresh flow from cli1 to primary:3478 (UDP; TCP where
# UDP does not pass), the namespace whose conntrack translated cli1's
# endpoint, then the one that translated what the first made of it, and so
# on. OBS_DEPTH is how many; natemu (userspace) and a device keep no
# conntrack, so they are not counted. OBS_CGN: true when one of them
# translates from 100.64.0.0/10 (it is the CGN), or into it (a CGN is beyond
# it, conntrack or not: the reflector answered a flow that left from the
# shared space); false otherwise.
observe_depth() {
	local proto=udp port=41101 from edges hop role orig next n=0 max path=""
	OBS_DEPTH=inconclusive OBS_CGN=inconclusive OBS_CGN_DETAIL=
	if [ "$OBS_UDP" = pass ]; then
		[ -n "$(udp_mapped cli1 "$port" "$R1:3478")" ] || return 0
	elif [ "$OBS_TCP" = pass ]; then
		proto=tcp
		[ -n "$(tcp_mapped cli1 "$port" "$R1:3478")" ] || return 0
	else
		return 0
	fi
	edges=$(ct_translations "$proto")
	max=$(wc -l <"$(lab_state_dir)/namespaces")
	from="$(client_ip cli1):$port"
	OBS_CGN=false
	while [ "$n" -lt "$max" ]; do
		hop=$(awk -v f="$from" '$2 == f { print; exit }' <<<"$edges")
		[ -n "$hop" ] || break
		read -r role orig next <<<"$hop"
		n=$((n + 1))
		path="$path${path:+, }$role $orig -> $next"
		if shared_addr "$orig"; then
			OBS_CGN=true OBS_CGN_DETAIL="$role translates from 100.64.0.0/10"
		elif shared_addr "$next" && [ -z "$OBS_CGN_DETAIL" ]; then
			OBS_CGN=true OBS_CGN_DETAIL="$role translates into 100.64.0.0/10"
		fi
		from=$next
	done
	OBS_DEPTH=$n
	OBS_DEPTH_DETAIL="conntrack, $proto: ${path:-no namespace translated $from}"
	# natemu NATs of the lab (not the lab internet's delay box): uncounted.
	local log emu=""
	for log in "$(lab_state_dir)"/natemu-*.log; do
		log=${log##*/natemu-}
		log=${log%.log}
		case $log in inet | "*") continue ;; esac
		emu="$emu${emu:+, }$log"
	done
	[ -z "$emu" ] || OBS_DEPTH_DETAIL="$OBS_DEPTH_DETAIL; not counted: natemu in $emu"
}

# The home router running miniupnpd (lab_miniupnpd), or nothing.
miniupnpd_role() {
	local conf
	for conf in "$(lab_state_dir)"/miniupnpd-*.conf; do
		[ -e "$conf" ] || continue
		conf=${conf##*/miniupnpd-}
		echo "${conf%.conf}"
		return
	done
}

# The rules in miniupnpd's chains forward_miniupnpd and prerouting_miniupnpd
# in ROLE (where it puts a mapping's filter and DNAT rules), or nothing when
# nft cannot list them.
miniupnpd_rules() {
	local c n=0 out
	for c in forward_miniupnpd prerouting_miniupnpd; do
		out=$(in_ns "$1" timeout 5 nft -j list chain inet miniupnpd "$c" 2>/dev/null) || return 0
		n=$((n + $(grep -o '{"rule":' <<<"$out" | wc -l)))
	done
	echo "$n"
}

# upnpc's SSDP discovery waits 2 s for answers: it runs beside the other
# checks (upnpc -s, which changes nothing), from portmap_begin on, from a
# port of its own (-z), not a random one another check might want.
# -i: miniupnpc 2.2 takes an IGD whose external address it counts as
# reserved (the lab internet is a documentation range; behind a CGN there
# is none) for "not connected?" and goes no further without it; the
# gateway's own answer to AddPortMapping decides.
portmap_begin() {
	PORTMAP_DISCOVERY=$(lab_state_dir)/verify-upnpc
	in_ns cli1 timeout 8 upnpc -i -z 41104 -s >"$PORTMAP_DISCOVERY" 2>&1 &
	PORTMAP_PID=$!
}

# Port mapping, asked with the clients applications use, which share no code
# with natprobe: miniupnpc's upnpc (UPnP IGD: the gateway discovery found,
# AddPortMapping for cli1 itself) and natpmpc (NAT-PMP, to cli1's gateway).
# OBS_PORTMAP: those that granted a mapping, "upnp nat-pmp" in that order,
# or none. PCP has no client in Debian independent of natprobe: not checked
# here. OBS_GW_EXTERNAL: the public address natpmpc reports (none on an
# error, e.g. miniupnpd behind a CGN, which has no public address to give).
# Then both mappings are deleted (upnpc -d; NAT-PMP lifetime 0), and
# OBS_PORTMAP_CLEAN says whether miniupnpd's chains are empty again.
observe_portmap() {
	local ip gw up=41102 pmp=41103 out desc role held left
	local up_detail pmp_detail
	ip=$(client_ip cli1)
	gw=$(ip -n "$(ns cli1)" -4 route show default | awk '{ print $3; exit }')
	role=$(miniupnpd_role)
	OBS_PORTMAP=
	wait "$PORTMAP_PID"
	desc=$(awk '$1 == "desc:" { print $2; exit }' "$PORTMAP_DISCOVERY")
	out="upnpc found no UPnP device"
	[ -z "$desc" ] || out=$(in_ns cli1 timeout 5 upnpc -i -u "$desc" -e natlab-verify \
		-a "$ip" "$up" "$up" UDP 60 2>&1)
	if grep -q "is redirected to internal $ip:$up" <<<"$out"; then
		OBS_PORTMAP=upnp
		up_detail="upnp $(sed -n 's/^external \([^ ]*\) UDP is redirected.*/\1/p' <<<"$out")"
	else
		up_detail="upnp: $(grep -m 1 -E 'failed|found no' <<<"$out" || echo "no answer")"
	fi
	out=$(in_ns cli1 timeout 5 natpmpc -g "$gw" -a "$pmp" "$pmp" udp 60 2>&1)
	OBS_GW_EXTERNAL=$(sed -n 's/^Public IP address : //p' <<<"$out" | head -n 1)
	OBS_GW_EXTERNAL=${OBS_GW_EXTERNAL:-none}
	if grep -Eq "^Mapped public port [0-9]+ protocol UDP to local port $pmp " <<<"$out"; then
		OBS_PORTMAP="$OBS_PORTMAP${OBS_PORTMAP:+ }nat-pmp"
		pmp_detail="nat-pmp $OBS_GW_EXTERNAL:$(sed -n 's/^Mapped public port \([0-9]*\) .*/\1/p' <<<"$out")"
	else
		pmp_detail="nat-pmp: $(grep -m 1 'failed' <<<"$out" || echo "no answer")"
	fi
	OBS_PORTMAP=${OBS_PORTMAP:-none}
	OBS_PORTMAP_DETAIL="$up_detail; $pmp_detail"
	OBS_GW_EXTERNAL_DETAIL="natpmpc -g $gw"
	[ -n "$role" ] && held=$(miniupnpd_rules "$role")
	[ -n "$desc" ] && in_ns cli1 timeout 5 upnpc -i -u "$desc" -d "$up" UDP >/dev/null 2>&1
	in_ns cli1 timeout 5 natpmpc -g "$gw" -a "$pmp" "$pmp" udp 0 >/dev/null 2>&1
	OBS_PORTMAP_CLEAN=inconclusive
	if [ -z "$role" ]; then
		OBS_PORTMAP_CLEAN_DETAIL="no miniupnpd in this lab"
		return 0
	fi
	left=$(miniupnpd_rules "$role")
	case $left in
	"") ;;
	0) OBS_PORTMAP_CLEAN=empty ;;
	*) OBS_PORTMAP_CLEAN="$left rules left" ;;
	esac
	OBS_PORTMAP_CLEAN_DETAIL="$role's chains forward/prerouting_miniupnpd: ${held:-?} rules while mapped, ${left:-?} after"
}

VERIFY_FAILED=0

verify_row() {
	local what=$1 want=$2 got=$3 detail=${4:-} mark=ok
	if [ -z "$want" ]; then
		mark=-
		want="(not stated)"
	elif [ "$want" != "$got" ]; then
		mark=MISMATCH
		VERIFY_FAILED=1
	fi
	printf '  %-13s %-28s %-28s %-8s %s\n' "$what" "$want" "$got" "$mark" "$detail"
}

# NATLAB_EXPECT_<KEY> in the environment overrides the profile's expectation:
# that is how the tests prove a wrong expectation fails.
expect() {
	local var="NATLAB_EXPECT_$1" own="EXPECT_$1"
	eval "printf '%s' \"\${$var:-\${$own:-}}\""
}

verify_lab() {
	unset "${!OBS_@}"
	SYN_HOLD_OUT=
	VERIFY_FAILED=0
	printf '  %-13s %-28s %-28s %s\n' check expected observed result
	observe_udp
	observe_tcp
	verify_row udp "$(expect UDP)" "$OBS_UDP" "$OBS_M1"
	verify_row tcp "$(expect TCP)" "$OBS_TCP" "${OBS_TCP_MAPPED:-}"
	observe_unsolicited_syn
	verify_row syn "$(expect SYN)" "$OBS_SYN"
	if [ "$OBS_TCP" = pass ] && [ -n "$(expect TCP_FILTERING)" ]; then
		observe_tcp_filtering
		verify_row tcp-filter "$(expect TCP_FILTERING)" "$OBS_TCP_FILTERING" \
			"$OBS_TCP_FILTERING_DETAIL"
		verify_row syn-mapped "$(expect SYN_MAPPED)" "$OBS_SYN_MAPPED"
	fi
	if [ "$OBS_TCP" = pass ] && [ -n "$(expect TCP_SIMOPEN)" ]; then
		observe_tcp_simopen
		verify_row simopen "$(expect TCP_SIMOPEN)" "$OBS_TCP_SIMOPEN" \
			"${OBS_TCP_SIMOPEN_DETAIL:-}"
	fi
	[ "$OBS_TCP" = pass ] && [ -n "$(expect TCP_SYN_HOLD)" ] && syn_hold_begin
	[ -n "$(expect PORTMAP)" ] && portmap_begin
	if [ "$OBS_TCP" = pass ] && [ -n "$(expect TCP_ICMP)" ]; then
		observe_tcp_icmp
		verify_row icmp-in "$(expect TCP_ICMP)" "$OBS_TCP_ICMP" "${OBS_TCP_ICMP_DETAIL:-}"
		verify_row icmp-kept "$(expect TCP_ICMP_KEPT)" "$OBS_TCP_ICMP_KEPT" \
			"${OBS_TCP_ICMP_KEPT_DETAIL:-}"
	fi
	if [ "$OBS_UDP" = pass ]; then
		[ -n "$CT_ROLE" ] && [ -n "$(expect CT_TIMEOUTS)" ] && ct_timeouts_begin
		observe_nat
		observe_mapping
		observe_filtering
		observe_port
		observe_pool
		observe_hairpin
		observe_overloading
		[ -n "$CT_ROLE" ] && observe_conntrack
		verify_row nat "$(expect NAT)" "$OBS_NAT"
		verify_row mapping "$(expect MAPPING)" "$OBS_MAPPING" "${OBS_MAPPING_DETAIL:-}"
		verify_row filtering "$(expect FILTERING)" "$OBS_FILTERING"
		verify_row port "$(expect PORT)" "$OBS_PORT"
		verify_row pooling "$(expect POOL)" "$OBS_POOL" "${OBS_POOL_DETAIL:-}"
		verify_row hairpin "$(expect HAIRPIN)" "$OBS_HAIRPIN"
		[ "$OBS_HAIRPIN" = true ] &&
			verify_row hairpin-src "$(expect HAIRPIN_SOURCE)" "$OBS_HAIRPIN_SOURCE"
		verify_row overloading "$(expect OVERLOADING)" "$OBS_OVERLOADING" "${OBS_OVERLOADING_DETAIL:-}"
		if [ "$OBS_TCP" = pass ] && [ -n "$(expect TCP_OVERLOADING)" ]; then
			observe_tcp_overloading
			verify_row tcp-overload "$(expect TCP_OVERLOADING)" "$OBS_TCP_OVERLOADING" \
				"${OBS_TCP_OVERLOADING_DETAIL:-}"
		fi
		[ -n "$CT_ROLE" ] &&
			verify_row conntrack agrees "$OBS_CONNTRACK" "in $CT_ROLE: reply to $OBS_M1"
		if [ -n "$(expect SOURCES)" ]; then
			observe_sources 4
			verify_row sources "$(expect SOURCES)" "$OBS_SOURCES" "unbound: $OBS_SOURCES_DETAIL"
		fi
		if [ -n "$(expect SOURCES6)" ]; then
			observe_sources 6
			verify_row sources6 "$(expect SOURCES6)" "$OBS_SOURCES" "unbound: $OBS_SOURCES_DETAIL"
		fi
		if [ -n "$CT_ROLE" ] && [ -n "$(expect CT_TIMEOUTS)" ]; then
			observe_ct_timeouts
			verify_row ct-timeouts "$(expect CT_TIMEOUTS)" "$OBS_CT_TIMEOUTS" \
				"seconds: flow under 2 s / stream"
		fi
	fi
	observe_depth
	verify_row depth "$(expect DEPTH)" "$OBS_DEPTH" "${OBS_DEPTH_DETAIL:-}"
	verify_row cgn "$(expect CGN)" "$OBS_CGN" "$OBS_CGN_DETAIL"
	if [ -n "$(expect PORTMAP)" ]; then
		observe_portmap
		verify_row portmap "$(expect PORTMAP)" "$OBS_PORTMAP" "$OBS_PORTMAP_DETAIL"
		verify_row gw-external "$(expect GATEWAY_EXTERNAL)" "$OBS_GW_EXTERNAL" \
			"$OBS_GW_EXTERNAL_DETAIL"
		verify_row portmap-clean empty "$OBS_PORTMAP_CLEAN" "$OBS_PORTMAP_CLEAN_DETAIL"
	fi
	if [ -n "${SYN_HOLD_OUT:-}" ]; then
		observe_syn_hold
		verify_row syn-hold "$(expect TCP_SYN_HOLD)" "$OBS_SYN_HOLD" "${OBS_SYN_HOLD_DETAIL:-}"
	fi
	return "$VERIFY_FAILED"
}
