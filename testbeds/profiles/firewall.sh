# shellcheck shell=bash disable=SC2034
# firewall: a stateful firewall, no NAT.
#
#   cli1 203.0.113.130 --+
#                        +-- lan 203.0.113.129 [fw] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 203.0.113.131 --+
#
# The clients have public addresses (203.0.113.128/25, routed to the firewall).
# Outbound flows create conntrack entries; inbound packets pass only as replies
# to one: no translation, address-and-port-dependent filtering.

PROFILE_DESC="stateful firewall without NAT"
EXPECT_UDP=pass
EXPECT_TCP=pass
EXPECT_SYN=drop
EXPECT_NAT=false
EXPECT_MAPPING=none
EXPECT_TCP_MAPPING=none
EXPECT_TCP_FILTERING=address-and-port-dependent
EXPECT_TCP_SYN=drop
EXPECT_SYN_MAPPED=drop
EXPECT_TCP_SIMOPEN=true
EXPECT_TCP_HAIRPIN=not-applicable
EXPECT_TCP_ICMP=true
EXPECT_TCP_ICMP_KEPT=true
EXPECT_TCP_SYN_HOLD=held
EXPECT_FILTERING=address-and-port-dependent
EXPECT_PORT=preserving
EXPECT_POOL=single
EXPECT_OVERLOADING=not-applicable
EXPECT_TCP_OVERLOADING=not-applicable
EXPECT_HAIRPIN=not-applicable
EXPECT_DEPTH=0
EXPECT_CGN=false
CT_ROLE=fw

profile_up() {
	lab_internet
	lab_nat fw inet wan-a 203.0.113.1/25 203.0.113.126 203.0.113.129/25
	lab_nft fw 'table inet natlab {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" accept
	}
}'
	lab_client cli1 fw 203.0.113.130/25 203.0.113.129
	lab_client cli2 fw 203.0.113.131/25 203.0.113.129
}
