# shellcheck shell=bash disable=SC2034
# snat-pool-persistent: SNAT to a pool of two addresses, "persistent".
#
#   cli1 10.0.1.2 --+
#                   +-- lan 10.0.1.1 [nat] wan 203.0.113.1, .2 --- wan-a [inet] --- refl
#   cli2 10.0.1.3 --+
#
# "persistent" leaves the destination out of the pool hash: an inside host
# keeps one public address towards everyone ("paired" pooling, RFC 4787 REQ-2).

PROFILE_DESC="nftables snat to a two-address pool, persistent (paired pooling)"
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
	lab_home_nat "oifname \"wan\" snat to $(lab_home_wan 1)-$(lab_home_wan 2) persistent"
	lab_addr "$(lab_home_role)" wan "$(lab_home_wan 2)/25"
}
