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


# shellcheck source=testbeds/profiles/cgn.sh
. "${BASH_SOURCE[0]%/*}/cgn.sh"
PROFILE_DESC="miniupnpd home router behind a CGN masquerade"
EXPECT_PORTMAP=none
EXPECT_GATEWAY_EXTERNAL=none

# upnp_cgn_home [stun HOST]: the home router's miniupnpd (upnp-cgn's, and
# the labs built on it), on either side of a pair lab.
# shellcheck disable=SC2120 # cgn-ttl and upnp-cgn-naive pass arguments
upnp_cgn_home() {
	if lab_side_b; then
		lab_miniupnpd homeb 192.168.2.0/24 "$@"
	else
		lab_miniupnpd home 192.168.1.0/24 "$@"
	fi
}

# As the second side of a pair lab: cgn's own second side, its home router
# with miniupnpd.
profile_up() {
	cgn_up
	# shellcheck disable=SC2119 # no options: the plain home router
	upnp_cgn_home
}
