# shellcheck shell=bash
# natlab punch: pair labs, and natprobe punch through them (README, "Labs").
#
#   cli1 10.0.1.2 -- [nat: PROFILE_A] wan 203.0.113.1 --- wan-a [inet] wan-b --- wan 198.51.100.1 [natb: PROFILE_B] -- peer 10.0.2.2
#                                                           |
#                                                          refl (natreflector with a session secret)
#
# Side A is the profile's own lab; side B is the same NAT built again as natb
# on wan-b (LAB_SIDE=b). That works for profiles whose NAT is one masquerade,
# one snat or one natemu (masq, masq-random, masq-fully-random, snat-pool,
# snat-pool-persistent, natemu; snat-pool names its addresses through
# lab_home_wan), for upnp (its natb with a miniupnpd of its own), and for cgn
# and upnp-cgn, which build a CGN of their own (cgnb) with a
# home behind it: the others (two-nats, firewall, ...) are refused as the
# second side. Two other second sides take any profile as the first:
#   same    the lab's own cli2: behind the same NAT (masq, cgn), or behind
#           another home NAT of the same CGN (cgn-homes, cgn-homes-hairpin)
#   public  a host "pub" on the lab internet, 198.51.100.2 on wan-b, no NAT

PUNCH_PAIRABLE="masq masq-random masq-fully-random snat-pool snat-pool-persistent cgn natemu upnp upnp-cgn upnp-cgn-naive"

pairable() {
	case " $PUNCH_PAIRABLE " in *" ${1%%:*} "*) return 0 ;; esac
	[ "${2:-}" = first ] && [ -f "$NATLAB_PROFILES/$1.sh" ] && return 0
	echo "natlab punch: '$1' cannot be a side of a pair lab yet (these can: $PUNCH_PAIRABLE)" >&2
	return 1
}

# Build the pair: profile A as usual, then profile B as side b. natemu's
# settings on side B: NATEMU_SETTINGS_B (NATEMU_SETTINGS when unset).
pair_up() {
	local a=$1 b=$2
	load_profile "$a"
	local build_a
	build_a=$(declare -f profile_up)
	load_profile "$b"
	eval "${build_a/profile_up/pair_side_a}"
	eval "$(declare -f profile_up | sed '1s/profile_up/pair_side_b/')"
	# shellcheck disable=SC2317 # called by lab_up
	profile_up() {
		pair_side_a
		LAB_SIDE=b NATEMU_SETTINGS=${NATEMU_SETTINGS_B-${NATEMU_SETTINGS:-}} \
			NATEMU_OPTIONS=${NATEMU_OPTIONS_B-${NATEMU_OPTIONS:-}} pair_side_b
	}
	lab_up "$a+$b"
}

# Profile A's lab with a host on the lab internet (no NAT) as the second side.
pair_up_public() {
	load_profile "$1"
	eval "$(declare -f profile_up | sed '1s/profile_up/pair_side_a/')"
	# shellcheck disable=SC2317 # called by lab_up
	profile_up() {
		pair_side_a
		lab_host pub
		lab_plug pub eth0 inet wan-b
		lab_addr pub eth0 198.51.100.2/25
		lab_route pub 198.51.100.126
	}
	lab_up "$1+public"
}

# Build the pair for A and B (a profile, same or public); PAIR_PEER is the
# second side's host. 2 when the pair cannot be built (said why).
pair_build() {
	local a=$1 b=$2
	case $b in
	same | public) pairable "$a" first || return 2 ;;
	*) { pairable "$a" && pairable "$b"; } || return 2 ;;
	esac
	case $b in
	same)
		load_profile "$a"
		lab_up "$a+same"
		PAIR_PEER=cli2
		;;
	public)
		pair_up_public "$a"
		PAIR_PEER=pub
		;;
	*)
		pair_up "$a" "$b"
		PAIR_PEER=peer
		;;
	esac
	grep -qx "$(ns "$PAIR_PEER")" "$(lab_state_dir)/namespaces" && return 0
	echo "natlab punch: '$a' has no second client ($PAIR_PEER) to pair with" >&2
	lab_teardown
	return 2
}

# natreflector with a fresh secret in the lab's state; sets PUNCH_KEY for
# session PUNCH_SESSION.
pair_reflector() {
	local dir
	dir=$(lab_state_dir)
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/secret"
	PUNCH_SESSION=natlab-$LAB_ID
	PUNCH_KEY=$("$NATLAB_BIN/natreflector" --session-secret "$dir/secret" \
		--issue-session "$PUNCH_SESSION" | awk '{ print $4 }')
	in_ns refl "$NATLAB_BIN/natreflector" --primary 203.0.113.10 --alternate 203.0.113.11 \
		--rate 0 --session-secret "$dir/secret" >"$dir/natreflector.log" 2>&1 &
	lab_pid $!
	for _ in $(seq 100); do
		grep -q '^natreflector ready' "$dir/natreflector.log" && return 0
		sleep 0.02
	done
	echo "natlab punch: natreflector did not start in lab $LAB_ID" >&2
	return 1
}

# Both probes; cli1's record appended to JSON (if given). PUNCH_RC: cli1's
# exit status, then peer's. PUNCH_TECHNIQUES: natprobe punch's --techniques
# (all unless set). NATLAB_PUNCH_OPTIONS: more options for both
# (natprobe punch's, e.g. "--techniques udp-hole-punching --open-ttl 0");
# NATLAB_PUNCH_OPTIONS_B: more for the second side only (e.g. "--stagger 50").
pair_probes() {
	local label=$1 trials=$2 json=$3 dir ra rb
	dir=$(lab_state_dir)
	# shellcheck disable=SC2086 # the options are words
	in_ns "$PAIR_PEER" "$NATLAB_BIN/natprobe" punch --session "$PUNCH_SESSION" --key "$PUNCH_KEY" \
		--trials "$trials" ${PUNCH_TECHNIQUES:+--techniques "$PUNCH_TECHNIQUES"} \
		${NATLAB_PUNCH_OPTIONS:-} ${NATLAB_PUNCH_OPTIONS_B:-} \
		--json "$dir/peer.json" 203.0.113.10 \
		>"$dir/peer.out" 2>&1 &
	local p=$!
	# shellcheck disable=SC2086
	in_ns cli1 "$NATLAB_BIN/natprobe" punch --session "$PUNCH_SESSION" --key "$PUNCH_KEY" \
		--trials "$trials" ${PUNCH_TECHNIQUES:+--techniques "$PUNCH_TECHNIQUES"} \
		${NATLAB_PUNCH_OPTIONS:-} --label "$label" --json "$dir/cli1.json" \
		203.0.113.10 >"$dir/cli1.out" 2>&1
	ra=$?
	wait "$p"
	rb=$?
	PUNCH_RC="$ra $rb"
	[ -z "$json" ] || cat "$dir/cli1.json" >>"$json"
}

# One pair: build, punch, tear down. Prints cli1's summary; PUNCH_ROWS gets
# one "technique count expected result" line per technique (result: agrees,
# CONTRADICTION, or not-judged where the prediction depends).
punch_pair() {
	local a=$1 b=$2 trials=$3 json=$4 dir
	# A side "natemu:K=V,K=V": natemu with those settings (the grid's cells).
	local b_given=${NATEMU_SETTINGS_B+yes}
	local NATEMU_SETTINGS=${NATEMU_SETTINGS:-} NATEMU_SETTINGS_B=${NATEMU_SETTINGS_B-}
	case $a in natemu:*) NATEMU_SETTINGS=${a#natemu:} NATEMU_SETTINGS=${NATEMU_SETTINGS//,/ } ;; esac
	case $b in natemu:*) NATEMU_SETTINGS_B=${b#natemu:} NATEMU_SETTINGS_B=${NATEMU_SETTINGS_B//,/ } b_given=yes ;; esac
	[ -n "$b_given" ] || unset NATEMU_SETTINGS_B # then B's are A's (pair_up)
	export NATEMU_SETTINGS
	pair_build "${a%%:*}" "${b%%:*}" || return 2
	dir=$(lab_state_dir)
	pair_reflector || { lab_teardown; return 2; }
	pair_probes "natlab:$a+$b" "$trials" "$json"
	PUNCH_ROWS=$(sed -n -e 's/: nothing to judge$/: not-judged/' \
		-e 's/^  \([a-z-]*\) *\([0-9]*\/[0-9]*\).*expected \([a-z]*\): \(.*\)$/\1 \2 \3 \4/p' \
		"$dir/cli1.out")
	sed 's/^/  /' "$dir/cli1.out" | grep -v 'trial [0-9]*: '
	lab_teardown
	case $PUNCH_RC in "0 0") return 0 ;; *) return 1 ;; esac
}

# --trials N: 1 to 100, as natprobe punch takes them; said before any lab
# is built.
punch_trials() {
	case $1 in
	'' | *[!0-9]*) echo "natlab punch: --trials wants a number of trials, not '$1'" >&2; exit 2 ;;
	esac
	if [ "$1" -lt 1 ] || [ "$1" -gt 100 ]; then
		echo "natlab punch: --trials: 1 to 100" >&2
		exit 2
	fi
}

# --techniques LIST: natprobe punch's names or groups (udp, tcp, all),
# checked by natprobe itself before any lab is built; into PUNCH_TECHNIQUES.
punch_techniques() {
	local err
	err=$("$NATLAB_BIN/natprobe" punch --techniques "$1" --list-techniques 2>&1 >/dev/null) || {
		echo "${err/natprobe punch:/natlab punch:}" >&2
		exit 2
	}
	PUNCH_TECHNIQUES=$1
}

# --delay MS: a number, for NATLAB_INET_DELAY.
punch_delay() {
	case $1 in
	'' | *[!0-9]*) echo "natlab punch: --delay wants milliseconds, not '$1'" >&2; exit 2 ;;
	esac
	[ "$1" -le 10000 ] || { echo "natlab punch: --delay: at most 10000 ms" >&2; exit 2; }
	export NATLAB_INET_DELAY=$1
}

# natlab punch [--trials N] [--json FILE] [--delay MS] [--techniques LIST]
#              PROFILE_A PROFILE_B
cmd_punch() {
	local trials=5 json='' PUNCH_TECHNIQUES=''
	NATLAB_INET_DELAY=${NATLAB_INET_DELAY:-10}
	while [ $# -gt 2 ]; do
		case $1 in
		--trials) punch_trials "$2"; trials=$2 ;;
		--techniques) punch_techniques "$2" ;;
		--json) json=$2 ;;
		--delay) punch_delay "$2" ;;
		*) usage >&2; exit 2 ;;
		esac
		shift 2
	done
	[ $# -eq 2 ] || { usage >&2; exit 2; }
	need_root
	export NATLAB_LABECHO=0 NATLAB_INET_DELAY # the reflector host's ports are natreflector's
	echo "natlab punch: $1 (cli1) and $2 (peer), $trials trials per technique" \
		"(${PUNCH_TECHNIQUES:-all})," \
		"${NATLAB_INET_DELAY} ms one way between wan-a and wan-b"
	punch_pair "$1" "$2" "$trials" "$json"
}

# The grid's pairs, "A B" a line: every ordered pair of the profiles, and
# each with a second client behind its own NAT (same) and with a public
# peer (unless MATRIX_EXTRA=0); by default also the nested pairs, two homes
# behind one CGN without and with hairpinning (cgn itself is among the
# default profiles, so cgn same, two clients of one home behind a CGN, is
# there already).
matrix_pairs() {
	local a b extra="same public"
	[ "${MATRIX_EXTRA:-1}" = 1 ] || extra=
	for a in "$@"; do
		for b in "$@" $extra; do
			echo "$a $b"
		done
	done
	[ "${MATRIX_DEFAULT:-0}" = 1 ] || return 0
	printf '%s same\n' cgn-homes cgn-homes-hairpin
}

# natlab punch-matrix [--trials N] [--json FILE] [PROFILE...]: the pairs of
# matrix_pairs (default: the kernel profiles that pair, and the nested
# pairs); one table of technique x pair -> successes/trials, expected, agrees.
# natemu's mapping x filtering behaviours, as sides "natemu:mapping=M,filtering=F"
# (",ports=P" with --natemu-ports P): with --natemu-grid, punch-matrix runs
# their 81 pairs (RFC 4787's grid).
natemu_grid() {
	local m f b="endpoint-independent address-dependent address-and-port-dependent"
	for m in $b; do
		for f in $b; do
			echo "natemu:mapping=$m,filtering=$f${NATEMU_GRID_PORTS:+,ports=$NATEMU_GRID_PORTS}"
		done
	done
}

# natemu's TCP settings, as sides "natemu:unsolicited-syn=S,simultaneous-open=O":
# what the NAT does with a SYN it did not ask for (drop, RST, ICMP error;
# RFC 5382 REQ-4) and whether it lets a SYN cross its own (REQ-2), with
# natemu's default port-restricted cone; --natemu-tcp-grid runs their 36
# pairs, the TCP techniques unless --techniques says otherwise.
natemu_tcp_grid() {
	local syn so
	for syn in drop rst icmp; do
		for so in on off; do
			echo "natemu:unsolicited-syn=$syn,simultaneous-open=$so"
		done
	done
}

# One pair of the grid, in the background: its summary rows, exit status,
# output and record in WORK/N.*, none shared with another pair's.
matrix_job() {
	local a=$1 b=$2 trials=$3 work=$4 n=$5
	punch_pair "$a" "$b" "$trials" "$work/$n.json" >"$work/$n.log" 2>&1 </dev/null
	echo $? >"$work/$n.rc"
	printf '%s\n' "$PUNCH_ROWS" >"$work/$n.rows"
}

cmd_punch_matrix() {
	local trials=3 json='' rc=0 a b row profiles=() jobs=${NATLAB_PUNCH_JOBS:-3} MATRIX_EXTRA=1
	local grid=0 tcp_grid=0 NATEMU_GRID_PORTS='' PUNCH_TECHNIQUES=''
	NATLAB_INET_DELAY=${NATLAB_INET_DELAY:-10}
	while [ $# -gt 0 ]; do
		case $1 in
		--trials | --json | --delay | --natemu-ports | --techniques)
			[ $# -ge 2 ] || { echo "natlab punch-matrix: $1 wants a value" >&2; exit 2; } ;;&
		--trials) punch_trials "$2"; trials=$2; shift 2 ;;
		--techniques) punch_techniques "$2"; shift 2 ;;
		--natemu-tcp-grid) tcp_grid=1; MATRIX_EXTRA=0; shift ;;
		--json) json=$2; shift 2 ;;
		--delay) punch_delay "$2"; shift 2 ;;
		--natemu-grid) grid=1; MATRIX_EXTRA=0; shift ;;
		--only-pairs) MATRIX_EXTRA=0; shift ;;
		--natemu-ports)
			case ${2:-} in preserve | sequential | random) ;; *)
				echo "natlab punch-matrix: --natemu-ports wants preserve, sequential or random, not '${2:-}'" >&2
				exit 2 ;;
			esac
			NATEMU_GRID_PORTS=$2; shift 2 ;;
		-*) usage >&2; exit 2 ;;
		*) profiles+=("$1"); shift ;;
		esac
	done
	[ "$grid" = 0 ] || mapfile -t -O "${#profiles[@]}" profiles < <(natemu_grid)
	[ "$tcp_grid" = 0 ] || mapfile -t -O "${#profiles[@]}" profiles < <(natemu_tcp_grid)
	[ "$tcp_grid" = 0 ] || PUNCH_TECHNIQUES=${PUNCH_TECHNIQUES:-tcp}
	local MATRIX_DEFAULT=0
	[ ${#profiles[@]} -gt 0 ] || { profiles=(masq masq-random masq-fully-random snat-pool cgn); MATRIX_DEFAULT=1; }
	need_root
	export NATLAB_LABECHO=0 NATLAB_INET_DELAY
	local work pairs n=0 total i
	work=$(mktemp -d)
	pairs=$(matrix_pairs "${profiles[@]}")
	total=$(wc -l <<<"$pairs")
	# Pairs are labs of their own: NATLAB_PUNCH_JOBS (3) at once.
	while read -r a b; do
		n=$((n + 1))
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		printf 'natlab punch-matrix: [%d/%d] %s + %s ...\n' "$n" "$total" "$a" "$b" >&2
		matrix_job "$a" "$b" "$trials" "$work" "$n" &
	done <<<"$pairs"
	wait
	i=0
	while read -r a b; do
		i=$((i + 1))
		case $(cat "$work/$i.rc" 2>/dev/null || echo 2) in
		0) ;; 2) rc=2 ;; *) [ "$rc" -eq 2 ] || rc=1 ;;
		esac
		[ -z "$json" ] || [ ! -f "$work/$i.json" ] || cat "$work/$i.json" >>"$json"
		while read -r row; do
			[ -n "$row" ] && echo "$a+$b $row" >>"$work/table"
		done <"$work/$i.rows"
		# A pair that gave no rows is in the table all the same, and why on stderr.
		if ! grep -q . "$work/$i.rows"; then
			echo "$a+$b - - - FAILED" >>"$work/table"
			echo "natlab punch-matrix: $a + $b gave no results:" >&2
			tail -5 "$work/$i.log" | sed 's/^/  /' >&2
		fi
	done <<<"$pairs"
	# The PAIR column as wide as its longest name (natemu's are long).
	touch "$work/table"
	awk 'NR == FNR { if (length($1) > w) w = length($1); next }
	     FNR == 1 { printf "%-*s %-29s %-8s %-8s %s\n", w, "PAIR", "TECHNIQUE", "COUNT", "EXPECTED", "RESULT" }
	     { printf "%-*s %-29s %-8s %-8s %s\n", w, $1, $2, $3, $4, $5 }
	     END { if (!w) printf "%-38s %-29s %-8s %-8s %s\n", "PAIR", "TECHNIQUE", "COUNT", "EXPECTED", "RESULT" }' \
		"$work/table" "$work/table"
	rm -rf "$work"
	return "$rc"
}
