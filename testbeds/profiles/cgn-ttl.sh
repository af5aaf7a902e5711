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


# shellcheck source=testbeds/profiles/upnp-cgn.sh
. "${BASH_SOURCE[0]%/*}/upnp-cgn.sh"
PROFILE_DESC="CGN that does not decrement TTL, miniupnpd home behind it"
# What natprobe can see: the gateway says two NATs, the sweep one; the
# methods disagree, so both verdicts are inconclusive (null), never 1.
EXPECT_PROBE_DEPTH=null
EXPECT_PROBE_CGN=null

profile_up() {
	cgn_up
	lab_nft "$(cgn_role cgn)" 'table ip natlab_ttl {
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		iifname "lan" ip ttl set 64
	}
}'
	# shellcheck disable=SC2119 # no options: the plain home router
	upnp_cgn_home
}
