/*
 * The port-mapping technique's rule (predict.h).
 *
 * A side asks its gateway for a mapping of its trial socket's port (UPnP
 * IGD, NAT-PMP or PCP) and waits; the other side sends to that port at the
 * waiting side's public address. The sender's own NAT lets the answer back
 * whatever its filtering, since the sender spoke first; so the trial works
 * exactly when the waiting side's mapping takes packets from anyone:
 *
 *   - granted, and at the address the reflector sees (the gateway holds
 *     that address, or reports it: a gateway behind a 1:1 NAT that learnt
 *     its address by STUN reports it too, which is why the depth matters);
 *   - and the gateway is the only NAT (nat_depth 1, no CGN seen: a
 *     gateway that learnt its address by STUN behind a full-cone CGN
 *     reports the public one, and only the sweep's 100.64 hop tells): behind a CGN the
 *     gateway's mapping opens nothing at the CGN, whose filter drops the
 *     other side's packet (a CGN with PCP would need the request sent to
 *     it, RFC 6887's third-party and chained cases, which no home gateway
 *     here does).
 *
 * works: a side usable. fails: both sides said, neither usable. depends:
 * a side that did not say (an older probe), or a granted mapping whose
 * depth is unknown.
 */
#include "probe/predict.h"

#include <string.h>

#define FLAG_GRANTED 0x1
#define FLAG_PUBLIC  0x2
#define FLAG_KNOWN   0x4
#define FLAG_CGN     0x8
#define DEPTH_NONE   255

void predict_portmap_to_wire(const struct predict_portmap *p, uint8_t w[PREDICT_PORTMAP_WIRE_LEN])
{
	memset(w, 0, PREDICT_PORTMAP_WIRE_LEN);
	w[0] = p->proto;
	w[1] = p->depth < 0 || p->depth >= DEPTH_NONE ? DEPTH_NONE : (uint8_t)p->depth;
	w[2] = (uint8_t)((p->granted ? FLAG_GRANTED : 0) | (p->public_ext ? FLAG_PUBLIC : 0) |
			 (p->known ? FLAG_KNOWN : 0) | (p->cgn ? FLAG_CGN : 0));
	w[4] = (uint8_t)(p->port >> 8);
	w[5] = (uint8_t)p->port;
}

struct predict_portmap predict_portmap_from_wire(const uint8_t w[PREDICT_PORTMAP_WIRE_LEN])
{
	struct predict_portmap p = {
	    .known = w[2] & FLAG_KNOWN,
	    .granted = w[2] & FLAG_GRANTED,
	    .public_ext = w[2] & FLAG_PUBLIC,
	    .cgn = w[2] & FLAG_CGN,
	    .depth = w[1] == DEPTH_NONE ? -1 : w[1],
	    .proto = w[0] <= 3 ? w[0] : 0,
	    .port = (uint16_t)(w[4] << 8 | w[5]),
	};

	if (!p.port || !p.proto)
		p.granted = false; /* nothing to send to */
	return p;
}

bool predict_portmap_usable(const struct predict_portmap *p)
{
	return p->known && p->granted && p->public_ext && p->depth == 1 && !p->cgn;
}

/* Said, and not usable whatever is still unknown. */
static bool unusable(const struct predict_portmap *p)
{
	return p->known &&
	       (!p->granted || !p->public_ext || p->depth >= 2 || p->depth == 0 || p->cgn);
}

static const char *why_fails(const struct predict_portmap *a, const struct predict_portmap *b)
{
	if ((a->granted && (a->depth >= 2 || a->cgn)) || (b->granted && (b->depth >= 2 || b->cgn)))
		return "a mapping granted by a gateway behind another NAT: the outer NAT (a CGN) "
		       "was never asked, and drops the other side's packet";
	if ((a->granted && !a->public_ext) || (b->granted && !b->public_ext))
		return "a mapping granted at an address the reflector does not see";
	if ((a->granted && a->depth == 0) || (b->granted && b->depth == 0))
		return "a mapping granted where no NAT is: nothing to open";
	return "no gateway granted a mapping";
}

struct predict predict_port_mapping(const struct predict_portmap *a,
				    const struct predict_portmap *b)
{
	if (predict_portmap_usable(a) || predict_portmap_usable(b))
		return (struct predict){PREDICT_WORKS,
					"a gateway that holds the public address forwards the port "
					"it granted; the sender's own NAT lets the answer back"};
	if (unusable(a) && unusable(b))
		return (struct predict){PREDICT_FAILS, why_fails(a, b)};
	return (struct predict){PREDICT_DEPENDS,
				"a side did not say what its gateway granted, or its NAT depth "
				"is not known"};
}

static int rank(const struct predict_portmap *p)
{
	return predict_portmap_usable(p) ? 2 : p->known && p->granted ? 1 : 0;
}

int predict_portmap_passive(const struct predict_portmap *a, const struct predict_portmap *b)
{
	int ra = rank(a), rb = rank(b);

	if (!ra && !rb)
		return -1;
	return ra >= rb ? 0 : 1;
}
