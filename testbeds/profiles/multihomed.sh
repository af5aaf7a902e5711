# shellcheck shell=bash disable=SC2034
# multihomed: a host with two public addresses, no NAT, no firewall.
#
#   cli1 203.0.113.130, 198.51.100.130 --+
#        2001:db8:0:1::130, 2001:db8:0:2::130
#                                        +-- lan [rtr] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 203.0.113.131 ------------------+          2001:db8::1                          2001:db8::10, ::11
#
#   cli1's routes: default via 203.0.113.129 (source 203.0.113.130), but
#     203.0.113.11/32 via 198.51.100.129 src 198.51.100.130; and the same in
#     IPv6: default via 2001:db8:0:1::1 (source 2001:db8:0:1::130), but
#     2001:db8::11/128 via 2001:db8:0:2::1 src 2001:db8:0:2::130.
#
# rtr is a plain router (forwarding, no nftables at all) for two prefixes of
# each family, as a host with addresses from two providers has; inet routes
# 203.0.113.128/25, 198.51.100.128/25, 2001:db8:0:1::/64 and 2001:db8:0:2::/64
# to it. Nothing is translated and nothing filtered: the mapping is none, any
# endpoint may answer (endpoint-independent filtering), ports are the
# sockets' own, and an unsolicited SYN meets cli1's closed port: RST.
#
# The trap this lab sets: a socket bound to the wildcard address takes its
# source per destination, so toward the reflector's alternate address it
# leaves from the second address (EXPECT_SOURCES: what such sockets show
# toward the primary and the alternate). A probe that does not bind its
# sockets to one local address sees another internal endpoint there and
# takes it for address-dependent mapping and arbitrary pooling. labecho binds
# each check's socket to cli1's first address, as the NAT checks need; the
# sources rows use unbound sockets, over IPv4 and IPv6.

PROFILE_DESC="two public addresses, no NAT; the route to the alternate leaves from the second"
EXPECT_UDP=pass
EXPECT_TCP=pass
EXPECT_SYN=rst
EXPECT_NAT=false
EXPECT_MAPPING=none
EXPECT_TCP_MAPPING=none
EXPECT_TCP_FILTERING=endpoint-independent
EXPECT_TCP_SYN=pass
EXPECT_SYN_MAPPED=pass
EXPECT_TCP_SIMOPEN=true
EXPECT_TCP_HAIRPIN=not-applicable
EXPECT_TCP_ICMP=true
EXPECT_TCP_ICMP_KEPT=true
EXPECT_TCP_SYN_HOLD=pass
EXPECT_FILTERING=endpoint-independent
EXPECT_PORT=preserving
EXPECT_POOL=single
EXPECT_OVERLOADING=not-applicable
EXPECT_TCP_OVERLOADING=not-applicable
EXPECT_HAIRPIN=not-applicable
EXPECT_SOURCES=different
EXPECT_SOURCES6=different
EXPECT_DEPTH=0
EXPECT_CGN=false
CT_ROLE=

profile_up() {
	lab_internet
	lab_internet6
	lab_nat rtr inet wan-a 203.0.113.1/25 203.0.113.126 203.0.113.129/25
	lab_addr rtr lan 198.51.100.129/25
	in_ns rtr sysctl -qw net.ipv6.conf.all.forwarding=1
	lab_addr6 rtr wan 2001:db8::1/64
	lab_addr6 rtr lan 2001:db8:0:1::1/64 2001:db8:0:2::1/64
	lab_route6 rtr 2001:db8::126
	ip -n "$(ns inet)" route add 198.51.100.128/25 via 203.0.113.1
	ip -n "$(ns inet)" -6 route add 2001:db8:0:1::/64 via 2001:db8::1
	ip -n "$(ns inet)" -6 route add 2001:db8:0:2::/64 via 2001:db8::1

	lab_client cli1 rtr 203.0.113.130/25 203.0.113.129
	lab_addr cli1 eth0 198.51.100.130/25
	ip -n "$(ns cli1)" route add "$REFL_ALTERNATE/32" via 198.51.100.129 src 198.51.100.130
	lab_addr6 cli1 eth0 2001:db8:0:1::130/64 2001:db8:0:2::130/64
	lab_route6 cli1 2001:db8:0:1::1
	ip -n "$(ns cli1)" -6 route add "$REFL_ALTERNATE6/128" via 2001:db8:0:2::1 \
		src 2001:db8:0:2::130

	lab_client cli2 rtr 203.0.113.131/25 203.0.113.129
}
