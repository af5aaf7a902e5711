# shellcheck shell=bash disable=SC2034
# masq-random: masquerade with the "random" flag.
#
#   cli1 10.0.1.2 --+
#                   +-- lan 10.0.1.1 [nat] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 10.0.1.3 --+
#
# "random" (NF_NAT_RANGE_PROTO_RANDOM) stops Linux keeping the inside port: the
# public port is drawn from a keyed hash of source address, destination address
# and destination port. A new destination endpoint gets a new public port:
# address-and-port-dependent mapping, ports not preserved.

PROFILE_DESC="nftables masquerade random: port from a hash of the destination"
EXPECT_UDP=pass
EXPECT_TCP=pass
EXPECT_SYN=rst
EXPECT_NAT=true
EXPECT_MAPPING=address-and-port-dependent
EXPECT_TCP_MAPPING=address-and-port-dependent
EXPECT_TCP_FILTERING=address-and-port-dependent
EXPECT_TCP_SYN=rst
EXPECT_SYN_MAPPED=rst
EXPECT_TCP_SIMOPEN=true
EXPECT_TCP_HAIRPIN=false
EXPECT_TCP_ICMP=true
EXPECT_TCP_ICMP_KEPT=true
EXPECT_TCP_SYN_HOLD=rst
EXPECT_FILTERING=address-and-port-dependent
EXPECT_PORT=not-preserving
EXPECT_POOL=single
EXPECT_OVERLOADING=false
EXPECT_TCP_OVERLOADING=false
EXPECT_HAIRPIN=false
EXPECT_DEPTH=1
EXPECT_CGN=false
CT_ROLE=nat

profile_up() {
	lab_home_nat 'oifname "wan" masquerade random'
}
