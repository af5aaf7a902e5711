# shellcheck shell=bash disable=SC2034
# snat-pool: SNAT to a pool of two public addresses.
#
#   cli1 10.0.1.2 --+
#                   +-- lan 10.0.1.1 [nat] wan 203.0.113.1, .2 --- wan-a [inet] --- refl
#   cli2 10.0.1.3 --+
#
# Without "persistent" Linux picks the pool address from a hash of the inside
# address and the destination address (nf_nat_core.c, find_best_ips_proto), so
# one inside host appears from different public addresses towards different
# destinations: "arbitrary" pooling in RFC 4787's words. But an inside
# endpoint that already has a mapping keeps it (find_appropriate_src), so the
# mapping itself stays endpoint-independent: the pool shows only across inside
# ports. The hash has no random key, so with this lab's fixed addresses the
# outcome is the same on every run.

PROFILE_DESC="nftables snat to 203.0.113.1-203.0.113.2, arbitrary pooling"
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
EXPECT_POOL=several
EXPECT_OVERLOADING=false
EXPECT_TCP_OVERLOADING=false
EXPECT_HAIRPIN=false
EXPECT_DEPTH=1
EXPECT_CGN=false
CT_ROLE=nat

profile_up() {
	lab_home_nat "oifname \"wan\" snat to $(lab_home_wan 1)-$(lab_home_wan 2)"
	lab_addr "$(lab_home_role)" wan "$(lab_home_wan 2)/25"
}
