/*
 * How many NATs, and whether one is a carrier-grade NAT. See depth.h.
 *
 * Two methods, each read alone, then compared (../shared/notes/survey-cgn.md
 * has the sources and the lab measurements behind them):
 *
 * The address triple (Netalyzr's method). This host's own address, the
 * external address its gateway reports over UPnP IGD, NAT-PMP or PCP, and
 * the address the reflector sees (mapped):
 *   - mapped is this host's own address: no NAT, 0;
 *   - the gateway reports the mapped address: it holds the public address
 *     itself, and it is this host's first hop, so exactly one NAT;
 *   - the gateway reports a private or shared (RFC 6598) address, or says it
 *     has none that is public, while the reflector sees a public one:
 *     something beyond the gateway translates again, at least two;
 *   - the gateway reports another public address: a NAT with a pool of
 *     addresses shows that as well as a second NAT does; no answer.
 * A gateway that learnt its external address by STUN (miniupnpd's
 * ext_perform_stun) reports the public address even behind another NAT:
 * the sweep's disagreement then makes the verdict inconclusive.
 *
 * The TTL sweep (hops.h: a datagram toward the reflector at each TTL 1..8,
 * the routers' time exceeded read with IP_RECVERR). Routers answer from an
 * address of theirs on the way back, so the realms the hops answer from
 * trace the realms the path crosses. This host's own realm is the first
 * NAT's inside; a hop in 100.64.0.0/10 beyond it is a CGN's inside (RFC
 * 6598 reserves that space for exactly that), so a second NAT. What the
 * sweep cannot rule out makes its count a lower bound ("at least"):
 *   - a router that did not answer, before the path reached public
 *     addresses: ICMP rate limits and filters hide hops, and a hidden one
 *     could be a NAT;
 *   - a private hop outside this host's /24, or beyond the CGN's realm: a
 *     second NAT, or only routers inside a private network (an ISP's core
 *     is often numbered from RFC 1918 space);
 *   - and always, a NAT that does not decrement TTL, which no sweep sees;
 *     only the triple catches it.
 *
 * The verdict. Where both answer and agree, their number; where only one
 * answers, its number if exact; where they disagree (the gateway says two,
 * the sweep one: a CGN hiding from TTL), none, with both answers and the
 * lower bound both allow. A wrong number is worse than none.
 *
 * cgn: true on a hop, this host's address, or the gateway's external
 * address in 100.64.0.0/10; false without NAT, or with one NAT that is this
 * host's own gateway (it holds the public address, or it is the only
 * non-public hop and hop 1); otherwise null: a second NAT in a private
 * realm may be a CGN or a second router at home.
 */
#include "probe/depth.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/addr.h"

static void say(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, DEPTH_REASON_LEN, fmt, ap);
	va_end(ap);
}

static void append(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(char *buf, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + used, DEPTH_REASON_LEN - used, fmt, ap);
	va_end(ap);
}

static void answer(struct depth_answer *a, int n, bool at_least)
{
	a->n = n;
	a->at_least = at_least;
}

static bool public_realm(const struct sockaddr *sa)
{
	return addr_realm(sa) == ADDR_REALM_PUBLIC;
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return a->ss_family && addr_same_ip((const struct sockaddr *)a, (const struct sockaddr *)b);
}

void depth_by_triple(const struct depth_obs *o, struct depth_answer *a)
{
	const struct sockaddr *m = (const struct sockaddr *)&o->mapped;
	char ext[ADDR_STRLEN], map[ADDR_STRLEN];

	answer(a, -1, false);
	if (!o->mapped.ss_family) {
		say(a->why, "the reflector did not answer: no mapped address");
		return;
	}
	addr_format_ip(m, map, sizeof(map));
	if (same_ip(&o->local, &o->mapped)) {
		answer(a, 0, false);
		say(a->why, "the reflector sees this host's own address %s", map);
		return;
	}
	switch (o->gateway) {
	case DEPTH_GW_SILENT:
		say(a->why, "no port-mapping protocol answered: the gateway's external address "
			    "is unknown");
		return;
	case DEPTH_GW_NO_PUBLIC:
		if (!public_realm(m)) {
			say(a->why,
			    "the gateway has no public address, and the reflector sees the "
			    "non-public %s: nothing to compare",
			    map);
			return;
		}
		answer(a, 2, true);
		say(a->why,
		    "%s: the gateway has no public address, yet the reflector sees %s: "
		    "a NAT beyond the gateway",
		    o->gateway_proto, map);
		return;
	case DEPTH_GW_ADDRESS:
		break;
	}
	addr_format_ip((const struct sockaddr *)&o->external, ext, sizeof(ext));
	if (same_ip(&o->external, &o->mapped)) {
		answer(a, 1, false);
		say(a->why, "%s: the gateway's external address %s is the one the reflector sees",
		    o->gateway_proto, ext);
	} else if (!public_realm((const struct sockaddr *)&o->external) && public_realm(m)) {
		answer(a, 2, true);
		say(a->why,
		    "%s: the gateway's external address %s is %s, the reflector sees %s: "
		    "a NAT beyond the gateway",
		    o->gateway_proto, ext,
		    addr_realm_name(addr_realm((const struct sockaddr *)&o->external)), map);
	} else {
		say(a->why,
		    "%s: the gateway's external address %s is not the %s the reflector "
		    "sees (a NAT with an address pool, or a NAT beyond)",
		    o->gateway_proto, ext, map);
	}
}

/* Whether two IPv4 addresses share their first three bytes. */
static bool same_24(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in *x = (const struct sockaddr_in *)a;
	const struct sockaddr_in *y = (const struct sockaddr_in *)b;

	return a->sa_family == AF_INET && b->sa_family == AF_INET &&
	       !memcmp(&x->sin_addr, &y->sin_addr, 3);
}

/* The walk's findings, for the answer's words. */
struct walk {
	unsigned shared_at, private_at, hidden_at, public_at, seen;
};

static void walk_hops(const struct hops_sweep *s, const struct sockaddr *local, struct walk *w)
{
	unsigned last = hops_listed(s);
	bool host_shared = addr_realm(local) == ADDR_REALM_SHARED;

	memset(w, 0, sizeof(*w));
	for (unsigned t = 1; t <= last; t++) {
		const struct hops_hop *h = &s->hop[t - 1];
		const struct sockaddr *from = (const struct sockaddr *)&h->from;
		enum addr_realm r;

		if (!h->seen) {
			if (!w->public_at && !w->hidden_at)
				w->hidden_at = t;
			continue;
		}
		w->seen++;
		r = addr_realm(from);
		if (r == ADDR_REALM_PUBLIC) {
			if (!w->public_at)
				w->public_at = t;
		} else if (r == ADDR_REALM_SHARED && !host_shared) {
			if (!w->shared_at)
				w->shared_at = t;
		} else if (r == ADDR_REALM_PRIVATE && !w->private_at &&
			   (w->shared_at || w->public_at || !same_24(from, local))) {
			w->private_at = t;
		}
	}
}

void depth_by_sweep(const struct depth_obs *o, struct depth_answer *a, unsigned *cgn_hop)
{
	const struct hops_sweep *s = o->sweep;
	struct walk w;
	int n;

	answer(a, -1, false);
	*cgn_hop = 0;
	if (!s) {
		say(a->why, "not swept");
		return;
	}
	if (s->skipped || s->family != AF_INET) {
		say(a->why, "%s", s->skipped ? s->skipped : "only IPv4 paths are swept");
		return;
	}
	if (!o->local.ss_family) {
		say(a->why, "this host's own address is not known");
		return;
	}
	if (public_realm((const struct sockaddr *)&o->local)) {
		say(a->why, "this host's address is public: no realm for the sweep to leave");
		return;
	}
	walk_hops(s, (const struct sockaddr *)&o->local, &w);
	if (!w.seen) {
		say(a->why, "no router answered the sweep (ICMP filtered or rate-limited)");
		return;
	}
	*cgn_hop = w.shared_at;
	n = w.shared_at ? 2 : 1;
	answer(a, n, w.hidden_at || w.private_at || (!w.public_at && !s->server_at));
	if (w.shared_at)
		say(a->why,
		    "hop %u answered from 100.64.0.0/10, a CGN's realm, beyond this "
		    "host's",
		    w.shared_at);
	else if (w.public_at)
		say(a->why, "the hops leave this host's realm once: hop %u is public", w.public_at);
	else if (s->server_at)
		say(a->why,
		    "the hops leave this host's realm once: the reflector answered at TTL "
		    "%u",
		    s->server_at);
	else
		say(a->why, "no public hop answered, nor the reflector: the path beyond is unseen");
	if (w.private_at)
		append(a->why,
		       "; hop %u is private outside this host's network: a NAT, or "
		       "private routers",
		       w.private_at);
	else if (w.hidden_at)
		append(a->why, "; hop %u did not answer and may hide a NAT", w.hidden_at);
}

static void decide_depth(const struct depth_answer *t, const struct depth_answer *s,
			 struct depth_verdict *v)
{
	bool t_exact = t->n >= 0 && !t->at_least, s_exact = s->n >= 0 && !s->at_least;

	v->depth = -1;
	v->at_least = 0;
	if (t->n == 0) {
		v->depth = 0;
		say(v->reason, "no NAT: %s", t->why);
	} else if (t->n < 0 && s->n < 0) {
		say(v->reason, "neither method answered: %s; %s", t->why, s->why);
	} else if (t->n >= 0 && s->n >= 0 &&
		   ((s_exact && s->n < t->n) || (t_exact && s->n > t->n))) {
		v->at_least = t->n < s->n ? t->n : s->n;
		say(v->reason,
		    "the methods disagree: the address triple says %s%d, the TTL sweep "
		    "%s%d (a NAT that does not decrement TTL, or a gateway that learnt "
		    "its address by STUN)",
		    t->at_least ? "at least " : "", t->n, s->at_least ? "at least " : "", s->n);
	} else if (t_exact || s_exact) {
		v->depth = t_exact ? t->n : s->n;
		say(v->reason, "%s", t_exact ? t->why : s->why);
	} else {
		v->at_least = t->n > s->n ? t->n : s->n;
		say(v->reason, "at least %d, not exactly: %s", v->at_least,
		    t->n >= s->n ? t->why : s->why);
	}
}

static void decide_cgn(const struct depth_obs *o, struct depth_verdict *v)
{
	const struct sockaddr *ext = (const struct sockaddr *)&o->external;

	v->cgn = -1;
	if (v->depth == 0) {
		v->cgn = 0;
		say(v->cgn_reason, "no NAT");
	} else if (v->cgn_hop) {
		v->cgn = 1;
		say(v->cgn_reason, "hop %u answered from 100.64.0.0/10 (RFC 6598)", v->cgn_hop);
	} else if (addr_realm((const struct sockaddr *)&o->local) == ADDR_REALM_SHARED) {
		v->cgn = 1;
		say(v->cgn_reason, "this host's own address is in 100.64.0.0/10 (RFC 6598)");
	} else if (o->gateway == DEPTH_GW_ADDRESS && addr_realm(ext) == ADDR_REALM_SHARED) {
		v->cgn = 1;
		say(v->cgn_reason, "the gateway's external address is in 100.64.0.0/10 (RFC 6598)");
	} else if (v->depth == 1 && v->triple.n == 1) {
		v->cgn = 0;
		say(v->cgn_reason, "the one NAT is this host's gateway, which holds the public "
				   "address");
	} else if (v->depth == 1 && v->sweep.n == 1 && o->sweep && o->sweep->hop[0].seen &&
		   !public_realm((const struct sockaddr *)&o->sweep->hop[0].from) &&
		   !(o->sweep->hop[1].seen &&
		     !public_realm((const struct sockaddr *)&o->sweep->hop[1].from))) {
		v->cgn = 0;
		say(v->cgn_reason, "the one NAT is this host's first hop");
	} else {
		say(v->cgn_reason, "%s",
		    v->depth < 0    ? "the depth is not known"
		    : v->depth == 1 ? "one NAT, not at this host's first hop: a CGN or a NAT "
				      "in a private network"
				    : "a second NAT in a private realm: a CGN, or a second "
				      "router at home");
	}
}

void depth_decide(const struct depth_obs *o, struct depth_verdict *v)
{
	memset(v, 0, sizeof(*v));
	depth_by_triple(o, &v->triple);
	depth_by_sweep(o, &v->sweep, &v->cgn_hop);
	if (!o->mapped.ss_family) {
		v->depth = v->cgn = -1;
		say(v->reason, "%s", v->triple.why);
		say(v->cgn_reason, "%s", v->triple.why);
		return;
	}
	decide_depth(&v->triple, &v->sweep, v);
	decide_cgn(o, v);
}

const char *depth_gateway_name(enum depth_gateway g)
{
	switch (g) {
	case DEPTH_GW_ADDRESS:
		return "address";
	case DEPTH_GW_NO_PUBLIC:
		return "no-public-address";
	case DEPTH_GW_SILENT:
		break;
	}
	return "silent";
}
