# shellcheck shell=bash disable=SC2034
# cgn-homes-hairpin: cgn-homes with a CGN that hairpins: natemu
# (endpoint-independent mapping, address-and-port-dependent filtering,
# hairpinning with the external source, RFC 4787 REQ-9) in place of the
# CGN's masquerade; the homes masquerade.
#
#   cli1 192.168.1.2 -- lan [home]  wan 100.64.0.2 --+
#                                                     +-- lan 100.64.0.1 [cgn: natemu] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 192.168.2.2 -- lan [home2] wan 100.64.0.3 --+
#
# Between cli1 and cli2 a packet to the other's public endpoint turns at the
# CGN and comes in from the sender's public endpoint, which the receiver has
# sent to: hole punching works, path hairpin. cli1's own hairpinning check
# does not see it: its packet from a new mapping meets the CGN's filter (and
# the home's), which no packet of the target's has opened. NATEMU_OPTIONS
# (e.g. --delay 10) are the CGN's. A pair lab, not among the standard labs.

# cgn-homes' expectations, but for what natemu as the CGN changes: an
# unsolicited SYN is dropped (also at a live mapping) and so held until the
# inside one goes out (REQ-4's hold), and no port is overloaded.
# shellcheck source=testbeds/profiles/cgn-homes.sh
. "${BASH_SOURCE[0]%/*}/cgn-homes.sh"
PROFILE_DESC="two home masquerades behind one natemu CGN that hairpins, a client in each (a pair lab)"
PROFILE_PAIR=1
EXPECT_SYN=drop
EXPECT_TCP_SYN=drop
EXPECT_SYN_MAPPED=drop
EXPECT_TCP_SYN_HOLD=held
EXPECT_OVERLOADING=false
EXPECT_TCP_OVERLOADING=false
# natemu keeps no conntrack: verify counts the home's kernel NAT only, so
# the depth (2) is not stated; the CGN still shows, as the home translates
# into 100.64.0.0/10 (EXPECT_CGN=true).
EXPECT_DEPTH=
CT_ROLE=

profile_up() {
	lab_internet
	lab_natemu cgn wan-a 203.0.113.1/25 203.0.113.126 100.64.0.1/10 "${NATEMU_OPTIONS:-}" \
		filtering=address-and-port-dependent hairpin=external
	lab_cgn_home home 100.64.0.2 192.168.1 cli1
	lab_cgn_home home2 100.64.0.3 192.168.2 cli2
}
