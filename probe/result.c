#include "result.h"

const char *probe_mapping_name(enum probe_mapping m)
{
	static const char *const names[] = {"untested",
					    "none",
					    "endpoint-independent",
					    "address-dependent",
					    "address-and-port-dependent",
					    "inconclusive"};

	return (unsigned)m < 6 ? names[m] : "inconclusive";
}

const char *probe_filtering_name(enum probe_filtering f)
{
	static const char *const names[] = {"untested", "endpoint-independent", "address-dependent",
					    "address-and-port-dependent", "inconclusive"};

	return (unsigned)f < 5 ? names[f] : "inconclusive";
}

const char *probe_ports_name(enum probe_ports p)
{
	static const char *const names[] = {"untested", "preserving", "sequential", "random",
					    "inconclusive"};

	return (unsigned)p < 5 ? names[p] : "inconclusive";
}

const char *probe_pooling_name(enum probe_pooling p)
{
	static const char *const names[] = {"untested", "paired", "arbitrary", "single",
					    "inconclusive"};

	return (unsigned)p < 5 ? names[p] : "inconclusive";
}

const char *probe_syn_name(enum probe_syn s)
{
	static const char *const names[] = {"untested", "drop", "rst",
					    "icmp",     "pass", "inconclusive"};

	return (unsigned)s < 6 ? names[s] : "inconclusive";
}

const char *probe_hold_name(enum probe_hold h)
{
	static const char *const names[] = {"untested", "held", "rst",
					    "icmp",     "pass", "inconclusive"};

	return (unsigned)h < 6 ? names[h] : "inconclusive";
}

const char *probe_dest_ports_name(enum probe_dest_ports p)
{
	static const char *const names[] = {"untested", "same", "sequential", "random",
					    "inconclusive"};

	return (unsigned)p < 5 ? names[p] : "inconclusive";
}

/*
 * RFC 3489 section 5's names: a cone is endpoint-independent mapping, named
 * by its filtering; anything else is symmetric. "udp-blocked" needs the
 * reflector to be known reachable otherwise, so it is not derived here.
 */
const char *probe_legacy_type(const struct probe_result *r)
{
	if (r->mapping == PROBE_MAPPING_NONE && r->nat == PROBE_NO)
		return "open";
	if (r->mapping == PROBE_MAPPING_AD || r->mapping == PROBE_MAPPING_APD)
		return "symmetric";
	if (r->mapping != PROBE_MAPPING_EI)
		return "inconclusive";
	switch (r->filtering) {
	case PROBE_FILTERING_EI:
		return "full-cone";
	case PROBE_FILTERING_AD:
		return "restricted-cone";
	case PROBE_FILTERING_APD:
		return "port-restricted-cone";
	default:
		return "inconclusive";
	}
}
