/*
 * refltest: ask a natreflector to run one of natlab's own tests
 * (reflector/PROTOCOL.md) and print what happened: did the reflector's
 * datagram reach us, and what did the reflector see come back from its SYN.
 * The lab tests use it; natprobe's TCP and traversal tests speak the same
 * protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "addr.h"
#include "reflector/natlabtest.h"
#include "stun.h"
#include "wire.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE   2
#define EXIT_NOREPLY 3

static const char usage[] =
    "usage: refltest --session ID --key KEY\n"
    "                --action udp|syn|simopen|icmp|icmp-conn|syn-hold\n"
    "                --from pp|pa|ap|aa\n"
    "                [--target-port N] [--wait MS] [--tcp] [--listen] [--local HOST:PORT]\n"
    "                SERVER:PORT\n"
    "\n"
    "Ask the natreflector at SERVER:PORT (SERVER a host name or an address) to send\n"
    "a UDP datagram (udp) or a TCP SYN (syn) from one of its four endpoints (pp\n"
    "primary address and port, pa primary address and alternate port, ap, aa) to\n"
    "our mapped endpoint, and print what came of it:\n"
    "  refltest action=syn from=aa sent_from=IP:PORT target=IP:PORT outcome=rst\n"
    "           observed_from=IP elapsed_us=N received=no\n"
    "outcome is what the reflector saw come back (nothing, syn-ack, rst, icmp);\n"
    "received says whether the datagram reached us (udp tests; - for syn).\n"
    "simopen (over TCP): the reflector opens a silent port X, we connect to it, it\n"
    "connects back from X when it sees our SYN (RFC 5382 REQ-2), and says how that went:\n"
    "  refltest action=simopen from=ap silent_port=IP:PORT seen_syn=IP:PORT\n"
    "           outcome=connected|rst|icmp|nothing connected=yes|no\n"
    "outcome connected: the SYNs crossed; connected: whether our own connect() completed.\n"
    "icmp (over TCP): a silent port X whose first SYN the reflector answers with ICMP\n"
    "host unreachable, 3 times (RFC 5382 REQ-9); we connect to it:\n"
    "  refltest action=icmp from=ap silent_port=IP:PORT seen_syn=IP:PORT sent=3/1\n"
    "           unreachable=yes|no\n"
    "unreachable: our connect() failed with EHOSTUNREACH (the error came back in).\n"
    "icmp-conn (over TCP): a second connection, its mapping asked; the reflector sends\n"
    "port unreachable and time exceeded about it, 3 times each (RFC 5382 REQ-10); then\n"
    "a Binding over it:\n"
    "  refltest action=icmp-conn from=ap victim=IP:PORT sent=3/3 kept=yes|no|moved\n"
    "syn-hold (over TCP): a second connection, its mapping asked; the reflector\n"
    "connect()s to that mapping at once from a port X (RFC 5382 REQ-4), and 2 s later we\n"
    "connect to X from the second connection's port:\n"
    "  refltest action=syn-hold from=ap target=IP:PORT x=IP:PORT outcome=connected|rst|\n"
    "           icmp|nothing ttl=N peer_ttl=N ms=N connected=yes|no\n"
    "outcome: how the reflector's connect() ended (rst, icmp: what answered its SYN,\n"
    "at TTL ttl; peer_ttl is our own host's); connected: whether ours completed.\n"
    "\n"
    "  --session ID, --key KEY  the session and its key (natreflector --issue-session)\n"
    "  --target-port N          aim at this port of our mapped address instead\n"
    "  --wait MS                how long the reflector watches for an answer (500)\n"
    "  --tcp                    ask over a TCP connection: the target is its mapping\n"
    "  --listen                 with --tcp, also listen on the local port, so that a\n"
    "                           SYN that gets through is answered with a SYN-ACK\n"
    "  --local HOST:PORT        the local endpoint (any), in SERVER's family\n"
    "Exit status: 0 answered, 1 refused (error=CODE reason=...), 2 bad usage,\n"
    "3 no answer.\n";

struct opts {
	const char *session, *key;
	uint8_t action, role, copies;
	uint16_t target_port;
	uint32_t wait_ms;
	bool tcp, listen, has_local;
	const char *local_text;
	struct sockaddr_storage server, local;
};

static const char *const roles[] = {"pp", "pa", "ap", "aa"};

static int number(const char *opt, const char *text, unsigned long min, unsigned long max,
		  unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(text, &end, 10);
	if (*text < '0' || *text > '9' || *end || errno || *v < min || *v > max) {
		fprintf(stderr, "refltest: %s wants a number from %lu to %lu, not '%s'\n", opt, min,
			max, text);
		return -1;
	}
	return 0;
}

/* The server, then --local in the server's family: a name with both gives the one that fits. */
static int resolve(const char *server, struct opts *o)
{
	char err[320];

	if (addr_resolve(server, ADDR_PORT_REQUIRED, 0, AF_UNSPEC, &o->server, err, sizeof(err))) {
		fprintf(stderr, "refltest: %s\n", err);
		return -1;
	}
	if (o->local_text && addr_resolve(o->local_text, ADDR_PORT_REQUIRED, 0, o->server.ss_family,
					  &o->local, err, sizeof(err))) {
		fprintf(stderr, "refltest: --local: %s\n", err);
		return -1;
	}
	o->has_local = o->local_text != NULL;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"session", required_argument, NULL, 's'},
	    {"key", required_argument, NULL, 'k'},
	    {"action", required_argument, NULL, 'a'},
	    {"from", required_argument, NULL, 'f'},
	    {"target-port", required_argument, NULL, 'p'},
	    {"wait", required_argument, NULL, 'w'},
	    {"tcp", no_argument, NULL, 't'},
	    {"listen", no_argument, NULL, 'l'},
	    {"local", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long v;
	int c;

	*o = (struct opts){.role = 4, .wait_ms = REFL_TEST_WAIT_DEFAULT};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->session = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'a':
			o->action = !strcmp(optarg, "udp")         ? REFL_TEST_UDP
				    : !strcmp(optarg, "syn")       ? REFL_TEST_SYN
				    : !strcmp(optarg, "simopen")   ? REFL_TEST_SIMOPEN_ARM
				    : !strcmp(optarg, "icmp")      ? REFL_TEST_ICMP_ARM
				    : !strcmp(optarg, "icmp-conn") ? REFL_TEST_ICMP_CONN
				    : !strcmp(optarg, "syn-hold")  ? REFL_TEST_SYN_HOLD
								   : 0;
			o->tcp = o->tcp || o->action >= REFL_TEST_SIMOPEN_ARM;
			break;
		case 'f':
			for (uint8_t r = 0; r < 4; r++)
				if (!strcmp(optarg, roles[r]))
					o->role = r;
			break;
		case 'p':
			if (number("--target-port", optarg, 1, 65535, &v))
				return -1;
			o->target_port = (uint16_t)v;
			break;
		case 'w':
			if (number("--wait", optarg, REFL_TEST_WAIT_MIN, REFL_TEST_WAIT_MAX, &v))
				return -1;
			o->wait_ms = (uint32_t)v;
			break;
		case 't':
			o->tcp = true;
			break;
		case 'l':
			o->listen = true;
			break;
		case 'L':
			o->local_text = optarg; /* resolved in the server's family */
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (!o->session || !o->key || !o->action || o->role > 3 || optind != argc - 1) {
		fprintf(stderr, "refltest: want --session, --key, --action "
				"udp|syn|simopen|icmp|icmp-conn|syn-hold, "
				"--from pp|pa|ap|aa and one SERVER:PORT\n");
		return -1;
	}
	return resolve(argv[optind], o);
}

static size_t build(const struct opts *o, const uint8_t tid[STUN_TID_LEN], const uint8_t token[8],
		    uint8_t *buf, size_t cap)
{
	uint8_t action[4] = {o->action, o->role, o->copies, 0}, port[4] = {0};
	struct stun_builder b;
	size_t len = 0;

	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_TEST, STUN_REQUEST), STUN_MAGIC_COOKIE,
			 tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, o->session);
	stun_build_attr(&b, STUN_ATTR_NATLAB_ACTION, action, 4);
	if (o->target_port) {
		wire_put16(port, o->target_port);
		stun_build_attr(&b, STUN_ATTR_NATLAB_TARGET_PORT, port, 4);
	}
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, token, 8);
	stun_build_u32(&b, STUN_ATTR_NATLAB_WAIT, o->wait_ms);
	stun_build_integrity(&b, (const uint8_t *)o->key, strlen(o->key));
	stun_build_fingerprint(&b);
	stun_build_end(&b, &len);
	return len;
}

/* The sockets: the one the request goes on, and with --tcp --listen a listener. */
static int open_sockets(const struct opts *o, int *fd, int *lfd)
{
	const struct sockaddr *srv = (const struct sockaddr *)&o->server;
	struct sockaddr_storage local = o->local;
	socklen_t len = sizeof(local);
	int one = 1;

	*lfd = -1;
	*fd = socket(srv->sa_family, o->tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (*fd < 0)
		return -1;
	setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (o->has_local &&
	    bind(*fd, (struct sockaddr *)&local, addr_len((struct sockaddr *)&local)))
		return -1;
	/* UDP stays unconnected: the datagram may come from any of the four endpoints. */
	if (!o->tcp)
		return 0;
	if (connect(*fd, srv, addr_len(srv)) || getsockname(*fd, (struct sockaddr *)&local, &len))
		return -1;
	if (!o->listen)
		return 0;
	/* RFC 5128 section 4.1: a listener on the port the connection uses. */
	*lfd = socket(srv->sa_family, SOCK_STREAM, 0);
	if (*lfd < 0)
		return -1;
	setsockopt(*lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind(*lfd, (struct sockaddr *)&local, len) || listen(*lfd, 4) ? -1 : 0;
}

/* Read one message: a whole datagram, or one framed message from the stream. */
static ssize_t receive(int fd, bool tcp, uint8_t *buf, size_t cap)
{
	size_t have = 0, want = STUN_HEADER_LEN;

	if (!tcp)
		return recv(fd, buf, cap, 0);
	while (have < want) {
		ssize_t n = recv(fd, buf + have, want - have, 0);

		if (n <= 0)
			return -1;
		have += (size_t)n;
		if (have == STUN_HEADER_LEN) {
			want = STUN_HEADER_LEN + wire_get16(buf + 2);
			if (want > cap)
				return -1;
		}
	}
	return (ssize_t)have;
}

static void print_answer(const struct opts *o, const struct stun_msg *m, bool received)
{
	struct sockaddr_storage target, sent_from, seen_from;
	const struct stun_attr *obs = stun_find(m, STUN_ATTR_NATLAB_OBSERVED);
	char a[ADDR_STRLEN], b[ADDR_STRLEN], c[ADDR_STRLEN] = "-";
	const uint8_t *v = obs && obs->len == 8 ? stun_attr_value(m, obs) : NULL;

	stun_get_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &target);
	stun_get_addr(m, STUN_ATTR_NATLAB_SENT_FROM, &sent_from);
	if (stun_get_addr(m, STUN_ATTR_NATLAB_OBSERVED_FROM, &seen_from) == STUN_OK)
		addr_format_ip((struct sockaddr *)&seen_from, c, sizeof(c));
	printf("refltest action=%s from=%s sent_from=%s target=%s outcome=%s",
	       o->action == REFL_TEST_SYN ? "syn" : "udp", roles[o->role],
	       addr_format((struct sockaddr *)&sent_from, a, sizeof(a)),
	       addr_format((struct sockaddr *)&target, b, sizeof(b)),
	       v ? refl_outcome_name((enum refl_outcome)v[0]) : "?");
	if (v && v[0] == REFL_SEEN_ICMP)
		printf(" icmp_type=%u icmp_code=%u", v[1], v[2]);
	if (v && v[0] != REFL_SEEN_NOTHING)
		printf(" observed_from=%s ttl=%u", c, v[3]);
	else
		printf(" observed_from=%s", c);
	printf(" elapsed_us=%u received=%s\n", v ? wire_get32(v + 4) : 0,
	       o->action == REFL_TEST_SYN ? "-"
	       : received                 ? "yes"
					  : "no");
}

/* 0 answered, EXIT_REFUSED an error answer, EXIT_NOREPLY none in time. */
static int await(const struct opts *o, int fd, const uint8_t tid[STUN_TID_LEN],
		 const uint8_t token[8])
{
	uint8_t buf[2048];
	bool received = false;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int budget = (int)o->wait_ms + 2000;

	while (budget > 0 && poll(&p, 1, 100) >= 0) {
		struct stun_msg m;
		ssize_t n;
		const struct stun_attr *t;
		unsigned code;
		const char *reason;
		size_t rlen;

		budget -= 100;
		if (!(p.revents & POLLIN))
			continue;
		n = receive(fd, o->tcp, buf, sizeof(buf));
		if (n < 0)
			return EXIT_NOREPLY;
		if (stun_parse(&m, buf, (size_t)n, 0) != STUN_OK ||
		    memcmp(m.tid, tid, STUN_TID_LEN))
			continue;
		t = stun_find(&m, STUN_ATTR_NATLAB_TOKEN);
		if (m.cls == STUN_INDICATION && t && t->len == 8 &&
		    !memcmp(stun_attr_value(&m, t), token, 8)) {
			received = true;
		} else if (m.cls == STUN_ERROR &&
			   stun_get_error(&m, &code, &reason, &rlen) == STUN_OK) {
			printf("refltest error=%u reason=\"%.*s\"\n", code, (int)rlen, reason);
			return EXIT_REFUSED;
		} else if (m.cls == STUN_SUCCESS &&
			   stun_check_integrity(&m, (const uint8_t *)o->key, strlen(o->key)) ==
			       STUN_OK) {
			/* The datagram left wait_ms before the answer: it is here by now, or lost.
			 */
			print_answer(o, &m, received);
			return 0;
		}
	}
	printf("refltest no answer in %u ms\n", o->wait_ms + 2000);
	return EXIT_NOREPLY;
}

/* One signed answer to tid over the TCP connection, into buf; 0, EXIT_REFUSED
 * (printed), or EXIT_NOREPLY. */
static int reply(const struct opts *o, int fd, const uint8_t tid[STUN_TID_LEN], uint8_t *buf,
		 size_t cap, struct stun_msg *m)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	unsigned code;
	const char *reason;
	size_t rlen;

	for (int budget = (int)o->wait_ms + 2000; budget > 0; budget -= 100) {
		ssize_t n;

		if (poll(&p, 1, 100) < 0)
			break;
		if (!(p.revents & POLLIN))
			continue;
		n = receive(fd, true, buf, cap);
		if (n < 0)
			break;
		if (stun_parse(m, buf, (size_t)n, 0) != STUN_OK ||
		    memcmp(m->tid, tid, STUN_TID_LEN))
			continue;
		if (m->cls == STUN_ERROR && stun_get_error(m, &code, &reason, &rlen) == STUN_OK) {
			printf("refltest error=%u reason=\"%.*s\"\n", code, (int)rlen, reason);
			return EXIT_REFUSED;
		}
		if (m->cls == STUN_SUCCESS &&
		    stun_check_integrity(m, (const uint8_t *)o->key, strlen(o->key)) == STUN_OK)
			return 0;
	}
	printf("refltest no answer in %u ms\n", o->wait_ms + 2000);
	return EXIT_NOREPLY;
}

/* One order over the connection, and its answer. */
static int order(struct opts *o, int fd, uint8_t action, const uint8_t token[8], uint8_t *buf,
		 size_t cap, struct stun_msg *m)
{
	uint8_t tid[STUN_TID_LEN], req[512];
	size_t len;

	o->action = action;
	if (getrandom(tid, sizeof(tid), 0) != sizeof(tid))
		return EXIT_NOREPLY;
	len = build(o, tid, token, req, sizeof(req));
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return EXIT_NOREPLY;
	return reply(o, fd, tid, buf, cap, m);
}

/* Our connect() to the silent port: started, then read once RESULT is in. */
static int connect_to(const struct opts *o, const struct sockaddr *x)
{
	struct sockaddr_storage local = o->local;
	int fd = socket(x->sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (o->has_local) {
		addr_set_port((struct sockaddr *)&local, 0);
		bind(fd, (struct sockaddr *)&local, addr_len((struct sockaddr *)&local));
	}
	if (connect(fd, x, addr_len(x)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool connected(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err = 0;

	return poll(&p, 1, 1500) == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) && !err;
}

/* An armed silent port: ARM (action), our connect() to X from a fresh port,
 * then RESULT, answered once the reflector's side is over. 0 with *sfd our
 * connecting socket, *x the port and m the RESULT; or the exit status. */
static int armed_trial(struct opts *o, int fd, uint8_t action, const uint8_t token[8], uint8_t *buf,
		       size_t cap, struct stun_msg *m, struct sockaddr_storage *x, int *sfd)
{
	int rc = order(o, fd, action, token, buf, cap, m);

	if (rc)
		return rc;
	if (stun_get_addr(m, STUN_ATTR_NATLAB_SENT_FROM, x) != STUN_OK ||
	    (*sfd = connect_to(o, (struct sockaddr *)x)) < 0) {
		perror("refltest: the silent port");
		return EXIT_NOREPLY;
	}
	rc = order(o, fd, REFL_TEST_SIMOPEN_RESULT, token, buf, cap, m);
	if (rc)
		close(*sfd);
	return rc;
}

/* The RESULT's NATLAB-SEEN-SYN as text ("-": none). */
static const char *seen_syn(const struct stun_msg *m, char *text, size_t len)
{
	struct sockaddr_storage seen;

	return stun_get_addr(m, STUN_ATTR_NATLAB_SEEN_SYN, &seen) == STUN_OK
		   ? addr_format((struct sockaddr *)&seen, text, len)
		   : "-";
}

/* --action simopen: ARM, connect to X, RESULT (answered when the
 * reflector's own connect() from X has ended). */
static int simopen(struct opts *o, int fd, const uint8_t token[8])
{
	uint8_t buf[2048];
	struct stun_msg m;
	struct sockaddr_storage x;
	const struct stun_attr *obs;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	int sfd = -1,
	    rc = armed_trial(o, fd, REFL_TEST_SIMOPEN_ARM, token, buf, sizeof(buf), &m, &x, &sfd);

	if (rc)
		return rc;
	obs = stun_find(&m, STUN_ATTR_NATLAB_OBSERVED);
	printf("refltest action=simopen from=%s silent_port=%s seen_syn=%s outcome=%s "
	       "connected=%s\n",
	       roles[o->role], addr_format((struct sockaddr *)&x, a, sizeof(a)),
	       seen_syn(&m, b, sizeof(b)),
	       obs && obs->len == 8
		   ? refl_outcome_name((enum refl_outcome)stun_attr_value(&m, obs)[0])
		   : "?",
	       connected(sfd) ? "yes" : "no");
	close(sfd);
	return 0;
}

/* Why a connect() ended: 0 connected, an errno, or ETIMEDOUT after ms. */
static int connect_error(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err = 0;

	if (poll(&p, 1, ms) != 1)
		return ETIMEDOUT;
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) ? errno : err;
}

/* --action icmp: ARM, connect to X, RESULT (the error's sent by then). */
static int icmp(struct opts *o, int fd, const uint8_t token[8])
{
	uint8_t buf[2048];
	struct stun_msg m;
	struct sockaddr_storage x;
	const struct stun_attr *obs;
	const uint8_t *v;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	int sfd = -1, rc, err;

	o->copies = 3;
	rc = armed_trial(o, fd, REFL_TEST_ICMP_ARM, token, buf, sizeof(buf), &m, &x, &sfd);
	if (rc)
		return rc;
	/* The error left as our SYN arrived; ours is resent at 1 s, to a closed port. */
	err = connect_error(sfd, 500);
	obs = stun_find(&m, STUN_ATTR_NATLAB_OBSERVED);
	v = obs && obs->len == 8 ? stun_attr_value(&m, obs) : NULL;
	printf("refltest action=icmp from=%s silent_port=%s seen_syn=%s sent=%u/%u "
	       "unreachable=%s\n",
	       roles[o->role], addr_format((struct sockaddr *)&x, a, sizeof(a)),
	       seen_syn(&m, b, sizeof(b)), v ? (unsigned)v[1] : 0u, v ? (unsigned)v[2] : 0u,
	       err == EHOSTUNREACH ? "yes" : "no");
	close(sfd);
	return 0;
}

/* A Binding over a connection: 0 and its mapped address, or -1. */
static int binding(int fd, struct sockaddr_storage *mapped)
{
	uint8_t tid[STUN_TID_LEN], buf[1024];
	struct stun_builder b;
	struct stun_msg m;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t len = 0;
	ssize_t n;

	if (getrandom(tid, sizeof(tid), 0) != sizeof(tid))
		return -1;
	stun_build_start(&b, buf, sizeof(buf), stun_type(STUN_BINDING, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_fingerprint(&b);
	if (stun_build_end(&b, &len) != STUN_OK ||
	    send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len || poll(&p, 1, 2000) != 1 ||
	    (n = receive(fd, true, buf, sizeof(buf))) < 0 ||
	    stun_parse(&m, buf, (size_t)n, 0) != STUN_OK || memcmp(m.tid, tid, STUN_TID_LEN) ||
	    stun_get_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, mapped) != STUN_OK)
		return -1;
	return 0;
}

/* --action icmp-conn: a victim connection and its mapping; the errors at it,
 * ordered over the first connection; a Binding over the victim after. */
static int icmp_conn(struct opts *o, int fd, const uint8_t token[8])
{
	uint8_t buf[2048];
	struct stun_msg m;
	struct sockaddr_storage before, after;
	const struct stun_attr *obs;
	const uint8_t *v;
	char a[ADDR_STRLEN];
	int vfd = connect_to(o, (struct sockaddr *)&o->server), rc;

	if (vfd < 0 || connect_error(vfd, 3500) ||
	    fcntl(vfd, F_SETFL, fcntl(vfd, F_GETFL) & ~O_NONBLOCK) || binding(vfd, &before)) {
		perror("refltest: the second connection");
		if (vfd >= 0)
			close(vfd);
		return EXIT_NOREPLY;
	}
	o->copies = 3;
	o->target_port = addr_port((struct sockaddr *)&before);
	rc = order(o, fd, REFL_TEST_ICMP_CONN, token, buf, sizeof(buf), &m);
	if (!rc) {
		bool kept = !binding(vfd, &after);

		obs = stun_find(&m, STUN_ATTR_NATLAB_OBSERVED);
		v = obs && obs->len == 8 ? stun_attr_value(&m, obs) : NULL;
		printf("refltest action=icmp-conn from=%s victim=%s sent=%u/%u kept=%s\n",
		       roles[o->role], addr_format((struct sockaddr *)&before, a, sizeof(a)),
		       v ? (unsigned)v[1] : 0u, v ? (unsigned)v[2] : 0u,
		       !kept ? "no"
		       : addr_equal((struct sockaddr *)&before, (struct sockaddr *)&after)
			   ? "yes"
			   : "moved");
	}
	close(vfd);
	return rc;
}

/* A connection from a port another socket may share (SO_REUSEADDR,
 * SO_REUSEPORT), blocking once made; its local endpoint in *local. */
static int shared_connect(const struct opts *o, const struct sockaddr *to, uint16_t port,
			  struct sockaddr_storage *local)
{
	struct sockaddr_storage at = o->local;
	socklen_t len = sizeof(*local);
	int one = 1, fd = socket(to->sa_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (!o->has_local) {
		memset(&at, 0, sizeof(at));
		at.ss_family = to->sa_family;
	}
	addr_set_port((struct sockaddr *)&at, port);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&at, addr_len((struct sockaddr *)&at)) ||
	    connect(fd, to, addr_len(to)) || getsockname(fd, (struct sockaddr *)local, &len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* --action syn-hold: a second connection's mapping; the reflector's SYN to
 * it at once; ours from that port to X 2 s later; RESULT. */
static int syn_hold(struct opts *o, int fd, const uint8_t token[8])
{
	uint8_t buf[2048];
	struct stun_msg m;
	struct sockaddr_storage p, mapped, x;
	const struct stun_attr *obs;
	const uint8_t *v;
	uint32_t peer = 0;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	int vfd = shared_connect(o, (struct sockaddr *)&o->server, 0, &p), sfd = -1, rc;
	bool ok;

	if (vfd < 0 || binding(vfd, &mapped)) {
		perror("refltest: the second connection");
		if (vfd >= 0)
			close(vfd);
		return EXIT_NOREPLY;
	}
	o->target_port = addr_port((struct sockaddr *)&mapped);
	o->wait_ms = 5000;
	rc = order(o, fd, REFL_TEST_SYN_HOLD, token, buf, sizeof(buf), &m);
	if (rc || stun_get_addr(&m, STUN_ATTR_NATLAB_SENT_FROM, &x) != STUN_OK) {
		close(vfd);
		return rc ? rc : EXIT_NOREPLY;
	}
	usleep(2000000);
	sfd = socket(x.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ok = sfd >= 0 && !setsockopt(sfd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)) &&
	     !setsockopt(sfd, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int)) &&
	     !bind(sfd, (struct sockaddr *)&p, addr_len((struct sockaddr *)&p)) &&
	     (!connect(sfd, (struct sockaddr *)&x, addr_len((struct sockaddr *)&x)) ||
	      errno == EINPROGRESS);
	o->target_port = 0;
	rc =
	    ok ? order(o, fd, REFL_TEST_SIMOPEN_RESULT, token, buf, sizeof(buf), &m) : EXIT_NOREPLY;
	if (!rc) {
		bool connected = !connect_error(sfd, 1500);

		obs = stun_find(&m, STUN_ATTR_NATLAB_OBSERVED);
		v = obs && obs->len == 8 ? stun_attr_value(&m, obs) : NULL;
		stun_get_u32(&m, STUN_ATTR_NATLAB_PEER_TTL, &peer);
		printf(
		    "refltest action=syn-hold from=%s target=%s x=%s outcome=%s ttl=%u peer_ttl=%u "
		    "ms=%u connected=%s\n",
		    roles[o->role], addr_format((struct sockaddr *)&mapped, a, sizeof(a)),
		    addr_format((struct sockaddr *)&x, b, sizeof(b)),
		    v ? refl_outcome_name((enum refl_outcome)v[0]) : "?", v ? (unsigned)v[3] : 0u,
		    peer >> 24, v ? wire_get32(v + 4) / 1000 : 0u, connected ? "yes" : "no");
	}
	if (sfd >= 0)
		close(sfd);
	close(vfd);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	uint8_t tid[STUN_TID_LEN], token[8], req[512];
	size_t len;
	int fd = -1, lfd = -1, rc = EXIT_NOREPLY;

	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	if (getrandom(tid, sizeof(tid), 0) != sizeof(tid) ||
	    getrandom(token, sizeof(token), 0) != sizeof(token) || open_sockets(&o, &fd, &lfd)) {
		perror("refltest");
		goto cleanup;
	}
	if (o.action == REFL_TEST_SIMOPEN_ARM) {
		o.wait_ms = o.wait_ms < 1500 ? 1500 : o.wait_ms; /* a SYN and its resend */
		rc = simopen(&o, fd, token);
		goto cleanup;
	}
	if (o.action == REFL_TEST_SYN_HOLD) {
		rc = syn_hold(&o, fd, token);
		goto cleanup;
	}
	if (o.action == REFL_TEST_ICMP_ARM || o.action == REFL_TEST_ICMP_CONN) {
		o.wait_ms = o.wait_ms < 1500 ? 1500 : o.wait_ms; /* our SYN may be slow to come */
		rc =
		    o.action == REFL_TEST_ICMP_ARM ? icmp(&o, fd, token) : icmp_conn(&o, fd, token);
		goto cleanup;
	}
	len = build(&o, tid, token, req, sizeof(req));
	if (sendto(fd, req, len, 0, (struct sockaddr *)&o.server,
		   addr_len((struct sockaddr *)&o.server)) != (ssize_t)len) {
		perror("refltest: send");
		goto cleanup;
	}
	rc = await(&o, fd, tid, token);
cleanup:
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	return rc;
}
