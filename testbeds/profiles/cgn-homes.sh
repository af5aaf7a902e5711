# shellcheck shell=bash disable=SC2034
# cgn-homes: two home NATs behind one carrier-grade NAT, both masquerade, a
# client in each home: peers behind nested NATs (RFC 5128 3.3.3), for
# traversal trials between cli1 and cli2 (natlab punch cgn-homes same).
#
#   cli1 192.168.1.2 -- lan [home]  wan 100.64.0.2 --+
#                                                     +-- lan 100.64.0.1 [cgn] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 192.168.2.2 -- lan [home2] wan 100.64.0.3 --+
#
# Linux's masquerade does not hairpin: the two clients share one public
# address, and a packet to the other's public endpoint ends at the CGN. Only
# the relay gets through (cgn-homes-hairpin has a CGN that hairpins). The
# checks run from cli1, as in cgn; a pair lab, not among the standard labs.

# cgn's expectations: cli1 sees the same two masquerades.
# shellcheck source=testbeds/profiles/cgn.sh
. "${BASH_SOURCE[0]%/*}/cgn.sh"
PROFILE_DESC="two home masquerades behind one CGN masquerade, a client in each (a pair lab)"
PROFILE_PAIR=1

profile_up() {
	lab_internet
	lab_nat cgn inet wan-a 203.0.113.1/25 203.0.113.126 100.64.0.1/10
	lab_snat cgn 'oifname "wan" masquerade'
	lab_cgn_home home 100.64.0.2 192.168.1 cli1
	lab_cgn_home home2 100.64.0.3 192.168.2 cli2
}
