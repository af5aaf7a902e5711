# shellcheck shell=bash disable=SC2034
# two-nats-decoy: two-nats, and on the first NAT's network a decoy that owns
# the other probe's private address (10.0.2.2) and sends every datagram it
# gets, and a TCP connection's bytes, back as they came (labecho mirror):
# RFC 5128 6.1's impostor. A probe on cli1 that tries the other's private
# endpoint reaches the decoy, not the other probe, and gets its own signed
# packets back from there.
#
#   cli1 10.0.1.2 --+                     (10.0.2.2/32 on-link from cli1)
#   decoy 10.0.2.2 -+-- lan [nat] wan 203.0.113.1 --- [inet] --- 198.51.100.1 [natb] lan -- peer 10.0.2.2
#   cli2 10.0.1.3 --+
#
# natprobe punch must count the decoy's packets as impostors and never take
# them for the other probe (tests/punch.sh). A pair lab, not among the
# standard labs.

# shellcheck source=testbeds/profiles/two-nats.sh
. "${BASH_SOURCE[0]%/*}/two-nats.sh"
PROFILE_DESC="two-nats with a decoy at the other side's private address on the first LAN (a pair lab)"
PROFILE_PAIR=1
DECOY_PORT=9

profile_up() {
	lab_home_nat 'oifname "wan" masquerade'
	lab_nat natb inet wan-b 198.51.100.1/25 198.51.100.126 10.0.2.1/24
	lab_snat natb 'oifname "wan" masquerade'
	lab_client peer natb 10.0.2.2/24 10.0.2.1
	lab_host decoy
	lab_plug decoy eth0 nat lan
	lab_addr decoy eth0 10.0.2.2/32
	in_ns decoy ip route add 10.0.1.0/24 dev eth0
	in_ns cli1 ip route add 10.0.2.2/32 dev eth0
	# Every UDP datagram and TCP connection, whatever its port, to the
	# mirror; conntrack sends what it mirrors back from the port it was
	# sent to.
	lab_nft decoy "table ip natlab {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		udp dport != $DECOY_PORT redirect to :$DECOY_PORT
		tcp dport != $DECOY_PORT redirect to :$DECOY_PORT
	}
}"
	in_ns decoy "$NATLAB_BIN/labecho" mirror --for 86400 10.0.2.2:$DECOY_PORT \
		>"$(lab_state_dir)/mirror.log" 2>&1 &
	lab_pid $!
}
