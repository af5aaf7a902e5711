# shellcheck shell=bash disable=SC2034
# device: a NAT device under test, wired to two interfaces of this machine.
#
#   cli1 192.168.1.100 --+
#                        +-- lan [lanside] LAN_IFACE ==== LAN port [DEVICE] WAN port ==== WAN_IFACE wan-a [inet] --- refl
#   cli2 192.168.1.101 --+
#
# Wire one interface of this machine to the device's WAN port and another to
# a LAN port, and configure the device's WAN statically: 203.0.113.1/25,
# gateway 203.0.113.126 (the lab's router). natlab moves the two interfaces
# into the lab for its lifetime and gives them back at teardown.
#
#   NATLAB_DEVICE_WAN      interface wired to the WAN port (required)
#   NATLAB_DEVICE_LAN      interface wired to a LAN port (required)
#   NATLAB_DEVICE_LAN_GW   the device's LAN address (192.168.1.1)
#   NATLAB_DEVICE_CLIENTS  two client addresses with prefix ("192.168.1.100/24 192.168.1.101/24")
#   NATLAB_DEVICE_NETNS    the namespace holding the interfaces (default: the host's)
#
# Nothing is expected of a device: `natlab verify device` reports what it
# observes; NATLAB_EXPECT_<KEY>=value turns an observation into a check.

PROFILE_DESC="a physical NAT device on ${NATLAB_DEVICE_WAN:-?} (WAN) and ${NATLAB_DEVICE_LAN:-?} (LAN)"
CT_ROLE=

profile_up() {
	local gw=${NATLAB_DEVICE_LAN_GW:-192.168.1.1}
	local clients=${NATLAB_DEVICE_CLIENTS:-192.168.1.100/24 192.168.1.101/24}
	if [ -z "${NATLAB_DEVICE_WAN:-}" ] || [ -z "${NATLAB_DEVICE_LAN:-}" ]; then
		lab_fail "device: set NATLAB_DEVICE_WAN and NATLAB_DEVICE_LAN to the wired interfaces"
	fi
	# shellcheck disable=SC2086
	set -- $clients
	[ $# -eq 2 ] || lab_fail "device: NATLAB_DEVICE_CLIENTS wants two ADDR/PREFIX, not '$clients'"
	lab_internet
	lab_adopt inet "$NATLAB_DEVICE_WAN" "${NATLAB_DEVICE_NETNS:-}" wan-a
	lab_host lanside
	lab_bridge lanside lan
	lab_adopt lanside "$NATLAB_DEVICE_LAN" "${NATLAB_DEVICE_NETNS:-}" lan
	lab_client cli1 lanside "$1" "$gw"
	lab_client cli2 lanside "$2" "$gw"
}
