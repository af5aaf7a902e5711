# shellcheck shell=bash disable=SC2034
# two-natemu: two natemu NATs on different networks, any settings on each,
# for traversal trials between them; natemu's --delay gives the path the
# one-way delay a real one has.
#
#   cli1 10.0.1.2 --+
#                   +-- lan [nat: natemu A] wan 203.0.113.1 --- wan-a [inet] wan-b --- wan 198.51.100.1 [natb: natemu B] lan -- peer 10.0.2.2
#   cli2 10.0.1.3 --+                                            |
#                                                               refl
#
# NATEMU_SETTINGS and NATEMU_OPTIONS are the first NAT's (as in the natemu
# profile), NATEMU_SETTINGS_B and NATEMU_OPTIONS_B the second's, e.g.
#   NATEMU_SETTINGS="filtering=endpoint-independent" NATEMU_OPTIONS="--delay 10" \
#   NATEMU_SETTINGS_B="mapping=address-and-port-dependent ports=random" \
#   NATEMU_OPTIONS_B="--delay 10" natlab up two-natemu
# The checks run behind the first NAT, whose expectations follow from its
# settings; the second exists for natprobe punch.

NATEMU_SETTINGS=${NATEMU_SETTINGS:-}
PROFILE_PAIR=1
PROFILE_DESC="two natemu NATs: ${NATEMU_SETTINGS:-defaults} / ${NATEMU_SETTINGS_B:-defaults}"
# shellcheck disable=SC2086 # NATEMU_SETTINGS is a list of settings
natemu_expectations $NATEMU_SETTINGS
CT_ROLE=

profile_up() {
	# shellcheck disable=SC2086 # the settings are lists of words
	lab_natemu_home $NATEMU_SETTINGS
	# shellcheck disable=SC2086
	lab_natemu natb wan-b 198.51.100.1/25 198.51.100.126 10.0.2.1/24 \
		"${NATEMU_OPTIONS_B:-${NATEMU_OPTIONS:-}}" ${NATEMU_SETTINGS_B:-}
	lab_client peer natb 10.0.2.2/24 10.0.2.1
}
