# shellcheck shell=bash disable=SC2034
# natemu: the configurable NAT, with the settings in NATEMU_SETTINGS.
#
#   cli1 10.0.1.2 --+
#                   +-- lan 10.0.1.1 [nat: natemu] wan 203.0.113.1 --- wan-a [inet] --- refl
#   cli2 10.0.1.3 --+
#
# NATEMU_SETTINGS holds natemu --set words, e.g.
#   NATEMU_SETTINGS="mapping=address-dependent filtering=endpoint-independent" natlab verify natemu
# The expectations follow from the settings (natemu_expectations in lib/lab.sh);
# NATEMU_OPTIONS passes impairment options (--loss 5 --delay 20 ...).

NATEMU_SETTINGS=${NATEMU_SETTINGS:-}
PROFILE_DESC="natemu ${NATEMU_SETTINGS:-with its defaults}"
# shellcheck disable=SC2086
natemu_expectations $NATEMU_SETTINGS
CT_ROLE=

profile_up() {
	# shellcheck disable=SC2086
	lab_natemu_home $NATEMU_SETTINGS
}
