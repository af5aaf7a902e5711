#include "synask.h"

#include <string.h>

#include "probe/decide.h"

int probe_syn_ask(struct probe_run *r, int tag, struct probe_syn_ask *a, int conn, unsigned role,
		  uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->conn = conn;
	a->role = role;
	a->port = port;
	a->seen.asked = true;
	a->seen.fate = PROBE_SYN_INCONCLUSIVE;
	if (probe_tcp_order(r, tag, conn, role, port, probe_order_wait_ms(r)))
		return -1;
	a->pending = true;
	a->seen.tries = 1;
	return 0;
}

static void keep(struct probe_syn_ask *a, const struct probe_observation *o)
{
	struct probe_tcp_seen *s = &a->seen;

	s->outcome = o->outcome;
	s->ttl = o->ttl;
	s->icmp_type = o->icmp_type;
	s->icmp_code = o->icmp_code;
	s->ms = o->us / 1000.0;
	s->from = o->from;
	if (o->peer_ttl)
		a->baseline = o->peer_ttl;
}

bool probe_syn_ask_observed(struct probe_run *r, int tag, struct probe_syn_ask *a,
			    const struct probe_observation *o)
{
	a->pending = false;
	keep(a, o);
	a->seen.fate = probe_decide_syn(o, a->baseline);
	if (a->seen.fate == PROBE_SYN_DROP && a->seen.tries < probe_silence_needed(r) &&
	    probe_silence_trusted(r) &&
	    !probe_tcp_order(r, tag, a->conn, a->role, a->port, probe_order_wait_ms(r))) {
		a->pending = true;
		a->seen.tries++;
		return false;
	}
	if (a->seen.fate == PROBE_SYN_DROP && !probe_silence_trusted(r)) {
		a->seen.fate = PROBE_SYN_INCONCLUSIVE;
		probe_note(r, "too much loss to read the reflector's SYNs' silence");
	}
	if (a->seen.fate == PROBE_SYN_INCONCLUSIVE && o->outcome != PROBE_SEEN_NOTHING)
		probe_note(r, "the reflector did not see our connection's SYN, so a RST or ICMP "
			      "error could not be told from the NAT's or this host's");
	a->settled = true;
	return true;
}

void probe_syn_ask_lost(struct probe_syn_ask *a)
{
	a->pending = false;
	a->settled = true;
	a->seen.fate = PROBE_SYN_INCONCLUSIVE;
}
