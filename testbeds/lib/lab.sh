# shellcheck shell=bash
# natlab's lab building blocks, sourced by testbeds/natlab and the profiles.
#
# Every namespace is named nl<ID>-<role>, where ID is unique per lab, and is
# written to the lab's state folder the moment it exists: teardown removes
# exactly what the lab created, whatever point its set-up reached.
#
# The "internet" every profile shares (lab_internet):
#
#                       inet (router, forwarding on, no NAT)
#         wan-a 203.0.113.126/25              wan-b 198.51.100.126/25
#          |        |        |                  |
#        refl    NAT A     (CGN)              NAT B
#   refl: 203.0.113.10 and .11 (primary and alternate), .12-.15 more peers;
#   labecho answers on .10 and .11 ports 3478/3479 and on .12-.15 port 3478.
#   203.0.113.128/25 is routed to 203.0.113.1, for a LAN without NAT.
#   IPv6 only where a profile asks for it (lab_internet6): wan-a also carries
#   2001:db8::/64, inet 2001:db8::126, refl 2001:db8::10 and ::11.

NATLAB_STATE=${NATLAB_STATE:-/run/natlab}
REFL_PRIMARY=203.0.113.10
REFL_ALTERNATE=203.0.113.11
REFL_PEERS="203.0.113.12 203.0.113.13 203.0.113.14 203.0.113.15"
REFL_PRIMARY6=2001:db8::10
REFL_ALTERNATE6=2001:db8::11

lab_fail() {
	echo "natlab: $*" >&2
	exit 2
}

ns() { echo "nl${LAB_ID}-$1"; }

# Run a command in a role's namespace.
in_ns() {
	local role=$1
	shift
	ip netns exec "$(ns "$role")" "$@"
}

lab_state_dir() { echo "$NATLAB_STATE/labs/$LAB_ID"; }

lab_new_id() {
	local id
	for _ in 1 2 3 4 5; do
		id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
		if [ ! -e "$NATLAB_STATE/labs/$id" ]; then
			echo "$id"
			return 0
		fi
	done
	lab_fail "cannot find a free lab id in $NATLAB_STATE/labs"
}

lab_host() {
	local role=$1 name
	name=$(ns "$role")
	ip netns add "$name" || lab_fail "cannot create namespace $name"
	echo "$name" >>"$(lab_state_dir)/namespaces"
	ip -n "$name" link set lo up
	# br_netfilter is built into these kernels: bridged frames must not pass
	# through conntrack, or a bridge would act as a second NAT hop.
	in_ns "$role" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
}

lab_forwarding() {
	in_ns "$1" sysctl -qw net.ipv4.ip_forward=1
}

lab_bridge() {
	local role=$1 br=$2
	ip -n "$(ns "$role")" link add "$br" type bridge
	ip -n "$(ns "$role")" link set "$br" up
}

# A veth pair from role A's interface to a port of role B's bridge.
lab_plug() {
	local role=$1 ifname=$2 upstream=$3 bridge=$4
	local port="p-$role"
	ip -n "$(ns "$upstream")" link add "$port" type veth peer name "$ifname" netns "$(ns "$role")"
	ip -n "$(ns "$upstream")" link set "$port" master "$bridge" up
	ip -n "$(ns "$role")" link set "$ifname" up
}

lab_addr() {
	local role=$1 ifname=$2
	shift 2
	for a in "$@"; do
		ip -n "$(ns "$role")" addr add "$a" dev "$ifname"
	done
}

lab_route() {
	ip -n "$(ns "$1")" route add default via "$2"
}

# lab_addr6 ROLE IFACE ADDR/PFX...: IPv6 addresses, usable at once (no
# duplicate address detection: nothing else in a lab holds them).
lab_addr6() {
	local role=$1 ifname=$2
	shift 2
	for a in "$@"; do
		ip -n "$(ns "$role")" -6 addr add "$a" dev "$ifname" nodad
	done
}

lab_route6() {
	ip -n "$(ns "$1")" -6 route add default via "$2"
}

# Remember a background process of the lab, to stop it by PID at teardown.
lab_pid() {
	echo "$1" >>"$(lab_state_dir)/pids"
}

lab_internet() {
	lab_host inet
	lab_forwarding inet
	lab_bridge inet wan-a
	lab_bridge inet wan-b
	lab_addr inet wan-a 203.0.113.126/25
	lab_addr inet wan-b 198.51.100.126/25
	ip -n "$(ns inet)" route add 203.0.113.128/25 via 203.0.113.1

	lab_host refl
	lab_plug refl eth0 inet wan-a
	local a
	lab_addr refl eth0 "$REFL_PRIMARY/25" "$REFL_ALTERNATE/25"
	for a in $REFL_PEERS; do
		lab_addr refl eth0 "$a/25"
	done
	lab_route refl 203.0.113.126

	# NATLAB_INET_DELAY=MS: a one-way delay between wan-a and wan-b.
	[ "${NATLAB_INET_DELAY:-0}" = 0 ] || lab_inet_delay "$NATLAB_INET_DELAY"

	# NATLAB_LABECHO=0 leaves the reflector host's ports free for natreflector.
	[ "${NATLAB_LABECHO:-1}" = 0 ] && return 0
	local endpoints="$REFL_PRIMARY:3478 $REFL_PRIMARY:3479 $REFL_ALTERNATE:3478 $REFL_ALTERNATE:3479"
	for a in $REFL_PEERS; do
		endpoints="$endpoints $a:3478"
	done
	# shellcheck disable=SC2086
	ip netns exec "$(ns refl)" "$NATLAB_BIN/labecho" serve --for 86400 $endpoints \
		>"$(lab_state_dir)/labecho.log" 2>&1 &
	lab_pid $!
}

# A one-way delay of MS on inet's routed path between wan-a and wan-b (so
# between NAT B and everything on wan-a, NAT A included; wan-a's own hosts
# still reach each other directly): natemu --forward-only does inet's
# forwarding, a router's TTL decrement and ICMP time exceeded included, with
# its --delay. This kernel has no netem; a pair lab needs a path slower than
# the start skew of its two probes (README, "Pair labs"). NATLAB_INET_OPTIONS:
# more natemu options for it (--ttl-exceeded drop, --loss PCT).
lab_inet_delay() {
	local ms=$1 log
	log="$(lab_state_dir)/natemu-inet.log"
	in_ns inet sysctl -qw net.ipv4.ip_forward=0
	lab_nft inet 'table netdev delay {
	chain a {
		type filter hook ingress device "wan-a" priority 0; policy accept;
		ether type ip drop
	}
	chain b {
		type filter hook ingress device "wan-b" priority 0; policy accept;
		ether type ip drop
	}
}'
	# shellcheck disable=SC2086 # a list of options
	ip netns exec "$(ns inet)" "$NATLAB_BIN/natemu" --forward-only --inside wan-a \
		--outside wan-b --delay "$ms" ${NATLAB_INET_OPTIONS:-} >"$log" 2>&1 &
	lab_natemu_ready $! "$log" "natemu (inet delay)"
}

# lab_natemu_ready PID LOG WHAT: remember natemu's PID for teardown and wait
# (1 s at most) for its "natemu ready"; a lab failure if it dies or is late.
lab_natemu_ready() {
	local pid=$1 log=$2 what=$3
	lab_pid "$pid"
	for _ in $(seq 50); do
		grep -q '^natemu ready' "$log" && return 0
		kill -0 "$pid" 2>/dev/null || lab_fail "$what did not start: $(cat "$log")"
		sleep 0.02
	done
	lab_fail "$what not ready after 1 s: $(cat "$log")"
}

# IPv6 on the internet of lab_internet (called after it): inet routes IPv6
# too, wan-a carries 2001:db8::/64, and refl has the reflector's IPv6
# primary and alternate, where labecho (unless NATLAB_LABECHO=0) answers on
# ports 3478/3479 as it does on the IPv4 ones. A profile routes its own
# prefixes in inet.
lab_internet6() {
	in_ns inet sysctl -qw net.ipv6.conf.all.forwarding=1
	lab_addr6 inet wan-a 2001:db8::126/64
	lab_addr6 refl eth0 "$REFL_PRIMARY6/64" "$REFL_ALTERNATE6/64"
	lab_route6 refl 2001:db8::126

	[ "${NATLAB_LABECHO:-1}" = 0 ] && return 0
	ip netns exec "$(ns refl)" "$NATLAB_BIN/labecho" serve --for 86400 \
		"[$REFL_PRIMARY6]:3478" "[$REFL_PRIMARY6]:3479" "[$REFL_ALTERNATE6]:3478" \
		"[$REFL_ALTERNATE6]:3479" >"$(lab_state_dir)/labecho6.log" 2>&1 &
	lab_pid $!
}

# lab_cgn_home ROLE WAN NET CLIENT...: a home masquerade on the lan of the
# role "cgn" (LAB_CGN_ROLE, when set: cgnb, cgn's second side in a pair lab)
# at 100.64.0.1/10, its WAN address WAN, its LAN NET.0/24 (NET.1 itself),
# and clients on it, NET.2 onwards (cgn, cgn-homes, ...).
lab_cgn_home() {
	local role=$1 wan=$2 net=$3 host=2 c
	shift 3
	lab_nat "$role" "${LAB_CGN_ROLE:-cgn}" lan "$wan/10" 100.64.0.1 "$net.1/24"
	lab_snat "$role" 'oifname "wan" masquerade'
	for c in "$@"; do
		lab_client "$c" "$role" "$net.$host/24" "$net.1"
		host=$((host + 1))
	done
}

# lab_nat ROLE UPSTREAM BRIDGE OUTSIDE/PFX GATEWAY INSIDE/PFX
# A router with forwarding on: "wan" plugged into UPSTREAM's BRIDGE, and a
# bridge "lan" for its clients. Its NAT rules come from lab_nft.
lab_nat() {
	local role=$1 upstream=$2 bridge=$3 outside=$4 gateway=$5 inside=$6
	lab_host "$role"
	lab_forwarding "$role"
	lab_plug "$role" wan "$upstream" "$bridge"
	lab_addr "$role" wan "$outside"
	lab_route "$role" "$gateway"
	lab_bridge "$role" lan
	lab_addr "$role" lan "$inside"
}

# lab_client ROLE NAT ADDR/PFX GATEWAY
# A client takes packets whose source is its own address (accept_local, and no
# strict reverse-path filter): a NAT that hairpins with the internal source
# sends two sockets of one host exactly that, and natprobe must be able to see
# it. Hosts outside labs usually drop them; natprobe then says so.
lab_client() {
	local role=$1 nat=$2 addr=$3 gateway=$4
	lab_host "$role"
	in_ns "$role" sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
	lab_plug "$role" eth0 "$nat" lan
	lab_addr "$role" eth0 "$addr"
	lab_route "$role" "$gateway"
}

# lab_nft ROLE RULESET: load an nftables ruleset into a role's namespace.
lab_nft() {
	printf '%s\n' "$2" | in_ns "$1" nft -f - || lab_fail "nft rejected the ruleset for $1"
}

# The usual source NAT: lab_snat ROLE 'oifname "wan" masquerade'
lab_snat() {
	lab_nft "$1" "table ip natlab {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		$2
	}
}"
}

# The one-NAT topology most profiles share, with the given postrouting rule:
#
#   cli1 10.0.1.2 --+
#                   +-- lan 10.0.1.1 [nat] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 10.0.1.3 --+
# The second side of a pair lab (LAB_SIDE=b, natlab punch): the same NAT as
# natb on wan-b, 198.51.100.1, with one inside host, peer 10.0.2.2.
lab_side_b() { [ "${LAB_SIDE:-a}" = b ]; }

# This side's home NAT (nat, or natb on side b) and its Nth public address
# (203.0.113.N, or 198.51.100.N on side b): for profiles whose rules name
# their public addresses (snat-pool).
lab_home_role() { if lab_side_b; then echo natb; else echo nat; fi; }
lab_home_wan() { if lab_side_b; then echo "198.51.100.$1"; else echo "203.0.113.$1"; fi; }

lab_home_nat() {
	if lab_side_b; then
		lab_nat natb inet wan-b 198.51.100.1/25 198.51.100.126 10.0.2.1/24
		lab_snat natb "$1"
		lab_client peer natb 10.0.2.2/24 10.0.2.1
		return
	fi
	lab_internet
	lab_nat nat inet wan-a 203.0.113.1/25 203.0.113.126 10.0.1.1/24
	lab_snat nat "$1"
	lab_client cli1 nat 10.0.1.2/24 10.0.1.1
	lab_client cli2 nat 10.0.1.3/24 10.0.1.1
}

# lab_natemu_home KEY=VALUE...: the one-NAT topology with natemu as the NAT.
# The NAT namespace's kernel forwards nothing: forwarding off, and every IP
# frame dropped at netdev ingress of lan and wan, where libpcap has already
# seen it. ARP still reaches the kernel, which answers for the pool addresses.
# lab_natemu ROLE BRIDGE OUTSIDE/LEN GATEWAY INSIDE/LEN OPTIONS SETTING...: natemu
# as the NAT ROLE between the internet's BRIDGE and its own lan, the kernel
# forwarding nothing there; OPTIONS are natemu options (--delay 10 ...).
lab_natemu() {
	local role=$1 bridge=$2 outside=$3 gateway=$4 inside=$5 options=$6 pool a s
	shift 6
	pool=${outside%/*}
	for s in "$@"; do
		case $s in pool=*) pool=${s#pool=} ;; esac
	done
	lab_nat "$role" inet "$bridge" "$outside" "$gateway" "$inside"
	in_ns "$role" sysctl -qw net.ipv4.ip_forward=0
	for a in ${pool//,/ }; do
		[ "$a" = "${outside%/*}" ] || lab_addr "$role" wan "$a/${outside#*/}"
	done
	lab_nft "$role" 'table netdev natemu {
	chain lan {
		type filter hook ingress device "lan" priority 0; policy accept;
		ether type { ip, ip6 } drop
	}
	chain wan {
		type filter hook ingress device "wan" priority 0; policy accept;
		ether type { ip, ip6 } drop
	}
}'
	local log args=()
	log="$(lab_state_dir)/natemu-$role.log"
	for s in "$@"; do
		args+=(--set "$s")
	done
	# shellcheck disable=SC2086 # options is a list of options
	ip netns exec "$(ns "$role")" "$NATLAB_BIN/natemu" --inside lan --outside wan \
		--set "pool=$pool" $options "${args[@]}" >"$log" 2>&1 &
	lab_natemu_ready $! "$log" natemu
}

lab_natemu_home() {
	if lab_side_b; then
		lab_natemu natb wan-b 198.51.100.1/25 198.51.100.126 10.0.2.1/24 \
			"${NATEMU_OPTIONS:-}" "$@"
		lab_client peer natb 10.0.2.2/24 10.0.2.1
		return
	fi
	lab_internet
	lab_natemu nat wan-a 203.0.113.1/25 203.0.113.126 10.0.1.1/24 "${NATEMU_OPTIONS:-}" "$@"
	lab_client cli1 nat 10.0.1.2/24 10.0.1.1
	lab_client cli2 nat 10.0.1.3/24 10.0.1.1
}

# Expectations that follow from natemu settings (natemu's settings are the
# ground truth its labs are checked against). Sets EXPECT_*.
# shellcheck disable=SC2034 # the EXPECT_* are read by verify.sh
natemu_expectations() {
	local s key value
	EXPECT_UDP=pass EXPECT_TCP=pass EXPECT_NAT=true EXPECT_SYN=drop
	EXPECT_MAPPING=endpoint-independent EXPECT_FILTERING=address-and-port-dependent
	EXPECT_PORT=preserving EXPECT_POOL=single EXPECT_OVERLOADING=false EXPECT_TCP_OVERLOADING=false
	local hairpin=external pool_size=1 pooling=paired simopen=true icmp=translate
	for s in "$@"; do
		key=${s%%=*} value=${s#*=}
		case $key in
		mapping) EXPECT_MAPPING=$value ;;
		filtering) EXPECT_FILTERING=$value ;;
		# verify's inside ports are 41001-41081: a range without them
		# cannot preserve them either.
		ports) [ "$value" = preserve ] || EXPECT_PORT=not-preserving ;;
		pool) case $value in *,*) pool_size=2 ;; esac ;;
		pooling) pooling=$value ;;
		hairpin) hairpin=$value ;;
		unsolicited-syn) EXPECT_SYN=$value ;;
		simultaneous-open) [ "$value" = on ] || simopen=false ;;
		icmp) icmp=$value ;;
		esac
	done
	# natemu maps and filters TCP as it does UDP. An unsolicited SYN gets its
	# unsolicited-syn answer, at an unused port and at a mapping whose filter
	# keeps the sender out; an endpoint-independent filter lets it pass.
	EXPECT_TCP_MAPPING=$EXPECT_MAPPING
	EXPECT_TCP_FILTERING=$EXPECT_FILTERING
	EXPECT_TCP_SYN=$EXPECT_SYN
	EXPECT_SYN_MAPPED=$EXPECT_SYN
	EXPECT_TCP_SIMOPEN=$simopen
	# icmp=drop keeps the error out, kill lets it in and ends the connection.
	EXPECT_TCP_ICMP=true EXPECT_TCP_ICMP_KEPT=true
	[ "$icmp" = drop ] && EXPECT_TCP_ICMP=false
	[ "$icmp" = kill ] && EXPECT_TCP_ICMP_KEPT=false
	# A TCP connection through the NAT's own address needs the external
	# source: the inside one sends the answer around the NAT.
	EXPECT_TCP_HAIRPIN=false
	if [ "$hairpin" = external ]; then
		EXPECT_TCP_HAIRPIN=true
	fi
	# REQ-4's hold: a refused SYN dropped is held until ours goes out, which
	# reaches the reflector from the same public port only where the mapping
	# is endpoint-independent (natprobe and verify cannot tell otherwise).
	EXPECT_TCP_SYN_HOLD=$EXPECT_SYN
	if [ "$EXPECT_SYN" = drop ]; then
		EXPECT_TCP_SYN_HOLD=held
		[ "$EXPECT_MAPPING" = endpoint-independent ] || EXPECT_TCP_SYN_HOLD=inconclusive
	fi
	if [ "$EXPECT_FILTERING" = endpoint-independent ]; then
		EXPECT_SYN_MAPPED=pass EXPECT_TCP_SYN_HOLD=pass
	fi
	# Paired pooling keeps one inside host on one address, however big the pool.
	if [ "$pool_size" -gt 1 ] && [ "$pooling" = arbitrary ]; then
		EXPECT_POOL=several
	fi
	# A hairpinned packet meets the target mapping's filter like any inbound
	# one (RFC 4787 section 6): only an endpoint-independent filter lets the
	# check's packet, from a new mapping, through.
	EXPECT_HAIRPIN=false
	EXPECT_HAIRPIN_SOURCE=
	if [ "$hairpin" != off ] && [ "$EXPECT_FILTERING" = endpoint-independent ]; then
		EXPECT_HAIRPIN=true
		EXPECT_HAIRPIN_SOURCE=$hairpin
	fi
}

# lab_adopt ROLE IFACE FROM_NETNS BRIDGE: move an interface of this machine
# (FROM_NETNS empty: the host's) into a lab bridge, remembering where it came
# from so that teardown gives it back.
lab_adopt() {
	local role=$1 ifname=$2 from=$3 bridge=$4
	local src=(ip)
	[ -n "$from" ] && src=(ip -n "$from")
	"${src[@]}" link show "$ifname" >/dev/null 2>&1 ||
		lab_fail "no interface '$ifname'${from:+ in namespace $from}"
	"${src[@]}" link set "$ifname" netns "$(ns "$role")" ||
		lab_fail "cannot move $ifname into the lab (is it in use?)"
	echo "$(ns "$role") $ifname ${from:-}" >>"$(lab_state_dir)/adopted"
	ip -n "$(ns "$role")" link set "$ifname" master "$bridge" up
}

# Tear down one lab: its processes by PID, then every namespace it made.
lab_teardown() {
	local dir name pid
	dir=$(lab_state_dir)
	[ -d "$dir" ] || return 0
	if [ -f "$dir/pids" ]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done <"$dir/pids"
	fi
	if [ -f "$dir/adopted" ]; then
		local owner ifname from
		while read -r owner ifname from; do
			# Give a physical interface back before its namespace goes (the
			# kernel would, but renamed if the name was taken meanwhile).
			ip -n "$owner" link set "$ifname" nomaster 2>/dev/null || true
			if [ -n "$from" ]; then
				ip -n "$owner" link set "$ifname" netns "$from" 2>/dev/null || true
			else
				ip -n "$owner" link set "$ifname" netns 1 2>/dev/null || true
			fi
		done <"$dir/adopted"
	fi
	if [ -f "$dir/namespaces" ]; then
		while read -r name; do
			# Anything still running inside a namespace natlab made is the lab's.
			for pid in $(ip netns pids "$name" 2>/dev/null); do
				kill "$pid" 2>/dev/null || true
			done
			ip netns del "$name" 2>/dev/null || true
		done <"$dir/namespaces"
	fi
	rm -rf "$dir"
}

# A STUN server for gateways that learn their public address by STUN
# (miniupnpd's ext_perform_stun): a natreflector of the lab's own. By
# default on 203.0.113.20 and .21 (ports 3478/3479) of the reflector host,
# beside natlab's tests' reflector on .10 and .11; lab_stun_server ROLE
# IFACE PRIMARY ALTERNATE puts one elsewhere (upnp-cgn-naive: inside a
# CGN's realm). Idempotent per role.
LAB_STUN_PRIMARY=203.0.113.20
LAB_STUN_ALTERNATE=203.0.113.21
lab_stun_server() {
	local role=${1:-refl} ifname=${2:-eth0} primary=${3:-$LAB_STUN_PRIMARY}
	local alternate=${4:-$LAB_STUN_ALTERNATE} log prefix
	log="$(lab_state_dir)/stun-$role.log"
	[ -e "$log" ] && return 0
	prefix=$(ip -n "$(ns "$role")" -4 -o addr show dev "$ifname" | awk '{ sub(".*/", "", $4); print $4; exit }')
	lab_addr "$role" "$ifname" "$primary/$prefix" "$alternate/$prefix"
	ip netns exec "$(ns "$role")" "$NATLAB_BIN/natreflector" --primary "$primary" \
		--alternate "$alternate" --no-tcp >"$log" 2>&1 &
	lab_pid $!
	for _ in $(seq 50); do
		in_ns "$role" ss -Hlun "sport = :3479" | grep -q "$alternate" && return 0
		sleep 0.02
	done
	lab_fail "the lab's STUN server did not start in $(ns "$role"): $(cat "$log")"
}

# lab_miniupnpd ROLE ALLOW [stun [HOST]]: the real miniupnpd (Debian's
# miniupnpd-nftables) on a NAT's lan, serving UPnP IGD (HTTP port 5000),
# NAT-PMP and PCP (port 5351), in secure mode (a client maps only to
# itself), for clients in ALLOW (a prefix). Its nftables chains sit in
# table inet miniupnpd, beside natlab's own NAT table.
#
# miniupnpd refuses to map anything while its external address is private,
# shared (100.64.0.0/10) or a documentation range, and the lab internet is a
# documentation range: with "stun" it learns its public address from the
# lab's STUN server (HOST, else lab_stun_server's default) instead
# (ext_perform_stun), and maps only when that server's RFC 5780 tests find
# no NAT filtering in front of it, as on the internet. Without, behind a CGN, it answers but refuses: NAT-PMP and PCP
# with a network failure, UPnP with an empty external address.
lab_miniupnpd() {
	local role=$1 allow=$2 stun=${3:-} stun_host=${4:-} dir conf log
	dir=$(lab_state_dir)
	conf="$dir/miniupnpd-$role.conf"
	log="$dir/miniupnpd-$role.log"
	lab_nft "$role" 'table inet miniupnpd {
	chain forward_miniupnpd {
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		jump forward_miniupnpd
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority srcnat - 5; policy accept;
		jump postrouting_miniupnpd
	}
}'
	cat >"$conf" <<-CONF
		ext_ifname=wan
		listening_ip=lan
		port=5000
		enable_upnp=yes
		enable_natpmp=yes
		secure_mode=yes
		system_uptime=no
		upnp_table_name=miniupnpd
		upnp_nat_table_name=miniupnpd
		upnp_forward_chain=forward_miniupnpd
		upnp_nat_chain=prerouting_miniupnpd
		upnp_nat_postrouting_chain=postrouting_miniupnpd
		uuid=$(cat /proc/sys/kernel/random/uuid)
		allow 1024-65535 $allow 1024-65535
		deny 0-65535 0.0.0.0/0 0-65535
	CONF
	if [ "$stun" = stun ]; then
		[ -n "$stun_host" ] ||
			{ lab_stun_server refl eth0 && stun_host=$LAB_STUN_PRIMARY; }
		printf 'ext_perform_stun=yes\next_stun_host=%s\next_stun_port=3478\n' \
			"$stun_host" >>"$conf"
	fi
	ip netns exec "$(ns "$role")" miniupnpd -f "$conf" -d -P "$dir/miniupnpd-$role.pid" \
		>"$log" 2>&1 &
	lab_pid $!
	for _ in $(seq 100); do
		grep -q 'Listening for NAT-PMP/PCP' "$log" && return 0
		grep -q 'EXITING\|Error' "$log" && break
		sleep 0.05
	done
	lab_fail "miniupnpd did not start in $(ns "$role"): $(tail -5 "$log")"
}
