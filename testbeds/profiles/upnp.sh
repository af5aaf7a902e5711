# shellcheck shell=bash disable=SC2034
# upnp: a home router with the port-mapping protocols: nftables masquerade
# (as masq) and the real miniupnpd serving UPnP IGD, NAT-PMP and PCP.
#
#   cli1 10.0.1.2 --+
#                   +-- lan 10.0.1.1 [nat + miniupnpd] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 10.0.1.3 --+                                                                       (+ STUN .20/.21)
#
# miniupnpd will not map while its external address is a documentation
# range, as the lab internet's is: it learns its public address by STUN from
# the lab's own natreflector (203.0.113.20), whose RFC 5780 tests find no NAT
# in front of it. Every protocol then reports 203.0.113.1 and grants
# mappings to the asking client, which packets from anywhere reach.


# shellcheck source=testbeds/profiles/masq.sh
. "${BASH_SOURCE[0]%/*}/masq.sh"
PROFILE_DESC="masquerade with miniupnpd (UPnP IGD, NAT-PMP, PCP)"
EXPECT_PORTMAP="upnp nat-pmp"
EXPECT_GATEWAY_EXTERNAL=203.0.113.1

# As the second side of a pair lab (natlab punch A upnp): natb with its own
# miniupnpd, for peer (10.0.2.0/24).
profile_up() {
	lab_home_nat 'oifname "wan" masquerade'
	if lab_side_b; then
		lab_miniupnpd natb 10.0.2.0/24 stun
	else
		lab_miniupnpd nat 10.0.1.0/24 stun
	fi
}
