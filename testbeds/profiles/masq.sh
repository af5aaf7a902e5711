# shellcheck shell=bash disable=SC2034
# masq: a home NAT doing nftables masquerade, the Linux default.
#
#   cli1 10.0.1.2 --+
#                   +-- lan 10.0.1.1 [nat] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 10.0.1.3 --+
#
# Linux keeps the inside source port when it is free, and one conntrack entry
# per 5-tuple. So the same inside endpoint keeps its public port towards every
# destination (endpoint-independent mapping, as far as flows can tell), while
# only the exact remote endpoint of an entry gets in (address-and-port-dependent
# filtering). Linux subtleties: two inside hosts using the same port towards
# *different* destinations may share one public port, since the 5-tuples
# differ; and a UDP entry lives nf_conntrack_udp_timeout (30 s) even after a
# reply, and nf_conntrack_udp_timeout_stream (120 s) only once traffic has
# flowed both ways for over 2 s (EXPECT_CT_TIMEOUTS). There is no hairpin
# without an explicit DNAT rule. An unsolicited SYN to the public address
# reaches the NAT box's own closed port, so it gets a RST (RFC 5382 7.1).

PROFILE_DESC="nftables masquerade, ports preserved"
EXPECT_UDP=pass
EXPECT_TCP=pass
EXPECT_SYN=rst
EXPECT_NAT=true
EXPECT_MAPPING=endpoint-independent
EXPECT_TCP_MAPPING=endpoint-independent
EXPECT_TCP_FILTERING=address-and-port-dependent
EXPECT_TCP_SYN=rst
EXPECT_SYN_MAPPED=rst
EXPECT_TCP_SIMOPEN=true
EXPECT_TCP_HAIRPIN=false
EXPECT_TCP_ICMP=true
EXPECT_TCP_ICMP_KEPT=true
EXPECT_TCP_SYN_HOLD=rst
EXPECT_FILTERING=address-and-port-dependent
EXPECT_PORT=preserving
EXPECT_POOL=single
EXPECT_OVERLOADING=true
EXPECT_TCP_OVERLOADING=true
EXPECT_HAIRPIN=false
EXPECT_CT_TIMEOUTS=30/120
EXPECT_DEPTH=1
EXPECT_CGN=false
CT_ROLE=nat

profile_up() {
	lab_home_nat 'oifname "wan" masquerade'
}
