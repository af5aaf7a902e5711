# shellcheck shell=bash
# natlab punch: pair labs, and natprobe punch through them (README, "Labs").
#
#   cli1 10.0.1.2 -- [nat: PROFILE_A] wan 203.0.113.1 --- wan-a [inet] wan-b --- wan 198.51.100.1 [natb: PROFILE_B] -- peer 10.0.2.2
#                                                           |
#                                                          refl (natreflector with a session secret)
#
# Side A is the profile's own lab; side B is the same NAT built again as natb
# on wan-b (LAB_SIDE=b). That works for profiles whose NAT is one masquerade
# or one natemu (masq, masq-random, masq-fully-random, natemu): the others
# put addresses of wan-a's network into their rules, or build more than one
# NAT, and are refused as the second side.

PUNCH_PAIRABLE="masq masq-random masq-fully-random natemu"

pairable() {
	case " $PUNCH_PAIRABLE " in *" $1 "*) return 0 ;; esac
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
		--rate 0 --no-tcp --session-secret "$dir/secret" >"$dir/natreflector.log" 2>&1 &
	lab_pid $!
	for _ in $(seq 100); do
		grep -q '^natreflector ready' "$dir/natreflector.log" && return 0
		sleep 0.02
	done
	echo "natlab punch: natreflector did not start in lab $LAB_ID" >&2
	return 1
}

# Both probes; cli1's record appended to JSON (if given). PUNCH_RC: cli1's
# exit status, then peer's.
pair_probes() {
	local label=$1 trials=$2 json=$3 dir ra rb
	dir=$(lab_state_dir)
	in_ns peer "$NATLAB_BIN/natprobe" punch --session "$PUNCH_SESSION" --key "$PUNCH_KEY" \
		--trials "$trials" --json "$dir/peer.json" 203.0.113.10 >"$dir/peer.out" 2>&1 &
	local p=$!
	in_ns cli1 "$NATLAB_BIN/natprobe" punch --session "$PUNCH_SESSION" --key "$PUNCH_KEY" \
		--trials "$trials" --label "$label" --json "$dir/cli1.json" 203.0.113.10 \
		>"$dir/cli1.out" 2>&1
	ra=$?
	wait "$p"
	rb=$?
	PUNCH_RC="$ra $rb"
	[ -z "$json" ] || cat "$dir/cli1.json" >>"$json"
}

# One pair: build, punch, tear down. Prints cli1's summary; PUNCH_ROWS gets
# one "technique count expected agrees" line per technique.
punch_pair() {
	local a=$1 b=$2 trials=$3 json=$4 dir
	pairable "$a" && pairable "$b" || return 2
	pair_up "$a" "$b"
	dir=$(lab_state_dir)
	pair_reflector || { lab_teardown; return 2; }
	pair_probes "natlab:$a+$b" "$trials" "$json"
	PUNCH_ROWS=$(sed -n 's/^  \([a-z-]*\) *\([0-9]*\/[0-9]*\).*expected \([a-z]*\): \(.*\)$/\1 \2 \3 \4/p' \
		"$dir/cli1.out")
	sed 's/^/  /' "$dir/cli1.out" | grep -v 'trial [0-9]*: '
	lab_teardown
	case $PUNCH_RC in "0 0") return 0 ;; *) return 1 ;; esac
}

# natlab punch [--trials N] [--json FILE] PROFILE_A PROFILE_B
cmd_punch() {
	local trials=5 json=''
	while [ $# -gt 2 ]; do
		case $1 in
		--trials) trials=$2 ;;
		--json) json=$2 ;;
		*) usage >&2; exit 2 ;;
		esac
		shift 2
	done
	[ $# -eq 2 ] || { usage >&2; exit 2; }
	need_root
	export NATLAB_LABECHO=0 # the reflector host's ports are natreflector's
	echo "natlab punch: $1 (cli1) and $2 (peer), $trials trials per technique"
	punch_pair "$1" "$2" "$trials" "$json"
}

# natlab punch-matrix [--trials N] [--json FILE] [PROFILE...]: every ordered
# pair of the profiles (default: the kernel ones that pair); one table of
# technique x pair -> successes/trials, expected, agrees.
cmd_punch_matrix() {
	local trials=3 json='' rc=0 a b row profiles=()
	while [ $# -gt 0 ]; do
		case $1 in
		--trials) trials=$2; shift 2 ;;
		--json) json=$2; shift 2 ;;
		-*) usage >&2; exit 2 ;;
		*) profiles+=("$1"); shift ;;
		esac
	done
	[ ${#profiles[@]} -gt 0 ] || profiles=(masq masq-random masq-fully-random)
	need_root
	export NATLAB_LABECHO=0
	local table
	table=$(mktemp)
	for a in "${profiles[@]}"; do
		for b in "${profiles[@]}"; do
			printf 'natlab punch-matrix: %s + %s ...\n' "$a" "$b" >&2
			punch_pair "$a" "$b" "$trials" "$json" >/dev/null
			case $? in 0) ;; 2) rc=2 ;; *) [ "$rc" -eq 2 ] || rc=1 ;; esac
			while read -r row; do
				[ -n "$row" ] && echo "$a+$b $row" >>"$table"
			done <<<"$PUNCH_ROWS"
		done
	done
	printf '%-38s %-26s %-8s %-8s %s\n' PAIR TECHNIQUE COUNT EXPECTED RESULT
	awk '{ printf "%-38s %-26s %-8s %-8s %s\n", $1, $2, $3, $4, $5 }' "$table"
	rm -f "$table"
	return "$rc"
}
