/*
 * natprobe: classify the NAT between this host and a natreflector (or any
 * RFC 5780 STUN server). This file is the driver: options, UDP sockets, the
 * clock and the writers. The decisions are the engine's and the tests'
 * (engine.c, t_*.c), which never touch a socket.
 */
#include <dirent.h>
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

#include <jansson.h>
#include <uuid/uuid.h>

#include "addr.h"
#include "clock.h"
#include "peermsg.h"
#include "probe/hopsweep.h"
#include "probe/peer.h"
#include "probe/portmapcmd.h"
#include "probe/punchcmd.h"
#include "probe/report.h"
#include "probe/spool.h"
#include "probe/upload.h"
#include "probe/tests.h"
#include "stun.h"
#include "udp.h"

#define EXIT_INCONCLUSIVE 1
#define EXIT_USAGE        2
#define EXIT_UNREACHABLE  3
#define RESWEEP_AFTER_US  1000000u  /* the depth sweep's second round (hopsweep.h) */
#define UUID_TEXT_LEN     37        /* 36 characters and the NUL */
#define EXIT_NOT_SENT     4         /* measured and spooled, not uploaded (yet) */
#define RUN_LIMIT_US      30000000u /* a run never takes longer than this, */
#define LIFETIME_DEFAULT  300       /* but for the lifetime test's: 3 x MAX_S more */
#define LIFETIME_MAX      3600
#define TCP_LIFETIME_MAX  10800 /* RFC 5382 REQ-5's 2 h 4 min, and room */

static const char usage[] =
    "usage: natprobe [-4|-6] [--json FILE|-] [--label TEXT] [--tag NAME=VALUE]\n"
    "                [--tests LIST] [--list-tests] [--session ID --key KEY]\n"
    "                [--peer HOST[:PORT]] [--lifetime[=MAX_S]]\n"
    "                [--tcp-lifetime[=MAX_S]] [--keepalive[=HOLD_S]] [--spool DIR]\n"
    "                [--upload URL --token-file FILE [--ca-file FILE]]\n"
    "                SERVER[:PORT]\n"
    "       natprobe peer [--listen HOST[:PORT]] [--timeout S]   (see peer --help)\n"
    "       natprobe punch --session ID --key KEY ... SERVER      (see punch --help)\n"
    "\n"
    "Classify the NAT between this host and the reflector SERVER, a host name or\n"
    "an address (IPv6 in brackets with a port: [2001:db8::1]:3478) (natreflector, or\n"
    "any STUN server with RFC 5780's OTHER-ADDRESS and CHANGE-REQUEST; port 3478\n"
    "unless given), in RFC 4787's terms, with the evidence. No root needed.\n"
    "\n"
    "  --tests LIST     run only these tests (comma-separated; see --list-tests);\n"
    "                   'udp', 'tcp' and 'gateway' (depth, portmap) name each group's\n"
    "                   default tests; opt-in ones join by name (udp,tcp,gateway,\n"
    "                   tcp-syn-hold: the default and the hold)\n"
    "  --list-tests     list the tests and exit\n"
    "  --json FILE      also write the result record (one JSON line) to FILE,\n"
    "                   appending; '-' for standard output instead of the summary\n"
    "  --spool DIR      also write the record as one closed file in\n"
    "                   DIR/YYYY/MM/DD/ (written, flushed, then renamed; DIR made\n"
    "                   if missing): a survey's spool; every record has a run_id\n"
    "  --upload URL     then POST the spool's records (this one and any an earlier\n"
    "                   run left) to a collector (natcollect: http://HOST:8480/\n"
    "                   v1/records); needs --spool and --token-file; sent ones move\n"
    "                   to DIR/sent/, the rest stay for the next run (at most 200\n"
    "                   a run: the oldest, and this one)\n"
    "  --token-file FILE  the collector's bearer token, its first line\n"
    "  --ca-file FILE   trust the collector's HTTPS certificate through these CA\n"
    "                   certificates (PEM) instead of the system's\n"
    "  --label TEXT     a name for this run in the record (a site, a subscriber,\n"
    "                   a lab)\n"
    "  --tag NAME=VALUE  a key for surveys in the record, tags.NAME (an ISP, a\n"
    "                   region, a device model); up to 8\n"
    "  --peer HOST      a second host behind the same NAT, running `natprobe peer`\n"
    "                   (port 3480 unless given): hairpinning between hosts and\n"
    "                   port overloading (UDP and TCP), paired pooling\n"
    "  --session ID, --key KEY  a natlab test session at the reflector (issued\n"
    "                   by natreflector --issue-session): the TCP tests that need\n"
    "                   the reflector's SYNs and ICMP errors (tcp-filtering, tcp-syn,\n"
    "                   tcp-simopen, tcp-icmp, tcp-syn-hold, tcp-lifetime) run\n"
    "                   only with one\n"
    "  --lifetime[=MAX_S]  also time binding lifetimes, up to MAX_S seconds idle\n"
    "                   (default 300, at most 3600); takes about twice the lifetime\n"
    "  --tcp-lifetime[=MAX_S]  also time how long the NAT keeps an idle TCP\n"
    "                   connection, established and half-closed (RFC 5382 REQ-5: 2 h\n"
    "                   4 min and 4 min at least), up to MAX_S seconds (default 300,\n"
    "                   at most 10800; 7440 to judge REQ-5); needs --session; takes\n"
    "                   up to MAX_S\n"
    "  --keepalive[=HOLD_S]  also find which hop's NAT a keepalive must reach:\n"
    "                   mappings held HOLD_S seconds idle (default 150, at most 3600;\n"
    "                   longer than that NAT's timeout) but for keepalives every second\n"
    "                   at TTL 1, 2, ..., none and the full TTL; takes the hold\n"
    "  -4, -6           a SERVER or --peer name: use its IPv4 (IPv6) address;\n"
    "                   otherwise the first address the resolver gives\n"
    "  -h, --help       this text\n";

/* The rest of --help: ISO C promises string literals up to 4095 bytes only. */
static const char usage_notes[] =
    "\n"
    "The gateway group (depth, portmap; IPv4) sweeps TTLs toward SERVER and asks\n"
    "the default gateway over UPnP IGD, NAT-PMP and PCP: portmap maps a UDP port\n"
    "and a TCP port through each for 120 s, has SERVER send to the one and (with\n"
    "--session) connect to the other, and deletes them before going on (also on\n"
    "SIGINT and SIGTERM). It adds about 1 s (UPnP's discovery).\n"
    "\n"
    "A verdict the packets do not justify is 'inconclusive', with the reason;\n"
    "so are two verdicts that contradict each other (said as CONTRADICTION).\n"
    "Every socket is bound to this host's address toward SERVER, so each test\n"
    "compares one internal endpoint. A --peer that does not answer is said, and\n"
    "what needed it is inconclusive; the rest is measured and written.\n"
    "\n"
    "Exit status: 0 every verdict of the tests that ran was reached; 1 some are\n"
    "inconclusive (named on the summary's 'open' line), not counting verdicts\n"
    "that do not apply (hairpinning, pooling, overloading, lifetimes without a\n"
    "NAT) nor pooling when one public address was seen, which no run can tell\n"
    "from a single address (the record's udp.inconclusive_by_design), nor\n"
    "nat_depth and cgn; 2 bad usage, or the record could not be written (--json,\n"
    "--spool); 3 the reflector could not be reached; 4 measured and spooled, but\n"
    "this record not uploaded (it stays in the spool for the next run).\n";

struct options {
	struct sockaddr_storage server, peer;
	bool have_peer;
	int family; /* -4, -6: AF_INET, AF_INET6; AF_UNSPEC the resolver's first */
	const char *json, *spool, *upload, *ca_file;
	char token[UPLOAD_TOKEN_MAX];
	struct probe_meta meta;
	const struct probe_test *tests[32];
	size_t ntests;
	unsigned lifetime_max_s, tcp_lifetime_max_s, keepalive_hold_s;
	bool lifetime, tcp_lifetime, keepalive;
	const char *session, *key;
};

/* A TCP socket of the engine's: a listener, or a connection and the bytes
 * read from it that do not yet make a whole STUN message. */
struct tcp_sock {
	int fd;
	bool listener, connecting;
	size_t len;
	uint8_t buf[2048];
};

struct driver {
	int fds[PROBE_MAX_SOCKETS];
	size_t nfds;
	peer_link_t *peer; /* NULL without --peer */
	struct tcp_sock tcp[PROBE_MAX_CONNS];
	size_t ntcp;
};

/* ---- the engine's I/O ---- */

static int drv_open(void *ctx, const struct sockaddr *toward, struct sockaddr_storage *local)
{
	struct driver *d = ctx;
	int fd;

	if (d->nfds == PROBE_MAX_SOCKETS)
		return -1;
	fd = udp_socket_toward(toward, 0, local);
	if (fd >= 0)
		d->fds[d->nfds++] = fd;
	return fd;
}

/* A random identity for the run (struct probe_io says why); 0, the
 * clock's, when the kernel gives no randomness. */
static uint32_t random_run_id(void)
{
	uint32_t id;

	return getrandom(&id, sizeof(id), 0) == sizeof(id) ? id : 0;
}

/*
 * Two sockets on ports N and N+1, N even, as RTP and RTCP take them. N is
 * drawn from 16384-32766, below Linux's ephemeral range, where such fixed
 * ports usually live; a pair that is partly taken is given back and another
 * drawn, 64 draws at most.
 */
static int drv_open_pair(void *ctx, const struct sockaddr *toward, int handles[2],
			 struct sockaddr_storage local[2])
{
	struct driver *d = ctx;

	if (d->nfds + 2 > PROBE_MAX_SOCKETS)
		return -1;
	for (int draw = 0; draw < 64; draw++) {
		uint16_t n;

		if (getrandom(&n, sizeof(n), 0) != sizeof(n))
			return -1;
		n = (uint16_t)(16384 + (n % 8192) * 2);
		handles[0] = udp_socket_toward(toward, n, &local[0]);
		if (handles[0] < 0)
			continue;
		handles[1] = udp_socket_toward(toward, (uint16_t)(n + 1), &local[1]);
		if (handles[1] < 0) {
			close(handles[0]);
			continue;
		}
		d->fds[d->nfds++] = handles[0];
		d->fds[d->nfds++] = handles[1];
		return 0;
	}
	return -1;
}

static int drv_open_peer(void *ctx, const struct sockaddr *toward, uint16_t port,
			 struct sockaddr_storage *local)
{
	struct driver *d = ctx;
	char err[160];
	int h = peer_link_socket(d->peer, toward, port, local, err, sizeof(err));

	if (h < 0)
		fprintf(stderr, "natprobe: --peer: %s\n", err);
	return h;
}

static int drv_peer_tcp(void *ctx, bool listen, const struct sockaddr *addr, uint16_t port,
			struct sockaddr_storage *local)
{
	struct driver *d = ctx;
	char err[160];
	int h = peer_link_tcp(d->peer, listen, addr, port, local, err, sizeof(err));

	/* A connect() can rightly fail: a hairpinned SYN that came first to
	 * the port's listener holds the connection it wants. */
	if (h < 0 && listen)
		fprintf(stderr, "natprobe: --peer: %s\n", err);
	return h;
}

static int drv_peer_tcp_listen(void *ctx, const struct sockaddr *toward, uint16_t port,
			       struct sockaddr_storage *local)
{
	return drv_peer_tcp(ctx, true, toward, port, local);
}

static int drv_peer_tcp_connect(void *ctx, const struct sockaddr *toward, const struct sockaddr *to,
				uint16_t port, struct sockaddr_storage *local)
{
	(void)toward; /* the peer binds toward `to`: its own route */
	return drv_peer_tcp(ctx, false, to, port, local);
}

/* ---- TCP ---- */

static int tcp_add(struct driver *d, int fd, bool listener, bool connecting)
{
	if (d->ntcp == PROBE_MAX_CONNS) {
		close(fd);
		return -1;
	}
	d->tcp[d->ntcp++] =
	    (struct tcp_sock){.fd = fd, .listener = listener, .connecting = connecting};
	return fd;
}

static struct tcp_sock *tcp_find(struct driver *d, int fd)
{
	for (size_t i = 0; i < d->ntcp; i++)
		if (d->tcp[i].fd == fd)
			return &d->tcp[i];
	return NULL;
}

static void drv_tcp_close(void *ctx, int conn)
{
	struct driver *d = ctx;
	struct tcp_sock *t = tcp_find(d, conn);

	if (conn >= PEER_HANDLE_BASE && d->peer)
		peer_link_close_socket(d->peer, conn);
	if (!t)
		return;
	close(t->fd);
	*t = d->tcp[--d->ntcp];
}

static int drv_tcp_listen(void *ctx, const struct sockaddr *toward, uint16_t port,
			  struct sockaddr_storage *local)
{
	struct driver *d = ctx;
	int fd = tcp_socket_toward(toward, port, local);

	if (fd < 0)
		return -1;
	if (listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return tcp_add(d, fd, true, false);
}

static int drv_tcp_connect(void *ctx, const struct sockaddr *toward, const struct sockaddr *to,
			   uint16_t port, struct sockaddr_storage *local)
{
	struct driver *d = ctx;
	int fd = tcp_socket_toward(toward, port, local);

	if (fd < 0)
		return -1;
	if (connect(fd, to, addr_len(to)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return tcp_add(d, fd, false, true);
}

static int drv_tcp_send(void *ctx, int conn, const uint8_t *msg, size_t len)
{
	struct driver *d = ctx;

	if (conn >= PEER_HANDLE_BASE) { /* down the peer's connection: no address needed */
		struct sockaddr_in none = {.sin_family = AF_INET};

		if (!d->peer)
			return -1;
		peer_link_send(d->peer, conn, (struct sockaddr *)&none, msg, len);
		return 0;
	}
	return send(conn, msg, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int drv_tcp_shutdown(void *ctx, int conn)
{
	(void)ctx;
	return conn >= PEER_HANDLE_BASE ? -1 : shutdown(conn, SHUT_WR);
}

/* A connect() finished: how, by its socket's error. */
static enum probe_tcp_event connect_outcome(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	return err == 0              ? PROBE_TCP_CONNECTED
	       : err == ECONNREFUSED ? PROBE_TCP_REFUSED
	       : err == ETIMEDOUT    ? PROBE_TCP_TIMEDOUT
				     : PROBE_TCP_UNREACHABLE;
}

static void tcp_accept(probe_engine_t *e, struct driver *d, int listener)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int fd;

	while ((fd = accept(listener, (struct sockaddr *)&peer, &len)) >= 0) {
		if (fcntl(fd, F_SETFL, O_NONBLOCK)) {
			close(fd);
			continue;
		}
		if (tcp_add(d, fd, false, false) >= 0)
			probe_engine_tcp_event(e, listener, PROBE_TCP_ACCEPTED, fd,
					       (struct sockaddr *)&peer, clock_now_us());
		len = sizeof(peer);
	}
}

/* Bytes on a connection: each whole STUN message to the engine. A stream
 * that cannot be STUN, or a closed one, ends the connection. */
static void tcp_read(probe_engine_t *e, struct driver *d, int fd)
{
	struct tcp_sock *t = tcp_find(d, fd);
	ssize_t n;
	size_t mlen;

	if (!t)
		return;
	n = recv(fd, t->buf + t->len, sizeof(t->buf) - t->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		probe_engine_tcp_event(e, fd, PROBE_TCP_CLOSED, -1, NULL, clock_now_us());
		return;
	}
	t->len += (size_t)n;
	while (t && stun_frame_length(t->buf, t->len, &mlen) == STUN_OK && mlen && mlen <= t->len) {
		uint8_t msg[sizeof(t->buf)];

		memcpy(msg, t->buf, mlen);
		t->len -= mlen;
		memmove(t->buf, t->buf + mlen, t->len);
		probe_engine_tcp_receive(e, fd, msg, mlen, clock_now_us());
		t = tcp_find(d, fd); /* the engine may have closed it */
	}
	if (t && (stun_frame_length(t->buf, t->len, &mlen) != STUN_OK || t->len == sizeof(t->buf)))
		probe_engine_tcp_event(e, fd, PROBE_TCP_CLOSED, -1, NULL, clock_now_us());
}

/* What poll said of the TCP sockets, taken from a copy: the engine closes
 * some as it hears of them. */
static void tcp_events(probe_engine_t *e, struct driver *d, const struct pollfd *pfd, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tcp_sock *t = tcp_find(d, pfd[i].fd);

		if (!t || !pfd[i].revents)
			continue;
		if (t->listener) {
			tcp_accept(e, d, t->fd);
		} else if (t->connecting) {
			enum probe_tcp_event ev = connect_outcome(t->fd);

			t->connecting = false;
			probe_engine_tcp_event(e, pfd[i].fd, ev, -1, NULL, clock_now_us());
		} else {
			tcp_read(e, d, t->fd);
		}
	}
}

/* Progress of long tests, for people: standard error, so stdout stays the
 * summary (or the record, with --json -). */
static void drv_progress(void *ctx, const char *text)
{
	(void)ctx;
	fprintf(stderr, "natprobe: %s\n", text);
}

static int drv_send(void *ctx, int sock, const struct sockaddr *to, const uint8_t *msg, size_t len)
{
	struct driver *d = ctx;

	if (sock >= PEER_HANDLE_BASE) {
		peer_link_send(d->peer, sock, to, msg, len);
		return 0;
	}
	if (sendto(sock, msg, len, 0, to, addr_len(to)) >= 0)
		return 0;
	/* No route from the socket's address; anything else is a lost packet,
	 * which the engine's retransmission covers. */
	return errno == ENETUNREACH || errno == EHOSTUNREACH || errno == EINVAL ||
		       errno == EADDRNOTAVAIL
		   ? -1
		   : 0;
}

/* One datagram at IP TTL (IPv6: hop limit) ttl, the socket's own after. */
static int drv_send_ttl(void *ctx, int sock, const struct sockaddr *to, const uint8_t *msg,
			size_t len, unsigned ttl)
{
	bool v6 = to->sa_family == AF_INET6;
	int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP, opt = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
	int v = (int)ttl, dflt = -1, rc;

	if (sock >= PEER_HANDLE_BASE || setsockopt(sock, level, opt, &v, sizeof(v)))
		return -1;
	rc = drv_send(ctx, sock, to, msg, len);
	setsockopt(sock, level, opt, &dflt, sizeof(dflt)); /* -1: the system's default */
	return rc;
}

/* Would this host take a packet from the NAT whose source is one of its own
 * addresses? Linux drops those unless accept_local is set (on all interfaces,
 * or on each) and no strict reverse-path filter (rp_filter 1) applies. */
static long conf_value(const char *iface, const char *key)
{
	char path[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", iface, key);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool own_source_accepted(void)
{
	bool every_accepts = true, strict = conf_value("all", "rp_filter") == 1;
	struct dirent *ent;
	DIR *d = opendir("/proc/sys/net/ipv4/conf");

	if (!d)
		return false;
	while ((ent = readdir(d))) {
		const char *n = ent->d_name;

		if (n[0] == '.' || !strcmp(n, "all") || !strcmp(n, "default") || !strcmp(n, "lo"))
			continue;
		every_accepts = every_accepts && conf_value(n, "accept_local") == 1;
		strict = strict || conf_value(n, "rp_filter") == 1;
	}
	closedir(d);
	return (conf_value("all", "accept_local") == 1 || every_accepts) && !strict;
}

/* ---- options ---- */

/* --tests udp or tcp: the group's tests of the default battery. */
/* A group's default tests: "udp", "tcp" or "gateway". */
static bool in_group(const struct probe_test *t, const char *group)
{
	if (t->opt_in)
		return false;
	if (!strcmp(group, "gateway"))
		return t->gateway;
	return !t->gateway && t->tcp == !strcmp(group, "tcp");
}

static int add_group(struct options *o, const char *group)
{
	for (size_t i = 0; i < probe_ntests; i++) {
		if (!in_group(probe_tests[i], group))
			continue;
		if (o->ntests == sizeof(o->tests) / sizeof(o->tests[0]))
			return -1;
		o->tests[o->ntests++] = probe_tests[i];
	}
	return 0;
}

static int parse_tests(const char *list, struct options *o)
{
	char buf[256], *save = NULL;

	if (strlen(list) >= sizeof(buf)) {
		fprintf(stderr, "natprobe: --tests: list too long\n");
		return -1;
	}
	strcpy(buf, list);
	o->ntests = 0;
	for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		const struct probe_test *t = probe_test_find(name);

		if (!strcmp(name, "udp") || !strcmp(name, "tcp") || !strcmp(name, "gateway")) {
			if (add_group(o, name))
				return -1;
			continue;
		}
		if (!t) {
			fprintf(stderr, "natprobe: --tests: no test '%s' (see --list-tests)\n",
				name);
			return -1;
		}
		if (o->ntests == sizeof(o->tests) / sizeof(o->tests[0]))
			return -1;
		o->tests[o->ntests++] = t;
	}
	return 0;
}

/* --lifetime[=MAX_S], --tcp-lifetime[=MAX_S], --keepalive[=HOLD_S]: seconds
 * from 2 to max, dflt without a value; the opt-in test joins the others. */
static int parse_seconds(const char *arg, const char *opt, unsigned long dflt, unsigned long max,
			 unsigned *out, bool *on)
{
	char *end;
	unsigned long v = arg ? strtoul(arg, &end, 10) : dflt;

	if (arg && (*end || !*arg || v < 2 || v > max)) {
		fprintf(stderr, "natprobe: %s: '%s' is not a number of seconds from 2 to %lu\n",
			opt, arg, max);
		return -1;
	}
	*out = (unsigned)v;
	*on = true;
	return 0;
}

/* After every option (--tests may come later): an opt-in test, once. */
static void add_test(struct options *o, const struct probe_test *t)
{
	for (size_t i = 0; i < o->ntests; i++)
		if (o->tests[i] == t)
			return;
	if (o->ntests < sizeof(o->tests) / sizeof(o->tests[0]))
		o->tests[o->ntests++] = t;
}

/* The record is JSON: text in it must be UTF-8 (jansson refuses the rest). */
static bool utf8(const char *text, const char *option)
{
	json_t *s = json_string(text);

	if (!s) {
		fprintf(stderr, "natprobe: %s: '%s' is not UTF-8 text\n", option, text);
		return false;
	}
	json_decref(s);
	return true;
}

/* --tag NAME=VALUE: NAME letters, digits, '_' and '-' (a key natreport's --by
 * can name as tags.NAME), at most 8 tags, each NAME once. */
static int parse_tag(char *arg, struct probe_meta *m)
{
	char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : 0;

	if (!eq || !n || n > 32 ||
	    strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789_-") != n) {
		fprintf(stderr,
			"natprobe: --tag '%s': want NAME=VALUE, NAME of letters, digits, '_' "
			"and '-' (at most 32)\n",
			arg);
		return -1;
	}
	*eq = '\0';
	for (size_t i = 0; i < m->ntags; i++)
		if (!strcmp(m->tag_name[i], arg)) {
			fprintf(stderr, "natprobe: --tag %s given twice\n", arg);
			return -1;
		}
	if (m->ntags == PROBE_MAX_TAGS) {
		fprintf(stderr, "natprobe: --tag: at most %d tags\n", PROBE_MAX_TAGS);
		return -1;
	}
	if (!utf8(eq + 1, "--tag"))
		return -1;
	m->tag_name[m->ntags] = arg;
	m->tag_value[m->ntags++] = eq + 1;
	return 0;
}

/* SERVER and --peer, names or addresses, once every option (-4, -6) is read.
 * The record keeps what was given beside the address used. */
static int resolve_hosts(struct options *o)
{
	char err[192];

	if (addr_resolve(o->meta.server_given, ADDR_PORT_OPTIONAL, 3478, o->family, &o->server, err,
			 sizeof(err))) {
		fprintf(stderr, "natprobe: SERVER: %s\n", err);
		return -1;
	}
	if (!o->meta.peer_given)
		return 0;
	if (addr_resolve(o->meta.peer_given, ADDR_PORT_OPTIONAL, PEER_DEFAULT_PORT, o->family,
			 &o->peer, err, sizeof(err))) {
		fprintf(stderr, "natprobe: --peer: %s\n", err);
		return -1;
	}
	o->have_peer = true;
	o->meta.peer = (const struct sockaddr *)&o->peer;
	return 0;
}

/* A session ID or key: 1 to max printable ASCII characters, no spaces. */
static bool printable(const char *arg, const char *opt, size_t max)
{
	size_t n = strlen(arg), i = 0;

	while (i < n && arg[i] > ' ' && arg[i] < 0x7f)
		i++;
	if (n && n <= max && i == n)
		return true;
	fprintf(stderr, "natprobe: %s: '%s' is not 1 to %zu printable characters without spaces\n",
		opt, arg, max);
	return false;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"json", required_argument, NULL, 'j'},
	    {"label", required_argument, NULL, 'L'},
	    {"tests", required_argument, NULL, 't'},
	    {"list-tests", no_argument, NULL, 'l'},
	    {"lifetime", optional_argument, NULL, 'T'},
	    {"tcp-lifetime", optional_argument, NULL, 'C'},
	    {"keepalive", optional_argument, NULL, 'K'},
	    {"spool", required_argument, NULL, 'S'},
	    {"upload", required_argument, NULL, 'U'},
	    {"token-file", required_argument, NULL, 'F'},
	    {"ca-file", required_argument, NULL, 'A'},
	    {"peer", required_argument, NULL, 'P'},
	    {"tag", required_argument, NULL, 'g'},
	    {"session", required_argument, NULL, 's'},
	    {"key", required_argument, NULL, 'k'},
	    {"ipv4", no_argument, NULL, '4'},
	    {"ipv6", no_argument, NULL, '6'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *token_file = NULL;
	char why[320];
	int c;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < probe_ntests; i++)
		if (!probe_tests[i]->opt_in)
			o->tests[o->ntests++] = probe_tests[i];
	o->lifetime_max_s = o->tcp_lifetime_max_s = LIFETIME_DEFAULT;
	o->keepalive_hold_s = KEEPALIVE_HOLD_DEFAULT;
	while ((c = getopt_long(argc, argv, "h46", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = optarg;
			break;
		case 'S':
			o->spool = optarg;
			break;
		case 'U':
			o->upload = optarg;
			break;
		case 'F':
			token_file = optarg;
			break;
		case 'A':
			o->ca_file = optarg;
			break;
		case 'L':
			if (!utf8(optarg, "--label"))
				return -1;
			o->meta.label = optarg;
			break;
		case 'g':
			if (parse_tag(optarg, &o->meta))
				return -1;
			break;
		case 's':
		case 'k':
			if (!printable(optarg, c == 's' ? "--session" : "--key", 64))
				return -1;
			*(c == 's' ? &o->session : &o->key) = optarg;
			break;
		case 't':
			if (parse_tests(optarg, o))
				return -1;
			break;
		case 'l':
			for (size_t i = 0; i < probe_ntests; i++)
				printf("%-12s %s\n", probe_tests[i]->name, probe_tests[i]->help);
			exit(0);
		case 'h':
			fputs(usage, stdout);
			fputs(usage_notes, stdout);
			exit(0);
		case 'P':
			o->meta.peer_given = optarg;
			break;
		case '4':
		case '6':
			o->family = c == '4' ? AF_INET : AF_INET6;
			break;
		case 'T':
			if (parse_seconds(optarg, "--lifetime", LIFETIME_DEFAULT, LIFETIME_MAX,
					  &o->lifetime_max_s, &o->lifetime))
				return -1;
			break;
		case 'C':
			if (parse_seconds(optarg, "--tcp-lifetime", LIFETIME_DEFAULT,
					  TCP_LIFETIME_MAX, &o->tcp_lifetime_max_s,
					  &o->tcp_lifetime))
				return -1;
			break;
		case 'K':
			if (parse_seconds(optarg, "--keepalive", KEEPALIVE_HOLD_DEFAULT,
					  KEEPALIVE_HOLD_MAX, &o->keepalive_hold_s, &o->keepalive))
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (o->lifetime)
		add_test(o, &probe_test_lifetime);
	if (o->tcp_lifetime)
		add_test(o, &probe_test_tcp_lifetime);
	if (o->keepalive)
		add_test(o, &probe_test_keepalive);
	if (!o->session != !o->key) {
		fprintf(stderr, "natprobe: --session and --key go together\n");
		return -1;
	}
	if (o->upload && (!o->spool || !token_file)) {
		fprintf(stderr, "natprobe: --upload needs --spool DIR (the record is kept there "
				"first) and --token-file FILE\n");
		return -1;
	}
	if (o->upload && upload_read_token(token_file, o->token, why, sizeof(why))) {
		fprintf(stderr, "natprobe: --token-file %s\n", why);
		return -1;
	}
	if (o->ca_file && (!o->upload || access(o->ca_file, R_OK))) {
		fprintf(stderr, "natprobe: --ca-file %s: %s\n", o->ca_file,
			o->upload ? strerror(errno) : "goes with --upload");
		return -1;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "natprobe: want one SERVER[:PORT]\n");
		return -1;
	}
	o->meta.server_given = argv[optind];
	return resolve_hosts(o);
}

/* ---- the run ---- */

/* A peer's TCP news in the engine's words. */
static enum probe_tcp_event peer_event(enum peer_event what)
{
	switch (what) {
	case PEER_EV_CONNECTED:
		return PROBE_TCP_CONNECTED;
	case PEER_EV_REFUSED:
		return PROBE_TCP_REFUSED;
	case PEER_EV_UNREACHABLE:
		return PROBE_TCP_UNREACHABLE;
	case PEER_EV_TIMEDOUT:
		return PROBE_TCP_TIMEDOUT;
	case PEER_EV_ACCEPTED:
		return PROBE_TCP_ACCEPTED;
	default:
		return PROBE_TCP_CLOSED;
	}
}

/* What the peer relayed (also what it kept while a socket was being opened). */
static void from_peer(probe_engine_t *e, struct driver *d)
{
	uint8_t buf[PEER_DATA_MAX];
	struct peer_news n;

	while (peer_link_receive(d->peer, &n, buf, sizeof(buf))) {
		if (n.event)
			probe_engine_tcp_event(
			    e, n.handle, peer_event(n.what),
			    n.what == PEER_EV_ACCEPTED ? n.accepted : -1,
			    n.what == PEER_EV_ACCEPTED ? (struct sockaddr *)&n.from : NULL,
			    clock_now_us());
		else if (probe_engine_is_conn(e, n.handle))
			probe_engine_tcp_receive(e, n.handle, buf, n.len, clock_now_us());
		else
			probe_engine_receive(e, n.handle, (struct sockaddr *)&n.from, buf, n.len,
					     clock_now_us());
	}
}

static void run(probe_engine_t *e, struct driver *d, uint64_t limit_us)
{
	uint64_t start = clock_now_us();

	while (!probe_engine_done(e) && clock_now_us() - start < limit_us) {
		struct pollfd pfd[PROBE_MAX_SOCKETS + 1 + PROBE_MAX_CONNS];
		uint64_t now = clock_now_us(), deadline = probe_engine_deadline(e);
		int wait = deadline <= now ? 0 : (int)((deadline - now + 999) / 1000);
		size_t ntcp = d->ntcp;

		for (size_t i = 0; i < d->nfds; i++)
			pfd[i] = (struct pollfd){.fd = d->fds[i], .events = POLLIN};
		pfd[d->nfds] =
		    (struct pollfd){.fd = d->peer ? peer_link_fd(d->peer) : -1, .events = POLLIN};
		for (size_t i = 0; i < ntcp; i++)
			pfd[d->nfds + 1 + i] = (struct pollfd){
			    .fd = d->tcp[i].fd, .events = d->tcp[i].connecting ? POLLOUT : POLLIN};
		if (wait > 1000)
			wait = 1000;
		if (poll(pfd, d->nfds + 1 + ntcp, wait) < 0 && errno != EINTR)
			break;
		tcp_events(e, d, pfd + d->nfds + 1, ntcp);
		if (d->peer)
			from_peer(e, d);
		for (size_t i = 0; i < d->nfds; i++) {
			uint8_t buf[2048];
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			ssize_t n;

			if (!(pfd[i].revents & POLLIN))
				continue;
			while ((n = recvfrom(pfd[i].fd, buf, sizeof(buf), 0,
					     (struct sockaddr *)&from, &flen)) >= 0) {
				probe_engine_receive(e, pfd[i].fd, (struct sockaddr *)&from, buf,
						     (size_t)n, clock_now_us());
				flen = sizeof(from);
			}
		}
		probe_engine_tick(e, clock_now_us());
	}
	probe_engine_tick(e, clock_now_us());
}

/* The engine's io over this driver's sockets. */
static struct probe_io driver_io(struct driver *d)
{
	return (struct probe_io){.ctx = d,
				 .run_id = random_run_id(),
				 .open = drv_open,
				 .send = drv_send,
				 .send_ttl = drv_send_ttl,
				 .tcp_listen = drv_tcp_listen,
				 .tcp_connect = drv_tcp_connect,
				 .tcp_send = drv_tcp_send,
				 .tcp_close = drv_tcp_close,
				 .tcp_shutdown = drv_tcp_shutdown};
}

int natprobe_classify(const struct sockaddr *server, const char *session, const char *key, bool tcp,
		      struct probe_result *res)
{
	static const struct probe_test *const tests[] = {
	    &probe_test_nat,         &probe_test_mapping,       &probe_test_filtering,
	    &probe_test_ports,       &probe_test_hairpin,       &probe_test_tcp_mapping,
	    &probe_test_tcp_ports,   &probe_test_tcp_filtering, &probe_test_tcp_syn,
	    &probe_test_tcp_simopen, &probe_test_tcp_icmp,
	};
	struct driver d = {0};
	struct probe_io io = driver_io(&d);
	probe_engine_t *e;

	io.session = session;
	io.key = key;
	e = probe_engine_new(&io, server, tests, tcp ? 11 : 5, clock_now_us());

	if (!e)
		return -1;
	run(e, &d, RUN_LIMIT_US);
	probe_engine_result(e, res);
	probe_engine_free(e);
	for (size_t i = 0; i < d.nfds; i++)
		close(d.fds[i]);
	for (size_t i = 0; i < d.ntcp; i++)
		close(d.tcp[i].fd);
	return 0;
}

static bool selected(const struct options *o, const struct probe_test *t)
{
	for (size_t i = 0; i < o->ntests; i++)
		if (o->tests[i] == t)
			return true;
	return false;
}

/* What the depth, keepalive and portmap tests read, measured before the engine: the
 * sweep first, since the gateway's answers take up to about 2 s and the
 * engine's hairpinning test spends a NAT's ICMP errors (hops.c). */
struct premeasure {
	struct hops_auto sweep;
	struct portmap_report portmap;
};

static void sleep_until_us(uint64_t t)
{
	uint64_t now = clock_now_us();

	if (now < t)
		usleep((useconds_t)(t - now));
}

/* The sweep's second round (hops_auto_resweep), 1 s after its first. */
struct resweep {
	struct hops_auto *sweep;
	uint64_t first_us;
	const struct sockaddr *server;
};

static void resweep(void *arg)
{
	struct resweep *r = arg;

	if (hops_complete(&r->sweep->sweep))
		return;
	sleep_until_us(r->first_us + RESWEEP_AFTER_US);
	hops_auto_resweep(r->server, r->sweep);
}

static void premeasure(const struct options *o, struct premeasure *m, struct probe_io *io)
{
	const struct sockaddr *server = (const struct sockaddr *)&o->server;
	bool depth = selected(o, &probe_test_depth), portmap = selected(o, &probe_test_portmap);
	struct portmap_ctx c = {.mapping = portmap, .session = o->session, .key = o->key};
	struct resweep again = {&m->sweep, clock_now_us(), server};

	if (depth || selected(o, &probe_test_keepalive)) {
		hops_auto_sweep(server, &m->sweep);
		io->sweep = &m->sweep.sweep;
	}
	if (!depth && !portmap)
		return;
	memset(&m->portmap, 0, sizeof(m->portmap));
	io->portmap = &m->portmap;
	if (server->sa_family != AF_INET) {
		m->portmap.ran = true;
		for (int p = 0; p < PORTMAP_NPROTO; p++)
			snprintf(m->portmap.proto[p].error, sizeof(m->portmap.proto[p].error),
				 "IPv4 only: the reflector is IPv6");
		return;
	}
	c.server = o->server;
	if (addr_route_source(server, 0, &c.local)) {
		m->portmap.ran = true;
		snprintf(m->portmap.proto[0].error, sizeof(m->portmap.proto[0].error),
			 "no route toward the reflector");
		return;
	}
	portmap_default_gateway(&c.gateway);
	if (depth) {
		c.before_icmp = resweep;
		c.arg = &again;
	}
	portmap_run(&c, &m->portmap);
}

/* One rule (probe_result_open): 1 when a verdict of a test that ran is
 * inconclusive, except those that do not apply or that one host cannot
 * reach by design. */
static int exit_status(const struct probe_result *r)
{
	if (!r->answers)
		return EXIT_UNREACHABLE;
	return probe_result_open(r, NULL, 0) ? EXIT_INCONCLUSIVE : 0;
}

/* --upload: the spool's records to the collector. Whether this run's
 * record (at path) was acknowledged; what is left is said. */
static bool upload(const struct options *o, const char *path)
{
	struct upload_report rep;

	upload_spool(&(struct upload_to){o->upload, o->token, o->ca_file}, o->spool, path, stderr,
		     &rep);
	if (rep.left || rep.why[0])
		fprintf(stderr,
			"natprobe: --upload %s: %u sent, %u refused, %u left in the spool for the "
			"next run (%s)\n",
			o->upload, rep.sent, rep.refused, rep.left,
			rep.why[0] ? rep.why : "bounded");
	return rep.this_run_sent;
}

/* The record, once: to --json FILE (or standard output) and into --spool
 * DIR. 0, or -1 when either could not be written (said why: the summary
 * on standard output keeps the measurement). */
static int write_record(FILE *f, const struct options *o, const struct probe_result *r,
			const struct tm *when, const char *started, const char *run_id,
			char path[SPOOL_PATH_MAX])
{
	struct probe_meta meta = o->meta;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	bool made, written;
	int rc = 0;

	meta.started = started;
	meta.version = NATPROBE_VERSION;
	meta.run_id = run_id;
	made = mem && !(probe_report_json(mem, r, &meta) | fclose(mem));
	if (!made)
		fprintf(stderr, "natprobe: out of memory for the record\n");
	if (f) {
		written = made && fwrite(text, 1, len, f) == len;
		if (!(f == stdout ? !fflush(f) : !fclose(f)) || !written) {
			fprintf(stderr, "natprobe: --json %s: cannot write the record\n", o->json);
			rc = -1;
		}
	}
	if (made && o->spool && spool_write(o->spool, run_id, when, text, len, path)) {
		fprintf(stderr, "natprobe: --spool %s: cannot write the record (%s): %s\n",
			o->spool, path, strerror(errno));
		rc = -1;
	}
	free(text);
	return made ? rc : -1;
}

int main(int argc, char **argv)
{
	struct options o;
	struct driver d = {0};
	struct probe_io io = driver_io(&d);
	struct probe_result res;
	struct premeasure pre;
	char peer_missing[2 * PROBE_REASON_LEN];
	probe_engine_t *e;
	FILE *json = NULL;
	char started[32], run_id[UUID_TEXT_LEN], spooled[SPOOL_PATH_MAX];
	time_t t = time(NULL);
	struct tm tm;
	uuid_t uuid;
	int rc;

	if (argc > 1 && !strcmp(argv[1], "peer"))
		return peer_agent_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "punch"))
		return punch_main(argc - 1, argv + 1);
	if (parse_options(argc, argv, &o))
		return EXIT_USAGE;
	/* RFC 4122 version 4: a collector keeps one record per run_id. */
	uuid_generate_random(uuid);
	uuid_unparse_lower(uuid, run_id);
	if (o.spool && spool_check(o.spool)) {
		fprintf(stderr, "natprobe: --spool %s: %s\n", o.spool, strerror(errno));
		return EXIT_USAGE;
	}
	io.progress = drv_progress;
	io.own_source_visible = own_source_accepted();
	/* Opened before measuring: a bad path is found before the time is spent. */
	if (o.json) {
		json = strcmp(o.json, "-") ? fopen(o.json, "a") : stdout;
		if (!json) {
			fprintf(stderr, "natprobe: --json %s: %s\n", o.json, strerror(errno));
			return EXIT_USAGE;
		}
	}
	io.lifetime_max_s = o.lifetime_max_s;
	io.tcp_lifetime_max_s = o.tcp_lifetime_max_s;
	io.keepalive_hold_s = o.keepalive_hold_s;
	io.session = o.session;
	io.key = o.key;
	if (o.have_peer) {
		char err[160], where[ADDR_STRLEN];

		d.peer = peer_link_open((struct sockaddr *)&o.peer, err, sizeof(err));
		if (d.peer) {
			io.open_peer = drv_open_peer;
			io.peer_tcp_listen = drv_peer_tcp_listen;
			io.peer_tcp_connect = drv_peer_tcp_connect;
			o.meta.peer_reached = true;
		} else {
			/* What one host can measure is still measured and written. */
			snprintf(peer_missing, sizeof(peer_missing),
				 "the second host (--peer %s) "
				 "did not answer: %s",
				 addr_format((struct sockaddr *)&o.peer, where, sizeof(where)),
				 err);
			fprintf(stderr,
				"natprobe: %s (is `natprobe peer` running there?); going on "
				"without it\n",
				peer_missing);
			io.peer_missing = peer_missing;
		}
	}
	io.open_pair = drv_open_pair;
	premeasure(&o, &pre, &io);
	gmtime_r(&t, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	e = probe_engine_new(&io, (struct sockaddr *)&o.server, o.tests, o.ntests, clock_now_us());
	if (!e) {
		fprintf(stderr, "natprobe: out of memory\n");
		if (json && json != stdout)
			fclose(json);
		return EXIT_UNREACHABLE;
	}
	run(e, &d,
	    RUN_LIMIT_US + (uint64_t)o.lifetime_max_s * 3000000u +
		(o.tcp_lifetime ? (uint64_t)o.tcp_lifetime_max_s * 1000000u : 0) +
		(selected(&o, &probe_test_keepalive) ? (uint64_t)o.keepalive_hold_s * 1000000u
						     : 0));
	probe_engine_result(e, &res);
	probe_engine_free(e);
	for (size_t i = 0; i < d.nfds; i++)
		close(d.fds[i]);
	for (size_t i = 0; i < d.ntcp; i++)
		close(d.tcp[i].fd);
	peer_link_close(d.peer);
	if (!o.json || strcmp(o.json, "-"))
		probe_report_text(stdout, &res);
	rc = exit_status(&res);
	/* The measurement is done: a write error must not lose it from stdout. */
	spooled[0] = '\0';
	if (write_record(json, &o, &res, &tm, started, run_id, spooled) && rc == 0)
		rc = EXIT_USAGE;
	else if (o.upload && spooled[0] && !upload(&o, spooled) && rc == 0)
		rc = EXIT_NOT_SENT;
	return rc;
}
