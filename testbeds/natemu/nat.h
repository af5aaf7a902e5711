/*
 * natemu's translation core: a NAT as a pure function of its settings, its
 * state, a packet summary and the time. No sockets, no clock, no I/O: the
 * capture/inject layer feeds it, and the unit tests drive it directly. Its
 * settings are the ground truth natprobe's verdicts are tested against.
 *
 * Vocabulary is RFC 4787's (UDP) and RFC 5382's (TCP). Addresses and ports
 * are in host byte order.
 */
#ifndef NATLAB_NATEMU_NAT_H
#define NATLAB_NATEMU_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NATEMU_MAX_POOL     8
#define NATEMU_MAX_MAPPINGS 4096
/* Remote endpoints remembered per mapping, for filtering (a real NAT keeps
 * one conntrack entry per remote: birthday punching sends to a thousand). */
#define NATEMU_MAX_REMOTES 4096

/* RFC 4787 4.1 (mapping) and 5 (filtering). */
enum natemu_dependence {
	NATEMU_ENDPOINT_INDEPENDENT,
	NATEMU_ADDRESS_DEPENDENT,
	NATEMU_ADDRESS_AND_PORT_DEPENDENT,
};

/* RFC 4787 4.2.1: how a new mapping's public port is chosen. */
enum natemu_ports {
	NATEMU_PORTS_PRESERVE,   /* the inside port, or the next free one */
	NATEMU_PORTS_SEQUENTIAL, /* the last one plus delta, now and then skipping */
	NATEMU_PORTS_RANDOM,
};

/* RFC 4787 4.1: which public address a new mapping takes from the pool. */
enum natemu_pooling {
	NATEMU_POOL_PAIRED,    /* one per inside address */
	NATEMU_POOL_ARBITRARY, /* any, per mapping */
};

/* RFC 4787 6: what happens to a packet from inside to one of our public endpoints. */
enum natemu_hairpin {
	NATEMU_HAIRPIN_OFF,
	NATEMU_HAIRPIN_EXTERNAL, /* forwarded with the sender's public source (REQ-9) */
	NATEMU_HAIRPIN_INTERNAL, /* forwarded with the sender's inside source */
};

/* RFC 5382 section 7.1: the answer to an unsolicited inbound SYN. */
/* ICMP errors from outside about a packet of a mapping (RFC 5382 REQ-9, REQ-10). */
enum natemu_icmp {
	NATEMU_ICMP_TRANSLATE, /* in to the inside host, the quoted packet translated back */
	NATEMU_ICMP_DROP,      /* not translated: dropped */
	NATEMU_ICMP_KILL,      /* translated, and the connection (UDP: the mapping) ends */
};

enum natemu_syn_reply {
	NATEMU_SYN_DROP,
	NATEMU_SYN_RST,
	NATEMU_SYN_ICMP,
};

struct natemu_cfg {
	enum natemu_dependence mapping, filtering;
	enum natemu_ports ports;
	unsigned delta;        /* sequential: step between new ports */
	unsigned skip_percent; /* sequential: chance that a step is taken twice */
	bool parity;           /* RFC 4787 REQ-4 (a RECOMMENDED): keep the inside port's parity */
	uint16_t port_lo, port_hi;
	uint32_t pool[NATEMU_MAX_POOL];
	size_t npool;
	enum natemu_pooling pooling;
	enum natemu_hairpin hairpin;
	uint32_t udp_lifetime_ms;
	bool inbound_refresh; /* RFC 4787 REQ-6: inbound packets refresh a mapping */
	enum natemu_syn_reply unsolicited_syn;
	bool simultaneous_open; /* RFC 5382 REQ-2 */
	enum natemu_icmp icmp;
	uint32_t tcp_established_ms, tcp_transitory_ms;
	/* RFC 5382 REQ-6's subject: a generic ALG that rewrites every copy of a
	 * translated address in TCP payloads (packet.c does it; off by default) */
	bool alg;
};

/* The defaults: a well-behaved NAT (RFC 4787 and 5382 recommendations). */
void natemu_cfg_default(struct natemu_cfg *cfg);

/*
 * Set one setting from text, as natemu's command line and the lab profiles
 * write it ("mapping=address-dependent", "pool=203.0.113.1,203.0.113.2").
 * Returns -1 with a message naming the key and value on error.
 */
int natemu_cfg_set(struct natemu_cfg *cfg, const char *key, const char *value, char *err,
		   size_t err_len);

/* A packet as the core sees it: only what translation reads and writes. */
struct natemu_pkt {
	uint8_t proto; /* IPPROTO_UDP, IPPROTO_TCP, or IPPROTO_ICMP for an ICMP error */
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint8_t tcp_flags; /* TH_SYN, TH_ACK, TH_FIN, TH_RST as on the wire */
	/* An ICMP error's quoted packet (RFC 792: its IP header and first 8
	 * bytes), the one the error is about: UDP or TCP. */
	struct natemu_quoted {
		uint8_t proto;
		uint32_t src_ip, dst_ip;
		uint16_t src_port, dst_port;
	} quoted;
};

enum natemu_side { NATEMU_INSIDE, NATEMU_OUTSIDE };

enum natemu_verdict {
	NATEMU_FORWARD,   /* send pkt out of side `to` */
	NATEMU_DROP,      /* silently */
	NATEMU_SEND_RST,  /* answer the sender with a TCP RST */
	NATEMU_SEND_ICMP, /* answer the sender with ICMP unreachable (administratively prohibited)
			   */
};

struct natemu_result {
	enum natemu_verdict verdict;
	enum natemu_side to;
	struct natemu_pkt pkt; /* translated, when forwarded */
	const char *reason;    /* why, for counters and logs; never NULL */
};

typedef struct natemu natemu_t;

/* NULL when out of memory or the settings are unusable (no pool, empty range). */
natemu_t *natemu_new(const struct natemu_cfg *cfg, uint64_t seed);
void natemu_free(natemu_t *n);

struct natemu_result natemu_process(natemu_t *n, enum natemu_side from,
				    const struct natemu_pkt *pkt, uint64_t now_ms);

/* Mappings alive at now_ms (for tests and the status counters). */
size_t natemu_mappings(const natemu_t *n, uint64_t now_ms);

const char *natemu_dependence_name(enum natemu_dependence d);

#endif
