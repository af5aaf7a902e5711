/*
 * TCP traversal trials (probe/punchtcp.c) on a simulated network: two
 * hosts, each behind a NAT that is natemu's own code (testbeds/natemu/nat.c)
 * with the settings of a cell, a router between the NATs that sends ICMP
 * time exceeded when a packet's TTL runs out there, and a rendezvous host
 * that learns each side's public TCP endpoint from a connection it keeps.
 * Each host has a small TCP stack that does what Linux does where it
 * matters here: a SYN to a port with a socket in SYN_SENT toward its source
 * is a simultaneous open (SYN-ACK), to a listener a new connection, to
 * nothing a RST; a RST ends a connect (refused); an ICMP error in SYN_SENT
 * ends it too (unreachable) unless the quoted TTL is under the socket's
 * IP_MINTTL; the SYN is sent again at +1 s and +3 s, at the full TTL.
 *
 * The grids: every pair of natemu's TCP settings (unsolicited SYN: drop,
 * RST, ICMP; simultaneous open on, off; ICMP errors translated or ending
 * the connection), with and without the opening TTL, in step and one side
 * 30 ms late; and every mapping x filtering pair. Wherever rule 7
 * (probe/predict.c) says works, both sides must succeed; where it says
 * fails, neither may. The RST-answering pair, 30 ms apart, is the cell
 * where the opening TTL must make the difference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "testbeds/natemu/nat.h"
#include "probe/guess.h"
#include "probe/predict.h"
#include "probe/punchtcp.h"
#include "testlib.h"

#define IN_A      0x0A000102u /* 10.0.1.2 */
#define IN_B      0x0A000202u /* 10.0.2.2 */
#define PUB_A     0xCB007101u /* 203.0.113.1 */
#define PUB_B     0xC6336401u /* 198.51.100.1 */
#define ROUTER_IP 0xCB00717Eu /* 203.0.113.126 */
#define S_IP      0xCB00710Au /* 203.0.113.10: the rendezvous */
#define S_PORT    3478
#define PORT      40000
#define ACCESS_US 1000
#define HALF_CORE 5000 /* a NAT to the router: 10 ms between the NATs */
#define MAX_PKTS  256
#define MAX_TCB   32

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

/* Where a packet is handled next. */
enum hop { AT_HOST_A, AT_NAT_A_IN, AT_NAT_A_OUT, AT_ROUTER, AT_NAT_B_OUT, AT_NAT_B_IN, AT_HOST_B };

struct pkt {
	enum hop at;
	uint64_t due, seq; /* packets due at once are handled in the order sent */
	bool icmp;
	uint32_t sip, dip;
	uint16_t sp, dp;
	uint8_t flags, ttl;
	struct natemu_quoted q; /* an ICMP error's quoted TCP segment */
	uint8_t qttl;
	size_t len;
	uint8_t data[PTCP_FRAME_MAX];
};

enum tcp_state { T_FREE, T_SYN_SENT, T_SYN_RCVD, T_ESTAB };

struct tcb {
	enum tcp_state st;
	bool active; /* our connect (else accepted by the listener) */
	int h;       /* the trial's handle; -1 until accepted */
	uint32_t rip;
	uint16_t rport;
	bool minttl;
	unsigned syns;
	uint64_t next_syn;
};

struct host {
	int side;
	uint32_t ip;
	struct tcb tcb[MAX_TCB];
	int next_h;
	struct ptcp_trial t;
	bool started;
	struct sockaddr_storage registered; /* its public endpoint, as S saw it */
};

struct net {
	natemu_t *nat[2];
	struct host host[2];
	struct pkt p[MAX_PKTS];
	size_t np;
	uint64_t now, seq;
};

static struct net *net;
static bool no_minttl; /* a probe that does not set IP_MINTTL */

static void send_pkt(struct pkt k, enum hop at, uint64_t delay)
{
	CU_ASSERT_FATAL(net->np < MAX_PKTS);
	k.at = at;
	k.due = net->now + delay;
	k.seq = net->seq++;
	net->p[net->np++] = k;
}

static void host_out(struct host *h, struct pkt k)
{
	k.sip = h->ip;
	if (!k.ttl)
		k.ttl = 64;
	send_pkt(k, h->side ? AT_NAT_B_IN : AT_NAT_A_IN, ACCESS_US);
}

static struct tcb *tcb_of(struct host *h, uint32_t rip, uint16_t rport)
{
	for (int i = 0; i < MAX_TCB; i++)
		if (h->tcb[i].st != T_FREE && h->tcb[i].rip == rip && h->tcb[i].rport == rport)
			return &h->tcb[i];
	return NULL;
}

static struct tcb *tcb_new(struct host *h)
{
	for (int i = 0; i < MAX_TCB; i++)
		if (h->tcb[i].st == T_FREE) {
			h->tcb[i] = (struct tcb){.h = -1};
			return &h->tcb[i];
		}
	CU_FAIL_FATAL("out of TCBs");
	return NULL;
}

static struct tcb *tcb_by_handle(struct host *h, int handle)
{
	for (int i = 0; i < MAX_TCB; i++)
		if (h->tcb[i].st != T_FREE && h->tcb[i].h == handle)
			return &h->tcb[i];
	return NULL;
}

static void seg(struct host *h, const struct tcb *c, uint8_t flags, uint8_t ttl)
{
	host_out(
	    h, (struct pkt){.dip = c->rip, .sp = PORT, .dp = c->rport, .flags = flags, .ttl = ttl});
}

/* ---- the trial's sockets ---- */

static struct host *host_of(void *ctx)
{
	return &net->host[(int)(intptr_t)ctx];
}

static int op_connect(void *ctx, const struct sockaddr *to, unsigned ttl)
{
	struct host *h = host_of(ctx);
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)to;
	struct tcb *c = tcb_new(h);

	*c = (struct tcb){.st = T_SYN_SENT,
			  .active = true,
			  .h = h->next_h++,
			  .rip = ntohl(in->sin_addr.s_addr),
			  .rport = ntohs(in->sin_port),
			  .minttl = ttl > 0 && !no_minttl,
			  .syns = 1,
			  .next_syn = net->now + 1000000};
	seg(h, c, F_SYN, (uint8_t)(ttl ? ttl : 64));
	return c->h;
}

static int op_send(void *ctx, int handle, const uint8_t *msg, size_t len)
{
	struct host *h = host_of(ctx);
	struct tcb *c = tcb_by_handle(h, handle);
	struct pkt k = {.flags = F_ACK, .len = len};

	if (!c || c->st != T_ESTAB || len > sizeof(k.data))
		return -1;
	k.dip = c->rip;
	k.sp = PORT;
	k.dp = c->rport;
	memcpy(k.data, msg, len);
	host_out(h, k);
	return 0;
}

static void op_close(void *ctx, int handle)
{
	struct host *h = host_of(ctx);
	struct tcb *c = tcb_by_handle(h, handle);

	if (!c)
		return;
	if (c->st == T_ESTAB)
		seg(h, c, F_FIN | F_ACK, 0);
	c->st = T_FREE; /* closing in SYN_SENT sends nothing (Linux) */
}

static const struct ptcp_ops ops = {op_connect, op_send, op_close};

/* ---- a host's TCP stack ---- */

static void host_syn(struct host *h, const struct pkt *k)
{
	struct tcb *c = tcb_of(h, k->sip, k->sp);

	if (c && c->st == T_SYN_SENT) { /* simultaneous open */
		c->st = T_SYN_RCVD;
		seg(h, c, F_SYN | F_ACK, 0);
	} else if (!c && k->dp == PORT && h->started) { /* the listener */
		c = tcb_new(h);
		*c = (struct tcb){.st = T_SYN_RCVD, .h = -1, .rip = k->sip, .rport = k->sp};
		seg(h, c, F_SYN | F_ACK, 0);
	} else if (!c) {
		host_out(h, (struct pkt){
				.dip = k->sip, .sp = k->dp, .dp = k->sp, .flags = F_RST | F_ACK});
	}
}

static void established(struct host *h, struct tcb *c)
{
	bool was = c->st == T_ESTAB;

	c->st = T_ESTAB;
	if (was)
		return;
	if (c->active) {
		ptcp_connect_done(&h->t, c->h, PTCP_CONNECTED, net->now);
	} else {
		struct sockaddr_storage from;

		c->h = h->next_h++;
		test_sockaddr_v4(c->rip, c->rport, &from);
		ptcp_accepted(&h->t, c->h, (struct sockaddr *)&from, net->now);
	}
}

static void connect_failed(struct host *h, struct tcb *c, enum ptcp_outcome o)
{
	int handle = c->h;

	c->st = T_FREE;
	if (handle >= 0)
		ptcp_connect_done(&h->t, handle, o, net->now);
}

static void host_in(struct host *h, const struct pkt *k)
{
	struct tcb *c;

	if (k->icmp) { /* about our segment: quoted from this host */
		c = tcb_of(h, k->q.dst_ip, k->q.dst_port);
		if (c && c->active && c->st == T_SYN_SENT && !(c->minttl && k->qttl < 2))
			connect_failed(h, c, PTCP_UNREACHABLE);
		return;
	}
	if ((k->flags & (F_SYN | F_ACK)) == F_SYN) {
		host_syn(h, k);
		return;
	}
	c = tcb_of(h, k->sip, k->sp);
	if (!c)
		return;
	if (k->flags & F_RST) {
		if (c->st == T_ESTAB)
			ptcp_bytes(&h->t, c->h, NULL, 0, net->now);
		if (c->active && c->st != T_ESTAB)
			connect_failed(h, c, PTCP_REFUSED);
		else
			c->st = T_FREE;
		return;
	}
	if ((k->flags & F_SYN) && (c->st == T_SYN_SENT || c->st == T_SYN_RCVD)) {
		seg(h, c, F_ACK, 0);
		established(h, c);
		return;
	}
	if (c->st == T_SYN_RCVD)
		established(h, c);
	if (c->st == T_ESTAB && k->len)
		ptcp_bytes(&h->t, c->h, k->data, k->len, net->now);
	if (c->st == T_ESTAB && (k->flags & F_FIN))
		ptcp_bytes(&h->t, c->h, NULL, 0, net->now);
}

/* The kernel's SYN retransmissions, at the full TTL. */
static void host_timers(struct host *h)
{
	for (int i = 0; i < MAX_TCB; i++) {
		struct tcb *c = &h->tcb[i];

		if (c->st != T_SYN_SENT || !c->active || net->now < c->next_syn)
			continue;
		if (c->syns >= 3) {
			connect_failed(h, c, PTCP_TIMED_OUT);
			continue;
		}
		seg(h, c, F_SYN, 64);
		c->next_syn = net->now + (c->syns == 1 ? 2000000 : 4000000);
		c->syns++;
	}
}

static uint64_t host_deadline(const struct host *h)
{
	uint64_t next = h->started ? ptcp_deadline(&h->t) : UINT64_MAX;

	for (int i = 0; i < MAX_TCB; i++)
		if (h->tcb[i].st == T_SYN_SENT && h->tcb[i].active && h->tcb[i].next_syn < next)
			next = h->tcb[i].next_syn;
	return next;
}

/* ---- the NATs and the router ---- */

/* A NAT's own answer to a refused segment: its RST, or ICMP prohibited
 * quoting it (at the TTL it arrived with). */
static void nat_refusal(int side, const struct pkt *k, bool icmp)
{
	struct pkt a = {.icmp = icmp,
			.sip = k->dip,
			.dip = k->sip,
			.sp = icmp ? 0 : k->dp,
			.dp = icmp ? 0 : k->sp,
			.flags = F_RST | F_ACK,
			.ttl = 64,
			.q = {IPPROTO_TCP, k->sip, k->dip, k->sp, k->dp},
			.qttl = k->ttl};

	send_pkt(a, AT_ROUTER, HALF_CORE);
	(void)side;
}

static void nat(int side, struct pkt k, bool from_inside)
{
	struct natemu_pkt n = {.proto = k.icmp ? IPPROTO_ICMP : IPPROTO_TCP,
			       .src_ip = k.sip,
			       .dst_ip = k.dip,
			       .src_port = k.sp,
			       .dst_port = k.dp,
			       .tcp_flags = k.flags,
			       .quoted = k.q};
	struct natemu_result r;

	if (k.ttl <= 1) /* expires here (a NAT forwards, as a router does) */
		return;
	r = natemu_process(net->nat[side], from_inside ? NATEMU_INSIDE : NATEMU_OUTSIDE, &n,
			   net->now / 1000);
	if (r.verdict == NATEMU_SEND_RST || r.verdict == NATEMU_SEND_ICMP) {
		nat_refusal(side, &k, r.verdict == NATEMU_SEND_ICMP);
		return;
	}
	if (r.verdict != NATEMU_FORWARD)
		return;
	k.sip = r.pkt.src_ip;
	k.dip = r.pkt.dst_ip;
	k.sp = r.pkt.src_port;
	k.dp = r.pkt.dst_port;
	k.q = r.pkt.quoted;
	k.ttl--;
	if (from_inside)
		send_pkt(k, AT_ROUTER, HALF_CORE);
	else
		send_pkt(k, side ? AT_HOST_B : AT_HOST_A, ACCESS_US);
}

/* The rendezvous host: a SYN is answered and its source noted (the
 * side's public endpoint); the connection is kept, nothing more. */
static void rendezvous(const struct pkt *k)
{
	if ((k->flags & (F_SYN | F_ACK)) != F_SYN)
		return;
	for (int s = 0; s < 2; s++)
		if (k->sip == (s ? PUB_B : PUB_A))
			test_sockaddr_v4(k->sip, k->sp, &net->host[s].registered);
	send_pkt((struct pkt){.sip = S_IP,
			      .dip = k->sip,
			      .sp = k->dp,
			      .dp = k->sp,
			      .flags = F_SYN | F_ACK,
			      .ttl = 64},
		 AT_ROUTER, 0);
}

static void router(struct pkt k)
{
	if (k.dip == S_IP) {
		rendezvous(&k);
		return;
	}
	if (k.ttl <= 1) { /* time exceeded, quoting the segment as it came */
		if (!k.icmp)
			send_pkt((struct pkt){.icmp = true,
					      .sip = ROUTER_IP,
					      .dip = k.sip,
					      .ttl = 64,
					      .q = {IPPROTO_TCP, k.sip, k.dip, k.sp, k.dp},
					      .qttl = k.ttl},
				 AT_ROUTER, 0);
		return;
	}
	k.ttl--;
	if (k.dip == PUB_A)
		send_pkt(k, AT_NAT_A_OUT, HALF_CORE);
	else if (k.dip == PUB_B)
		send_pkt(k, AT_NAT_B_OUT, HALF_CORE);
}

static void handle(const struct pkt *k)
{
	switch (k->at) {
	case AT_HOST_A:
	case AT_HOST_B: {
		struct host *h = &net->host[k->at == AT_HOST_B];

		/* The rendezvous connection's own segments need nothing. */
		if (!k->icmp && k->sip == S_IP)
			return;
		host_in(h, k);
		break;
	}
	case AT_NAT_A_IN:
		nat(0, *k, true);
		break;
	case AT_NAT_B_IN:
		nat(1, *k, true);
		break;
	case AT_NAT_A_OUT:
		nat(0, *k, false);
		break;
	case AT_NAT_B_OUT:
		nat(1, *k, false);
		break;
	case AT_ROUTER:
		router(*k);
		break;
	}
}

/* Run until `until` or nothing is left: packets in time order, timers. */
static void run_until(uint64_t until)
{
	for (int guard = 0; guard < 200000; guard++) {
		uint64_t next = until;
		size_t first = SIZE_MAX;

		for (int s = 0; s < 2; s++)
			if (host_deadline(&net->host[s]) < next)
				next = host_deadline(&net->host[s]);
		for (size_t i = 0; i < net->np; i++)
			if (net->p[i].due <= next &&
			    (first == SIZE_MAX || net->p[i].due < net->p[first].due ||
			     (net->p[i].due == net->p[first].due &&
			      net->p[i].seq < net->p[first].seq)))
				first = i;
		if (first != SIZE_MAX) {
			struct pkt k = net->p[first];

			net->p[first] = net->p[--net->np];
			net->now = k.due;
			handle(&k);
			continue;
		}
		if (next >= until) {
			net->now = until;
			return;
		}
		net->now = next;
		for (int s = 0; s < 2; s++) {
			host_timers(&net->host[s]);
			if (net->host[s].started)
				ptcp_tick(&net->host[s].t, net->now);
		}
	}
	CU_FAIL("the simulation did not settle");
}

/* ---- a cell ---- */

struct side_setting {
	enum natemu_dependence mapping, filtering;
	enum natemu_syn_reply syn;
	bool simopen;
	enum natemu_icmp icmp;
	enum natemu_ports ports; /* preserve unless said */
};

/* The technique the cells run: simultaneous open, or port prediction
 * (rule 9: the other's next ports first, when sequential). */
static enum predict_technique technique = PREDICT_TCP_SIMULTANEOUS_OPEN;

static struct predict_tcp_side truth(const struct side_setting *s)
{
	static const enum probe_mapping m[3] = {PROBE_MAPPING_EI, PROBE_MAPPING_AD,
						PROBE_MAPPING_APD};
	static const enum probe_filtering f[3] = {PROBE_FILTERING_EI, PROBE_FILTERING_AD,
						  PROBE_FILTERING_APD};
	static const enum probe_syn syn[3] = {PROBE_SYN_DROP, PROBE_SYN_RST, PROBE_SYN_ICMP};
	static const enum probe_ports ports[3] = {PROBE_PORTS_PRESERVING, PROBE_PORTS_SEQUENTIAL,
						  PROBE_PORTS_RANDOM};

	return (struct predict_tcp_side){{m[s->mapping], f[s->filtering], ports[s->ports],
					  s->ports == NATEMU_PORTS_SEQUENTIAL ? 1 : 0},
					 syn[s->syn],
					 s->simopen ? PROBE_YES : PROBE_NO,
					 s->icmp == NATEMU_ICMP_KILL ? PROBE_NO : PROBE_YES};
}

/* A side's candidates as natprobe's would be (punch_trial_config): for
 * port prediction the other's next ports first, when its class says they
 * can be named; then its public endpoint. */
static struct punch_cfg cfg_for(int side, const struct sockaddr_storage *other,
				const struct side_setting *theirs, bool low)
{
	struct punch_cfg c = {.session = "s1", .key_len = 16, .bind_peer = true};
	struct predict_tcp_side t = truth(theirs);

	memcpy(c.key, "k-k-k-k-k-k-k-k-", 16);
	memcpy(c.token, side ? "BBBBBBBB" : "AAAAAAAA", 8);
	memcpy(c.peer_token, side ? "AAAAAAAA" : "BBBBBBBB", 8);
	if (technique == PREDICT_TCP_PORT_PREDICTION && predict_sequential(&t.base))
		c.ncand = guess_window((const struct sockaddr *)other, t.base.delta,
				       PUNCH_MAX_PREDICTED, c.cand, PUNCH_MAX_CANDIDATES - 1);
	c.cand[c.ncand++].addr = *other;
	c.interval_us = 50000;
	c.max_rounds = 20;
	c.timeout_us = 4000000;
	c.open_ttl = low ? 2 : 0;
	return c;
}

/* The side that only listens in a reversal (-1: none, simultaneous open). */
static int passive_side = -1;

/* One trial of tcp-simultaneous-open (or, with passive_side, of
 * tcp-connection-reversal) between NATs a and b; side B starts skew_us
 * late. Both outcomes into out. */
static void cell(const struct side_setting *a, const struct side_setting *b, bool low,
		 uint64_t skew_us, uint64_t seed, enum punch_outcome out[2])
{
	static struct net n;
	const struct side_setting *set[2] = {a, b};

	memset(&n, 0, sizeof(n));
	net = &n;
	n.now = 1000000;
	for (int s = 0; s < 2; s++) {
		struct natemu_cfg c;

		natemu_cfg_default(&c);
		c.mapping = set[s]->mapping;
		c.filtering = set[s]->filtering;
		c.unsolicited_syn = set[s]->syn;
		c.simultaneous_open = set[s]->simopen;
		c.icmp = set[s]->icmp;
		c.ports = set[s]->ports;
		c.pool[0] = s ? PUB_B : PUB_A;
		c.npool = 1;
		n.nat[s] = natemu_new(&c, seed + (uint64_t)s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(n.nat[s]);
		n.host[s].side = s;
		n.host[s].ip = s ? IN_B : IN_A;
		/* Registration: a connection from the trial's port to S. */
		host_out(&n.host[s],
			 (struct pkt){.dip = S_IP, .sp = PORT, .dp = S_PORT, .flags = F_SYN});
	}
	run_until(n.now + 50000);
	for (int s = 0; s < 2; s++)
		CU_ASSERT_EQUAL_FATAL(n.host[s].registered.ss_family, AF_INET);
	for (int s = 0; s < 2; s++) {
		struct punch_cfg c = cfg_for(s, &n.host[!s].registered, set[!s], low);

		c.passive = s == passive_side;

		if (s == 1)
			run_until(n.now + skew_us);
		n.host[s].started = true;
		ptcp_start(&n.host[s].t, &c, &ops, (void *)(intptr_t)s, n.now);
	}
	run_until(n.now + 5000000);
	for (int s = 0; s < 2; s++) {
		out[s] = n.host[s].t.res.outcome;
		natemu_free(n.nat[s]);
	}
}

/* A wrong cell's connects, each side's, for the one who reads the failure. */
static void print_attempts(void)
{
	for (int h = 0; h < 2; h++)
		for (size_t q = 0; q < net->host[h].t.natt; q++) {
			const struct ptcp_attempt *at = &net->host[h].t.att[q];
			char b[64];

			printf("\n      side %d: to %s: %s at %llu us", h,
			       addr_format((const struct sockaddr *)&at->to.addr, b, sizeof(b)),
			       ptcp_outcome_name(at->outcome), (unsigned long long)at->ended_us);
		}
}

/* Observed against predicted, for one pair; counts what was judged. */
static void judge(const struct side_setting *a, const struct side_setting *b, bool low,
		  uint64_t skew, uint64_t seed, unsigned *judged, unsigned *wrong)
{
	struct predict_tcp_side ta = truth(a), tb = truth(b);
	enum predict_expect e = predict_tcp_technique(technique, &ta, &tb, low).expect;
	enum punch_outcome out[2];

	cell(a, b, low, skew, seed, out);
	if (e == PREDICT_DEPENDS)
		return;
	(*judged)++;
	if (e == PREDICT_WORKS ? out[0] != PUNCH_SUCCESS || out[1] != PUNCH_SUCCESS
			       : out[0] == PUNCH_SUCCESS || out[1] == PUNCH_SUCCESS) {
		(*wrong)++;
		printf("\n    %s: syn %d/%d simopen %d/%d icmp %d/%d map %d/%d filter %d/%d ports "
		       "%d/%d low %d skew %llu: %s %s",
		       e == PREDICT_WORKS ? "works" : "fails", a->syn, b->syn, a->simopen,
		       b->simopen, a->icmp, b->icmp, a->mapping, b->mapping, a->filtering,
		       b->filtering, a->ports, b->ports, low, (unsigned long long)skew,
		       punch_outcome_name(out[0]), punch_outcome_name(out[1]));
		print_attempts();
	}
}

/* Every pair of TCP settings (3 x 2 x 2 a side: 144 pairs), with and
 * without the opening TTL, in step and 30 ms apart. */
static void test_settings_grid(void)
{
	static const enum natemu_icmp icmps[2] = {NATEMU_ICMP_TRANSLATE, NATEMU_ICMP_KILL};
	struct side_setting all[12];
	unsigned judged = 0, wrong = 0, k = 0;
	bool quick = getenv("NATLAB_CHECK_QUICK") && !strcmp(getenv("NATLAB_CHECK_QUICK"), "1");

	for (int syn = 0; syn < 3; syn++)
		for (int so = 0; so < 2; so++)
			for (int ic = 0; ic < 2; ic++)
				all[k++] = (struct side_setting){NATEMU_ENDPOINT_INDEPENDENT,
								 NATEMU_ADDRESS_AND_PORT_DEPENDENT,
								 (enum natemu_syn_reply)syn,
								 so == 0,
								 icmps[ic],
								 NATEMU_PORTS_PRESERVE};
	for (int i = 0; i < 12; i++)
		for (int j = 0; j < 12; j++)
			for (int low = 0; low < 2; low++)
				for (int late = 0; late < 2; late++)
					if (!quick || (i + j + low + late) % 4 == 0)
						judge(&all[i], &all[j], low, late ? 30000 : 0,
						      (uint64_t)(i * 12 + j), &judged, &wrong);
	printf("\n    %u judged cells, %u wrong ", judged, wrong);
	CU_ASSERT_EQUAL(wrong, 0);
	/* works: both drop SYNs (4 pairs x 4), or the opening TTL and no NAT
	 * that ends connections on ICMP (8 more pairs x 2); the rest depend */
	CU_ASSERT_TRUE(quick ? judged > 0 : judged == 32);
}

/* A NAT that answers a SYN it did not ask for with a RST and lets SYNs
 * cross, as Linux's does, with this mapping and filtering. */
static struct side_setting linux_like(int mapping, int filtering)
{
	return (struct side_setting){(enum natemu_dependence)mapping,
				     (enum natemu_dependence)filtering,
				     NATEMU_SYN_RST,
				     true,
				     NATEMU_ICMP_TRANSLATE,
				     NATEMU_PORTS_PRESERVE};
}

/* Every mapping x filtering pair (RST-answering NATs that let SYNs cross,
 * as Linux's), with the opening TTL. */
static void test_mapping_grid(void)
{
	unsigned judged = 0, wrong = 0;

	for (int i = 0; i < 81; i++) {
		struct side_setting a = linux_like(i % 3, i / 3 % 3),
				    b = linux_like(i / 9 % 3, i / 27);

		judge(&a, &b, true, 0, (uint64_t)i, &judged, &wrong);
	}
	printf("\n    %u judged cells, %u wrong ", judged, wrong);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_TRUE(judged == 81);
}

/* Port prediction (rule 9): every mapping x filtering x port pattern
 * (sequential or random) pair of Linux-like NATs, with the opening TTL;
 * and where the guesses are what makes it work, simultaneous open alone
 * fails. */
static void test_port_prediction_grid(void)
{
	unsigned judged = 0, wrong = 0, works = 0, gained = 0;

	technique = PREDICT_TCP_PORT_PREDICTION;
	for (int i = 0; i < 18 * 18; i++) {
		struct side_setting a = linux_like(i % 3, i / 3 % 3),
				    b = linux_like(i / 18 % 3, i / 54 % 3);
		struct predict_tcp_side ta, tb;

		a.ports = i / 9 % 2 ? NATEMU_PORTS_RANDOM : NATEMU_PORTS_SEQUENTIAL;
		b.ports = i / 162 ? NATEMU_PORTS_RANDOM : NATEMU_PORTS_SEQUENTIAL;
		ta = truth(&a);
		tb = truth(&b);
		judge(&a, &b, true, 0, (uint64_t)i, &judged, &wrong);
		if (predict_tcp_technique(PREDICT_TCP_PORT_PREDICTION, &ta, &tb, true).expect ==
		    PREDICT_WORKS) {
			works++;
			gained +=
			    predict_tcp_technique(PREDICT_TCP_SIMULTANEOUS_OPEN, &ta, &tb, true)
				.expect == PREDICT_FAILS;
		}
	}
	technique = PREDICT_TCP_SIMULTANEOUS_OPEN;
	printf("\n    %u judged cells, %u wrong, %u work (%u only with the guesses) ", judged,
	       wrong, works, gained);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(judged, 18 * 18);
	CU_ASSERT_TRUE(gained > 0);
}

/* Connection reversal over TCP, every mapping x filtering pair: the side
 * that waits as natprobe picks it (its TCP filtering); each cell as rule 8
 * predicts, on both sides, and the waiting side never connects. */
static void test_reversal_grid(void)
{
	unsigned works = 0, wrong = 0;

	for (int i = 0; i < 81; i++) {
		struct side_setting a = linux_like(i % 3, i / 3 % 3),
				    b = linux_like(i / 9 % 3, i / 27);
		struct predict_tcp_side ta = truth(&a), tb = truth(&b);
		enum predict_expect e =
		    predict_tcp_technique(PREDICT_CONNECTION_REVERSAL, &ta, &tb, true).expect;
		enum punch_outcome out[2];
		bool ok;

		passive_side = predict_reversal_passive(&ta.base, &tb.base);
		cell(&a, &b, false, 0, (uint64_t)i, out);
		ok = e == PREDICT_WORKS ? out[0] == PUNCH_SUCCESS && out[1] == PUNCH_SUCCESS
					: out[0] != PUNCH_SUCCESS && out[1] != PUNCH_SUCCESS;
		CU_ASSERT_EQUAL(net->host[passive_side].t.natt, 0);
		works += e == PREDICT_WORKS;
		if (!ok) {
			wrong++;
			printf("\n    reversal %s: map %d/%d filter %d/%d: %s %s",
			       predict_expect_name(e), a.mapping, b.mapping, a.filtering,
			       b.filtering, punch_outcome_name(out[0]), punch_outcome_name(out[1]));
		}
	}
	passive_side = -1;
	printf("\n    %u cells work, %u wrong ", works, wrong);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(works, 45); /* 81 less the 36 with no EI filter on either side */
}

/* The cell where the opening TTL must make the difference: two NATs that
 * answer a SYN they did not ask for with a RST, one side 30 ms late:
 * without it the early SYN is refused; with it both connect; and without
 * IP_MINTTL the opening SYN's time exceeded ends the connect. */
static void test_rst_cell(void)
{
	struct side_setting rst = {NATEMU_ENDPOINT_INDEPENDENT,
				   NATEMU_ADDRESS_AND_PORT_DEPENDENT,
				   NATEMU_SYN_RST,
				   true,
				   NATEMU_ICMP_TRANSLATE,
				   NATEMU_PORTS_PRESERVE};
	enum punch_outcome out[2];

	cell(&rst, &rst, true, 30000, 1, out);
	CU_ASSERT_TRUE(out[0] == PUNCH_SUCCESS && out[1] == PUNCH_SUCCESS);
	CU_ASSERT_EQUAL(net->host[0].t.att[0].outcome, PTCP_CONNECTED);
	CU_ASSERT_TRUE(net->host[0].t.res.connect_us > 900000); /* the retransmitted SYN */
	cell(&rst, &rst, false, 30000, 1, out);
	CU_ASSERT_EQUAL(net->host[0].t.att[0].outcome, PTCP_REFUSED);
	no_minttl = true;
	cell(&rst, &rst, true, 30000, 1, out);
	no_minttl = false;
	CU_ASSERT_EQUAL(net->host[0].t.att[0].outcome, PTCP_UNREACHABLE);
}

int test_punch_tcp_net_register(void)
{
	static const struct test_case tests[] = {
	    {"the RST cell: the opening TTL makes the difference", test_rst_cell},
	    {"every pair of natemu's TCP settings, as rule 7 predicts", test_settings_grid},
	    {"every mapping x filtering pair, as rule 7 predicts", test_mapping_grid},
	    {"port prediction: mapping x filtering x ports, as rule 9 predicts",
	     test_port_prediction_grid},
	    {"reversal over TCP: every mapping x filtering pair, as rule 8 predicts",
	     test_reversal_grid},
	};

	return TEST_SUITE("TCP traversal trials (simulated NATs)", tests);
}
