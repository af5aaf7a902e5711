/*
 * The depth and portmap tests' part of natprobe's summary and record
 * (report.h): nat_depth, cgn and their evidence; each port-mapping
 * protocol's answer, mapping, reach and deletion.
 */
#include <stdio.h>
#include <string.h>

#include "lib/addr.h"
#include "probe/report.h"

static json_t *ip_json(const struct sockaddr_storage *ss)
{
	char buf[ADDR_STRLEN];

	return ss->ss_family
		   ? json_string(addr_format_ip((const struct sockaddr *)ss, buf, sizeof(buf)))
		   : json_null();
}

static json_t *tri_json(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

static json_t *count_json(int n)
{
	return n < 0 ? json_null() : json_integer(n);
}

static json_t *answer_json(const struct depth_answer *a)
{
	return json_pack("{s:o, s:b, s:s}", "n", count_json(a->n), "at_least", a->at_least, "why",
			 a->why);
}

static json_t *hops_json(const struct hops_sweep *s)
{
	json_t *hops = json_array();
	unsigned n = hops_listed(s);

	for (unsigned t = 1; t <= n; t++) {
		const struct hops_hop *h = &s->hop[t - 1];
		const struct sockaddr *from = (const struct sockaddr *)&h->from;

		json_array_append_new(
		    hops,
		    json_pack("{s:i, s:o, s:o}", "ttl", (json_int_t)t, "from",
			      ip_json(h->seen ? &h->from : &(struct sockaddr_storage){0}), "realm",
			      h->seen ? json_string(addr_realm_name(addr_realm(from)))
				      : json_null()));
	}
	return hops;
}

static json_t *depth_json(const struct probe_result *r)
{
	const struct depth_verdict *v = &r->depth;
	const struct depth_obs *o = &r->depth_obs;
	json_t *triple = answer_json(&v->triple), *sweep = answer_json(&v->sweep);

	json_object_set_new(triple, "local", ip_json(&o->local));
	json_object_set_new(triple, "gateway", json_string(depth_gateway_name(o->gateway)));
	json_object_set_new(triple, "gateway_external", ip_json(&o->external));
	json_object_set_new(triple, "gateway_protocol",
			    o->gateway_proto ? json_string(o->gateway_proto) : json_null());
	json_object_set_new(triple, "mapped", ip_json(&o->mapped));
	if (o->sweep) {
		json_object_set_new(sweep, "hops", hops_json(o->sweep));
		json_object_set_new(sweep, "reflector_at_ttl",
				    o->sweep->server_at ? json_integer(o->sweep->server_at)
							: json_null());
	}
	return json_pack("{s:o, s:s, s:s, s:o, s:o}", "at_least",
			 v->at_least ? json_integer(v->at_least) : json_null(), "reason", v->reason,
			 "cgn_reason", v->cgn_reason, "triple", triple, "sweep", sweep);
}

static json_t *mapping_json(const struct portmap_mapping *m)
{
	return json_pack("{s:b, s:i, s:o, s:o, s:o, s:o, s:o}", "granted", m->granted,
			 "internal_port", (json_int_t)m->internal_port, "external_port",
			 m->granted ? json_integer(m->external_port) : json_null(), "lifetime_s",
			 m->granted ? json_integer(m->lifetime_s) : json_null(), "reached",
			 tri_json(m->reached), "reach_target", probe_addr_json(&m->reach_target),
			 "deleted", tri_json(m->deleted));
}

static json_t *proto_json(const struct portmap_proto_result *p)
{
	json_t *j = json_pack("{s:b, s:s?, s:o, s:b}", "answered", p->answered, "server",
			      p->server[0] ? p->server : NULL, "external",
			      p->has_external ? ip_json(&p->external) : json_null(), "no_public",
			      p->no_public);

	if (p->udp.asked)
		json_object_set_new(j, "mapping", mapping_json(&p->udp));
	if (p->tcp.asked)
		json_object_set_new(j, "tcp_mapping", mapping_json(&p->tcp));
	json_object_set_new(j, "ms", json_integer(p->ms));
	json_object_set_new(j, "error", p->error[0] ? json_string(p->error) : json_null());
	return j;
}

static json_t *portmap_json(const struct portmap_report *pm)
{
	json_t *j = json_object(), *works = json_array(), *answered = json_array();

	for (int p = 0; p < PORTMAP_NPROTO; p++) {
		const char *name = portmap_proto_name((enum portmap_proto)p);

		json_object_set_new(j, name, proto_json(&pm->proto[p]));
		if (pm->proto[p].answered)
			json_array_append_new(answered, json_string(name));
		if (portmap_works(&pm->proto[p]))
			json_array_append_new(works, json_string(name));
	}
	json_object_set_new(j, "answered", answered);
	json_object_set_new(j, "works", pm->mapping ? works : (json_decref(works), json_null()));
	return j;
}

static json_t *fate_json(enum keepalive_fate f)
{
	return f == KA_ALIVE ? json_true() : f == KA_DEAD ? json_false() : json_null();
}

/* keepalive: the hop, the trials' fates by TTL, the controls. */
static json_t *keepalive_json(const struct probe_result *r)
{
	const struct keepalive_obs *o = &r->keepalive_obs;
	json_t *by_ttl = json_array();

	for (unsigned k = 1; k <= o->nhops; k++)
		json_array_append_new(by_ttl, fate_json(o->ttl[k - 1]));
	return json_pack("{s:o, s:o, s:i, s:o, s:o, s:o, s:s}", "hop", count_json(r->keepalive.hop),
			 "router", ip_json(&r->keepalive_router), "hold_s", (json_int_t)o->hold_s,
			 "alive_by_ttl", by_ttl, "alive_without_keepalive", fate_json(o->none),
			 "alive_full_ttl", fate_json(o->full), "reason", r->keepalive_reason);
}

void probe_report_depth_json(json_t *rec, const struct probe_result *r)
{
	if (r->keepalive_tested)
		json_object_set_new(rec, "keepalive", keepalive_json(r));
	if (r->depth_tested) {
		json_object_set_new(rec, "nat_depth", count_json(r->depth.depth));
		json_object_set_new(rec, "cgn", tri_json(r->depth.cgn));
		json_object_set_new(rec, "depth", depth_json(r));
	}
	if (r->portmap_tested && r->portmap.ran)
		json_object_set_new(rec, "portmap", portmap_json(&r->portmap));
}

/* ---- the summary ---- */

/* "; UDP port 4000 -> 4000 for 120 s, reached from outside, deleted" */
static size_t print_mapping(char *line, size_t cap, const char *transport,
			    const struct portmap_mapping *m)
{
	if (m->granted)
		return (size_t)snprintf(line, cap, "; %s port %u -> %u for %u s, %s, %s", transport,
					m->internal_port, m->external_port, m->lifetime_s,
					m->reached == 1   ? "reached from outside"
					: m->reached == 0 ? "NOT reached from outside"
							  : "reach not known",
					m->deleted == 1 ? "deleted" : "NOT deleted");
	if (m->asked)
		return (size_t)snprintf(line, cap, "; no %s mapping", transport);
	return 0;
}

static void print_proto(FILE *out, enum portmap_proto p, const struct portmap_proto_result *x)
{
	const char *label = p == 0 ? "portmap" : "";

	char a[ADDR_STRLEN], line[4 * PORTMAP_TEXT_LEN];
	size_t n = 0;

	if (!x->answered) {
		fprintf(out, "  %-10s %-28s %s\n", label, portmap_proto_name(p), x->error);
		return;
	}
	n += (size_t)snprintf(
	    line, sizeof(line), "external %s",
	    x->has_external ? addr_format_ip((const struct sockaddr *)&x->external, a, sizeof(a))
			    : "none");
	if (n < sizeof(line))
		n += print_mapping(line + n, sizeof(line) - n, "UDP", &x->udp);
	if (n < sizeof(line))
		n += print_mapping(line + n, sizeof(line) - n, "TCP", &x->tcp);
	if (x->error[0] && n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, " (%s)", x->error);
	fprintf(out, "  %-10s %-28s %s\n", label, portmap_proto_name(p), line);
}

static void print_depth(FILE *out, const struct probe_result *r)
{
	const struct depth_verdict *v = &r->depth;
	char n[32];

	if (v->depth >= 0)
		snprintf(n, sizeof(n), "%d", v->depth);
	else if (v->at_least)
		snprintf(n, sizeof(n), "inconclusive (>= %d)", v->at_least);
	else
		snprintf(n, sizeof(n), "inconclusive");
	fprintf(out, "  %-10s %-28s %s\n", "nat depth", n, v->reason);
	fprintf(out, "  %-10s %-28s %s\n", "cgn",
		v->cgn < 0 ? "inconclusive"
		: v->cgn   ? "yes"
			   : "no",
		v->cgn_reason);
	if (v->depth < 0 || v->triple.n != v->sweep.n) {
		fprintf(out, "  %-10s %-28s %s\n", "", "address triple", v->triple.why);
		fprintf(out, "  %-10s %-28s %s\n", "", "TTL sweep", v->sweep.why);
	}
}

static char fate_char(enum keepalive_fate f)
{
	return f == KA_ALIVE ? '+' : f == KA_DEAD ? '-' : '?';
}

static void print_keepalive(FILE *out, const struct probe_result *r)
{
	const struct keepalive_obs *o = &r->keepalive_obs;
	char hop[48], router[ADDR_STRLEN] = "", ttls[KEEPALIVE_HOPS_MAX * 3 + 1] = "";

	if (r->keepalive.hop > 0)
		snprintf(hop, sizeof(hop), "NAT at hop %d", r->keepalive.hop);
	else
		snprintf(hop, sizeof(hop), "inconclusive");
	if (r->keepalive_router.ss_family)
		addr_format_ip((const struct sockaddr *)&r->keepalive_router, router,
			       sizeof(router));
	fprintf(out, "  %-10s %-28s %s%s%s\n", "keepalive", hop, router[0] ? router : "",
		router[0] ? ": " : "", r->keepalive_reason);
	for (unsigned k = 1; k <= o->nhops; k++)
		snprintf(ttls + strlen(ttls), sizeof(ttls) - strlen(ttls), "%s%c", k > 1 ? " " : "",
			 fate_char(o->ttl[k - 1]));
	fprintf(out, "  %-10s %-28s TTL 1..%u: %s; none %c, full %c (+ kept, - died)\n", "", "",
		o->nhops, ttls, fate_char(o->none), fate_char(o->full));
	fprintf(out, "  %-10s %-28s held %u s\n", "", "", o->hold_s);
}

void probe_report_depth_text(FILE *out, const struct probe_result *r)
{
	if (r->depth_tested)
		print_depth(out, r);
	if (r->keepalive_tested)
		print_keepalive(out, r);
	if (r->portmap_tested && r->portmap.ran) {
		for (int p = 0; p < PORTMAP_NPROTO; p++)
			print_proto(out, (enum portmap_proto)p, &r->portmap.proto[p]);
	}
}
