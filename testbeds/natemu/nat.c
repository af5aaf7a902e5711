/*
 * natemu's translation core. See nat.h.
 *
 * The mapping table is a fixed array scanned linearly: a lab NAT carries
 * tens of flows, and a bounded table cannot grow without limit under a
 * probe's port-allocation bursts. A full table drops new flows and says so.
 */
#include "nat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* One TCP connection's state, as a NAT tracks it (RFC 5382 section 5). */
enum tcp_state { TCP_NONE, TCP_SYN_OUT, TCP_SYN_IN, TCP_ESTABLISHED, TCP_CLOSING };

struct endpoint {
	uint32_t ip;
	uint16_t port;
};

/* A remote endpoint of a mapping. For TCP it is also one connection, with
 * its own state and timer: several connections share an endpoint-independent
 * mapping, and one closing must not shorten the others' lives. */
struct remote {
	struct endpoint ep;
	enum tcp_state tcp;
	uint64_t expires;
};

struct mapping {
	bool used;
	uint8_t proto;
	struct endpoint inside, outside;
	struct endpoint key; /* the destination part of the key: zero where it is not part */
	uint64_t expires;
	/* The remote endpoints it has sent to, for its filter (and for TCP,
	 * those that opened a connection in through it): grown as needed, then
	 * the oldest replaced once NATEMU_MAX_REMOTES are kept. */
	struct remote *remotes;
	size_t nremotes, next_remote, cap;
};

struct natemu {
	struct natemu_cfg cfg;
	uint64_t rng;
	uint16_t next_port; /* sequential allocation */
	struct mapping map[NATEMU_MAX_MAPPINGS];
};

void natemu_cfg_default(struct natemu_cfg *cfg)
{
	*cfg = (struct natemu_cfg){
	    .mapping = NATEMU_ENDPOINT_INDEPENDENT,
	    .filtering = NATEMU_ADDRESS_AND_PORT_DEPENDENT,
	    .ports = NATEMU_PORTS_PRESERVE,
	    .delta = 1,
	    .port_lo = 1024,
	    .port_hi = 65535,
	    .pooling = NATEMU_POOL_PAIRED,
	    .hairpin = NATEMU_HAIRPIN_EXTERNAL,
	    .udp_lifetime_ms = 120000, /* RFC 4787 REQ-5: at least 2 minutes */
	    .inbound_refresh = true,
	    .unsolicited_syn = NATEMU_SYN_DROP,
	    .simultaneous_open = true,
	    .tcp_established_ms = 7440000, /* RFC 5382 REQ-5: 2 hours 4 minutes */
	    .tcp_transitory_ms = 240000,   /* RFC 5382 REQ-5: 4 minutes */
	};
}

/* xorshift64*: reproducible for a seed, which is what a test bed needs. */
static uint32_t rng_next(natemu_t *n)
{
	n->rng ^= n->rng >> 12;
	n->rng ^= n->rng << 25;
	n->rng ^= n->rng >> 27;
	return (uint32_t)((n->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

natemu_t *natemu_new(const struct natemu_cfg *cfg, uint64_t seed)
{
	natemu_t *n;

	if (cfg->npool == 0 || cfg->npool > NATEMU_MAX_POOL || cfg->port_lo == 0 ||
	    cfg->port_lo > cfg->port_hi || cfg->delta == 0 || cfg->skip_percent > 100)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->cfg = *cfg;
	n->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
	n->next_port = cfg->port_lo;
	return n;
}

void natemu_free(natemu_t *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < NATEMU_MAX_MAPPINGS; i++)
		free(n->map[i].remotes);
	free(n);
}

static bool alive(const struct mapping *m, uint64_t now)
{
	return m->used && m->expires > now;
}

size_t natemu_mappings(const natemu_t *n, uint64_t now_ms)
{
	size_t count = 0;

	for (size_t i = 0; i < NATEMU_MAX_MAPPINGS; i++)
		count += alive(&n->map[i], now_ms);
	return count;
}

static bool same(struct endpoint a, struct endpoint b)
{
	return a.ip == b.ip && a.port == b.port;
}

/* The destination part of a mapping's key, by RFC 4787 4.1's three behaviours. */
static struct endpoint key_of(const natemu_t *n, struct endpoint dst)
{
	switch (n->cfg.mapping) {
	case NATEMU_ENDPOINT_INDEPENDENT:
		return (struct endpoint){0, 0};
	case NATEMU_ADDRESS_DEPENDENT:
		return (struct endpoint){dst.ip, 0};
	default:
		return dst;
	}
}

static struct mapping *find_outbound(natemu_t *n, uint8_t proto, struct endpoint in,
				     struct endpoint dst, uint64_t now)
{
	struct endpoint key = key_of(n, dst);

	for (size_t i = 0; i < NATEMU_MAX_MAPPINGS; i++) {
		struct mapping *m = &n->map[i];

		if (alive(m, now) && m->proto == proto && same(m->inside, in) && same(m->key, key))
			return m;
	}
	return NULL;
}

static struct mapping *find_inbound(natemu_t *n, uint8_t proto, struct endpoint out, uint64_t now)
{
	for (size_t i = 0; i < NATEMU_MAX_MAPPINGS; i++) {
		struct mapping *m = &n->map[i];

		if (alive(m, now) && m->proto == proto && same(m->outside, out))
			return m;
	}
	return NULL;
}

static bool port_in_use(const natemu_t *n, uint8_t proto, uint32_t ip, uint16_t port, uint64_t now)
{
	for (size_t i = 0; i < NATEMU_MAX_MAPPINGS; i++) {
		const struct mapping *m = &n->map[i];

		if (alive(m, now) && m->proto == proto && m->outside.ip == ip &&
		    m->outside.port == port)
			return true;
	}
	return false;
}

static uint32_t pick_address(natemu_t *n, uint32_t inside_ip)
{
	if (n->cfg.pooling == NATEMU_POOL_PAIRED) {
		/* A fixed function of the inside address: REQ-2's paired pooling.
		 * Fibonacci hashing; its top bits are the well-mixed ones. */
		uint32_t h = inside_ip * 2654435761u;

		return n->cfg.pool[((uint64_t)h * n->cfg.npool) >> 32];
	}
	/* Arbitrary: drawn for each mapping, so that nothing a probe sees of one
	 * mapping's address tells it the next one's (round robin would). */
	return n->cfg.pool[rng_next(n) % n->cfg.npool];
}

/* Move p into the range and, if asked, to the inside port's parity. */
static uint32_t fit(const natemu_t *n, uint32_t p, uint16_t inside_port)
{
	uint32_t lo = n->cfg.port_lo, span = (uint32_t)n->cfg.port_hi - lo + 1;

	p = lo + (p - lo) % span;
	if (n->cfg.parity && (p & 1) != (inside_port & 1u))
		p = p + 1 > n->cfg.port_hi ? p - 1 : p + 1;
	return p;
}

/* A free public port on ip, or 0 when the range is full. */
static uint16_t pick_port(natemu_t *n, uint8_t proto, uint32_t ip, uint16_t inside_port,
			  uint64_t now)
{
	uint32_t lo = n->cfg.port_lo, hi = n->cfg.port_hi, span = hi - lo + 1, p;
	uint32_t step = n->cfg.parity ? 2 : 1;

	switch (n->cfg.ports) {
	case NATEMU_PORTS_PRESERVE:
		p = inside_port >= lo && inside_port <= hi ? inside_port : lo;
		break;
	case NATEMU_PORTS_SEQUENTIAL:
		p = n->next_port;
		if (n->cfg.skip_percent && rng_next(n) % 100 < n->cfg.skip_percent)
			p += n->cfg.delta; /* another user took one */
		step = n->cfg.delta;
		break;
	default:
		for (int tries = 0; tries < 64; tries++) {
			p = fit(n, lo + rng_next(n) % span, inside_port);
			if (!port_in_use(n, proto, ip, (uint16_t)p, now))
				return (uint16_t)p;
		}
		p = lo + rng_next(n) % span;
		break;
	}
	/* From the first choice on, in steps, until a free port: bounded by the range. */
	for (uint32_t k = 0; k <= span; k++) {
		uint32_t c = fit(n, p + k * step, inside_port);

		if (!port_in_use(n, proto, ip, (uint16_t)c, now)) {
			if (n->cfg.ports == NATEMU_PORTS_SEQUENTIAL)
				n->next_port = (uint16_t)fit(n, c + n->cfg.delta, inside_port);
			return (uint16_t)c;
		}
	}
	return 0;
}

static struct mapping *new_mapping(natemu_t *n, uint8_t proto, struct endpoint in,
				   struct endpoint dst, uint64_t now, const char **why)
{
	struct mapping *slot = NULL;
	uint32_t ip;
	uint16_t port;

	for (size_t i = 0; i < NATEMU_MAX_MAPPINGS && !slot; i++)
		if (!alive(&n->map[i], now))
			slot = &n->map[i];
	if (!slot) {
		*why = "mapping table full";
		return NULL;
	}
	ip = pick_address(n, in.ip);
	port = pick_port(n, proto, ip, in.port, now);
	if (!port) {
		*why = "public ports exhausted";
		return NULL;
	}
	free(slot->remotes);
	*slot = (struct mapping){.used = true, .proto = proto, .inside = in, .key = key_of(n, dst)};
	slot->outside = (struct endpoint){ip, port};
	return slot;
}

/* Room for more remotes: false at NATEMU_MAX_REMOTES, or out of memory. */
static bool grow_remotes(struct mapping *m)
{
	size_t cap = m->cap ? 2 * m->cap : 16;
	struct remote *r;

	if (m->cap >= NATEMU_MAX_REMOTES)
		return false;
	if (cap > NATEMU_MAX_REMOTES)
		cap = NATEMU_MAX_REMOTES;
	r = realloc(m->remotes, cap * sizeof(*r));
	if (!r)
		return false;
	m->remotes = r;
	m->cap = cap;
	return true;
}

static struct remote *find_remote(struct mapping *m, struct endpoint ep)
{
	for (size_t i = 0; i < m->nremotes; i++)
		if (same(m->remotes[i].ep, ep))
			return &m->remotes[i];
	return NULL;
}

/* The entry for ep, added if new; NULL only when out of memory. */
static struct remote *remember_remote(struct mapping *m, struct endpoint ep)
{
	struct remote *r = find_remote(m, ep);

	if (r)
		return r;
	if (m->nremotes < m->cap || grow_remotes(m))
		r = &m->remotes[m->nremotes++];
	else if (!m->cap)
		return NULL; /* out of memory: the filter stays shut */
	else {
		r = &m->remotes[m->next_remote];
		m->next_remote = (m->next_remote + 1) % m->cap;
	}
	*r = (struct remote){.ep = ep};
	return r;
}

/* RFC 4787 section 5: may this remote endpoint send in through m? */
static bool filter_allows(const natemu_t *n, const struct mapping *m, struct endpoint remote)
{
	for (size_t i = 0; i < m->nremotes; i++) {
		if (n->cfg.filtering == NATEMU_ENDPOINT_INDEPENDENT)
			return true;
		if (m->remotes[i].ep.ip == remote.ip &&
		    (n->cfg.filtering == NATEMU_ADDRESS_DEPENDENT ||
		     m->remotes[i].ep.port == remote.port))
			return true;
	}
	return false;
}

/* RFC 5382 REQ-5: established connections live long, the rest briefly. A
 * TCP mapping lives as long as its longest-lived connection. */
static void refresh(const natemu_t *n, struct mapping *m, struct remote *r, uint64_t now)
{
	if (m->proto != IPPROTO_TCP) {
		m->expires = now + n->cfg.udp_lifetime_ms;
		return;
	}
	if (!r) { /* out of memory: the mapping alone, briefly */
		if (now + n->cfg.tcp_transitory_ms > m->expires)
			m->expires = now + n->cfg.tcp_transitory_ms;
		return;
	}
	r->expires = now + (r->tcp == TCP_ESTABLISHED ? n->cfg.tcp_established_ms
						      : n->cfg.tcp_transitory_ms);
	m->expires = 0;
	for (size_t i = 0; i < m->nremotes; i++)
		if (m->remotes[i].expires > m->expires)
			m->expires = m->remotes[i].expires;
}

static bool bare_syn(uint8_t flags)
{
	return (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
}

/* One connection's state after a segment in either direction. */
static void tcp_track(struct remote *r, uint8_t flags, bool outbound)
{
	if (!r)
		return;
	if (flags & (TCP_FIN | TCP_RST))
		r->tcp = TCP_CLOSING;
	else if (!(flags & TCP_SYN))
		return;
	else if (r->tcp == TCP_NONE || r->tcp == TCP_CLOSING)
		r->tcp = bare_syn(flags) ? (outbound ? TCP_SYN_OUT : TCP_SYN_IN) : r->tcp;
	else if ((r->tcp == TCP_SYN_OUT && !outbound) || (r->tcp == TCP_SYN_IN && outbound))
		r->tcp = TCP_ESTABLISHED; /* the SYN-ACK, or the other SYN of a simultaneous open */
}

static struct natemu_result result(enum natemu_verdict v, enum natemu_side to,
				   const struct natemu_pkt *pkt, const char *reason)
{
	return (struct natemu_result){.verdict = v, .to = to, .pkt = *pkt, .reason = reason};
}

/* An inbound packet refused: a SYN gets the configured answer (RFC 5382 7.1). */
static struct natemu_result refuse(const natemu_t *n, const struct natemu_pkt *pkt,
				   const char *reason)
{
	bool syn = pkt->proto == IPPROTO_TCP && (pkt->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;

	if (syn && n->cfg.unsolicited_syn == NATEMU_SYN_RST)
		return result(NATEMU_SEND_RST, NATEMU_OUTSIDE, pkt, reason);
	if (syn && n->cfg.unsolicited_syn == NATEMU_SYN_ICMP)
		return result(NATEMU_SEND_ICMP, NATEMU_OUTSIDE, pkt, reason);
	return result(NATEMU_DROP, NATEMU_OUTSIDE, pkt, reason);
}

static struct natemu_result inbound(natemu_t *n, const struct natemu_pkt *pkt, uint64_t now)
{
	struct endpoint src = {pkt->src_ip, pkt->src_port};
	struct mapping *m =
	    find_inbound(n, pkt->proto, (struct endpoint){pkt->dst_ip, pkt->dst_port}, now);
	struct natemu_pkt out = *pkt;
	struct remote *r = NULL;

	if (!m)
		return refuse(n, pkt, "no mapping");
	if (!filter_allows(n, m, src))
		return refuse(n, pkt, "filtered");
	if (pkt->proto == IPPROTO_TCP) {
		bool syn = bare_syn(pkt->tcp_flags);

		r = syn ? remember_remote(m, src) : find_remote(m, src);
		/* REQ-2: a NAT without simultaneous open takes the crossing SYN
		 * for an unsolicited one; other inbound SYNs go by the filter. */
		if (syn && r && r->tcp == TCP_SYN_OUT && !n->cfg.simultaneous_open)
			return refuse(n, pkt, "simultaneous open not supported");
		tcp_track(r, pkt->tcp_flags, false);
	}
	if (n->cfg.inbound_refresh && (r || pkt->proto != IPPROTO_TCP))
		refresh(n, m, r, now);
	out.dst_ip = m->inside.ip;
	out.dst_port = m->inside.port;
	return result(NATEMU_FORWARD, NATEMU_INSIDE, &out, "translated");
}

/* The mapping of a TCP connection between in and dst that the NAT has
 * seen open, out or in (a connection opened from outside came in through a
 * mapping whose key, where mapping depends on the destination, is not
 * dst's); NULL when none. */
static struct mapping *connection_mapping(natemu_t *n, struct endpoint in, struct endpoint dst,
					  uint64_t now)
{
	for (size_t i = 0; i < NATEMU_MAX_MAPPINGS; i++) {
		struct mapping *m = &n->map[i];

		if (alive(m, now) && m->proto == IPPROTO_TCP && same(m->inside, in) &&
		    find_remote(m, dst))
			return m;
	}
	return NULL;
}

static bool is_public(const natemu_t *n, uint32_t ip)
{
	for (size_t i = 0; i < n->cfg.npool; i++)
		if (n->cfg.pool[i] == ip)
			return true;
	return false;
}

static struct natemu_result outbound(natemu_t *n, const struct natemu_pkt *pkt, uint64_t now)
{
	struct endpoint in = {pkt->src_ip, pkt->src_port}, dst = {pkt->dst_ip, pkt->dst_port};
	struct mapping *m = find_outbound(n, pkt->proto, in, dst, now);
	struct natemu_pkt out = *pkt;
	const char *why = NULL;
	bool hairpin = is_public(n, pkt->dst_ip);

	if (hairpin && n->cfg.hairpin == NATEMU_HAIRPIN_OFF)
		return result(NATEMU_DROP, NATEMU_INSIDE, pkt, "hairpinning off");
	/* A NAT that tracks TCP (RFC 5382 section 5) passes a segment other than
	 * a SYN only for a connection it knows: one that expired or that an
	 * ICMP error ended does not come back by itself. */
	if (pkt->proto == IPPROTO_TCP && !(pkt->tcp_flags & TCP_SYN) &&
	    !(m && find_remote(m, dst)) && !connection_mapping(n, in, dst, now))
		return result(NATEMU_DROP, NATEMU_INSIDE, pkt, "tcp segment of no connection");
	/* A connection's segments after its first SYN leave through the mapping
	 * it was opened on, as a NAT's per-connection state translates them: one
	 * opened from outside answers from the endpoint its SYN came to, not from
	 * the mapping a new connection to dst would get (RFC 5382 REQ-1's session). */
	if (pkt->proto == IPPROTO_TCP && !bare_syn(pkt->tcp_flags) && !(m && find_remote(m, dst))) {
		struct mapping *c = connection_mapping(n, in, dst, now);

		if (c)
			m = c;
	}
	if (!m) {
		m = new_mapping(n, pkt->proto, in, dst, now, &why);
		if (!m)
			return result(NATEMU_DROP, NATEMU_INSIDE, pkt, why);
	}
	struct remote *conn = remember_remote(m, dst);

	if (pkt->proto == IPPROTO_TCP)
		tcp_track(conn, pkt->tcp_flags, true);
	refresh(n, m, conn, now);
	out.src_ip = m->outside.ip;
	out.src_port = m->outside.port;
	if (!hairpin)
		return result(NATEMU_FORWARD, NATEMU_OUTSIDE, &out, "translated");

	/* RFC 4787 section 6: back in, through the target mapping's filter. */
	struct natemu_result r = inbound(n, &out, now);

	if (r.verdict == NATEMU_FORWARD && n->cfg.hairpin == NATEMU_HAIRPIN_INTERNAL) {
		r.pkt.src_ip = pkt->src_ip;
		r.pkt.src_port = pkt->src_port;
	}
	if (r.verdict == NATEMU_FORWARD)
		r.reason = "hairpinned";
	else
		r.to = NATEMU_INSIDE;
	return r;
}

/* The connection a TCP ICMP error is about ends: forgotten, and the mapping
 * with it when it was the last. */
static void forget_connection(struct mapping *m, struct remote *r)
{
	r->ep = (struct endpoint){0, 0};
	r->expires = 0;
	r->tcp = TCP_NONE;
	m->expires = 0;
	for (size_t i = 0; i < m->nremotes; i++)
		if (m->remotes[i].expires > m->expires)
			m->expires = m->remotes[i].expires;
}

/* An ICMP error from outside about a packet a mapping sent (RFC 5382
 * REQ-9, REQ-10; RFC 5508): in to the inside host, the outer destination
 * and the quoted source translated back. */
static struct natemu_result icmp_inbound(natemu_t *n, const struct natemu_pkt *pkt, uint64_t now)
{
	const struct natemu_quoted *q = &pkt->quoted;
	struct endpoint out_ep = {q->src_ip, q->src_port}, remote = {q->dst_ip, q->dst_port};
	struct mapping *m = find_inbound(n, q->proto, out_ep, now);
	struct remote *r = m && q->proto == IPPROTO_TCP ? find_remote(m, remote) : NULL;
	struct natemu_pkt out = *pkt;

	if (!m || pkt->dst_ip != q->src_ip || (q->proto == IPPROTO_TCP && !r))
		return result(NATEMU_DROP, NATEMU_OUTSIDE, pkt, "icmp error about no mapping");
	if (n->cfg.icmp == NATEMU_ICMP_DROP)
		return result(NATEMU_DROP, NATEMU_OUTSIDE, pkt, "icmp error not translated");
	out.dst_ip = m->inside.ip;
	out.quoted.src_ip = m->inside.ip;
	out.quoted.src_port = m->inside.port;
	if (n->cfg.icmp != NATEMU_ICMP_KILL)
		return result(NATEMU_FORWARD, NATEMU_INSIDE, &out, "icmp error translated");
	if (r)
		forget_connection(m, r);
	else
		m->expires = 0;
	return result(NATEMU_FORWARD, NATEMU_INSIDE, &out, "icmp error translated, state dropped");
}

struct natemu_result natemu_process(natemu_t *n, enum natemu_side from,
				    const struct natemu_pkt *pkt, uint64_t now_ms)
{
	if (pkt->proto == IPPROTO_ICMP)
		return from == NATEMU_OUTSIDE ? icmp_inbound(n, pkt, now_ms)
					      : result(NATEMU_DROP, from, pkt,
						       "icmp error from inside not translated");
	if (pkt->proto != IPPROTO_UDP && pkt->proto != IPPROTO_TCP)
		return result(NATEMU_DROP, from, pkt, "not UDP or TCP");
	if (from == NATEMU_INSIDE)
		return outbound(n, pkt, now_ms);
	return inbound(n, pkt, now_ms);
}

/* ---- settings from text ---- */

static int pick_word(const char *value, const char *const *words, int nwords, int *out)
{
	for (int i = 0; i < nwords; i++) {
		if (!strcmp(value, words[i])) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

static int parse_uint(const char *value, unsigned long max, unsigned long *out)
{
	char *end;

	if (*value < '0' || *value > '9')
		return -1;
	*out = strtoul(value, &end, 10);
	return *end || *out > max ? -1 : 0;
}

static int parse_pool(struct natemu_cfg *cfg, const char *value)
{
	char copy[256], *save = NULL;
	size_t n = 0;

	if (strlen(value) >= sizeof(copy))
		return -1;
	strcpy(copy, value);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct in_addr a;

		if (n == NATEMU_MAX_POOL || inet_pton(AF_INET, tok, &a) != 1)
			return -1;
		cfg->pool[n++] = ntohl(a.s_addr);
	}
	cfg->npool = n;
	return n ? 0 : -1;
}

static int parse_range(struct natemu_cfg *cfg, const char *value)
{
	unsigned long lo, hi;
	char copy[32], *dash;

	if (strlen(value) >= sizeof(copy))
		return -1;
	strcpy(copy, value);
	dash = strchr(copy, '-');
	if (!dash)
		return -1;
	*dash = '\0';
	if (parse_uint(copy, 65535, &lo) || parse_uint(dash + 1, 65535, &hi) || lo == 0 || lo > hi)
		return -1;
	cfg->port_lo = (uint16_t)lo;
	cfg->port_hi = (uint16_t)hi;
	return 0;
}

#define WORDS(list) pick_word(value, list, (int)(sizeof(list) / sizeof(list[0])), &w)

static const char *const dependence_words[] = {"endpoint-independent", "address-dependent",
					       "address-and-port-dependent"};
static const char *const onoff_words[] = {"off", "on"};

/* The enumerated settings; -1 when key is not one of them. */
static int set_word(struct natemu_cfg *cfg, const char *key, const char *value, const char **want)
{
	static const char *const ports[] = {"preserve", "sequential", "random"};
	static const char *const pooling[] = {"paired", "arbitrary"};
	static const char *const hairpin[] = {"off", "external", "internal"};
	static const char *const syn[] = {"drop", "rst", "icmp"};
	static const char *const icmp[] = {"translate", "drop", "kill"};
	int w = 0, rc;

	if (!strcmp(key, "mapping") || !strcmp(key, "filtering")) {
		*want = "endpoint-independent, address-dependent or address-and-port-dependent";
		if ((rc = WORDS(dependence_words)) == 0)
			*(key[0] == 'm' ? &cfg->mapping : &cfg->filtering) =
			    (enum natemu_dependence)w;
	} else if (!strcmp(key, "ports")) {
		*want = "preserve, sequential or random";
		if ((rc = WORDS(ports)) == 0)
			cfg->ports = (enum natemu_ports)w;
	} else if (!strcmp(key, "pooling")) {
		*want = "paired or arbitrary";
		if ((rc = WORDS(pooling)) == 0)
			cfg->pooling = (enum natemu_pooling)w;
	} else if (!strcmp(key, "hairpin")) {
		*want = "off, external or internal";
		if ((rc = WORDS(hairpin)) == 0)
			cfg->hairpin = (enum natemu_hairpin)w;
	} else if (!strcmp(key, "unsolicited-syn")) {
		*want = "drop, rst or icmp";
		if ((rc = WORDS(syn)) == 0)
			cfg->unsolicited_syn = (enum natemu_syn_reply)w;
	} else if (!strcmp(key, "icmp")) {
		*want = "translate, drop or kill";
		if ((rc = WORDS(icmp)) == 0)
			cfg->icmp = (enum natemu_icmp)w;
	} else if (!strcmp(key, "parity") || !strcmp(key, "inbound-refresh") ||
		   !strcmp(key, "simultaneous-open") || !strcmp(key, "alg")) {
		*want = "on or off";
		if ((rc = WORDS(onoff_words)) == 0)
			*(key[0] == 'p'   ? &cfg->parity
			  : key[0] == 'i' ? &cfg->inbound_refresh
			  : key[0] == 'a' ? &cfg->alg
					  : &cfg->simultaneous_open) = w;
	} else {
		return 1;
	}
	return rc;
}

/* The numeric settings; 1 when key is not one of them. */
static int set_number(struct natemu_cfg *cfg, const char *key, const char *value, const char **want)
{
	unsigned long u;
	int rc;

	if (!strcmp(key, "skip")) {
		*want = "a percentage, 0 to 100";
		if ((rc = parse_uint(value, 100, &u)) == 0)
			cfg->skip_percent = (unsigned)u;
		return rc;
	}
	*want = "a whole number from 1 to 86400 (seconds for lifetimes)";
	if (strcmp(key, "delta") && strcmp(key, "udp-lifetime") && strcmp(key, "tcp-established") &&
	    strcmp(key, "tcp-transitory"))
		return 1;
	if (parse_uint(value, 86400, &u) || u == 0)
		return -1;
	if (!strcmp(key, "delta"))
		cfg->delta = (unsigned)u;
	else if (!strcmp(key, "udp-lifetime"))
		cfg->udp_lifetime_ms = (uint32_t)u * 1000;
	else if (!strcmp(key, "tcp-established"))
		cfg->tcp_established_ms = (uint32_t)u * 1000;
	else
		cfg->tcp_transitory_ms = (uint32_t)u * 1000;
	return 0;
}

int natemu_cfg_set(struct natemu_cfg *cfg, const char *key, const char *value, char *err,
		   size_t err_len)
{
	const char *want = NULL;
	int rc = set_word(cfg, key, value, &want);

	if (rc > 0)
		rc = set_number(cfg, key, value, &want);
	if (rc > 0 && !strcmp(key, "range")) {
		want = "LO-HI with 1 <= LO <= HI <= 65535";
		rc = parse_range(cfg, value);
	} else if (rc > 0 && !strcmp(key, "pool")) {
		want = "1 to 8 IPv4 addresses separated by commas";
		rc = parse_pool(cfg, value);
	}
	if (rc > 0) {
		snprintf(err, err_len, "unknown natemu setting '%s'", key);
		return -1;
	}
	if (rc < 0) {
		snprintf(err, err_len, "bad %s '%s': want %s", key, value, want);
		return -1;
	}
	return 0;
}

const char *natemu_dependence_name(enum natemu_dependence d)
{
	return (unsigned)d < 3 ? dependence_words[d] : "invalid";
}
