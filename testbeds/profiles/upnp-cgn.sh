# shellcheck shell=bash disable=SC2034
# upnp-cgn: the upnp home router behind a carrier-grade NAT (NAT444).
#
#   cli1 192.168.1.2 --+
#                      +-- lan [home + miniupnpd] wan 100.64.0.2 --- lan 100.64.0.1 [cgn] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 192.168.1.3 --+
#
# As most home routers behind a CGN: miniupnpd answers every protocol but
# has no public address to give, so it maps nothing (NAT-PMP and PCP say
# network failure, UPnP an empty external address). That answer, beside the
# public address the reflector sees, is the second NAT's evidence, as is the
# CGN's 100.64.0.1 at hop 2 of a TTL sweep.

PROFILE_DESC="miniupnpd home router behind a CGN masquerade"
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
EXPECT_PORTMAP=none
EXPECT_GATEWAY_EXTERNAL=none
CT_ROLE=cgn

# As the second side of a pair lab: a CGN of its own on wan-b, with one
# miniupnpd home and its host, peer.
profile_up() {
	if lab_side_b; then
		lab_nat cgnb inet wan-b 198.51.100.1/25 198.51.100.126 100.64.0.1/10
		lab_snat cgnb 'oifname "wan" masquerade'
		LAB_CGN_ROLE=cgnb lab_cgn_home homeb 100.64.0.2 192.168.2 peer
		lab_miniupnpd homeb 192.168.2.0/24
		return
	fi
	lab_internet
	lab_nat cgn inet wan-a 203.0.113.1/25 203.0.113.126 100.64.0.1/10
	lab_snat cgn 'oifname "wan" masquerade'
	lab_cgn_home home 100.64.0.2 192.168.1 cli1 cli2
	lab_miniupnpd home 192.168.1.0/24
}
