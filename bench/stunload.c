/*
 * stunload: a STUN Binding load generator and checker, for `make bench` and
 * for the reflector's flood and limit tests. Many client sockets, requests
 * sent with sendmmsg (or written to TCP connections, RFC 8489 framing), every
 * answer checked: Binding success, our transaction ID, and a mapped address
 * equal to the socket's own address (on loopback there is no NAT).
 *
 * The transaction ID carries the request's slot in the window, its sequence
 * number and a per-run tag, so an answer is matched with no search; the slot
 * keeps the send time, for the latency histogram (1 us buckets up to 1 s).
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "addr.h"
#include "stun.h"
#include "udp.h"
#include "wire.h"

#define EXIT_LOSS  1
#define EXIT_USAGE 2
#define EXIT_HOST  3

#define MAX_BATCH       64
#define MSG_CAP         2048
#define HIST_US         1000000
#define REQ_LEN         28 /* header + FINGERPRINT; 20 without */
#define MAX_SEND_ERRORS 1000

static const char usage[] =
    "usage: stunload [options] SERVER:PORT\n"
    "\n"
    "Send STUN Binding requests to SERVER:PORT from many client sockets and check\n"
    "every answer. SERVER is a host name or an address (with --source, a name's\n"
    "address of --source's family). Prints one line of key=value results; exit\n"
    "status 0 when every request got a valid answer, 1 when some were lost or\n"
    "wrong, 2 bad usage (a name that does not resolve too), 3 a socket error.\n"
    "\n"
    "  --clients N      client sockets (or TCP connections) at once (64)\n"
    "  --source IP      the clients' address (the route's source towards the server)\n"
    "  --requests N     requests in all (10000)\n"
    "  --duration S     stop sending after S seconds, whichever comes first\n"
    "  --rate N         requests per second; 0 as fast as the window allows (0)\n"
    "  --window N       requests outstanding at once (256)\n"
    "  --batch N        requests per sendmmsg (16, at most 64)\n"
    "  --timeout MS     an unanswered request is lost after this long (1000)\n"
    "  --distinct       every request from a new client endpoint: the source\n"
    "                   address counts up from --source, the port is the\n"
    "                   kernel's (to show the server's state per client)\n"
    "  --malformed PCT  also send this many malformed datagrams per 100 requests,\n"
    "                   which must get no answer\n"
    "  --tcp            use TCP connections instead of UDP\n"
    "  --seed N         for the malformed datagrams (1)\n"
    "  -h, --help       this text\n";

struct slot {
	uint64_t sent_ns; /* 0: free */
	uint32_t seq;
	int client;
};

struct client {
	int fd;
	struct sockaddr_storage local;
	size_t have; /* TCP: bytes waiting to be framed */
	uint8_t buf[MSG_CAP];
};

struct load {
	/* options */
	struct sockaddr_storage server, source;
	unsigned clients, window, batch;
	unsigned long requests, rate;
	double duration;
	uint64_t timeout_ns;
	unsigned malformed;
	bool distinct, tcp, has_source;
	uint64_t rng;
	/* state */
	int epoll;
	struct client *client;
	struct slot *slot;
	unsigned *free_slot, nfree;
	uint32_t tag, seq, next_source;
	unsigned rr; /* round robin over clients */
	/* results */
	unsigned long sent, answered, valid, invalid, lost, stray, malformed_sent, closed,
	    send_errors;
	uint32_t *hist;
	unsigned long over_hist;
	uint64_t start_ns, end_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t next_random(struct load *l)
{
	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	return l->rng;
}

/* ---- options ---- */

static int number(const char *opt, const char *text, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(text, &end, 10);
	if (*text < '0' || *text > '9' || *end || errno || *v > max) {
		fprintf(stderr, "stunload: %s wants a number from 0 to %lu, not '%s'\n", opt, max,
			text);
		return -1;
	}
	return 0;
}

static int parse_arg(struct load *l, int c, const char *arg)
{
	static const char *const names[] = {"--clients", "--requests", "--rate",      "--window",
					    "--batch",   "--timeout",  "--malformed", "--seed"};
	static const unsigned long max[] = {100000,    100000000, 10000000, 1000000,
					    MAX_BATCH, 60000,     100,      ~0ul};
	char err[160];
	unsigned long v;

	switch (c) {
	case 's':
		if (addr_parse(arg, ADDR_PORT_NONE, 0, &l->source, err, sizeof(err))) {
			fprintf(stderr, "stunload: --source: %s\n", err);
			return -1;
		}
		l->has_source = true;
		return 0;
	case 'd': {
		char *end;

		l->duration = strtod(arg, &end);
		if (end == arg || *end || l->duration <= 0) {
			fprintf(stderr, "stunload: --duration wants seconds, not '%s'\n", arg);
			return -1;
		}
		return 0;
	}
	case 'D':
		l->distinct = true;
		return 0;
	case 'T':
		l->tcp = true;
		return 0;
	}
	if (c < '0' || c > '7')
		return -1;
	if (number(names[c - '0'], arg, max[c - '0'], &v))
		return -1;
	switch (c) {
	case '0':
		l->clients = (unsigned)v;
		break;
	case '1':
		l->requests = v;
		break;
	case '2':
		l->rate = v;
		break;
	case '3':
		l->window = (unsigned)v;
		break;
	case '4':
		l->batch = (unsigned)v;
		break;
	case '5':
		l->timeout_ns = v * 1000000u;
		break;
	case '6':
		l->malformed = (unsigned)v;
		break;
	default:
		l->rng = v ? v : 1;
		break;
	}
	return 0;
}

/* The address this host sends from towards `to`: the route's source. */
static int route_source(const struct sockaddr_storage *to, struct sockaddr_storage *src)
{
	const struct sockaddr *sa = (const struct sockaddr *)to;
	socklen_t len = sizeof(*src);
	int fd = socket(to->ss_family, SOCK_DGRAM, 0), rc = -1;

	if (fd >= 0 && connect(fd, sa, addr_len(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)src, &len) == 0) {
		addr_set_port((struct sockaddr *)src, 0);
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static int parse_options(int argc, char **argv, struct load *l)
{
	static const struct option longopts[] = {
	    {"clients", required_argument, NULL, '0'},
	    {"requests", required_argument, NULL, '1'},
	    {"rate", required_argument, NULL, '2'},
	    {"window", required_argument, NULL, '3'},
	    {"batch", required_argument, NULL, '4'},
	    {"timeout", required_argument, NULL, '5'},
	    {"malformed", required_argument, NULL, '6'},
	    {"seed", required_argument, NULL, '7'},
	    {"source", required_argument, NULL, 's'},
	    {"duration", required_argument, NULL, 'd'},
	    {"distinct", no_argument, NULL, 'D'},
	    {"tcp", no_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char err[320];
	int c;

	*l = (struct load){.clients = 64,
			   .window = 256,
			   .batch = 16,
			   .requests = 10000,
			   .timeout_ns = 1000000000u,
			   .rng = 1};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			exit(0);
		}
		if (parse_arg(l, c, optarg))
			goto bad;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "stunload: want one SERVER:PORT\n");
		goto bad;
	}
	if (addr_resolve(argv[optind], ADDR_PORT_REQUIRED, 0,
			 l->has_source ? l->source.ss_family : AF_UNSPEC, &l->server, err,
			 sizeof(err))) {
		fprintf(stderr, "stunload: %s\n", err);
		goto bad;
	}
	if (!l->has_source && route_source(&l->server, &l->source)) {
		fprintf(stderr, "stunload: no route to %s: %s\n", argv[optind], strerror(errno));
		goto bad;
	}
	if (l->source.ss_family != l->server.ss_family || !l->clients || !l->window || !l->batch ||
	    (l->distinct && l->tcp)) {
		fprintf(stderr,
			"stunload: --source and the server must be of one family; "
			"--clients, --window, --batch at least 1; --distinct is UDP only\n");
		goto bad;
	}
	if (l->distinct)
		l->window = l->clients; /* one request per client endpoint at a time */
	return 0;
bad:
	fputs("Try 'stunload --help'.\n", stderr);
	return -1;
}

/* ---- clients ---- */

/* The n-th distinct source address: --source plus n. */
static void source_address(const struct load *l, uint32_t n, struct sockaddr_storage *out)
{
	*out = l->source;
	if (out->ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)out;

		in->sin_addr.s_addr = htonl(ntohl(in->sin_addr.s_addr) + n);
	} else {
		uint8_t *b = ((struct sockaddr_in6 *)out)->sin6_addr.s6_addr;

		wire_put32(b + 12, wire_get32(b + 12) + n);
	}
}

static int open_client(struct load *l, unsigned i)
{
	struct client *c = &l->client[i];
	struct sockaddr_storage src;
	socklen_t len = sizeof(c->local);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
	const struct sockaddr *server = (const struct sockaddr *)&l->server;
	char text[ADDR_STRLEN];

	source_address(l, l->distinct ? l->next_source++ : 0, &src);
	c->have = 0;
	c->fd = socket(src.ss_family, l->tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&src, addr_len((struct sockaddr *)&src)) ||
	    (l->tcp && connect(c->fd, server, addr_len(server))) ||
	    getsockname(c->fd, (struct sockaddr *)&c->local, &len) ||
	    epoll_ctl(l->epoll, EPOLL_CTL_ADD, c->fd, &ev)) {
		fprintf(stderr, "stunload: client %u from %s: %s\n", i,
			addr_format((struct sockaddr *)&src, text, sizeof(text)), strerror(errno));
		return -1;
	}
	return 0;
}

static void close_client(struct load *l, unsigned i)
{
	if (l->client[i].fd >= 0)
		close(l->client[i].fd);
	l->client[i].fd = -1;
}

/* ---- requests ---- */

static size_t build_request(struct load *l, unsigned slot, uint8_t *buf)
{
	uint8_t tid[STUN_TID_LEN];
	struct stun_builder b;
	size_t len;

	wire_put32(tid, slot);
	wire_put32(tid + 4, l->seq);
	wire_put32(tid + 8, l->tag);
	stun_build_start(&b, buf, MSG_CAP, stun_type(STUN_BINDING, STUN_REQUEST), STUN_MAGIC_COOKIE,
			 tid);
	stun_build_fingerprint(&b);
	stun_build_end(&b, &len);
	return len;
}

/* Garbage of five kinds, none of which a reflector may answer. */
static size_t build_malformed(struct load *l, uint8_t *buf)
{
	uint64_t r = next_random(l);
	size_t len = build_request(l, 0, buf);

	switch (r % 5) {
	case 0: /* random bytes */
		len = (r >> 8) % 120;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)next_random(l);
		return len;
	case 1: /* truncated */
		return (r >> 8) % len;
	case 2: /* a length that overruns */
		wire_put16(buf + 2, (uint16_t)(len + 4));
		return len;
	case 3: /* a success response, not a request */
		wire_put16(buf, stun_type(STUN_BINDING, STUN_SUCCESS));
		return len;
	default: /* a wrong FINGERPRINT */
		buf[len - 1] ^= 0x5a;
		return len;
	}
}

static int take_slot(struct load *l, int client)
{
	unsigned s;

	if (!l->nfree)
		return -1;
	s = l->free_slot[--l->nfree];
	l->slot[s] = (struct slot){.sent_ns = now_ns(), .seq = l->seq, .client = client};
	return (int)s;
}

static void free_slot(struct load *l, unsigned s)
{
	l->slot[s].sent_ns = 0;
	l->free_slot[l->nfree++] = s;
	if (l->distinct) { /* the next request comes from a new endpoint */
		close_client(l, (unsigned)l->slot[s].client);
		if (l->sent < l->requests && open_client(l, (unsigned)l->slot[s].client))
			l->send_errors++;
	}
}

/* How many requests may go now: the window, the total, the rate. */
static unsigned long budget(const struct load *l, uint64_t now)
{
	unsigned long left = l->requests - l->sent, room = l->nfree;

	if (l->duration > 0 && now - l->start_ns > (uint64_t)(l->duration * 1e9))
		return 0;
	if (l->rate) {
		unsigned long due =
		    (unsigned long)((now - l->start_ns) / 1e9 * (double)l->rate) + 1;

		left = due > l->sent ? (due - l->sent < left ? due - l->sent : left) : 0;
	}
	return left < room ? left : room;
}

/* One batch from one client: requests and, when asked, malformed datagrams. */
static void send_batch(struct load *l, unsigned client, unsigned n)
{
	static uint8_t buf[MAX_BATCH * 2][MSG_CAP];
	struct mmsghdr hdr[MAX_BATCH * 2];
	struct iovec iov[MAX_BATCH * 2];
	struct client *c = &l->client[client];
	const struct sockaddr *server = (const struct sockaddr *)&l->server;
	unsigned m = 0, k;
	int slots[MAX_BATCH * 2] = {0};

	for (unsigned i = 0; i < n; i++) {
		int s = take_slot(l, (int)client);

		if (s < 0)
			break;
		slots[m] = s;
		iov[m] = (struct iovec){buf[m], build_request(l, (unsigned)s, buf[m])};
		l->seq++;
		m++;
		if (l->malformed && next_random(l) % 100 < l->malformed) {
			slots[m] = -1;
			iov[m] = (struct iovec){buf[m], build_malformed(l, buf[m])};
			m++;
		}
	}
	for (k = 0; k < m; k++)
		hdr[k].msg_hdr = (struct msghdr){.msg_name = (void *)(uintptr_t)server,
						 .msg_namelen = addr_len(server),
						 .msg_iov = &iov[k],
						 .msg_iovlen = 1};
	if (l->tcp) {
		for (k = 0; k < m; k++)
			if (send(c->fd, iov[k].iov_base, iov[k].iov_len, MSG_NOSIGNAL) !=
			    (ssize_t)iov[k].iov_len)
				break;
	} else {
		int r = sendmmsg(c->fd, hdr, m, 0);

		k = r > 0 ? (unsigned)r : 0;
		if (r < 0 && !l->send_errors)
			fprintf(stderr, "stunload: send: %s\n", strerror(errno));
	}
	for (unsigned i = 0; i < m; i++) {
		if (slots[i] < 0)
			l->malformed_sent += i < k;
		else if (i < k)
			l->sent++;
		else { /* not sent: the slot goes back, nothing counts */
			l->send_errors++;
			l->slot[slots[i]].sent_ns = 0;
			l->free_slot[l->nfree++] = (unsigned)slots[i];
		}
	}
}

static void send_some(struct load *l, uint64_t now)
{
	unsigned long n = budget(l, now);

	while (n > 0) {
		unsigned take = n < l->batch ? (unsigned)n : l->batch, client;

		if (l->distinct) {
			/* The client of the next free slot: slots and clients pair up. */
			client = l->free_slot[l->nfree - 1];
			take = 1;
			if (l->client[client].fd < 0)
				return;
		} else {
			client = l->rr++ % l->clients;
			if (l->client[client].fd < 0)
				return;
		}
		send_batch(l, client, take);
		n -= take;
	}
}

/* ---- answers ---- */

static void record_latency(struct load *l, uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (us < HIST_US)
		l->hist[us]++;
	else
		l->over_hist++;
}

static bool mapped_is_local(const struct stun_msg *m, const struct client *c)
{
	struct sockaddr_storage mapped;

	if (stun_get_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped) != STUN_OK &&
	    stun_get_addr(m, STUN_ATTR_MAPPED_ADDRESS, &mapped) != STUN_OK)
		return false;
	return addr_equal((struct sockaddr *)&mapped, (const struct sockaddr *)&c->local);
}

static void check_answer(struct load *l, unsigned client, const uint8_t *msg, size_t len)
{
	struct stun_msg m;
	uint32_t s, seq;

	if (stun_parse(&m, msg, len, STUN_PARSE_LEGACY) != STUN_OK || m.legacy ||
	    wire_get32(m.tid + 8) != l->tag) {
		l->stray++;
		return;
	}
	s = wire_get32(m.tid);
	seq = wire_get32(m.tid + 4);
	if (s >= l->window || !l->slot[s].sent_ns || l->slot[s].seq != seq) {
		l->stray++; /* late, after it was counted lost, or a duplicate */
		return;
	}
	l->answered++;
	record_latency(l, now_ns() - l->slot[s].sent_ns);
	if (m.method == STUN_BINDING && m.cls == STUN_SUCCESS && l->slot[s].client == (int)client &&
	    mapped_is_local(&m, &l->client[client]))
		l->valid++;
	else
		l->invalid++;
	free_slot(l, s);
}

static void read_udp(struct load *l, unsigned client)
{
	static uint8_t buf[MAX_BATCH][MSG_CAP];
	struct mmsghdr hdr[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	int n;

	for (int i = 0; i < MAX_BATCH; i++) {
		iov[i] = (struct iovec){buf[i], MSG_CAP};
		hdr[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
	}
	n = recvmmsg(l->client[client].fd, hdr, MAX_BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n && l->client[client].fd >= 0; i++)
		check_answer(l, client, buf[i], hdr[i].msg_len);
}

static void read_tcp(struct load *l, unsigned client)
{
	struct client *c = &l->client[client];
	ssize_t got = recv(c->fd, c->buf + c->have, MSG_CAP - c->have, MSG_DONTWAIT);
	size_t len;

	if (got <= 0) {
		if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
			l->closed++; /* the server closed it (a cap, or an error) */
			close_client(l, client);
		}
		return;
	}
	c->have += (size_t)got;
	while (stun_frame_length(c->buf, c->have, &len) == STUN_OK && len && len <= c->have) {
		check_answer(l, client, c->buf, len);
		c->have -= len;
		memmove(c->buf, c->buf + len, c->have);
	}
}

static void expire(struct load *l, uint64_t now)
{
	for (unsigned s = 0; s < l->window; s++) {
		if (l->slot[s].sent_ns && now - l->slot[s].sent_ns > l->timeout_ns) {
			l->lost++;
			free_slot(l, s);
		}
	}
}

/* ---- the run ---- */

static int setup(struct load *l)
{
	/* Enough descriptors for the clients, when the hard limit allows. */
	open_files_raise(l->clients + 64ull);
	l->epoll = epoll_create1(0);
	l->client = calloc(l->clients, sizeof(*l->client));
	l->slot = calloc(l->window, sizeof(*l->slot));
	l->free_slot = calloc(l->window, sizeof(*l->free_slot));
	l->hist = calloc(HIST_US, sizeof(*l->hist));
	if (l->epoll < 0 || !l->client || !l->slot || !l->free_slot || !l->hist) {
		perror("stunload: setup");
		return -1;
	}
	for (unsigned s = 0; s < l->window; s++)
		l->free_slot[l->nfree++] = l->window - 1 - s;
	l->tag = (uint32_t)now_ns() ^ (uint32_t)getpid();
	for (unsigned i = 0; i < l->clients; i++)
		l->client[i].fd = -1;
	for (unsigned i = 0; i < l->clients; i++)
		if (open_client(l, i))
			return -1;
	return 0;
}

static bool sending(const struct load *l, uint64_t now)
{
	bool open = false;

	for (unsigned i = 0; i < l->clients && !open; i++)
		open = l->client[i].fd >= 0;
	/* Sends that keep failing end the run: every loop here is bounded. */
	if (!open || l->sent >= l->requests || l->send_errors >= MAX_SEND_ERRORS)
		return false;
	return !(l->duration > 0 && now - l->start_ns > (uint64_t)(l->duration * 1e9));
}

static void run(struct load *l)
{
	struct epoll_event ev[64];
	uint64_t now = now_ns(), next_expire = now + 10000000u, last_send = now;

	l->start_ns = now;
	for (;;) {
		bool more = sending(l, now);
		int n;

		if (more) {
			send_some(l, now);
			last_send = now;
		} else if (l->nfree == l->window || now - last_send > l->timeout_ns + 100000000u) {
			break;
		}
		n = epoll_wait(l->epoll, ev, 64, more && budget(l, now) ? 0 : 1);
		for (int i = 0; i < n; i++) {
			unsigned c = ev[i].data.u32;

			if (l->client[c].fd < 0)
				continue;
			if (l->tcp)
				read_tcp(l, c);
			else
				read_udp(l, c);
		}
		now = now_ns();
		if (now >= next_expire) {
			expire(l, now);
			next_expire = now + 10000000u;
		}
	}
	expire(l, now_ns() + l->timeout_ns + 1);
	l->end_ns = now_ns();
}

static double percentile(const struct load *l, double p)
{
	unsigned long total = l->answered, want = (unsigned long)(p * (double)total), seen = 0;

	if (!total)
		return -1;
	for (unsigned us = 0; us < HIST_US; us++) {
		seen += l->hist[us];
		if (seen > want || (seen == total && seen >= want))
			return us;
	}
	return HIST_US;
}

static void report(const struct load *l)
{
	double secs = (double)(l->end_ns - l->start_ns) / 1e9;

	printf("stunload sent=%lu answered=%lu valid=%lu invalid=%lu lost=%lu stray=%lu "
	       "malformed_sent=%lu closed=%lu send_errors=%lu seconds=%.3f answers_per_s=%.0f "
	       "p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f\n",
	       l->sent, l->answered, l->valid, l->invalid, l->lost, l->stray, l->malformed_sent,
	       l->closed, l->send_errors, secs, secs > 0 ? (double)l->answered / secs : 0,
	       percentile(l, 0.50), percentile(l, 0.90), percentile(l, 0.99), percentile(l, 0.999));
}

int main(int argc, char **argv)
{
	static struct load l;
	int rc = EXIT_HOST;

	if (parse_options(argc, argv, &l))
		return EXIT_USAGE;
	if (setup(&l))
		goto cleanup;
	run(&l);
	report(&l);
	rc = l.valid == l.sent && l.sent > 0 && !l.send_errors ? 0 : EXIT_LOSS;
	if (!l.sent && l.send_errors)
		rc = EXIT_HOST; /* nothing could be sent at all */
cleanup:
	for (unsigned i = 0; l.client && i < l.clients; i++)
		close_client(&l, i);
	if (l.epoll > 0)
		close(l.epoll);
	free(l.client);
	free(l.slot);
	free(l.free_slot);
	free(l.hist);
	return rc;
}
