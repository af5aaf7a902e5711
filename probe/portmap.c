/* The port-mapping protocols' results, read. See portmap.h. */
#include "probe/portmap.h"

#include <string.h>

const char *portmap_proto_name(enum portmap_proto p)
{
	switch (p) {
	case PORTMAP_UPNP:
		return "upnp";
	case PORTMAP_NATPMP:
		return "nat-pmp";
	case PORTMAP_PCP:
		return "pcp";
	case PORTMAP_NPROTO:
		break;
	}
	return "?";
}

void portmap_result_init(struct portmap_proto_result *r)
{
	memset(r, 0, sizeof(*r));
	r->udp.reached = r->udp.deleted = r->tcp.reached = r->tcp.deleted = -1;
}

bool portmap_works(const struct portmap_proto_result *r)
{
	return r->udp.granted && r->udp.reached == 1;
}

enum depth_gateway portmap_gateway(const struct portmap_report *r,
				   struct sockaddr_storage *external, const char **proto)
{
	enum depth_gateway g = DEPTH_GW_SILENT;

	memset(external, 0, sizeof(*external));
	*proto = NULL;
	for (int p = 0; p < PORTMAP_NPROTO; p++) {
		const struct portmap_proto_result *x = &r->proto[p];

		if (x->has_external) {
			*external = x->external;
			*proto = portmap_proto_name((enum portmap_proto)p);
			return DEPTH_GW_ADDRESS;
		}
		if (x->no_public && g == DEPTH_GW_SILENT) {
			g = DEPTH_GW_NO_PUBLIC;
			*proto = portmap_proto_name((enum portmap_proto)p);
		}
	}
	return g;
}
