/*
 * The hop-k keepalive test's reading (keepalive.h). Linux refreshes a
 * conntrack entry from a packet whose TTL then expires in that very NAT
 * (the entry is touched before routing), so a keepalive sent with TTL k
 * refreshes the NATs at hops 1..k: the mapping survives a hold longer than
 * some NAT's timeout only when every such NAT is within k hops. The least
 * surviving k is the hop of the outermost NAT whose timeout the hold
 * outlasted. Other vendors' NATs may not refresh on a packet they then
 * drop; they would show as one hop further out.
 */
#include "probe/keepalive.h"

#include <stddef.h>
#include <sys/socket.h>

unsigned keepalive_hops(const struct hops_sweep *s)
{
	unsigned n = 0;

	if (s && !s->skipped && s->family == AF_INET) {
		n = s->server_at > 1 ? s->server_at - 1 : s->server_at;
		for (unsigned t = 1; !s->server_at && t <= HOPS_MAX; t++)
			if (s->hop[t - 1].seen)
				n = t; /* the reflector never answered: the last router seen */
	}
	if (!n)
		n = KEEPALIVE_HOPS_DEFAULT;
	return n > KEEPALIVE_HOPS_MAX ? KEEPALIVE_HOPS_MAX : n;
}

static void verdict(struct keepalive_verdict *v, int hop, const char *reason)
{
	v->hop = hop;
	v->reason = reason;
}

/* The controls first: without them no trial says anything. */
static bool controls_hold(const struct keepalive_obs *o, struct keepalive_verdict *v)
{
	if (o->none == KA_UNKNOWN || o->full == KA_UNKNOWN || o->none == KA_PENDING ||
	    o->full == KA_PENDING)
		verdict(v, -1, "a control trial (no keepalive, or the full TTL) has no reading");
	else if (o->none == KA_ALIVE)
		verdict(v, -1,
			"the mapping without keepalives outlived the hold: the hold is "
			"shorter than every NAT's timeout (a longer --keepalive=HOLD_S)");
	else if (o->full == KA_DEAD)
		verdict(v, -1,
			"keepalives at the full TTL every second did not keep the mapping: "
			"keepalives refresh nothing here, or they were lost");
	else
		return true;
	return false;
}

void keepalive_decide(const struct keepalive_obs *o, struct keepalive_verdict *v)
{
	int first_alive = -1;

	if (!controls_hold(o, v))
		return;
	for (unsigned k = 1; k <= o->nhops && k <= KEEPALIVE_HOPS_MAX; k++) {
		enum keepalive_fate f = o->ttl[k - 1];

		if (f != KA_ALIVE && f != KA_DEAD) {
			verdict(v, -1, "a trial has no reading");
			return;
		}
		if (f == KA_ALIVE && first_alive < 0)
			first_alive = (int)k;
		if (f == KA_DEAD && first_alive > 0) {
			verdict(v, -1,
				"out of order: a keepalive that went further kept less "
				"(a mapping alive at a lower TTL died at a higher one)");
			return;
		}
	}
	if (first_alive < 0)
		verdict(v, -1,
			"only full-TTL keepalives kept the mapping: the NAT that timed out "
			"lies beyond the TTLs tried (or does not decrement TTL)");
	else
		verdict(v, first_alive,
			"the least TTL whose keepalives kept the mapping; every lower one let it "
			"die, no keepalive let it die, the full TTL kept it");
}
