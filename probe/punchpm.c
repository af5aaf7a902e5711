/*
 * natprobe punch's port-mapping technique, this side's gateway part: find
 * a protocol the gateway answers (UPnP IGD, NAT-PMP, PCP, in that order;
 * pmclient.h), this side's NAT depth (depth.h: the address triple with the
 * gateway's external address, and the hop sweep), a mapping of each trial's
 * socket before it registers, and its deletion after the trial. What the
 * registration says of it is NATLAB-PORTMAP (predict.h's wire); which side
 * waits and whether it works is predictpm.c's rule.
 */
#include <stdio.h>
#include <string.h>

#include "lib/addr.h"
#include "probe/portmapcmd.h"
#include "probe/punchint.h"

/* The first protocol that answers (said in g->found[]). */
static void find_protocol(struct punch_gateway *g)
{
	for (int p = 0; p < PORTMAP_NPROTO && !g->pc; p++) {
		struct portmap_proto_result *r = &g->found.proto[p];

		portmap_result_init(r);
		r->asked = true;
		g->pc = portmap_client_open(&g->ctx, (enum portmap_proto)p, true, r);
		if (g->pc)
			g->proto = (enum portmap_proto)p;
	}
	g->found.ran = true;
}

/* This side's depth, as the depth test would say it. */
static void find_depth(struct punch_gateway *g, const struct probe_result *me,
		       const struct hops_auto *sweep)
{
	struct hops_auto own;
	struct depth_obs o = {.local = me->local, .mapped = me->mapped};
	struct depth_verdict v;

	if (!sweep) {
		hops_auto_sweep((const struct sockaddr *)&g->ctx.server, &own);
		sweep = &own;
	}
	o.sweep = &sweep->sweep;
	o.gateway = portmap_gateway(&g->found, &o.external, &o.gateway_proto);
	depth_decide(&o, &v);
	g->depth = v.depth;
	g->cgn = v.cgn == 1;
	snprintf(g->depth_reason, sizeof(g->depth_reason), "%s", v.reason);
}

void punch_gateway_open(const struct options *o, const struct probe_result *me,
			const struct hops_auto *sweep, struct punch_gateway *g)
{
	memset(g, 0, sizeof(*g));
	g->depth = -1;
	g->ctx.server = o->server;
	g->mapped = me->mapped;
	if (o->server.ss_family != AF_INET ||
	    addr_route_source((const struct sockaddr *)&o->server, 0, &g->ctx.local)) {
		snprintf(g->depth_reason, sizeof(g->depth_reason),
			 "port mapping is IPv4 only, with a route to the reflector");
		return;
	}
	portmap_default_gateway(&g->ctx.gateway);
	find_protocol(g);
	find_depth(g, me, sweep);
}

/* Does the mapping's external address, as the gateway reported it, equal
 * this side's public address (the one the reflector sees)? */
static bool at_public(const struct punch_gateway *g, const struct portmap_proto_result *r)
{
	const struct portmap_proto_result *found = &g->found.proto[g->proto];
	const struct sockaddr_storage *ext = r->has_external ? &r->external : &found->external;

	return (r->has_external || found->has_external) &&
	       addr_same_ip((const struct sockaddr *)ext, (const struct sockaddr *)&g->mapped);
}

void punch_gateway_map(struct punch_gateway *g, uint16_t port, struct portmap_proto_result *r,
		       uint8_t wire[PREDICT_PORTMAP_WIRE_LEN])
{
	struct predict_portmap pm = {.known = true, .depth = g->depth, .cgn = g->cgn};

	portmap_result_init(r);
	if (g->pc) {
		pm.proto = (uint8_t)(g->proto + 1);
		r->asked = r->answered = true;
		pm.granted = !portmap_client_map(g->pc, false, port, r);
		pm.public_ext = pm.granted && at_public(g, r);
		pm.port = pm.granted ? r->udp.external_port : 0;
	} else {
		portmap_note(r, "no port-mapping protocol answered at the gateway");
	}
	predict_portmap_to_wire(&pm, wire);
}

void punch_gateway_unmap(struct punch_gateway *g, struct portmap_proto_result *r)
{
	if (g->pc && r->udp.granted)
		portmap_client_unmap(g->pc, r);
}

void punch_gateway_close(struct punch_gateway *g)
{
	portmap_client_close(g->pc);
	g->pc = NULL;
}

void punch_portmap_config(const struct meeting *mt, const uint8_t *token,
			  const uint8_t mine_wire[PREDICT_PORTMAP_WIRE_LEN], struct punch_cfg *cfg,
			  bool *none)
{
	static const uint8_t unknown[PREDICT_PORTMAP_WIRE_LEN] = {0};
	struct predict_portmap mine = predict_portmap_from_wire(mine_wire);
	struct predict_portmap theirs =
	    predict_portmap_from_wire(mt->have_portmap ? mt->portmap : unknown);
	bool first = memcmp(token, mt->token, PUNCH_TOKEN_LEN) < 0;
	int w = first ? predict_portmap_passive(&mine, &theirs)
		      : predict_portmap_passive(&theirs, &mine);
	bool i_wait = w == (first ? 0 : 1);

	*none = w < 0;
	cfg->passive = i_wait;
	/* The waiting side answers whoever proves to be the other probe; the
	 * other sends to the waiting side's public address, at its port. */
	cfg->ncand = 0;
	cfg->cand[cfg->ncand] = (struct punch_candidate){mt->pub, PUNCH_PATH_PUBLIC, false};
	if (!i_wait && !*none)
		addr_set_port((struct sockaddr *)&cfg->cand[cfg->ncand].addr, theirs.port);
	cfg->ncand++;
	cfg->open_ttl = 0; /* nothing to open first: the mapping is there */
}
