/*
 * `natprobe punch`. See punchcmd.h. Every trial, for every technique:
 *
 *   1. a fresh UDP socket (udp.h: one internal endpoint), so that no
 *      earlier trial's mapping helps a later one;
 *   2. register at the rendezvous from it, every 100 ms, until the other
 *      probe of the trial is there (setup-failed after --setup-timeout);
 *   3. wait as the rendezvous says, so that both start together;
 *   4. run one side of the trial (punch.c) and answer the other side's
 *      packets a little longer, so that it gets its proof too.
 *
 * Both probes run the same techniques and number of trials, in the same
 * order: trial k of the session meets trial k.
 */
#include "punchcmd.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <jansson.h>

#include "addr.h"
#include "clock.h"
#include "probe/guess.h"
#include "probe/hopsweep.h"
#include "probe/predict.h"
#include "probe/punch.h"
#include "probe/punchint.h"
#include "probe/report.h"
#include "probe/trials.h"
#include "stun.h"
#include "udp.h"

static const char usage[] =
    "usage: natprobe punch --session ID --key KEY [--trials N] [--techniques LIST]\n"
    "                      [--list-techniques] [--json FILE|-] [--label TEXT]\n"
    "                      [--setup-timeout S] [--open-ttl auto|N] [--stagger MS]\n"
    "                      [-4|-6] SERVER[:PORT]\n"
    "\n"
    "Run traversal trials (RFC 5128) with another natprobe punch, run with the same\n"
    "--session, --key, --trials and --techniques behind another NAT (or the same\n"
    "one), meeting at the natreflector SERVER (a host name or an address), which\n"
    "must have the --session-secret the key was issued from\n"
    "(natreflector --issue-session ID). Before the trials, natprobe classifies this\n"
    "NAT, and from both classifications says what each technique should do.\n"
    "\n"
    "  --session ID       the session (as issued)\n"
    "  --key KEY          its key (as issued)\n"
    "  --trials N         trials per technique, each on fresh sockets (default 5,\n"
    "                     at most 100)\n"
    "  --techniques LIST  comma-separated names (see --list-techniques), or udp\n"
    "                     (relay and the UDP ones, port-mapping among them), tcp\n"
    "                     (the tcp-* ones), all\n"
    "                     (default)\n"
    "  --list-techniques  list them and exit\n"
    "  --json FILE        append the record to FILE; '-' standard output instead of\n"
    "                     the summary\n"
    "  --label TEXT       a name for the run in the record\n"
    "  --setup-timeout S  how long to wait for the other probe at each trial (10;\n"
    "                     after the first trial that waits in vain, none waits)\n"
    "  --open-ttl auto|N  the IP TTL of each trial's first round, and of a TCP\n"
    "                     trial's first SYN: it opens this side's NATs but dies\n"
    "                     before the other's, whose conntrack it could otherwise\n"
    "                     take (or which would answer a SYN with a RST); 0 for\n"
    "                     none. auto (the default): one past the last hop that\n"
    "                     answers from a private or shared address, found once\n"
    "                     per run by a hop sweep toward SERVER (TTL 1 to 8; IPv4;\n"
    "                     2 when the sweep cannot tell, or this side has no NAT)\n"
    "  --stagger MS       start this side's packets MS ms (0 to 5000) after the\n"
    "                     moment both agreed: a late side, to see how the NATs\n"
    "                     take packets that cross out of step (default 0)\n"
    "  -4, -6             a SERVER name: its IPv4 (IPv6) address\n"
    "\n"
    "port-mapping asks this host's gateway (UPnP IGD, NAT-PMP or PCP) to map each\n"
    "trial's port before it registers, and deletes the mapping after the trial;\n"
    "finding the gateway adds about 1 s at the start.\n"
    "udp-port-prediction also sends to the next 8 ports (RFC 5128 3.5) of a NAT\n"
    "whose mappings are dependent and sequential. udp-birthday, where hole punching\n"
    "cannot work, one side's mapping is dependent and the other's endpoint-\n"
    "independent: the dependent side opens 256 sockets toward the other, which\n"
    "sends to 1024 guessed ports of it (about 1100 packets/s\n"
    "for 1 s; against sequential ports 4 sockets and 64 packets); the record keeps\n"
    "the predicted odds beside the measured rate. Raise ulimit -n if 256 sockets\n"
    "cannot be opened (the trial runs with those that could, and says so).\n"
    "\n"
    "A TCP trial registers over a connection from the port it then connects from\n"
    "(a listener kept on it): the reflector must serve TCP (no --no-tcp). With a\n"
    "TCP technique the classification adds TCP's tests (about a second), and the\n"
    "TCP classes of both sides predict it.\n"
    "\n"
    "A trial succeeds only when packets signed with the session key, carrying the\n"
    "token the rendezvous named, have crossed both ways; others are refused, and\n"
    "those from where the other probe should be are named (IMPOSTOR: a host at its\n"
    "private address, a stale mapping). One that could not start (no other probe)\n"
    "is setup-failed, outside the success rate. Exit status: 0 every trial ran and\n"
    "every result agrees with its prediction; 1 some trial could not start, or a\n"
    "result CONTRADICTS its prediction; 2 bad usage or a key the reflector refuses;\n"
    "3 the reflector could not be reached.\n";

static const struct technique techniques[] = {
    {"relay", "RFC 5128 3.1: both send to the reflector, which forwards to the other; the control",
     PREDICT_RELAY, false, false, true, false, false, false, false},
    {"udp-hole-punching", "RFC 5128 3.3.1: both send to each other's public endpoint at once",
     PREDICT_UDP_HOLE_PUNCHING, false, false, false, false, false, false, false},
    {"udp-hole-punching-private",
     "RFC 5128 3.3.2: the other probe's own endpoints first (behind the same NAT), then its "
     "public one",
     PREDICT_UDP_HOLE_PUNCHING, true, false, false, false, false, false, false},
    {"connection-reversal",
     "RFC 5128 3.2: the side whose filter takes unsolicited packets waits; the other opens "
     "toward it",
     PREDICT_CONNECTION_REVERSAL, false, true, false, false, false, false, false},
    {"udp-port-prediction",
     "RFC 5128 3.5: hole punching, plus the next 8 ports of a NAT that maps in sequence",
     PREDICT_UDP_PORT_PREDICTION, false, false, false, true, false, false, false},
    {"udp-birthday",
     "beyond RFC 5128: against a dependent mapping, 256 sockets there, 1024 guessed ports "
     "from here (a sequential NAT: 4 and 64)",
     PREDICT_UDP_BIRTHDAY, false, false, false, false, true, false, false},
    {"tcp-relay",
     "RFC 5128 3.1 over TCP: both keep their connection to the reflector, which forwards "
     "between them; TCP's control",
     PREDICT_RELAY, false, false, true, false, false, true, false},
    {"tcp-connection-reversal",
     "RFC 5128 3.2 over TCP: the side whose NAT takes a SYN it did not ask for only listens; "
     "the other connects to it",
     PREDICT_CONNECTION_REVERSAL, false, true, false, false, false, true, false},
    {"tcp-simultaneous-open",
     "RFC 5128 3.4: both connect to each other's public endpoint from the port they "
     "registered from, a listener kept on it; the first SYN at the opening TTL",
     PREDICT_TCP_SIMULTANEOUS_OPEN, false, false, false, false, false, true, false},
    {"tcp-simultaneous-open-private",
     "RFC 5128 3.4 with 3.3.2: simultaneous open to the other probe's own endpoints first "
     "(behind the same NAT), then to its public one",
     PREDICT_TCP_SIMULTANEOUS_OPEN, true, false, false, false, false, true, false},
    {"tcp-port-prediction",
     "RFC 5128 3.6: simultaneous open, plus the next 8 ports of a NAT whose TCP mappings "
     "are dependent and sequential",
     PREDICT_TCP_PORT_PREDICTION, false, false, false, true, false, true, false},
    {"port-mapping",
     "a mapping of the trial's port asked of the gateway (UPnP IGD, NAT-PMP or PCP); that "
     "side waits, the other sends to it",
     PREDICT_PORT_MAPPING, false, false, false, false, false, false, true},
};
#define NTECHNIQUES (sizeof(techniques) / sizeof(techniques[0]))
_Static_assert(NTECHNIQUES <= MAX_TECHNIQUES, "struct options holds every technique");

/* One technique's trials, and its prediction. */
/* What a birthday trial planned and used (the record's punch[].birthday). */
struct birthday_row {
	bool planned; /* the trial met, and planned */
	enum predict_role role;
	bool sequential;
	unsigned sockets, probes, opened; /* opened: the hard side's sockets that did */
	uint16_t port_lo, port_hi;
	bool range_known;
	double predicted;
};

struct technique_run {
	const struct technique *t;
	struct trial_row rows[MAX_TRIALS];
	struct birthday_row bday[MAX_TRIALS];
	size_t nrows;
	struct predict want;
	unsigned peer_delta; /* port prediction's step of the other side; 0 none */
};

/* ---- options ---- */

/* Technique i into the list, once. */
static void add_technique(struct options *o, size_t i)
{
	for (size_t k = 0; k < o->ntech; k++)
		if (o->tech[k] == &techniques[i])
			return;
	o->tech[o->ntech++] = &techniques[i];
}

/* A name, or a group: udp (relay and the UDP ones), tcp, all. */
static bool add_named(struct options *o, const char *n)
{
	bool group = !strcmp(n, "udp") || !strcmp(n, "tcp") || !strcmp(n, "all"), found = false;

	for (size_t i = 0; i < NTECHNIQUES; i++)
		if (group ? !strcmp(n, "all") || techniques[i].tcp == !strcmp(n, "tcp")
			  : !strcmp(techniques[i].name, n)) {
			add_technique(o, i);
			found = true;
		}
	return found;
}

static int parse_techniques(const char *list, struct options *o)
{
	char buf[512], *save = NULL;

	if (strlen(list) >= sizeof(buf)) {
		fprintf(stderr, "natprobe punch: --techniques: the list is too long\n");
		return -1;
	}
	strcpy(buf, list);
	o->ntech = 0;
	for (char *n = strtok_r(buf, ",", &save); n; n = strtok_r(NULL, ",", &save))
		if (!add_named(o, n)) {
			fprintf(stderr,
				"natprobe punch: --techniques: no technique '%s' (see "
				"--list-techniques; or udp, tcp, all)\n",
				n);
			return -1;
		}
	if (!o->ntech)
		fprintf(stderr, "natprobe punch: --techniques: an empty list\n");
	return o->ntech ? 0 : -1;
}

static int parse_number(const char *opt, const char *arg, unsigned lo, unsigned hi, unsigned *v)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);

	if (!*arg || *end || n < lo || n > hi) {
		fprintf(stderr, "natprobe punch: %s: '%s' is not a number from %u to %u\n", opt,
			arg, lo, hi);
		return -1;
	}
	*v = (unsigned)n;
	return 0;
}

/* --open-ttl auto: a value no TTL takes, until the hop sweep gives one. */
#define OPEN_TTL_AUTO 256u

static int parse_open_ttl(const char *arg, unsigned *ttl)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);

	if (!strcmp(arg, "auto")) {
		*ttl = OPEN_TTL_AUTO;
		return 0;
	}
	if (!*arg || *end || n > 255) {
		fprintf(stderr,
			"natprobe punch: --open-ttl: '%s' is neither auto nor a TTL "
			"from 0 to 255\n",
			arg);
		return -1;
	}
	*ttl = (unsigned)n;
	return 0;
}

static int copy_text(const char *opt, const char *arg, char *dst, size_t cap)
{
	size_t n = strlen(arg);

	if (!n || n >= cap ||
	    strspn(arg, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQR"
			"STUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != n) {
		fprintf(stderr,
			"natprobe punch: %s: '%s' is not 1 to %zu printable ASCII characters "
			"without spaces\n",
			opt, arg, cap - 1);
		return -1;
	}
	memcpy(dst, arg, n + 1);
	return 0;
}

/* The record is JSON: a label that is not UTF-8 would be lost from it. */
static int utf8_label(const char *arg, struct options *o)
{
	json_t *j = json_string(arg);

	if (!j) {
		fprintf(stderr, "natprobe punch: --label: '%s' is not UTF-8 text\n", arg);
		return -1;
	}
	json_decref(j);
	o->label = arg;
	return 0;
}

static int one_option(int c, const char *arg, struct options *o)
{
	switch (c) {
	case 's':
		return copy_text("--session", arg, o->session, sizeof(o->session));
	case 'k':
		return copy_text("--key", arg, o->key, sizeof(o->key));
	case 'n':
		return parse_number("--trials", arg, 1, MAX_TRIALS, &o->trials);
	case 't':
		return parse_techniques(arg, o);
	case 'j':
		o->json = arg;
		return 0;
	case 'L':
		return utf8_label(arg, o);
	case 'w':
		return parse_number("--setup-timeout", arg, 1, 600, &o->setup_timeout_s);
	case 'o':
		return parse_open_ttl(arg, &o->open_ttl);
	case 'S':
		return parse_number("--stagger", arg, 0, 5000, &o->stagger_ms);
	case '4':
	case '6':
		o->family = c == '4' ? AF_INET : AF_INET6;
		return 0;
	case 'l':
		for (size_t i = 0; i < NTECHNIQUES; i++)
			printf("%-29s %s\n", techniques[i].name, techniques[i].help);
		exit(0);
	case 'h':
		fputs(usage, stdout);
		exit(0);
	default:
		return -1;
	}
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"session", required_argument, NULL, 's'},
	    {"key", required_argument, NULL, 'k'},
	    {"trials", required_argument, NULL, 'n'},
	    {"techniques", required_argument, NULL, 't'},
	    {"list-techniques", no_argument, NULL, 'l'},
	    {"json", required_argument, NULL, 'j'},
	    {"label", required_argument, NULL, 'L'},
	    {"setup-timeout", required_argument, NULL, 'w'},
	    {"open-ttl", required_argument, NULL, 'o'},
	    {"stagger", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char err[320];
	int c;

	memset(o, 0, sizeof(*o));
	o->trials = 5;
	o->setup_timeout_s = 10;
	o->open_ttl = OPEN_TTL_AUTO;
	add_named(o, "all");
	while ((c = getopt_long(argc, argv, "h46", longopts, NULL)) != -1)
		if (one_option(c, optarg, o))
			return -1;
	if (!o->session[0] || !o->key[0] || optind != argc - 1) {
		fprintf(stderr, "natprobe punch: want --session ID, --key KEY and one "
				"SERVER[:PORT] (see --help)\n");
		return -1;
	}
	o->server_given = argv[optind];
	if (addr_resolve(o->server_given, ADDR_PORT_OPTIONAL, 3478, o->family, &o->server, err,
			 sizeof(err))) {
		fprintf(stderr, "natprobe punch: SERVER: %s\n", err);
		return -1;
	}
	return 0;
}

/* ---- the rendezvous, from the probe's side ---- */

void punch_register_msg(const struct options *o, const struct registration *r, uint32_t rtt_us,
			const struct meeting *mt, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t tid[STUN_TID_LEN];
	struct stun_builder b;

	if (getrandom(tid, sizeof(tid), 0) != sizeof(tid))
		memcpy(tid, r->token, PUNCH_TOKEN_LEN);
	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_RENDEZVOUS, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, o->session);
	stun_build_u32(&b, STUN_ATTR_NATLAB_TRIAL, r->trial);
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, r->token, PUNCH_TOKEN_LEN);
	stun_build_addr(&b, STUN_ATTR_NATLAB_PRIVATE, r->local);
	stun_build_attr(&b, STUN_ATTR_NATLAB_CLASS, r->cls, 4);
	if (r->tcp_cls)
		stun_build_attr(&b, STUN_ATTR_NATLAB_TCP_CLASS, r->tcp_cls, PREDICT_TCP_WIRE_LEN);
	if (r->portmap)
		stun_build_attr(&b, STUN_ATTR_NATLAB_PORTMAP, r->portmap, PREDICT_PORTMAP_WIRE_LEN);
	stun_build_u32(&b, STUN_ATTR_NATLAB_RTT, rtt_us);
	if (r->relay)
		stun_build_attr(&b, STUN_ATTR_NATLAB_RELAY, NULL, 0);
	if (mt->have_cookie)
		stun_build_attr(&b, STUN_ATTR_NATLAB_COOKIE, mt->cookie, STUN_NATLAB_COOKIE_LEN);
	stun_build_integrity_sha256(&b, (const uint8_t *)o->key, strlen(o->key));
	stun_build_fingerprint(&b);
	if (stun_build_end(&b, len) != STUN_OK)
		*len = 0;
}

/* The other probe, from a signed answer or start; its own endpoints. */
static void read_peer(const struct stun_msg *m, struct meeting *mt)
{
	const struct stun_attr *tok = stun_find(m, STUN_ATTR_NATLAB_TOKEN);
	const struct stun_attr *cls = stun_find(m, STUN_ATTR_NATLAB_CLASS);
	const struct stun_attr *tcp_cls = stun_find(m, STUN_ATTR_NATLAB_TCP_CLASS);
	const struct stun_attr *pm = stun_find(m, STUN_ATTR_NATLAB_PORTMAP);

	if (stun_get_addr(m, STUN_ATTR_XOR_PEER_ADDRESS, &mt->pub) != STUN_OK || !tok ||
	    tok->len != PUNCH_TOKEN_LEN ||
	    stun_get_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &mt->self) != STUN_OK)
		return;
	memcpy(mt->token, stun_attr_value(m, tok), PUNCH_TOKEN_LEN);
	if (cls && cls->len == 4)
		memcpy(mt->cls, stun_attr_value(m, cls), 4);
	if (tcp_cls && tcp_cls->len == PREDICT_TCP_WIRE_LEN) {
		memcpy(mt->tcp_cls, stun_attr_value(m, tcp_cls), PREDICT_TCP_WIRE_LEN);
		mt->have_tcp_cls = true;
	}
	if (pm && pm->len == PREDICT_PORTMAP_WIRE_LEN) {
		memcpy(mt->portmap, stun_attr_value(m, pm), PREDICT_PORTMAP_WIRE_LEN);
		mt->have_portmap = true;
	}
	mt->npriv = 0;
	for (size_t i = 0; i < m->nattrs && mt->npriv < PUNCH_MAX_PRIVATE; i++)
		if (m->attrs[i].type == STUN_ATTR_NATLAB_PRIVATE &&
		    stun_attr_addr(m, &m->attrs[i], &mt->priv[mt->npriv]) == STUN_OK)
			mt->npriv++;
	if (stun_get_u32(m, STUN_ATTR_NATLAB_WAIT, &mt->wait_ms) != STUN_OK || mt->wait_ms > 3000)
		mt->wait_ms = 0;
	mt->relay = stun_find(m, STUN_ATTR_NATLAB_RELAY) != NULL;
	mt->met = true;
}

static void read_cookie(const struct stun_msg *m, struct meeting *mt)
{
	const struct stun_attr *c = stun_find(m, STUN_ATTR_NATLAB_COOKIE);

	if (c && c->len == STUN_NATLAB_COOKIE_LEN) {
		memcpy(mt->cookie, stun_attr_value(m, c), STUN_NATLAB_COOKIE_LEN);
		mt->have_cookie = true;
	}
}

int punch_setup_message(const struct options *o, const uint8_t *buf, size_t len, struct meeting *mt,
			uint8_t *tid)
{
	struct stun_msg m;
	const char *reason;
	size_t rlen;

	if (stun_parse(&m, buf, len, 0) != STUN_OK || m.method != STUN_NATLAB_RENDEZVOUS)
		return 0;
	if (m.cls == STUN_ERROR && stun_get_error(&m, &mt->error, &reason, &rlen) == STUN_OK) {
		snprintf(mt->reason, sizeof(mt->reason), "the reflector refused: %u %.*s",
			 mt->error, (int)(rlen > 80 ? 80 : rlen), reason);
		return 0;
	}
	if (stun_check_integrity_sha256(&m, (const uint8_t *)o->key, strlen(o->key)) != STUN_OK)
		return 0;
	read_cookie(&m, mt);
	read_peer(&m, mt);
	memcpy(tid, m.tid, STUN_TID_LEN);
	return m.cls == STUN_SUCCESS;
}

/* A datagram during setup: the rendezvous's answer or start, or nothing. 1
 * when it was a signed answer from the reflector; tid is its transaction ID. */
static int setup_datagram(const struct options *o, const uint8_t *buf, size_t len,
			  const struct sockaddr *from, struct meeting *mt, uint8_t *tid)
{
	if (!addr_equal(from, (const struct sockaddr *)&o->server))
		return 0;
	return punch_setup_message(o, buf, len, mt, tid);
}

/* Wait for one datagram on fd until deadline; its length, or -1. */
static ssize_t receive(int fd, uint64_t deadline, uint8_t *buf, size_t cap,
		       struct sockaddr_storage *from)
{
	uint64_t now = clock_now_us();
	struct pollfd p = {.fd = fd, .events = POLLIN};
	socklen_t flen = sizeof(*from);

	if (now < deadline && poll(&p, 1, (int)((deadline - now + 999) / 1000)) <= 0)
		return -1;
	return recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)from, &flen);
}

void punch_sent_note(struct sent_regs *s, const uint8_t *msg, uint64_t now)
{
	memcpy(s->tid[s->n % SENT_KEPT], msg + 8, STUN_TID_LEN);
	s->at[s->n++ % SENT_KEPT] = now;
}

uint32_t punch_sent_rtt(const struct sent_regs *s, const uint8_t *tid, uint64_t now)
{
	for (unsigned i = 0; i < SENT_KEPT && i < s->n; i++)
		if (!memcmp(s->tid[i], tid, STUN_TID_LEN))
			return (uint32_t)(now - s->at[i]) | 1u; /* 0 says "not yet" to S */
	return 0;
}

/* Steps 2 and 3: register until met, refused or out of time. The round
 * trip of the first answer goes into later registrations; *last_answer is
 * when the reflector last answered (0: never). */
static void meet(const struct options *o, int fd, const struct registration *r, uint64_t deadline,
		 struct meeting *mt, uint64_t *last_answer)
{
	struct sent_regs sent = {0};
	uint64_t next = 0;
	uint32_t rtt_us = 0;
	uint8_t tid[STUN_TID_LEN];

	while (!mt->met && !mt->error && clock_now_us() < deadline) {
		uint8_t buf[600];
		struct sockaddr_storage from;
		ssize_t n;

		if (clock_now_us() >= next) {
			size_t len;

			punch_register_msg(o, r, rtt_us, mt, buf, sizeof(buf), &len);
			sendto(fd, buf, len, 0, (const struct sockaddr *)&o->server,
			       addr_len((const struct sockaddr *)&o->server));
			punch_sent_note(&sent, buf, clock_now_us());
			next = clock_now_us() + REGISTER_US;
		}
		n = receive(fd, next < deadline ? next : deadline, buf, sizeof(buf), &from);
		if (n > 0 && setup_datagram(o, buf, (size_t)n, (struct sockaddr *)&from, mt, tid)) {
			*last_answer = clock_now_us();
			if (!rtt_us)
				rtt_us = punch_sent_rtt(&sent, tid, clock_now_us());
		}
	}
}

/* ---- one trial ---- */

/* IP_TTL or IPV6_UNICAST_HOPS for one datagram: set, send, set back. */
static int send_datagram(void *ctx, const struct sockaddr *to, const uint8_t *msg, size_t len,
			 unsigned ttl)
{
	int fd = *(int *)ctx, level = to->sa_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int opt = to->sa_family == AF_INET6 ? IPV6_UNICAST_HOPS : IP_TTL, v = (int)ttl, dflt = -1;
	ssize_t n;

	if (ttl && setsockopt(fd, level, opt, &v, sizeof(v)))
		ttl = 0; /* sent with the default: the opening round reaches further */
	n = sendto(fd, msg, len, 0, to, addr_len(to));
	if (ttl)
		setsockopt(fd, level, opt, &dflt, sizeof(dflt));
	return n < 0 ? -1 : 0;
}

/* Both probes behind one public address: one NAT, or one outer NAT (with
 * no NAT, one address is one host). */
bool punch_one_address(const struct probe_result *me, const struct meeting *mt)
{
	return me->mapping != PROBE_MAPPING_NONE &&
	       addr_same_ip((const struct sockaddr *)&mt->self, (const struct sockaddr *)&mt->pub);
}

/* Is one of the other probe's own endpoints on a network of this host (an
 * interface's address and prefix)? Then they reach each other directly. */
static bool same_lan(const struct meeting *mt)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs))
		return false;
	for (i = ifs; i && !found; i = i->ifa_next)
		for (size_t k = 0; i->ifa_addr && i->ifa_netmask && k < mt->npriv && !found; k++)
			found = addr_in_network((const struct sockaddr *)&mt->priv[k], i->ifa_addr,
						i->ifa_netmask);
	freeifaddrs(ifs);
	return found;
}

const uint8_t *punch_class_wire(const struct probe_result *me, uint8_t cls[4],
				uint8_t tcp_cls[PREDICT_TCP_WIRE_LEN])
{
	struct predict_tcp_side tcp = predict_tcp_side_of(&me->tcp);

	cls[0] = (uint8_t)me->mapping;
	cls[1] = (uint8_t)me->filtering;
	cls[2] = (uint8_t)me->port_pattern;
	cls[3] = (uint8_t)(me->port_delta > 255 ? 0 : me->port_delta);
	predict_tcp_side_to_wire(&tcp, tcp_cls);
	return me->tcp.mapping == PROBE_MAPPING_UNTESTED ? NULL : tcp_cls;
}

/* This side as the rules read it; the other, as it told the rendezvous
 * (NATLAB-CLASS: mapping, filtering, port pattern, step). */
static struct predict_side my_side(const struct probe_result *me)
{
	return (struct predict_side){me->mapping, me->filtering, me->port_pattern,
				     me->port_delta > 255 ? 0 : me->port_delta};
}

static struct predict_side their_side(const struct meeting *mt)
{
	return predict_side_from_wire(mt->cls);
}

/* The other side's TCP class, as its registration carried it (unknown
 * when it sent none). */
static struct predict_tcp_side their_tcp_side(const struct meeting *mt)
{
	static const uint8_t none[PREDICT_TCP_WIRE_LEN] = {0};

	return predict_tcp_side_from_wire(mt->have_tcp_cls ? mt->tcp_cls : none);
}

/* The other side as technique t sees it: its TCP class for a TCP one. */
static struct predict_side their_side_for(const struct technique *t, const struct meeting *mt)
{
	return t->tcp ? their_tcp_side(mt).base : their_side(mt);
}

/* Step 4's configuration: where to send, and whether to wait. */
void punch_trial_config(const struct options *o, const struct technique *t,
			const struct meeting *mt, const uint8_t *token, bool passive, bool hairpin,
			struct punch_cfg *cfg)
{
	struct predict_side theirs;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->session, sizeof(cfg->session), "%s", o->session);
	cfg->key_len = strlen(o->key);
	memcpy(cfg->key, o->key, cfg->key_len);
	memcpy(cfg->token, token, PUNCH_TOKEN_LEN);
	cfg->bind_peer = true; /* RFC 5128 6.1: only the probe met, only in this trial */
	memcpy(cfg->peer_token, mt->token, PUNCH_TOKEN_LEN);
	cfg->passive = passive;
	cfg->interval_us = ROUND_US;
	cfg->max_rounds = ROUNDS;
	cfg->timeout_us = TRIAL_US;
	if (t->relay) {
		/* The reflector is the only endpoint, and must be reached at once. */
		cfg->cand[cfg->ncand++] =
		    (struct punch_candidate){o->server, PUNCH_PATH_RELAY, false};
		return;
	}
	for (size_t i = 0; t->private_first && i < mt->npriv; i++)
		cfg->cand[cfg->ncand++] =
		    (struct punch_candidate){mt->priv[i], PUNCH_PATH_PRIVATE, false};
	/* The guesses before the public endpoint: predict.c step 5. */
	theirs = their_side_for(t, mt);
	if (t->predict_ports && predict_sequential(&theirs))
		cfg->ncand += guess_window((const struct sockaddr *)&mt->pub, theirs.delta,
					   PUNCH_MAX_PREDICTED, &cfg->cand[cfg->ncand],
					   PUNCH_MAX_CANDIDATES - 1 - cfg->ncand);
	/* Behind one public address, the other's public endpoint is reached
	 * only through the NAT's hairpinning (RFC 5128 3.3.3). */
	cfg->cand[cfg->ncand++] = (struct punch_candidate){
	    mt->pub, hairpin ? PUNCH_PATH_HAIRPIN : PUNCH_PATH_PUBLIC, false};
	cfg->open_ttl = o->open_ttl;
}

/* A datagram waiting on fd, to its trial. */
static void receive_one(int fd, struct punch_trial *pt)
{
	uint8_t buf[600];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);

	if (n > 0)
		punch_receive(pt, (struct sockaddr *)&from, buf, (size_t)n, clock_now_us());
}

bool punch_grace(uint64_t now, uint64_t *next, uint64_t *quiet_until)
{
	if (*next != UINT64_MAX)
		return true;
	if (!*quiet_until)
		*quiet_until = now + GRACE_US;
	*next = *quiet_until;
	return now < *quiet_until;
}

/* Run the trials of fds (one, or a birthday's hard side's many), then
 * answer the other side for a grace period. */
static void run_trials(const int *fds, struct punch_trial *pt, size_t n)
{
	static struct pollfd p[GUESS_SOCKETS];
	uint64_t quiet_until = 0;

	for (size_t i = 0; i < n; i++) /* poll sets revents anew each call */
		p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	for (;;) {
		uint64_t now = clock_now_us(), next = guess_deadline(pt, n);

		if (!punch_grace(now, &next, &quiet_until))
			return;
		if (poll(p, n, next > now ? (int)((next - now + 999) / 1000) : 0) < 0 &&
		    errno != EINTR)
			return;
		for (size_t i = 0; i < n; i++)
			if (p[i].revents & POLLIN)
				receive_one(fds[i], &pt[i]);
		for (size_t i = 0; i < n; i++)
			punch_tick(&pt[i], clock_now_us());
	}
}

/* ---- birthday punching: the plan, and the hard side's sockets ---- */

/* fds[1] on, up to want in all (fds[0] is the trial's own); how many. The
 * trial runs with those that opened; why the rest did not is said once. */
static size_t open_sockets(const struct options *o, int *fds, size_t want)
{
	static bool said;
	size_t n = 1;

	while (n < want) {
		struct sockaddr_storage local;
		int fd = udp_socket_toward((const struct sockaddr *)&o->server, 0, &local);
		if (fd >= 0) {
			fds[n++] = fd;
			continue;
		}
		if (!said)
			fprintf(stderr,
				"natprobe punch: udp-birthday: %zu of %zu sockets opened: %s (open "
				"files: at most %llu; ulimit -n raises it)\n",
				n, want, strerror(errno), open_files_raise(0));
		said = true;
		break;
	}
	return n;
}

/* Birthday punching's part of this side (predict.c step 6): the easy side's
 * guesses into cfg, the hard side's sockets into fds; how many sockets. */
static size_t birthday_prepare(const struct options *o, const struct probe_result *me,
			       const struct meeting *mt, struct punch_cfg *cfg, int *fds,
			       struct birthday_row *b)
{
	static struct guess_birthday plan; /* the guesses: alive through the trial */
	struct predict_side mine = my_side(me), theirs = their_side(mt);
	struct guess_bounds bounds;
	struct punch_cfg base = *cfg;
	uint64_t seed;

	guess_bounds_default(&bounds);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = clock_now_us();
	guess_birthday_plan(&mine, &theirs, addr_port((const struct sockaddr *)&mt->pub), &bounds,
			    seed, &plan);
	*b = (struct birthday_row){.planned = true,
				   .role = plan.role,
				   .sequential = plan.sequential,
				   .sockets = plan.sockets,
				   .probes = plan.probes,
				   .opened = 1,
				   .port_lo = plan.port_lo,
				   .port_hi = plan.port_hi,
				   .range_known = plan.range_known,
				   .predicted = plan.predicted};
	if (plan.role == PREDICT_ROLE_EASY)
		guess_easy_cfg(&base, &plan, (const struct sockaddr *)&mt->pub, cfg);
	if (plan.role == PREDICT_ROLE_HARD)
		b->opened = (unsigned)open_sockets(o, fds, plan.sockets);
	return b->opened;
}

/* Which side waits in a reversal: both probes order themselves by token. */
bool punch_am_passive(const struct technique *t, const struct probe_result *me,
		      const struct meeting *mt, const uint8_t *token)
{
	struct predict_side mine = my_side(me), theirs = their_side_for(t, mt);
	bool first = memcmp(token, mt->token, PUNCH_TOKEN_LEN) < 0;

	if (!t->reversal)
		return false;
	if (t->tcp) /* TCP's filtering decides who may wait for a SYN */
		mine = predict_tcp_side_of(&me->tcp).base;
	return predict_reversal_passive(first ? &mine : &theirs, first ? &theirs : &mine) ==
	       (first ? 0 : 1);
}

/* The port-mapping technique's roles into cfg; true when neither side has
 * a mapping to be reached at: the trial fails at once, said why. */
static bool portmap_phase(const struct meeting *mt, const uint8_t *token, struct punch_cfg *cfg,
			  struct trial_row *row)
{
	bool none;

	row->pm_theirs_known = mt->have_portmap;
	if (mt->have_portmap)
		memcpy(row->pm_theirs, mt->portmap, PREDICT_PORTMAP_WIRE_LEN);
	punch_portmap_config(mt, token, row->pm_mine, cfg, &none);
	row->pm_waited = cfg->passive;
	if (!none)
		return false;
	row->res.outcome = PUNCH_FAILED;
	snprintf(row->reason, sizeof(row->reason), "no gateway granted a mapping, on either side");
	return true;
}

/* Steps 3 and 4, once met: on fd, and for a birthday's hard side on more. */
static void punch_phase(const struct options *o, const struct technique *t,
			const struct probe_result *me, const struct meeting *mt,
			const uint8_t *token, int fd, struct trial_row *row,
			struct birthday_row *bday)
{
	static int fds[GUESS_SOCKETS];
	static struct punch_trial pt[GUESS_SOCKETS];
	struct punch_cfg cfg;
	size_t n = 1;
	uint64_t now;

	fds[0] = fd;
	punch_trial_config(o, t, mt, token, punch_am_passive(t, me, mt, token),
			   punch_one_address(me, mt), &cfg);
	if (t->portmap && portmap_phase(mt, token, &cfg, row))
		return;
	if (t->birthday)
		n = birthday_prepare(o, me, mt, &cfg, fds, bday);
	usleep((mt->wait_ms + o->stagger_ms) * 1000u);
	now = clock_now_us();
	for (size_t i = 0; i < n; i++) {
		struct punch_cfg c;

		guess_hard_cfg(&cfg, (unsigned)i, &c);
		punch_start(&pt[i], &c, send_datagram, &fds[i], now);
	}
	run_trials(fds, pt, n);
	guess_merge(pt, n, &row->res);
	memcpy(row->tried, cfg.cand, cfg.ncand * sizeof(cfg.cand[0]));
	row->ntried = cfg.ncand;
	row->sprayed = pt[0].sprayed;
	for (size_t i = 1; i < n; i++)
		close(fds[i]);
}

/* One trial of technique t: returns -1 when the reflector never answered. */
static int one_trial(const struct options *o, const struct technique *t, uint32_t number,
		     const struct probe_result *me, uint64_t setup_us, struct trial_row *row,
		     struct birthday_row *bday, struct meeting *mt)
{
	uint8_t token[PUNCH_TOKEN_LEN], cls[4], tcp_cls[PREDICT_TCP_WIRE_LEN];
	const uint8_t *tcp = punch_class_wire(me, cls, tcp_cls);
	struct sockaddr_storage local;
	uint64_t last_answer = 0, deadline = clock_now_us() + setup_us;
	int fd = udp_socket_toward((const struct sockaddr *)&o->server, 0, &local);

	memset(row, 0, sizeof(*row));
	memset(mt, 0, sizeof(*mt));
	row->res.outcome = PUNCH_SETUP_FAILED;
	if (fd < 0 || getrandom(token, sizeof(token), 0) != sizeof(token)) {
		snprintf(row->reason, sizeof(row->reason), "cannot open a UDP socket: %s",
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (t->portmap)
		punch_gateway_map(o->gateway, addr_port((struct sockaddr *)&local), &row->pm,
				  row->pm_mine);
	meet(o, fd,
	     &(struct registration){number, token, (struct sockaddr *)&local, cls, tcp, t->relay,
				    t->portmap ? row->pm_mine : NULL},
	     deadline, mt, &last_answer);
	if (t->portmap && !mt->met)
		punch_gateway_unmap(o->gateway, &row->pm);
	if (mt->met && t->relay && !mt->relay) {
		snprintf(row->reason, sizeof(row->reason),
			 "the reflector did not grant the relay (relays full, or off)");
		close(fd);
		return 0;
	}
	if (!mt->met) {
		snprintf(row->reason, sizeof(row->reason), "%s",
			 mt->error ? mt->reason
				   : trials_setup_failure(last_answer, deadline, REGISTER_US,
							  SILENT_REGS));
		close(fd);
		return last_answer || mt->error ? 0 : -1;
	}
	punch_phase(o, t, me, mt, token, fd, row, bday);
	if (t->portmap)
		punch_gateway_unmap(o->gateway, &row->pm);
	close(fd);
	return 0;
}

/* ---- the record and the summary ---- */

static json_t *ms_or_null(double ms)
{
	return ms >= 0 ? json_real(round(ms * 10) / 10) : json_null();
}

/* The endpoints a trial's rounds went to: each with its path, and whether
 * it was guessed (port prediction's window) rather than named. */
static json_t *tried_json(const struct trial_row *r)
{
	json_t *list = json_array();
	char a[ADDR_STRLEN];

	for (size_t i = 0; i < r->ntried; i++)
		json_array_append_new(
		    list,
		    json_pack("{s:s, s:s, s:b}", "endpoint",
			      addr_format((const struct sockaddr *)&r->tried[i].addr, a, sizeof(a)),
			      "path", punch_path_name(r->tried[i].path), "predicted",
			      r->tried[i].predicted));
	return list;
}

/* Impostors' endpoints and their packets. */
static json_t *impostors_json(const struct punch_impostor *imp, size_t n)
{
	json_t *list = json_array();
	char a[ADDR_STRLEN];

	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    list,
		    json_pack("{s:s, s:i}", "endpoint",
			      addr_format((const struct sockaddr *)&imp[i].addr, a, sizeof(a)),
			      "packets", (json_int_t)imp[i].packets));
	return list;
}

/* A TCP trial's connects, in order: where, the first SYN's TTL, and what
 * became of each, when (ms from the start). */
static json_t *attempts_json(const struct trial_row *r)
{
	json_t *list = json_array();
	char a[ADDR_STRLEN];

	for (size_t i = 0; i < r->natt; i++) {
		const struct ptcp_attempt *at = &r->att[i];

		json_array_append_new(
		    list,
		    json_pack(
			"{s:s, s:s, s:b, s:i, s:s, s:o}", "endpoint",
			addr_format((const struct sockaddr *)&at->to.addr, a, sizeof(a)), "path",
			punch_path_name(at->to.path), "predicted", at->to.predicted, "ttl",
			(json_int_t)at->ttl, "outcome", ptcp_outcome_name(at->outcome), "ms",
			at->outcome == PTCP_PENDING ? json_null()
						    : ms_or_null((double)at->ended_us / 1000.0)));
	}
	return list;
}

/* What a TCP trial adds: which move won, the opening TTL, its connects and
 * the connections its listener accepted. */
static void tcp_trial_json(json_t *t, const struct trial_row *r)
{
	if (r->res.outcome == PUNCH_SUCCESS)
		json_object_set_new(t, "won", json_string(ptcp_won_name(r->won)));
	json_object_set_new(t, "open_ttl", json_integer((json_int_t)r->open_ttl));
	json_object_set_new(t, "accepted", json_integer((json_int_t)r->accepted));
	json_object_set_new(t, "attempts", attempts_json(r));
}

static json_t *portmap_side_json(const uint8_t wire[PREDICT_PORTMAP_WIRE_LEN])
{
	static const char *const proto[] = {NULL, "upnp", "nat-pmp", "pcp"};
	struct predict_portmap p = predict_portmap_from_wire(wire);

	return json_pack("{s:s?, s:b, s:o, s:b, s:o}", "protocol", proto[p.proto], "granted",
			 p.granted, "external_port", p.granted ? json_integer(p.port) : json_null(),
			 "at_public_address", p.public_ext, "nat_depth",
			 p.depth < 0 ? json_null() : json_integer(p.depth));
}

/* The port-mapping technique's part of a trial: both sides' mappings, who
 * waited, and this side's deletion. */
static json_t *portmap_trial_json(const struct trial_row *r)
{
	json_t *j = json_pack(
	    "{s:o, s:o, s:b, s:o}", "this_side", portmap_side_json(r->pm_mine), "other_side",
	    r->pm_theirs_known ? portmap_side_json(r->pm_theirs) : json_null(), "waited",
	    r->pm_waited, "deleted",
	    r->pm.udp.deleted < 0 ? json_null() : json_boolean(r->pm.udp.deleted));

	json_object_set_new(j, "error", r->pm.error[0] ? json_string(r->pm.error) : json_null());
	return j;
}

static json_t *trial_json(const struct trial_row *r, const struct birthday_row *b)
{
	char a[ADDR_STRLEN];
	json_t *t = json_pack("{s:s}", "outcome", punch_outcome_name(r->res.outcome));

	if (r->res.outcome == PUNCH_SUCCESS) {
		json_object_set_new(t, "path", json_string(punch_path_name(r->res.path)));
		json_object_set_new(t, "connect_ms",
				    ms_or_null((double)r->res.connect_us / 1000.0));
		json_object_set_new(t, "strict", json_boolean(r->res.strict));
		json_object_set_new(t, "predicted", json_boolean(r->res.predicted));
		json_object_set_new(
		    t, "peer",
		    json_string(addr_format((const struct sockaddr *)&r->res.peer, a, sizeof(a))));
	}
	if (r->res.outcome == PUNCH_SETUP_FAILED || r->reason[0])
		json_object_set_new(t, "reason", json_string(r->reason));
	if (r->res.outcome != PUNCH_SETUP_FAILED)
		json_object_set_new(
		    t, "packets",
		    json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "rounds",
			      (json_int_t)r->res.rounds, "sent", (json_int_t)r->res.sent, "answers",
			      (json_int_t)r->res.replies, "verified", (json_int_t)r->res.verified,
			      "rejected", (json_int_t)r->res.rejected, "unnamed_answers",
			      (json_int_t)r->res.strangers, "impostors",
			      (json_int_t)r->res.impostors));
	if (r->res.nimp)
		json_object_set_new(t, "impostors", impostors_json(r->res.imp, r->res.nimp));
	if (r->ntried)
		json_object_set_new(t, "tried", tried_json(r));
	if (r->tcp && r->res.outcome != PUNCH_SETUP_FAILED &&
	    !(r->ntried && r->tried[0].path == PUNCH_PATH_RELAY))
		tcp_trial_json(t, r);
	if (r->pm.asked || r->pm.error[0])
		json_object_set_new(t, "port_mapping", portmap_trial_json(r));
	if (r->sprayed)
		json_object_set_new(t, "guessed_ports", json_integer((json_int_t)r->sprayed));
	if (b->planned && b->role == PREDICT_ROLE_HARD)
		json_object_set_new(t, "sockets", json_integer(b->opened));
	return t;
}

enum agreement { NOTHING_TO_JUDGE, AGREES, CONTRADICTS };

/* Does the measured result agree with the prediction? Nothing to judge when
 * no trial started or the prediction depends on what is not known. */
static enum agreement agreement(const struct technique_run *run, const struct trial_summary *s)
{
	unsigned started = s->trials - s->setup_failed;
	bool as_said;

	if (!started || run->want.expect == PREDICT_DEPENDS)
		return NOTHING_TO_JUDGE;
	as_said = run->want.expect == PREDICT_WORKS ? s->successes == started : s->successes == 0;
	return as_said ? AGREES : CONTRADICTS;
}

static json_t *agrees_json(enum agreement a)
{
	return a == NOTHING_TO_JUDGE ? json_null() : json_boolean(a == AGREES);
}

/* Port prediction's guesses toward the other side; null when its ports
 * were not predictable. */
static json_t *prediction_json(const struct technique_run *run)
{
	if (!run->peer_delta)
		return json_null();
	return json_pack("{s:i, s:i}", "peer_delta", (json_int_t)run->peer_delta, "window",
			 (json_int_t)PUNCH_MAX_PREDICTED);
}

/* The plan of a birthday technique's trials (the same in each but for the
 * hard side's sockets that opened: the fewest), its odds beside the
 * measured rate; null when no trial met. */
static json_t *birthday_json(const struct technique_run *run, const struct trial_summary *s)
{
	static const char *const roles[] = {"plain", "easy", "hard"};
	const struct birthday_row *b = NULL;
	unsigned opened = 0;
	json_t *j;

	for (size_t i = 0; i < run->nrows; i++) {
		const struct birthday_row *r = &run->bday[i];

		if (!r->planned)
			continue;
		opened = !b || r->opened < opened ? r->opened : opened;
		b = b ? b : r;
	}
	if (!b)
		return json_null();
	j = json_pack("{s:s}", "role", roles[b->role]);
	if (b->role == PREDICT_ROLE_PLAIN)
		return j; /* hole punching: the classifications say it works, or nothing will */
	json_object_set_new(j, "ports", json_string(b->sequential ? "sequential" : "random"));
	json_object_set_new(j, "sockets", json_integer(b->sockets));
	if (b->role == PREDICT_ROLE_HARD)
		json_object_set_new(j, "sockets_opened", json_integer(opened));
	json_object_set_new(j, "probes", json_integer(b->probes));
	json_object_set_new(j, "port_range",
			    json_pack("[i, i]", (json_int_t)b->port_lo, (json_int_t)b->port_hi));
	json_object_set_new(j, "range_assumed", json_boolean(!b->range_known));
	json_object_set_new(j, "predicted_success", json_real(b->predicted));
	json_object_set_new(j, "measured_success", s->rate >= 0 ? json_real(s->rate) : json_null());
	return j;
}

static json_t *technique_json(const struct technique_run *run)
{
	struct trial_summary s;
	json_t *rows = json_array(), *times = json_array(), *t;

	trials_summarise(run->rows, run->nrows, &s);
	for (size_t i = 0; i < run->nrows; i++) {
		json_array_append_new(rows, trial_json(&run->rows[i], &run->bday[i]));
		if (run->rows[i].res.outcome == PUNCH_SUCCESS)
			json_array_append_new(
			    times, ms_or_null((double)run->rows[i].res.connect_us / 1000.0));
	}
	t = json_pack("{s:s, s:i, s:i, s:i}", "technique", run->t->name, "trials",
		      (json_int_t)s.trials, "successes", (json_int_t)s.successes, "setup_failed",
		      (json_int_t)s.setup_failed);
	json_object_set_new(t, "success_rate", s.rate >= 0 ? json_real(s.rate) : json_null());
	json_object_set_new(t, "ci95",
			    s.rate >= 0 ? json_pack("[f, f]", s.ci_lo, s.ci_hi) : json_null());
	json_object_set_new(t, "median_connect_ms", ms_or_null(s.median_ms));
	json_object_set_new(t, "p95_connect_ms", ms_or_null(s.p95_ms));
	json_object_set_new(t, "first_round_share",
			    s.first_round_share >= 0 ? json_real(s.first_round_share)
						     : json_null());
	json_object_set_new(t, "path",
			    s.successes ? json_string(punch_path_name(s.path)) : json_null());
	json_object_set_new(t, "expected", json_string(predict_expect_name(run->want.expect)));
	json_object_set_new(t, "expected_reason", json_string(run->want.reason));
	json_object_set_new(t, "agrees", agrees_json(agreement(run, &s)));
	json_object_set_new(t, "impostor_packets", json_integer((json_int_t)s.impostors));
	json_object_set_new(t, "transport", json_string(run->t->tcp ? "tcp" : "udp"));
	if (run->t->predict_ports)
		json_object_set_new(t, "prediction", prediction_json(run));
	if (run->t->birthday)
		json_object_set_new(t, "birthday", birthday_json(run, &s));
	json_object_set_new(t, "connect_ms", times);
	json_object_set_new(t, "trial_results", rows);
	return t;
}

/* A classification as the record has it: this side's, or the other's. */
static json_t *class_json(enum probe_mapping m, enum probe_filtering f, enum probe_ports p)
{
	return json_pack("{s:s, s:s, s:{s:s}}", "mapping", probe_mapping_name(m), "filtering",
			 probe_filtering_name(f), "port_allocation", "pattern",
			 probe_ports_name(p));
}

static json_t *tri_json(enum probe_bool b)
{
	return b == PROBE_UNKNOWN ? json_null() : json_boolean(b == PROBE_YES);
}

/* A TCP class as the record has it: natprobe's own keys (tcp.*). */
static json_t *tcp_class_json(struct predict_tcp_side s)
{
	json_t *j = class_json(s.base.mapping, s.base.filtering, s.base.ports);

	json_object_set_new(j, "unsolicited_syn", json_string(probe_syn_name(s.syn)));
	json_object_set_new(j, "simultaneous_open", tri_json(s.simopen));
	json_object_set_new(j, "icmp_kept", tri_json(s.icmp_kept));
	return j;
}

/* sweep: --open-ttl auto's, NULL when a TTL was given. */
static int write_record(FILE *f, const struct options *o, const struct probe_result *me,
			const struct meeting *other, const struct technique_run *runs,
			const struct hops_auto *sweep, const char *started)
{
	char a[ADDR_STRLEN];
	struct predict_side theirs;
	json_t *rec = json_object(), *punch = json_array(), *peer;
	int rc;

	json_object_set_new(rec, "schema", json_string("natlab.result/1"));
	json_object_set_new(
	    rec, "tool", json_pack("{s:s, s:s}", "name", "natprobe", "version", NATPROBE_VERSION));
	if (o->label)
		json_object_set_new(rec, "label", json_string(o->label));
	json_object_set_new(rec, "started", json_string(started));
	json_object_set_new(
	    rec, "reflector",
	    json_pack("{s:s, s:s}", "primary",
		      addr_format((const struct sockaddr *)&o->server, a, sizeof(a)), "given",
		      o->server_given));
	json_object_set_new(rec, "session", json_string(o->session));
	json_object_set_new(rec, "punch_settings",
			    json_pack("{s:i, s:i}", "open_ttl", (json_int_t)o->open_ttl,
				      "stagger_ms", (json_int_t)o->stagger_ms));
	if (sweep)
		json_object_set_new(rec, "open_ttl_sweep", hops_auto_json(sweep));
	json_object_set_new(rec, "udp", class_json(me->mapping, me->filtering, me->port_pattern));
	if (me->tcp.mapping != PROBE_MAPPING_UNTESTED)
		json_object_set_new(rec, "tcp", tcp_class_json(predict_tcp_side_of(&me->tcp)));
	/* The other probe's, as it said at the rendezvous: a survey's NAT pair. */
	theirs = their_side(other);
	peer =
	    other->met ? class_json(theirs.mapping, theirs.filtering, theirs.ports) : json_null();
	if (other->met && other->have_tcp_cls)
		json_object_set_new(peer, "tcp",
				    tcp_class_json(predict_tcp_side_from_wire(other->tcp_cls)));
	json_object_set_new(rec, "punch_peer", peer);
	for (size_t i = 0; i < o->ntech; i++)
		json_array_append_new(punch, technique_json(&runs[i]));
	json_object_set_new(rec, "punch", punch);
	rc = json_dumpf(rec, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	fputc('\n', f);
	json_decref(rec);
	return rc;
}

/* Packets from where the other probe should be that did not prove it
 * (RFC 5128 6.1): refused, never taken for the other probe; said loudly. */
static void print_impostors(FILE *out, const struct trial_summary *s)
{
	char a[ADDR_STRLEN];
	unsigned named = 0;

	if (!s->impostors)
		return;
	fprintf(out, "    IMPOSTOR: %u unauthenticated packets from", s->impostors);
	for (size_t k = 0; k < s->nimp; k++) {
		fprintf(out, "%s %s (%u)", k ? "," : "",
			addr_format((const struct sockaddr *)&s->imp[k].addr, a, sizeof(a)),
			s->imp[k].packets);
		named += s->imp[k].packets;
	}
	fprintf(out, "%s; refused, never taken for the other probe\n",
		named < s->impostors ? " and elsewhere" : "");
}

/* One line a technique; a contradiction is said loudly. 1 when any. */
static int print_summary(FILE *out, const struct options *o, const struct technique_run *runs)
{
	static const char *const said[] = {"nothing to judge", "agrees", "CONTRADICTION"};
	int contradictions = 0;

	for (size_t i = 0; i < o->ntech; i++) {
		struct trial_summary s;
		enum agreement a;

		trials_summarise(runs[i].rows, runs[i].nrows, &s);
		a = agreement(&runs[i], &s);
		fprintf(out, "  %-29s %2u/%-2u", runs[i].t->name, s.successes,
			s.trials - s.setup_failed);
		if (s.setup_failed)
			fprintf(out, " (+%u setup-failed)", s.setup_failed);
		if (s.median_ms >= 0)
			fprintf(out, "  median %.1f ms, p95 %.1f ms", s.median_ms, s.p95_ms);
		fprintf(out, "  expected %s: %s\n", predict_expect_name(runs[i].want.expect),
			said[a]);
		print_impostors(out, &s);
		contradictions += a == CONTRADICTS;
	}
	return contradictions ? 1 : 0;
}

/* ---- main ---- */

/* The prediction of each technique: needs the other probe's class, which
 * the first meeting brings. */
/* A TCP technique's prediction from both TCP classes (unknown when the
 * other did not send one); the opening TTL is used on IPv4 only. */
static struct predict predict_tcp_all(const struct options *o, const struct probe_result *me,
				      const struct meeting *mt, enum predict_technique rule)
{
	struct predict_tcp_side mine = predict_tcp_side_of(&me->tcp), theirs = their_tcp_side(mt);

	return predict_tcp_technique(rule, &mine, &theirs,
				     o->open_ttl && o->server.ss_family == AF_INET);
}

/* The port-mapping technique from its first trial that met: both sides'
 * NATLAB-PORTMAP (a later trial says the same of the same gateways). */
static struct predict predict_portmap_run(const struct technique_run *run)
{
	static const uint8_t unknown[PREDICT_PORTMAP_WIRE_LEN] = {0};

	for (size_t k = 0; k < run->nrows; k++) {
		const struct trial_row *r = &run->rows[k];
		struct predict_portmap mine, theirs;

		if (r->res.outcome == PUNCH_SETUP_FAILED)
			continue;
		mine = predict_portmap_from_wire(r->pm_mine);
		theirs = predict_portmap_from_wire(r->pm_theirs_known ? r->pm_theirs : unknown);
		return predict_port_mapping(&mine, &theirs);
	}
	return (struct predict){PREDICT_DEPENDS, "no trial met the other probe"};
}

static void predict_all(const struct options *o, const struct probe_result *me,
			const struct meeting *mt, struct technique_run *runs)
{
	struct predict_side mine = my_side(me);
	struct predict_side theirs = {PROBE_MAPPING_UNTESTED, PROBE_FILTERING_UNTESTED,
				      PROBE_PORTS_UNTESTED, 0};

	bool one = mt->met && punch_one_address(me, mt), lan = one && same_lan(mt);

	if (mt->met)
		theirs = their_side(mt);
	for (size_t i = 0; i < o->ntech; i++) {
		const struct technique *t = runs[i].t;
		struct predict_side their_t = mt->met ? their_side_for(t, mt) : theirs;

		/* TCP's hairpinning is not in the punch's classification. */
		runs[i].want = one          ? predict_one_address(t->rule, t->private_first, lan,
                                                         t->tcp ? PROBE_UNKNOWN : me->hairpinning)
			       : t->tcp     ? predict_tcp_all(o, me, mt, t->rule)
			       : t->portmap ? predict_portmap_run(&runs[i])
					    : predict_technique(t->rule, &mine, &theirs);
		runs[i].peer_delta = predict_sequential(&their_t) ? their_t.delta : 0;
	}
}

/* Every trial; -1 when the reflector never answered, -2 when it refused
 * the session (said why). A trial with no other
 * probe makes the rest setup-failed without waiting again. */
static int run_all(const struct options *o, const struct probe_result *me,
		   struct technique_run *runs, struct meeting *first)
{
	uint32_t number = 0;
	uint64_t setup_us = (uint64_t)o->setup_timeout_s * 1000000u;
	const char *gone = NULL;
	struct meeting mt;

	memset(first, 0, sizeof(*first));
	for (size_t i = 0; i < o->ntech; i++) {
		runs[i].t = o->tech[i];
		for (unsigned k = 0; k < o->trials; k++, number++) {
			struct trial_row *row = &runs[i].rows[runs[i].nrows++];

			if (gone) {
				*row = (struct trial_row){.res.outcome = PUNCH_SETUP_FAILED};
				snprintf(row->reason, sizeof(row->reason), "%s", gone);
				continue;
			}
			if ((runs[i].t->tcp
				 ? punch_tcp_trial(o, runs[i].t, number, me, setup_us, row, &mt)
				 : one_trial(o, runs[i].t, number, me, setup_us, row,
					     &runs[i].bday[runs[i].nrows - 1], &mt)) < 0 &&
			    !number)
				return -1;
			/* A key the reflector refuses, or no rendezvous at all. */
			if (!number && (mt.error == 401 || mt.error == 403)) {
				fprintf(stderr, "natprobe punch: %s\n", mt.reason);
				return -2;
			}
			if (mt.met && !first->met)
				*first = mt;
			if (!mt.met)
				gone = row->reason;
			fprintf(stderr, "natprobe punch: %s trial %u: %s\n", runs[i].t->name, k + 1,
				punch_outcome_name(row->res.outcome));
		}
	}
	predict_all(o, me, first, runs);
	return 0;
}

static bool any_portmap(const struct options *o)
{
	for (size_t i = 0; i < o->ntech; i++)
		if (o->tech[i]->portmap)
			return true;
	return false;
}

static bool any_tcp(const struct options *o)
{
	for (size_t i = 0; i < o->ntech; i++)
		if (o->tech[i]->tcp)
			return true;
	return false;
}

static FILE *open_json(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "a") : stdout;

	if (!f)
		fprintf(stderr, "natprobe punch: --json %s: %s\n", path, strerror(errno));
	return f;
}

/* --open-ttl auto: the hop sweep's TTL for every trial, found once. The
 * sweep goes before the classification, whose hairpinning test spends the
 * NAT's ICMP errors toward this host (hops.c); the decision waits for it,
 * which says whether this side has a NAT to open. NULL when a TTL was
 * given. */
static const struct hops_auto *open_ttl_sweep(const struct options *o, struct hops_auto *a)
{
	if (o->open_ttl != OPEN_TTL_AUTO)
		return NULL;
	hops_auto_sweep((const struct sockaddr *)&o->server, a);
	return a;
}

static void open_ttl_decide(struct options *o, const struct probe_result *me, struct hops_auto *a)
{
	if (o->open_ttl != OPEN_TTL_AUTO)
		return;
	hops_decide(&a->sweep, me->mapping != PROBE_MAPPING_NONE, &a->d);
	o->open_ttl = a->d.ttl;
}

int punch_main(int argc, char **argv)
{
	static struct technique_run runs[NTECHNIQUES];
	static struct punch_gateway gateway;
	struct hops_auto swept;
	const struct hops_auto *sweep;
	struct meeting first;
	struct options o;
	struct probe_result me;
	FILE *json = NULL;
	char started[32];
	time_t now = time(NULL);
	int rc;

	if (parse_options(argc, argv, &o))
		return EXIT_USAGE;
	/* The hard side holds GUESS_SOCKETS sockets at once. */
	open_files_raise(GUESS_SOCKETS + 64);
	if (o.json && !(json = open_json(o.json)))
		return EXIT_USAGE;
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	sweep = open_ttl_sweep(&o, &swept);
	if (natprobe_classify((const struct sockaddr *)&o.server, o.session, o.key, any_tcp(&o),
			      &me) ||
	    !me.answers) {
		fprintf(stderr, "natprobe punch: no answer from the reflector %s\n",
			o.server_given);
		if (json && json != stdout)
			fclose(json);
		return EXIT_NO_SERVER;
	}
	open_ttl_decide(&o, &me, &swept);
	if (any_portmap(&o)) {
		punch_gateway_open(&o, &me, sweep, &gateway);
		o.gateway = &gateway;
	}
	rc = run_all(&o, &me, runs, &first);
	if (o.gateway)
		punch_gateway_close(o.gateway);
	if (rc) {
		if (rc == -1)
			fprintf(stderr, "natprobe punch: the reflector's rendezvous does not "
					"answer\n");
		if (json && json != stdout)
			fclose(json);
		return rc == -1 ? EXIT_NO_SERVER : EXIT_USAGE;
	}
	if (!json || json != stdout)
		fprintf(stdout, "natprobe punch: session %s, this NAT %s / %s\n", o.session,
			probe_mapping_name(me.mapping), probe_filtering_name(me.filtering));
	if (sweep)
		hops_auto_print(json == stdout ? stderr : stdout, sweep);
	rc = print_summary(json == stdout ? stderr : stdout, &o, runs);
	for (size_t i = 0; i < o.ntech && !rc; i++)
		for (size_t k = 0; k < runs[i].nrows; k++)
			rc |= runs[i].rows[k].res.outcome == PUNCH_SETUP_FAILED;
	if (json && (write_record(json, &o, &me, &first, runs, sweep, started) ||
		     (json != stdout && fclose(json)))) {
		fprintf(stderr, "natprobe punch: --json %s: cannot write the record\n", o.json);
		rc = EXIT_USAGE;
	}
	return rc;
}
