# shellcheck shell=bash disable=SC2034
# udp-blocked: a masquerading NAT that forwards no UDP at all.
#
#   cli1 10.0.1.2 --+
#                   +-- lan 10.0.1.1 [nat] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 10.0.1.3 --+
#
# Some enterprise and hotel networks pass only TCP. UDP checks cannot run
# here; TCP must still get through.

PROFILE_DESC="masquerade, but every forwarded UDP packet dropped"
EXPECT_UDP=blocked
EXPECT_TCP=pass
EXPECT_SYN=rst
EXPECT_NAT=true
# Its TCP goes through masquerade as usual.
EXPECT_TCP_MAPPING=endpoint-independent
EXPECT_TCP_FILTERING=address-and-port-dependent
EXPECT_TCP_SYN=rst
EXPECT_SYN_MAPPED=rst
EXPECT_TCP_SIMOPEN=true
EXPECT_TCP_HAIRPIN=false
EXPECT_TCP_ICMP=true
EXPECT_TCP_ICMP_KEPT=true
EXPECT_TCP_SYN_HOLD=rst
EXPECT_TCP_OVERLOADING=true
# Its one NAT is seen in conntrack through a TCP flow.
EXPECT_DEPTH=1
EXPECT_CGN=false
CT_ROLE=nat

profile_up() {
	lab_home_nat 'oifname "wan" masquerade'
	lab_nft nat 'table inet natlab-filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		meta l4proto udp drop
	}
}'
}
