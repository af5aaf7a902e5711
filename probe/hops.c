/*
 * The opening TTL from a hop sweep. See hops.h.
 *
 * Why a TTL at all. A trial's first round (a TCP trial's first SYN) must
 * open this host's NATs, which map a flow when its first packet passes,
 * and must not reach the other side's NAT, which would file it under the
 * tuple its own host needs, or answer a SYN with a RST. So it should pass
 * every NAT of this side's and die at the first router beyond the
 * outermost. One home NAT at hop 1: TTL 2, natprobe's default. A home NAT
 * behind a carrier-grade NAT (NAT444): the CGN is hop 2 or further, and at
 * TTL 2 the packet dies at it or before it, so the CGN's mapping, the one
 * the other side sees, is never opened.
 *
 * The sweep. One datagram toward the reflector at each TTL 1..HOPS_MAX;
 * the router where it dies says so from one of its addresses (ICMP time
 * exceeded, RFC 792), the reflector answers those that reach it. A router
 * sends the error from its address on the way back to this host (Linux:
 * the outgoing interface's), and a NAT's inside is a private realm (RFC
 * 1918) or a CGN's shared one (RFC 6598, 100.64.0.0/10). So:
 *
 *   - each NAT of this side's answers, if it answers at all, from a
 *     non-public address (addr_realm: anything but public);
 *   - the first router beyond the outermost of them answers from a public
 *     one: it is outside every NAT, where addresses are public.
 *
 * The rule. The opening TTL is one more than the last TTL whose sender is
 * non-public, provided a later TTL answered from a public address, or the
 * reflector answered later from a public address of its own: that TTL
 * passes every NAT of this side's and dies at the first hop beyond. An ISP
 * router with a public address between the home NAT and the CGN (hops:
 * private, public, shared, public) is passed, since the rule takes the
 * last non-public hop, not the first public one. Otherwise the default
 * (HOPS_DEFAULT_TTL) stays, with the reason:
 *
 *   - natprobe's classification found no NAT on this side: the TTL opens
 *     nothing, and its value does not matter;
 *   - no TTL answered from a non-public address: no NAT of this side's
 *     seen (it does not answer, or answers from its public address);
 *   - that TTL would go past the reflector (it answered at a lower TTL
 *     than a private hop's: a route that changed during the sweep, or a
 *     reflector inside this side's realm);
 *   - nothing public answered beyond the last non-public hop: the sweep
 *     did not see past this side's NATs (HOPS_MAX too short, or silent
 *     routers and a reflector in a private realm);
 *   - IPv6: only IPv4 is swept (NAT for IPv6 is rare, and the trials keep
 *     no opening TTL there for TCP).
 *
 * A TTL that reaches the reflector exactly is kept: the reflector then
 * sits on the network right beyond this side's outermost NAT (as seen from
 * cli1 in natlab's labs), and the trials do not send to it but toward the
 * other side, where that TTL ends at the first hop beyond this side's
 * NATs. Unless the other side's NAT is that hop: two NATs on one network,
 * or two homes behind one CGN that hairpins, where the packet turns at the
 * CGN and meets the other home NAT next, as any TTL that opens the CGN
 * must.
 *
 * A silent TTL is "none": a router that sends no time exceeded (one
 * told not to, a filtering firewall) neither helps nor breaks the rule,
 * as long as something public answers beyond. A router sends few errors
 * to one host (Linux: a burst of 6, then one a second), and
 * natprobe's classification spends a NAT's burst (its hairpinning test
 * draws port unreachables from the NAT itself): the sweep runs before the
 * classification, and only its decision waits for it.
 *
 * Invisible to the sweep: a CGN that does not decrement the TTL (it is no
 * hop; the TTL found passes it anyway, and dies at the router beyond, so
 * that one does no harm), a CGN that answers from a public address (it
 * reads as the first router beyond, and the TTL found dies at it, before
 * its mapping: the NAT444 case again, undetected), and an ISP whose
 * routers beyond its CGN use private addresses (the TTL passes them too;
 * it still dies long before the other side, unless that side is as near).
 */
#include "probe/hops.h"

#include <string.h>

#include <netinet/in.h>

#include "addr.h"

void hops_sweep_init(struct hops_sweep *s, const struct sockaddr *server)
{
	memset(s, 0, sizeof(*s));
	s->family = server->sa_family;
	memcpy(&s->server, server, addr_len(server));
}

void hops_note_hop(struct hops_sweep *s, unsigned ttl, const struct sockaddr *from)
{
	socklen_t len = addr_len(from);

	if (ttl < 1 || ttl > HOPS_MAX || !len || len > sizeof(s->hop[0].from))
		return;
	s->hop[ttl - 1].seen = true;
	memcpy(&s->hop[ttl - 1].from, from, len);
}

void hops_note_server(struct hops_sweep *s, unsigned ttl)
{
	if (ttl >= 1 && ttl <= HOPS_MAX && (!s->server_at || ttl < s->server_at))
		s->server_at = ttl;
}

bool hops_complete(const struct hops_sweep *s)
{
	if (!s->server_at)
		return false;
	for (unsigned t = 1; t < s->server_at; t++)
		if (!s->hop[t - 1].seen)
			return false;
	return true;
}

static bool public_hop(const struct hops_sweep *s, unsigned ttl)
{
	const struct hops_hop *h = &s->hop[ttl - 1];

	return h->seen && addr_realm((const struct sockaddr *)&h->from) == ADDR_REALM_PUBLIC;
}

static bool nat_hop(const struct hops_sweep *s, unsigned ttl)
{
	return s->hop[ttl - 1].seen && !public_hop(s, ttl);
}

/* Something public answered beyond TTL last: a router, or the reflector. */
static bool public_beyond(const struct hops_sweep *s, unsigned last)
{
	for (unsigned t = last + 1; t <= HOPS_MAX; t++)
		if (public_hop(s, t))
			return true;
	return s->server_at > last &&
	       addr_realm((const struct sockaddr *)&s->server) == ADDR_REALM_PUBLIC;
}

void hops_decide(const struct hops_sweep *s, bool nat, struct hops_decision *d)
{
	unsigned last = 0;

	*d = (struct hops_decision){HOPS_DEFAULT_TTL, HOPS_DEFAULT, NULL};
	if (!nat) {
		d->reason = "natprobe found no NAT on this side: the TTL opens nothing";
		return;
	}
	if (s->family != AF_INET) {
		d->reason = "the hop sweep is IPv4 only";
		return;
	}
	if (s->skipped) {
		d->reason = s->skipped;
		return;
	}
	for (unsigned t = 1; t <= HOPS_MAX; t++)
		if (nat_hop(s, t))
			last = t;
	if (!last)
		d->reason = "no hop answered from a private or shared address: no NAT of this "
			    "host's seen";
	else if (s->server_at && last + 1 > s->server_at)
		d->reason = "one past the last private or shared hop would go past the reflector";
	else if (!public_beyond(s, last))
		d->reason = "nothing public answered beyond the last private or shared hop";
	else
		*d = (struct hops_decision){last + 1, HOPS_SWEEP,
					    "one past the last private or shared hop, with a "
					    "public address beyond it"};
}

unsigned hops_listed(const struct hops_sweep *s)
{
	unsigned n = s->server_at ? s->server_at - 1 : HOPS_MAX;

	if (s->skipped || s->family != AF_INET)
		return 0;
	for (unsigned t = n + 1; t <= HOPS_MAX; t++)
		if (s->hop[t - 1].seen)
			n = t;
	return n;
}

const char *hops_decided_name(enum hops_decided d)
{
	return d == HOPS_SWEEP ? "sweep" : "default";
}
