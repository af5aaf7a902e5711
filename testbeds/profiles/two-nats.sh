# shellcheck shell=bash disable=SC2034
# two-nats: two different home NATs, both masquerade, for traversal between them.
#
#   cli1 10.0.1.2 --+
#                   +-- lan [nat] wan 203.0.113.1 --- wan-a [inet] wan-b --- wan 198.51.100.1 [natb] lan -- peer 10.0.2.2
#   cli2 10.0.1.3 --+                                   |
#                                                     refl
#
# The checks run behind the first NAT; the second exists for natprobe's
# traversal trials (udp-hole-punching between different NATs).

PROFILE_DESC="two masquerading NATs on different networks"
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
EXPECT_DEPTH=1
EXPECT_CGN=false
CT_ROLE=nat

profile_up() {
	lab_home_nat 'oifname "wan" masquerade'
	lab_nat natb inet wan-b 198.51.100.1/25 198.51.100.126 10.0.2.1/24
	lab_snat natb 'oifname "wan" masquerade'
	lab_client peer natb 10.0.2.2/24 10.0.2.1
}
