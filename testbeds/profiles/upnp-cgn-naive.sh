# shellcheck shell=bash disable=SC2034
# upnp-cgn-naive: a home router that maps behind a CGN, as many do: the
# upnp-cgn lab, but miniupnpd learns its external address by STUN from a
# server inside the CGN's realm (natreflector on the CGN's 100.64.0.3 and
# .4), so it takes its 100.64.0.2 for public and grants every mapping.
#
#   cli1 192.168.1.2 --+
#                      +-- lan [home + miniupnpd] wan 100.64.0.2 --- lan 100.64.0.1 [cgn] wan 203.0.113.1 --- inet --- refl
#   cli2 192.168.1.3 --+                                                (+ STUN 100.64.0.3/.4)
#
# Every protocol reports 100.64.0.2 and maps; nothing from outside reaches
# a mapping (the CGN masquerade's filter drops it): the case where a
# working port-mapping protocol must not work. The reported 100.64.0.2
# beside the public address the reflector sees is the second NAT's
# evidence, as is the CGN's 100.64.0.1 at hop 2.


# shellcheck source=testbeds/profiles/upnp-cgn.sh
. "${BASH_SOURCE[0]%/*}/upnp-cgn.sh"
PROFILE_DESC="miniupnpd mapping behind a CGN (its 100.64 address taken for public)"
EXPECT_PORTMAP="upnp nat-pmp"
EXPECT_GATEWAY_EXTERNAL=100.64.0.2

# As the second side of a pair lab: cgnb with its STUN server inside, and
# homeb's miniupnpd taught by it.
profile_up() {
	cgn_up
	lab_stun_server "$(cgn_role cgn)" lan 100.64.0.3 100.64.0.4
	upnp_cgn_home stun 100.64.0.3
}
