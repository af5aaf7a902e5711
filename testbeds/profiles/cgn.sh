# shellcheck shell=bash disable=SC2034
# cgn: a home NAT behind a carrier-grade NAT (NAT444), both masquerade.
#
#   cli1 192.168.1.2 --+
#                      +-- lan [home] wan 100.64.0.2 --- lan 100.64.0.1 [cgn] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 192.168.1.3 --+
#
# The realm between the two NATs is RFC 6598's 100.64.0.0/10. Both NATs keep
# ports, so the pair behaves like one port-preserving masquerade; conntrack is
# checked in the outer NAT, whose entry holds the public mapping.

PROFILE_DESC="home masquerade behind a CGN masquerade (100.64.0.0/10)"
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
CT_ROLE=cgn

# As the second side of a pair lab (natlab punch A cgn): a CGN of its own,
# cgnb on wan-b (198.51.100.1), with one home and its host, peer. cgn_up and
# cgn_role are also the labs' that build on this one (upnp-cgn).
cgn_role() { if lab_side_b; then echo "$1b"; else echo "$1"; fi; }
cgn_up() {
	if lab_side_b; then
		lab_nat cgnb inet wan-b 198.51.100.1/25 198.51.100.126 100.64.0.1/10
		lab_snat cgnb 'oifname "wan" masquerade'
		LAB_CGN_ROLE=cgnb lab_cgn_home homeb 100.64.0.2 192.168.2 peer
		return
	fi
	lab_internet
	lab_nat cgn inet wan-a 203.0.113.1/25 203.0.113.126 100.64.0.1/10
	lab_snat cgn 'oifname "wan" masquerade'
	lab_cgn_home home 100.64.0.2 192.168.1 cli1 cli2
}

profile_up() { cgn_up; }
