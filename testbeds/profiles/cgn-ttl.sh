# shellcheck shell=bash disable=SC2034
# cgn-ttl: upnp-cgn with a CGN that hides from TTL sweeps: it sets the TTL
# of every packet from its inside to 64 (nftables "ip ttl set"), as some
# carrier equipment does, so a datagram that would expire at it passes.
#
#   cli1 192.168.1.2 --+
#                      +-- lan [home + miniupnpd] wan 100.64.0.2 --- lan 100.64.0.1 [cgn, TTL 64] wan 203.0.113.1 --- inet --- refl
#   cli2 192.168.1.3 --+
#
# A TTL sweep sees the home router at hop 1 and public routers next: one
# NAT. The home router's answer (no public address) says two. The methods
# disagree, so the depth is inconclusive with both answers: never 1.

PROFILE_DESC="CGN that does not decrement TTL, miniupnpd home behind it"
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
EXPECT_DEPTH=2
EXPECT_CGN=true
# What natprobe can see: the gateway says two NATs, the sweep one; the
# methods disagree, so both verdicts are inconclusive (null), never 1.
EXPECT_PROBE_DEPTH=null
EXPECT_PROBE_CGN=null
EXPECT_PORTMAP=none
EXPECT_GATEWAY_EXTERNAL=none
CT_ROLE=cgn

profile_up() {
	lab_internet
	lab_nat cgn inet wan-a 203.0.113.1/25 203.0.113.126 100.64.0.1/10
	lab_snat cgn 'oifname "wan" masquerade'
	lab_nft cgn 'table ip natlab_ttl {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		iifname "lan" ip ttl set 64
	}
}'
	lab_cgn_home home 100.64.0.2 192.168.1 cli1 cli2
	lab_miniupnpd home 192.168.1.0/24
}
