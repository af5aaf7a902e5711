/*
 * natreflector's sockets and event loop. See server.h.
 *
 * The loop polls the UDP sockets and one epoll descriptor for the rest
 * (struct refl_server's `polled` says why). epoll data: the kind of
 * descriptor in the high 32 bits, its index in the low: a TCP listener
 * (family * 4 + role) or a TCP connection (its slot in the connection table).
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg, accept4 */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "addr.h"
#include "logline.h"
#include "reflector/limiter.h"
#include "reflector/probes.h"
#include "reflector/rendezvous.h"
#include "stun.h"
#include "wire.h"

#define BATCH        64   /* datagrams per recvmmsg / sendmmsg */
#define MSG_CAP      2048 /* a longer datagram or TCP message is dropped */
#define ENDPOINTS    (REFL_FAMILIES * 4)
#define ACCEPTS      16 /* per wakeup, so one listener cannot starve the rest */
#define SOCKET_BUF   (4 << 20)
#define PENDING_MAX  256 /* natlab tests in flight */
#define PCAP_ERR_LEN 320
#define RDV_SESSIONS 1024  /* rendezvous sessions at once, two probes each */
#define RDV_TTL_MS   60000 /* a session forgotten a minute after its last registration */
#define SYN_RING     256   /* the last inbound SYNs seen, with their TTL */

enum kind { /* what an epoll event is for (UDP sockets are polled apart) */
	    KIND_LISTEN = 1,
	    KIND_CONN,
	    KIND_CAPTURE,
	    KIND_SIMOPEN,
	    KIND_METRICS,      /* the --metrics listener */
	    KIND_METRICS_CONN, /* a scrape: its request read, then answered and closed */
};

#define PUBLISH_NS 10000000u /* a worker's counters are read at most 10 ms old */

#define METRICS_CONNS 4

#define ARMED_MAX  32           /* simultaneous-open tests at once */
#define ARMED_KEEP 10000000000u /* a finished one waits this long for its RESULT */

struct conn {
	int fd; /* -1: free */
	int family;
	enum refl_role role;
	struct sockaddr_storage peer;
	uint64_t last_ns; /* the last request, for the idle timeout */
	uint32_t gen;     /* which connection in this slot, for late test answers */
	uint64_t rx;      /* bytes received: the peer's next sequence number, from its SYN's */
	bool keep;        /* KEEP: idle up to REFL_KEEP_S (RFC 5382 REQ-5 tests) */
	bool half_closed; /* kept, and its peer sent FIN: no more reading, still writable */
	size_t have;
	uint8_t buf[MSG_CAP];
};

/* A natlab test in flight: answered when its packet is answered, or at its
 * deadline with "nothing". */
struct pending {
	bool used;
	struct refl_test t;
	int family;
	enum refl_role arrival; /* the answer leaves from here */
	struct sockaddr_storage requester;
	int conn; /* the TCP connection it came on, or -1 */
	uint32_t conn_gen;
	uint64_t sent_ns, deadline_ns;
};

/*
 * A simultaneous-open test (NatlabTest SIMOPEN-ARM, RFC 5382 REQ-2): a
 * silent port X (a listener whose accept queue is full, so a SYN to it gets
 * no answer at all, not even the kernel's RST), then, on the first SYN to X,
 * our own connect() from X back to that SYN's source. A connection that
 * completes can only have formed from two crossing SYNs.
 */
struct armed {
	bool used, done;
	struct refl_test t; /* the ARM order: token, key, role */
	int family;
	struct sockaddr_storage x;      /* the bound address with port X */
	struct sockaddr_storage filler; /* our own connection's end: its SYN is not the one */
	struct sockaddr_storage target; /* whom our connect() from X goes to */
	int listen_fd, filler_fd, out_fd;
	struct refl_observation o; /* what came of it */
	/* Seen from the SYN's source after our connect(): its SYN-ACK (our SYN
	 * crossed its own and reached it) or its SYN again (ours did not). */
	bool synack_seen, resent_seen;
	uint64_t seen_ns, deadline_ns;
	/* The RESULT request, when it came before the end. */
	bool waiting;
	struct refl_test result;
	int conn;
	uint32_t conn_gen;
	enum refl_role arrival;
};

/* Replies waiting to leave one role's socket. */
struct out_batch {
	struct mmsghdr hdr[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage to[BATCH];
	uint8_t buf[BATCH][MSG_CAP];
	unsigned n;
};

/* --workers: what the workers share, kept by worker 0. */
struct crew {
	unsigned n;
	struct refl_server *w[REFL_WORKERS_MAX]; /* [0]: worker 0 itself */
	pthread_t thread[REFL_WORKERS_MAX];
	unsigned started;     /* threads running: w[1] .. w[started] */
	pthread_mutex_t lock; /* over each worker's `published` */
};

struct refl_server {
	struct refl_server_cfg cfg;
	unsigned id;       /* the worker: 0 serves everything, the others UDP Binding */
	struct crew *crew; /* NULL with one worker */
	/* A worker's counters as worker 0 may read them (under crew->lock),
	 * copied from `counters` when they changed, at most every PUBLISH_NS. */
	struct counters published;
	uint64_t publish_ns;
	bool dirty;
	int udp[ENDPOINTS], listener[ENDPOINTS];
	/*
	 * What the loop waits on: poll() over the epoll descriptor (TCP,
	 * capture, metrics, ...) and the UDP sockets, which are not in the epoll
	 * set. An epoll set keeps its wait entry on a socket for good, and then
	 * every datagram sent from it, once freed, takes the socket's wait-queue
	 * lock to offer a write wakeup nobody asked for; poll's entries last
	 * only while it sleeps (perf: that lock was the gap to the bare
	 * responder). polled[0] is the epoll descriptor; polled[1 + i] udp[i].
	 */
	struct pollfd polled[1 + ENDPOINTS];
	unsigned npolled;
	int epoll;
	refl_limiter_t *limiter;
	struct counters counters;
	/* The TTL each connection's SYN arrived with (NATLAB-PEER-TTL). */
	struct {
		struct sockaddr_in src;
		uint8_t ttl;
		uint32_t seq;
	} syns[SYN_RING];
	unsigned syn_next;
	struct conn *conns;
	unsigned nconns;
	uint32_t next_gen;
	refl_probes_t *probes; /* NULL: natlab tests off */
	rdv_t *rdv;            /* the rendezvous of two probes (off without a secret) */
	struct pending pending[PENDING_MAX];
	unsigned npending;
	struct armed armed[ARMED_MAX];
	unsigned *free_slots, nfree;
	/* The receive side of a batch, reused. */
	struct mmsghdr in_hdr[BATCH];
	struct iovec in_iov[BATCH];
	struct sockaddr_storage in_from[BATCH];
	uint8_t in_buf[BATCH][MSG_CAP];
	struct out_batch out[4];
	int metrics_fd, metrics_conn[METRICS_CONNS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int watch(struct refl_server *s, int fd, enum kind kind, unsigned index)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)kind << 32 | index};

	return epoll_ctl(s->epoll, EPOLL_CTL_ADD, fd, &ev);
}

/* The type bits of a natlab method, whatever the class (RFC 8489 5: the
 * class bits C1 and C0 are 0x0110, the method the rest). */
#define CLASS_BITS 0x0110u
static uint32_t method_bits(uint16_t method)
{
	return stun_type(method, STUN_REQUEST) & ~CLASS_BITS & 0x3FFFu;
}

/*
 * Worker 0 holds the state natlab's own requests need (tests in flight, the
 * rendezvous, the relay), so the kernel steers them there: a classic BPF
 * program on the endpoint's SO_REUSEPORT group picks the group's socket by
 * its index, and worker 0's socket is the group's first. It reads the UDP
 * payload's first two bytes (the STUN type): a natlab method gives 0; anything
 * else an index out of range, which leaves the choice to the kernel's hash
 * of the 4-tuple. A datagram under two bytes fails the load, which also
 * gives 0: worker 0 drops it like any other.
 */
static int steer(int fd)
{
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0),
	    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x3FFFu & ~CLASS_BITS),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, method_bits(STUN_NATLAB_TEST), 3, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, method_bits(STUN_NATLAB_PUNCH), 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, method_bits(STUN_NATLAB_RENDEZVOUS), 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFFu),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}

/* SO_REUSEPORT would let a second natreflector (or anything of the same
 * user) share the port unnoticed: before worker 0 binds, a plain socket
 * must be able to, as without workers. */
static int free_to_bind(const struct sockaddr *sa)
{
	int one = 1, fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc, saved;

	if (fd < 0)
		return -1;
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	rc = bind(fd, sa, addr_len(sa));
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int open_endpoint(struct refl_server *s, int f, int role, int type)
{
	const struct sockaddr *sa = (const struct sockaddr *)&s->cfg.bound[f][role];
	int one = 1, size = SOCKET_BUF, fd = -1;
	bool group = type == SOCK_DGRAM && s->cfg.workers > 1;
	char text[ADDR_STRLEN];

	if (group && s->id == 0 && free_to_bind(sa))
		goto fail;
	fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* Each family is its own set of roles: an IPv6 socket takes no IPv4. */
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	else
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (group && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	if (bind(fd, sa, addr_len(sa)) < 0 || (type == SOCK_STREAM && listen(fd, 128) < 0))
		goto fail;
	if (group && s->id == 0 && steer(fd))
		goto fail;
	if (type == SOCK_DGRAM)
		s->polled[s->npolled++] = (struct pollfd){.fd = fd, .events = POLLIN};
	else if (watch(s, fd, KIND_LISTEN, (unsigned)(f * 4 + role)))
		goto fail;
	return fd;
fail:
	fprintf(stderr, "natreflector: cannot serve %s %s: %s\n",
		type == SOCK_STREAM ? "TCP" : "UDP", addr_format(sa, text, sizeof(text)),
		strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void init_batches(struct refl_server *s)
{
	for (int i = 0; i < BATCH; i++) {
		s->in_iov[i] = (struct iovec){s->in_buf[i], MSG_CAP};
		s->in_hdr[i].msg_hdr = (struct msghdr){
		    .msg_name = &s->in_from[i], .msg_iov = &s->in_iov[i], .msg_iovlen = 1};
		for (int r = 0; r < 4; r++) {
			struct out_batch *o = &s->out[r];

			o->hdr[i].msg_hdr = (struct msghdr){
			    .msg_name = &o->to[i], .msg_iov = &o->iov[i], .msg_iovlen = 1};
			o->iov[i].iov_base = o->buf[i];
		}
	}
}

/* Worker 0's state; another worker has the limiter it shares and no more. */
static int alloc_state(struct refl_server *s, refl_limiter_t *shared)
{
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = now_ns();
	s->limiter = shared
			 ? shared
			 : refl_limiter_new(s->cfg.rate, s->cfg.burst, s->cfg.limiter_slots, seed);
	s->conns = calloc(s->cfg.tcp_max ? s->cfg.tcp_max : 1, sizeof(*s->conns));
	s->free_slots = calloc(s->cfg.tcp_max ? s->cfg.tcp_max : 1, sizeof(*s->free_slots));
	if (s->id == 0)
		s->rdv = rdv_new(&(struct rdv_limits){RDV_SESSIONS, RDV_TTL_MS, s->cfg.relay_max,
						      s->cfg.relay_s * 1000u, s->cfg.relay_bytes,
						      s->cfg.relay_pps});
	if (!s->limiter || !s->conns || !s->free_slots || (s->id == 0 && !s->rdv)) {
		fprintf(stderr,
			"natreflector: out of memory for %u TCP connections and %zu "
			"rate-limit entries\n",
			s->cfg.tcp_max, s->cfg.limiter_slots);
		return -1;
	}
	for (unsigned i = 0; i < s->cfg.tcp_max; i++) {
		s->conns[i].fd = -1;
		s->free_slots[s->nfree++] = s->cfg.tcp_max - 1 - i;
	}
	return 0;
}

/* ---- counters, each worker's and summed ---- */

/* Every worker's counters summed (worker 0's own as they are). */
static void total(const struct refl_server *s, struct counters *sum)
{
	*sum = s->counters;
	if (!s->crew)
		return;
	pthread_mutex_lock(&s->crew->lock);
	for (unsigned k = 1; k < s->crew->n; k++)
		counters_merge(sum, &s->crew->w[k]->published);
	pthread_mutex_unlock(&s->crew->lock);
}

/* What each worker did: packets it counted (under any reason), requests
 * it answered (success or error). */
struct worker_sum {
	unsigned long packets, answered;
};

/* Each worker's sum; how many workers. */
static unsigned worker_sums(const struct refl_server *s, struct worker_sum out[REFL_WORKERS_MAX])
{
	unsigned n = s->crew ? s->crew->n : 1;

	if (s->crew)
		pthread_mutex_lock(&s->crew->lock);
	for (unsigned k = 0; k < n; k++) {
		const struct counters *c = k ? &s->crew->w[k]->published : &s->counters;

		out[k].packets = c->other;
		for (size_t i = 0; i < c->n; i++)
			out[k].packets += c->row[i].count;
		out[k].answered =
		    counters_get(c, "answered") + counters_get(c, "answered with an error");
	}
	if (s->crew)
		pthread_mutex_unlock(&s->crew->lock);
	return n;
}

/* ---- --metrics: a scrape's request read (bounded), the counters, closed ---- */

static int open_metrics(struct refl_server *s)
{
	const struct sockaddr *a = (const struct sockaddr *)&s->cfg.metrics;
	char text[ADDR_STRLEN];
	int one = 1;

	s->metrics_fd = socket(a->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->metrics_fd < 0 ||
	    setsockopt(s->metrics_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s->metrics_fd, a, addr_len(a)) || listen(s->metrics_fd, 8) ||
	    watch(s, s->metrics_fd, KIND_METRICS, 0)) {
		fprintf(stderr, "natreflector: --metrics %s: %s\n",
			addr_format(a, text, sizeof(text)), strerror(errno));
		return -1;
	}
	return 0;
}

static void metrics_accept(struct refl_server *s)
{
	int fd = accept4(s->metrics_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < METRICS_CONNS; i++)
		if (s->metrics_conn[i] < 0 && !watch(s, fd, KIND_METRICS_CONN, (unsigned)i)) {
			s->metrics_conn[i] = fd;
			return;
		}
	close(fd); /* four scrapes at once are plenty */
}

/* The counters summed over the workers, and each worker's share. */
static void metrics_text(const struct refl_server *s, FILE *f)
{
	struct worker_sum w[REFL_WORKERS_MAX];
	unsigned n = worker_sums(s, w);
	struct counters sum;

	total(s, &sum);
	counters_prometheus(&sum, f, "natreflector_requests_total",
			    "What became of each request, by reason.");
	fprintf(f,
		"# HELP natreflector_tcp_connections TCP connections open.\n"
		"# TYPE natreflector_tcp_connections gauge\n"
		"natreflector_tcp_connections %u\n"
		"# HELP natreflector_worker_packets_total Packets counted, by worker.\n"
		"# TYPE natreflector_worker_packets_total counter\n",
		s->nconns);
	for (unsigned k = 0; k < n; k++)
		fprintf(f, "natreflector_worker_packets_total{worker=\"%u\"} %lu\n", k,
			w[k].packets);
	fputs("# HELP natreflector_worker_answers_total Requests answered, by worker.\n"
	      "# TYPE natreflector_worker_answers_total counter\n",
	      f);
	for (unsigned k = 0; k < n; k++)
		fprintf(f, "natreflector_worker_answers_total{worker=\"%u\"} %lu\n", k,
			w[k].answered);
}

static void metrics_answer(struct refl_server *s, unsigned i)
{
	static const char head[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
				   "Connection: close\r\n\r\n";
	char req[2048], *text = NULL;
	size_t len = 0;
	int fd = s->metrics_conn[i];
	ssize_t n = recv(fd, req, sizeof(req) - 1, MSG_DONTWAIT);
	FILE *f;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	req[n > 0 ? n : 0] = '\0';
	/* A whole request head, or a close: answered. Anything else waits,
	 * bounded by the buffer (a longer head is answered as it is). */
	if (n > 0 && !strstr(req, "\r\n\r\n") && (size_t)n < sizeof(req) - 1)
		return;
	f = open_memstream(&text, &len);
	if (f) {
		fputs(head, f);
		metrics_text(s, f);
		fclose(f);
		send(fd, text, len,
		     MSG_DONTWAIT | MSG_NOSIGNAL); /* a short one is the scraper's loss */
		free(text);
	}
	close(fd);
	s->metrics_conn[i] = -1;
}

static void close_one(struct refl_server *s);

/* Worker `id`: 0 the whole server, another one UDP alone (`first`: worker 0). */
static struct refl_server *open_worker(const struct refl_server_cfg *cfg, unsigned id,
				       const struct refl_server *first)
{
	struct refl_server *s = calloc(1, sizeof(*s));

	if (!s) {
		fprintf(stderr, "natreflector: out of memory\n");
		return NULL;
	}
	s->cfg = *cfg;
	s->id = id;
	if (id) {
		s->cfg.tcp = false;
		s->cfg.tcp_max = 0;
		s->cfg.metrics.ss_family = 0;
	}
	for (int i = 0; i < ENDPOINTS; i++)
		s->udp[i] = s->listener[i] = -1;
	s->metrics_fd = -1;
	for (int i = 0; i < METRICS_CONNS; i++)
		s->metrics_conn[i] = -1;
	s->epoll = epoll_create1(EPOLL_CLOEXEC);
	s->polled[s->npolled++] = (struct pollfd){.fd = s->epoll, .events = POLLIN};
	if (s->epoll < 0 || alloc_state(s, first ? first->limiter : NULL)) {
		if (s->epoll < 0)
			perror("natreflector: epoll_create1");
		goto fail;
	}
	init_batches(s);
	if (id == 0 && cfg->handler[0].session_secret) {
		char err[PCAP_ERR_LEN];

		s->probes = refl_probes_open(err, sizeof(err));
		if (!s->probes) {
			fprintf(stderr, "natreflector: natlab tests (--session-secret) need: %s\n",
				err);
			goto fail;
		}
		if (watch(s, refl_probes_fd(s->probes), KIND_CAPTURE, 0)) {
			perror("natreflector: epoll_ctl");
			goto fail;
		}
	}
	for (int f = 0; f < cfg->nfamilies; f++) {
		for (int role = 0; role < 4; role++) {
			s->udp[f * 4 + role] = open_endpoint(s, f, role, SOCK_DGRAM);
			if (s->udp[f * 4 + role] < 0)
				goto fail;
			if (!s->cfg.tcp)
				continue;
			s->listener[f * 4 + role] = open_endpoint(s, f, role, SOCK_STREAM);
			if (s->listener[f * 4 + role] < 0)
				goto fail;
		}
	}
	if (s->cfg.metrics.ss_family && open_metrics(s))
		goto fail;
	return s;
fail:
	close_one(s);
	return NULL;
}

refl_server_t *refl_server_open(const struct refl_server_cfg *cfg)
{
	struct refl_server *s = open_worker(cfg, 0, NULL);
	struct crew *c;

	if (!s || cfg->workers <= 1)
		return s;
	c = calloc(1, sizeof(*c));
	if (!c || pthread_mutex_init(&c->lock, NULL)) {
		fprintf(stderr, "natreflector: out of memory\n");
		free(c);
		close_one(s);
		return NULL;
	}
	s->crew = c;
	c->w[c->n++] = s;
	while (c->n < cfg->workers) {
		struct refl_server *w = open_worker(cfg, c->n, s);

		if (!w) {
			refl_server_close(s);
			return NULL;
		}
		w->crew = c;
		c->w[c->n++] = w;
	}
	return s;
}

/* ---- natlab tests ---- */

static void start_test(struct refl_server *s, int f, enum refl_role arrival,
		       const struct sockaddr *from, int conn, const struct refl_test *t,
		       uint64_t now);

/* ---- UDP ---- */

static void flush(struct refl_server *s, int f, struct out_batch *o, int role)
{
	unsigned sent = 0;

	while (sent < o->n) {
		int r = sendmmsg(s->udp[f * 4 + role], o->hdr + sent, o->n - sent, 0);

		if (r <= 0) {
			for (; sent < o->n; sent++)
				counters_add(&s->counters, "send failed");
			break;
		}
		sent += (unsigned)r;
	}
	o->n = 0;
}

/* A free place in role's outgoing batch: a rendezvous can answer one
 * request with two datagrams, so a batch can fill before its requests end. */
static void room(struct refl_server *s, int f, enum refl_role role)
{
	if (s->out[role].n == BATCH)
		flush(s, f, &s->out[role], role);
}

/* Queue len bytes of buf to `to` on role's socket. */
static void queue(struct refl_server *s, enum refl_role role, const uint8_t *buf, size_t len,
		  const struct sockaddr_storage *to)
{
	struct out_batch *o = &s->out[role];

	memcpy(o->buf[o->n], buf, len);
	o->to[o->n] = *to;
	o->hdr[o->n].msg_hdr.msg_namelen = addr_len((const struct sockaddr *)to);
	o->iov[o->n].iov_len = len;
	o->n++;
}

/* The method of a STUN message, from its first two bytes (RFC 8489 5). */
static uint16_t method_of(const uint8_t *msg, size_t len)
{
	uint16_t type = len >= 2 ? wire_get16(msg) : 0;

	return (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

/* The rendezvous (reflector/PROTOCOL.md): the answer, and a start pushed to
 * the probe that waited, both from the socket the request reached. False
 * when it is no well-formed request: the handler drops it and counts it
 * under the same names as any other malformed datagram. */
static bool rendezvous(struct refl_server *s, int f, enum refl_role role, const uint8_t *msg,
		       size_t len, const struct sockaddr *from)
{
	const struct refl_cfg *h = &s->cfg.handler[f];
	struct rdv_out out[2];
	struct stun_msg m;
	const char *counter = NULL;
	size_t n;

	if (stun_parse(&m, msg, len, 0) != STUN_OK || m.cls != STUN_REQUEST ||
	    stun_check_fingerprint(&m) == STUN_ERR_FINGERPRINT_MISMATCH)
		return false;
	n = rdv_handle(s->rdv, &m, from, false, h->session_secret, h->session_secret_len,
		       now_ns() / 1000000, out, &counter);
	if (counter)
		counters_add(&s->counters, counter);
	for (size_t i = 0; i < n; i++) {
		room(s, f, role);
		queue(s, role, out[i].buf, out[i].len, &out[i].to);
	}
	return true;
}

/* A trial's packet for the relay: forwarded from the socket it reached, or
 * counted and dropped; never answered (S sends no punch of its own). False
 * when it is no well-formed indication: the handler drops it and counts it
 * under the same names as any other malformed datagram. */
static bool relay(struct refl_server *s, int f, enum refl_role role, const uint8_t *msg, size_t len,
		  const struct sockaddr *from)
{
	struct rdv_out out;
	struct stun_msg m;
	const char *counter;

	if (stun_parse(&m, msg, len, 0) != STUN_OK || m.cls != STUN_INDICATION ||
	    stun_check_fingerprint(&m) == STUN_ERR_FINGERPRINT_MISMATCH)
		return false;
	if (rdv_relay(s->rdv, &m, msg, len, from, false, now_ns() / 1000000, &out, &counter)) {
		room(s, f, role);
		queue(s, role, out.buf, out.len, &out.to);
	}
	counters_add(&s->counters, counter);
	return true;
}

static void answer(struct refl_server *s, int f, enum refl_role role, const uint8_t *msg,
		   size_t len, const struct sockaddr *from)
{
	struct refl_request req = {msg, len, role, from, false};
	uint16_t method = method_of(msg, len);
	struct refl_reply rep;
	struct out_batch *o;

	if (s->id && (method == STUN_NATLAB_TEST || method == STUN_NATLAB_RENDEZVOUS ||
		      method == STUN_NATLAB_PUNCH)) {
		/* steer() sends these to worker 0; one here means it did not. */
		counters_add(&s->counters, "natlab request missed worker 0");
		return;
	}
	if (method == STUN_NATLAB_RENDEZVOUS && rendezvous(s, f, role, msg, len, from))
		return;
	if (method == STUN_NATLAB_PUNCH && relay(s, f, role, msg, len, from))
		return;
	room(s, f, role);

	/* The reply is built straight into its place in the outgoing batch. */
	refl_handle(&s->cfg.handler[f], &req, s->out[role].buf[s->out[role].n], MSG_CAP, &rep);
	if (rep.test) {
		start_test(s, f, role, from, -1, &rep.order, now_ns());
		return;
	}
	if (!rep.len) {
		counters_add(&s->counters, rep.drop);
		return;
	}
	counters_add(&s->counters, rep.error ? "answered with an error" : "answered");
	if (rep.role != role) {
		/* CHANGE-REQUEST: the reply leaves from another role's socket. */
		room(s, f, rep.role);
		o = &s->out[rep.role];
		memcpy(o->buf[o->n], s->out[role].buf[s->out[role].n], rep.len);
	} else {
		o = &s->out[role];
	}
	o->to[o->n] = rep.to;
	o->hdr[o->n].msg_hdr.msg_namelen = addr_len((struct sockaddr *)&rep.to);
	o->iov[o->n].iov_len = rep.len;
	o->n++;
}

static void serve_udp(struct refl_server *s, unsigned index)
{
	int f = (int)index / 4, n;
	enum refl_role role = (enum refl_role)(index % 4);
	uint64_t now = now_ns();

	for (int i = 0; i < BATCH; i++)
		s->in_hdr[i].msg_hdr.msg_namelen = sizeof(s->in_from[i]);
	n = recvmmsg(s->udp[index], s->in_hdr, BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		const struct sockaddr *from = (const struct sockaddr *)&s->in_from[i];

		if (s->in_hdr[i].msg_hdr.msg_flags & MSG_TRUNC)
			counters_add(&s->counters, "datagram too long");
		else if (!refl_limiter_allow(s->limiter, from, now))
			counters_add(&s->counters, "rate limited");
		else
			answer(s, f, role, s->in_buf[i], s->in_hdr[i].msg_len, from);
	}
	for (int r = 0; r < 4; r++)
		if (s->out[r].n)
			flush(s, f, &s->out[r], r);
}

/* ---- TCP ---- */

static void drop_conn(struct refl_server *s, unsigned slot, const char *why)
{
	struct conn *c = &s->conns[slot];

	if (why)
		counters_add(&s->counters, why);
	close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	s->free_slots[s->nfree++] = slot;
	s->nconns--;
}

static unsigned conns_from(const struct refl_server *s, const struct sockaddr *peer)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->cfg.tcp_max; i++)
		if (s->conns[i].fd >= 0 &&
		    addr_same_ip((const struct sockaddr *)&s->conns[i].peer, peer))
			n++;
	return n;
}

static const char *admit(struct refl_server *s, const struct sockaddr *peer, uint64_t now)
{
	if (s->nconns >= s->cfg.tcp_max)
		return "tcp connection cap";
	if (conns_from(s, peer) >= s->cfg.tcp_per_source)
		return "tcp per-source cap";
	if (!refl_limiter_allow(s->limiter, peer, now))
		return "rate limited";
	return NULL;
}

static void accept_conns(struct refl_server *s, unsigned index)
{
	uint64_t now = now_ns();

	for (int i = 0; i < ACCEPTS; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(s->listener[index], (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		const char *refused;
		unsigned slot;
		struct conn *c;

		if (fd < 0)
			return;
		refused = admit(s, (struct sockaddr *)&peer, now);
		if (refused) {
			counters_add(&s->counters, refused);
			close(fd);
			continue;
		}
		slot = s->free_slots[--s->nfree];
		c = &s->conns[slot];
		*c = (struct conn){.fd = fd,
				   .family = (int)index / 4,
				   .role = (enum refl_role)(index % 4),
				   .peer = peer,
				   .last_ns = now,
				   .gen = ++s->next_gen};
		if (watch(s, fd, KIND_CONN, slot)) {
			s->nconns++;
			drop_conn(s, slot, "tcp epoll failed");
			continue;
		}
		s->nconns++;
		counters_add(&s->counters, "tcp accepted");
	}
}

static int conn_of_peer(const struct refl_server *s, const struct sockaddr *peer);

/* msg down the connection `slot`; false, and the connection dropped, when
 * it would block (never buffer for a peer that does not read). */
static bool conn_send(struct refl_server *s, unsigned slot, const uint8_t *msg, size_t len)
{
	if (send(s->conns[slot].fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
		return true;
	drop_conn(s, slot, "tcp send blocked");
	return false;
}

/*
 * A rendezvous message over the connection `slot` (a TCP trial, RFC 5128
 * 3.4: the probe registers over a connection from the port it will connect
 * from): a registration, answered on it, whose start goes down the other
 * probe's own connection; or a punch packet for the relay, forwarded down
 * the other's. 1 handled, 0 not one, -1 this connection dropped.
 */
static int tcp_rendezvous(struct refl_server *s, unsigned slot, const uint8_t *msg, size_t len,
			  uint64_t now)
{
	const struct conn *c = &s->conns[slot];
	const struct refl_cfg *h = &s->cfg.handler[c->family];
	const struct sockaddr *peer = (const struct sockaddr *)&c->peer;
	uint16_t method = method_of(msg, len);
	const char *counter = NULL;
	struct rdv_out out[2];
	struct stun_msg m;
	size_t n;

	if ((method != STUN_NATLAB_RENDEZVOUS && method != STUN_NATLAB_PUNCH) ||
	    stun_parse(&m, msg, len, 0) != STUN_OK ||
	    stun_check_fingerprint(&m) == STUN_ERR_FINGERPRINT_MISMATCH)
		return 0;
	if (method == STUN_NATLAB_RENDEZVOUS && m.cls == STUN_REQUEST)
		n = rdv_handle(s->rdv, &m, peer, true, h->session_secret, h->session_secret_len,
			       now / 1000000, out, &counter);
	else if (method == STUN_NATLAB_PUNCH && m.cls == STUN_INDICATION)
		n = rdv_relay(s->rdv, &m, msg, len, peer, true, now / 1000000, &out[1], &counter)
			? 2
			: 0; /* out[1]: to the other probe */
	else
		return 0;
	if (counter)
		counters_add(&s->counters, counter);
	for (size_t i = method == STUN_NATLAB_PUNCH ? 1 : 0; i < n; i++) {
		int to = i == 0 ? (int)slot : conn_of_peer(s, (const struct sockaddr *)&out[i].to);

		if (to < 0)
			counters_add(&s->counters,
				     "rendezvous: the other probe's connection is gone");
		else if (!conn_send(s, (unsigned)to, out[i].buf, out[i].len) && to == (int)slot)
			return -1;
	}
	return 1;
}

/* One framed request out of the connection's buffer: 1 when one was
 * handled, 0 when more bytes are needed, -1 when the connection was closed. */
static int serve_message(struct refl_server *s, unsigned slot, uint64_t now)
{
	struct conn *c = &s->conns[slot];
	const struct sockaddr *peer = (const struct sockaddr *)&c->peer;
	uint8_t *reply = s->out[0].buf[0];
	struct refl_request req;
	struct refl_reply rep;
	size_t len;
	int rdv;

	if (stun_frame_length(c->buf, c->have, &len) != STUN_OK) {
		drop_conn(s, slot, "tcp stream not stun");
		return -1;
	}
	if (len > MSG_CAP) {
		drop_conn(s, slot, "tcp message too long");
		return -1;
	}
	if (len == 0 || c->have < len)
		return 0;
	c->last_ns = now;
	if (!refl_limiter_allow(s->limiter, peer, now)) {
		counters_add(&s->counters, "rate limited");
	} else if ((rdv = tcp_rendezvous(s, slot, c->buf, len, now)) < 0) {
		return -1;
	} else if (!rdv) {
		req = (struct refl_request){c->buf, len, c->role, peer, true};
		refl_handle(&s->cfg.handler[c->family], &req, reply, MSG_CAP, &rep);
		if (rep.test) {
			start_test(s, c->family, c->role, peer, (int)slot, &rep.order, now);
		} else if (!rep.len) {
			counters_add(&s->counters, rep.drop);
		} else if (send(c->fd, reply, rep.len, MSG_DONTWAIT | MSG_NOSIGNAL) !=
			   (ssize_t)rep.len) {
			/* Never buffer for a peer that does not read. */
			drop_conn(s, slot, "tcp send blocked");
			return -1;
		} else {
			counters_add(&s->counters,
				     rep.error ? "answered with an error" : "answered");
		}
	}
	c->have -= len;
	memmove(c->buf, c->buf + len, c->have);
	return 1;
}

/* A kept connection's peer half-closed it (RFC 5382 REQ-5's transitory
 * state): it stays, unread (an end of file is readable for ever), for a
 * PUSH; a hang-up or an error still ends it. */
static void keep_half_closed(struct refl_server *s, unsigned slot)
{
	struct epoll_event ev = {.events = 0, .data.u64 = (uint64_t)KIND_CONN << 32 | slot};

	if (epoll_ctl(s->epoll, EPOLL_CTL_MOD, s->conns[slot].fd, &ev)) {
		drop_conn(s, slot, "tcp epoll failed");
		return;
	}
	s->conns[slot].half_closed = true;
	counters_add(&s->counters, "keep half-closed");
}

static void serve_conn(struct refl_server *s, unsigned slot)
{
	struct conn *c = &s->conns[slot];
	ssize_t got = recv(c->fd, c->buf + c->have, MSG_CAP - c->have, MSG_DONTWAIT);
	uint64_t now = now_ns();

	if (got == 0 && c->keep && !c->half_closed) {
		keep_half_closed(s, slot);
		return;
	}
	if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
		drop_conn(s, slot, NULL);
		return;
	}
	if (got < 0)
		return;
	c->have += (size_t)got;
	c->rx += (uint64_t)got;
	while (c->have && serve_message(s, slot, now) > 0)
		;
}

static void close_idle(struct refl_server *s, uint64_t now)
{
	uint64_t idle = (uint64_t)s->cfg.tcp_idle_s * 1000000000u;

	for (unsigned i = 0; i < s->cfg.tcp_max; i++)
		if (s->conns[i].fd >= 0 &&
		    now - s->conns[i].last_ns >
			(s->conns[i].keep ? (uint64_t)REFL_KEEP_S * 1000000000u : idle))
			drop_conn(s, i, "tcp idle timeout");
}

/* ---- natlab tests ---- */

/* The TTL of the latest SYN seen from peer (0: none in the ring). */
static uint8_t syn_ttl(const struct refl_server *s, const struct sockaddr *peer)
{
	for (unsigned k = 1; k <= SYN_RING; k++) {
		unsigned i = (s->syn_next - k) % SYN_RING;

		if (s->syns[i].ttl && addr_equal((const struct sockaddr *)&s->syns[i].src, peer))
			return s->syns[i].ttl;
	}
	return 0;
}

/* The sequence number of the latest SYN seen from peer; false: none in the ring. */
static bool syn_seq(const struct refl_server *s, const struct sockaddr *peer, uint32_t *seq)
{
	for (unsigned k = 1; k <= SYN_RING; k++) {
		unsigned i = (s->syn_next - k) % SYN_RING;

		if (s->syns[i].ttl && addr_equal((const struct sockaddr *)&s->syns[i].src, peer)) {
			*seq = s->syns[i].seq;
			return true;
		}
	}
	return false;
}

static void send_on_conn(struct refl_server *s, int conn, uint32_t gen, const uint8_t *buf,
			 size_t len);
static void adopt_conn(struct refl_server *s, struct armed *a);
static void simopen_arm(struct refl_server *s, int f, int conn, const struct refl_test *t,
			uint64_t now);
static void simopen_result(struct refl_server *s, int conn, enum refl_role arrival,
			   const struct refl_test *t);
static void simopen_captured(struct refl_server *s, const struct refl_captured *c, uint64_t now);
static void on_captured(void *ctx, const struct refl_captured *c);

static void answer_test(struct refl_server *s, struct pending *p, const struct refl_observation *o)
{
	const struct refl_cfg *h = &s->cfg.handler[p->family];
	const struct sockaddr *sent_from = (const struct sockaddr *)&h->advertised[p->t.from_role];
	const struct sockaddr *to = (const struct sockaddr *)&p->requester;
	uint8_t *buf = s->out[0].buf[0];
	struct refl_observation seen = *o;
	size_t len;

	if (p->conn >= 0)
		seen.peer_ttl = syn_ttl(s, to);
	o = &seen;
	p->used = false;
	s->npending--;
	counters_add(&s->counters, o->outcome == REFL_SEEN_SYN_ACK ? "natlab test saw syn-ack"
				   : o->outcome == REFL_SEEN_RST   ? "natlab test saw rst"
				   : o->outcome == REFL_SEEN_ICMP  ? "natlab test saw icmp"
								   : "natlab test saw nothing");
	if (refl_test_answer(&p->t, o, sent_from, h->software, buf, MSG_CAP, &len) != STUN_OK)
		return;
	if (p->conn < 0) {
		if (sendto(s->udp[p->family * 4 + p->arrival], buf, len, 0, to, addr_len(to)) < 0)
			counters_add(&s->counters, "send failed");
		return;
	}
	send_on_conn(s, p->conn, p->conn_gen, buf, len);
}

/* An answer on the TCP connection a request came on, if it is still there. */
static void send_on_conn(struct refl_server *s, int conn, uint32_t gen, const uint8_t *buf,
			 size_t len)
{
	if (s->conns[conn].fd < 0 || s->conns[conn].gen != gen)
		counters_add(&s->counters, "natlab test connection gone");
	else if (send(s->conns[conn].fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		drop_conn(s, (unsigned)conn, "tcp send blocked");
}

/* ---- simultaneous open ---- */

/* The advertised address of an armed test's role, with port X. */
static struct sockaddr_storage armed_from(const struct refl_server *s, const struct armed *a)
{
	struct sockaddr_storage adv = s->cfg.handler[a->family].advertised[a->t.from_role];

	addr_set_port((struct sockaddr *)&adv, addr_port((const struct sockaddr *)&a->x));
	return adv;
}

static void armed_answer(struct refl_server *s, struct armed *a, const struct refl_test *t,
			 int conn, uint32_t gen)
{
	struct sockaddr_storage from = armed_from(s, a);
	struct refl_observation o = a->o;
	uint8_t *buf = s->out[0].buf[0];
	size_t len;

	/* The control connection's own SYN: the client's baseline TTL. */
	if (s->conns[conn].fd >= 0 && s->conns[conn].gen == gen)
		o.peer_ttl = syn_ttl(s, (const struct sockaddr *)&s->conns[conn].peer);
	if (refl_test_answer(t, &o, (struct sockaddr *)&from, s->cfg.handler[a->family].software,
			     buf, MSG_CAP, &len) == STUN_OK)
		send_on_conn(s, conn, gen, buf, len);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The test is over: the silent port goes, a waiting RESULT is answered. */
static void armed_finish(struct refl_server *s, struct armed *a, uint64_t now)
{
	a->done = true;
	a->deadline_ns = now + ARMED_KEEP;
	close_fd(&a->listen_fd);
	close_fd(&a->filler_fd);
	close_fd(&a->out_fd);
	if (a->t.action == REFL_TEST_ICMP_ARM)
		counters_add(&s->counters,
			     a->o.seen_syn.ss_family ? "icmp arm saw syn" : "icmp arm saw no syn");
	else if (a->t.action == REFL_TEST_SYN_HOLD)
		counters_add(&s->counters,
			     a->o.outcome == REFL_SEEN_CONNECTED ? "syn hold connected"
			     : a->o.outcome == REFL_SEEN_NOTHING ? "syn hold unanswered"
								 : "syn hold refused");
	else
		counters_add(&s->counters, a->o.outcome == REFL_SEEN_CONNECTED ? "simopen connected"
					   : a->o.seen_syn.ss_family ? "simopen not connected"
								     : "simopen saw no syn");
	if (a->waiting) {
		armed_answer(s, a, &a->result, a->conn, a->conn_gen);
		a->used = false;
	}
}

static int reuse_socket(const struct sockaddr *bind_to)
{
	int one = 1, fd = socket(bind_to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, bind_to, addr_len(bind_to))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A silent port: listen(fd, 0) and one connection of our own left in the
 * accept queue, which is then full, so Linux drops further SYNs without a
 * RST. 0, or -1 when it could not be made (or its filler did not connect
 * within 100 ms over loopback). */
static int silent_port(struct refl_server *s, struct armed *a)
{
	struct sockaddr_storage x = s->cfg.bound[a->family][a->t.from_role];
	socklen_t len = sizeof(a->x);
	struct pollfd pfd;
	int err = 0;

	addr_set_port((struct sockaddr *)&x, 0);
	a->listen_fd = reuse_socket((struct sockaddr *)&x);
	if (a->listen_fd < 0 || getsockname(a->listen_fd, (struct sockaddr *)&a->x, &len) ||
	    listen(a->listen_fd, 0))
		return -1;
	a->filler_fd = socket(a->x.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->filler_fd < 0 ||
	    (connect(a->filler_fd, (struct sockaddr *)&a->x, addr_len((struct sockaddr *)&a->x)) &&
	     errno != EINPROGRESS))
		return -1;
	pfd = (struct pollfd){.fd = a->filler_fd, .events = POLLOUT};
	len = sizeof(err);
	if (poll(&pfd, 1, 100) != 1 || getsockopt(a->filler_fd, SOL_SOCKET, SO_ERROR, &err, &len) ||
	    err)
		return -1;
	len = sizeof(a->filler);
	return getsockname(a->filler_fd, (struct sockaddr *)&a->filler, &len);
}

static struct armed *armed_find(struct refl_server *s, const struct refl_test *t)
{
	for (unsigned i = 0; i < ARMED_MAX; i++)
		if (s->armed[i].used && !memcmp(s->armed[i].t.token, t->token, sizeof(t->token)) &&
		    !strcmp(s->armed[i].t.key, t->key))
			return &s->armed[i];
	return NULL;
}

/* SIMOPEN-ARM: a silent port, answered at once with where it is. */
static void simopen_arm(struct refl_server *s, int f, int conn, const struct refl_test *t,
			uint64_t now)
{
	struct armed *a = NULL;

	for (unsigned i = 0; i < ARMED_MAX && !a; i++)
		if (!s->armed[i].used)
			a = &s->armed[i];
	if (!a || armed_find(s, t)) {
		counters_add(&s->counters, a ? "simopen token reused" : "simopen full");
		return;
	}
	*a = (struct armed){.used = true,
			    .t = *t,
			    .family = f,
			    .listen_fd = -1,
			    .filler_fd = -1,
			    .out_fd = -1,
			    .deadline_ns = now + (uint64_t)t->wait_ms * 1000000u};
	if (silent_port(s, a)) {
		counters_add(&s->counters, "simopen no silent port");
		close_fd(&a->listen_fd);
		close_fd(&a->filler_fd);
		a->used = false;
		return;
	}
	counters_add(&s->counters, "simopen armed");
	armed_answer(s, a, t, conn, s->conns[conn].gen);
}

/* SYN-HOLD: our connect() from a fresh port X to the target at once, X
 * said at once; the capture watches what answers our SYN (hold_captured)
 * and the first SYN to X (seen_syn): the target's own makes a simultaneous
 * open that completes the connect(); one from elsewhere (a mapping that
 * depends on the destination) cannot. */
static void syn_hold(struct refl_server *s, int f, int conn, const struct refl_test *t,
		     uint64_t now)
{
	struct epoll_event ev = {.events = EPOLLOUT};
	struct sockaddr_storage x = s->cfg.bound[f][t->from_role];
	socklen_t len = sizeof(x);
	struct armed *a = NULL;

	for (unsigned i = 0; i < ARMED_MAX && !a; i++)
		if (!s->armed[i].used)
			a = &s->armed[i];
	if (!a || armed_find(s, t)) {
		counters_add(&s->counters, a ? "syn hold token reused" : "simopen full");
		return;
	}
	*a = (struct armed){.used = true,
			    .t = *t,
			    .family = f,
			    .listen_fd = -1,
			    .filler_fd = -1,
			    .seen_ns = now,
			    .deadline_ns = now + (uint64_t)t->wait_ms * 1000000u};
	memcpy(&a->target, &t->target, sizeof(t->target));
	addr_set_port((struct sockaddr *)&x, 0);
	ev.data.u64 = (uint64_t)KIND_SIMOPEN << 32 | (unsigned)(a - s->armed);
	a->out_fd = reuse_socket((struct sockaddr *)&x);
	if (a->out_fd < 0 || getsockname(a->out_fd, (struct sockaddr *)&a->x, &len) ||
	    (connect(a->out_fd, (const struct sockaddr *)&t->target,
		     addr_len((const struct sockaddr *)&t->target)) &&
	     errno != EINPROGRESS) ||
	    epoll_ctl(s->epoll, EPOLL_CTL_ADD, a->out_fd, &ev)) {
		counters_add(&s->counters, "syn hold connect failed");
		close_fd(&a->out_fd);
		a->used = false;
		return;
	}
	counters_add(&s->counters, "syn hold armed");
	armed_answer(s, a, t, conn, s->conns[conn].gen);
}

/* KEEP: this connection may idle up to REFL_KEEP_S; answered at once. */
static void keep_conn(struct refl_server *s, int f, int conn, const struct refl_test *t)
{
	const struct sockaddr *adv =
	    (const struct sockaddr *)&s->cfg.handler[f].advertised[t->from_role];
	struct refl_observation o = {0};
	uint8_t *buf = s->out[0].buf[0];
	size_t len;

	s->conns[conn].keep = true;
	counters_add(&s->counters, "keep");
	o.peer_ttl = syn_ttl(s, (const struct sockaddr *)&s->conns[conn].peer);
	if (refl_test_answer(t, &o, adv, s->cfg.handler[f].software, buf, MSG_CAP, &len) == STUN_OK)
		send_on_conn(s, conn, s->conns[conn].gen, buf, len);
}

/* SIMOPEN-RESULT: answered now if the test is over, else when it is. */
static void simopen_result(struct refl_server *s, int conn, enum refl_role arrival,
			   const struct refl_test *t)
{
	struct armed *a = armed_find(s, t);

	if (!a) {
		counters_add(&s->counters, "simopen result for nothing armed");
		return;
	}
	a->result = *t;
	if (a->done) {
		armed_answer(s, a, t, conn, s->conns[conn].gen);
		a->used = false;
		return;
	}
	a->waiting = true;
	a->conn = conn;
	a->conn_gen = s->conns[conn].gen;
	a->arrival = arrival;
}

/* The first SYN to X: our own connect() from X to its source, crossing it. */
static void simopen_syn(struct refl_server *s, struct armed *a, const struct refl_captured *c,
			uint64_t now)
{
	struct epoll_event ev = {.events = EPOLLOUT,
				 .data.u64 =
				     (uint64_t)KIND_SIMOPEN << 32 | (unsigned)(a - s->armed)};

	memcpy(&a->o.seen_syn, &c->src, sizeof(c->src));
	memcpy(&a->target, &c->src, sizeof(c->src));
	a->seen_ns = now;
	a->out_fd = reuse_socket((struct sockaddr *)&a->x);
	if (a->out_fd < 0 ||
	    (connect(a->out_fd, (struct sockaddr *)&a->o.seen_syn, sizeof(struct sockaddr_in)) &&
	     errno != EINPROGRESS) ||
	    epoll_ctl(s->epoll, EPOLL_CTL_ADD, a->out_fd, &ev)) {
		counters_add(&s->counters, "simopen connect failed");
		armed_finish(s, a, now);
	}
}

/* ICMP-ARM: the first SYN to X is answered with ICMP host unreachable from
 * X's address, quoting it, as many times as the order asked; the RESULT
 * says which error went (NATLAB-OBSERVED's type and code; 0: none could). */
static void icmp_syn(struct refl_server *s, struct armed *a, const struct refl_captured *c,
		     uint64_t now)
{
	const struct sockaddr *from =
	    (const struct sockaddr *)&s->cfg.bound[a->family][a->t.from_role];
	uint8_t quote[REFL_ICMP_QUOTE_LEN];
	unsigned sent = 0;

	memcpy(&a->o.seen_syn, &c->src, sizeof(c->src));
	a->seen_ns = now;
	refl_icmp_quote(&c->src, &c->dst, c->tcp_seq, quote);
	for (unsigned i = 0; i < a->t.copies; i++)
		sent += !refl_probes_send_icmp(s->probes, from, (const struct sockaddr *)&c->src, 3,
					       1, quote, sizeof(quote));
	counters_add(&s->counters, sent ? "icmp arm answered" : "icmp send failed");
	if (sent) {
		a->o.icmp_type = 3;
		a->o.icmp_code = 1;
	}
	armed_finish(s, a, now);
}

/* What capture saw, for the armed tests: the first SYN to X, and a RST or
 * ICMP error answering our own SYN from X. */
/* SYN-HOLD's capture: the first SYN to X, from anyone; and what answered
 * our SYN from X: a RST to X or an ICMP error quoting it, from anywhere (X
 * is this test's alone: a NAT whose mapping depends on the destination
 * sends the host's answer from another port). */
static void armed_finish(struct refl_server *s, struct armed *a, uint64_t now);

static void hold_captured(struct refl_server *s, struct armed *a, const struct refl_captured *c,
			  uint64_t now)
{
	bool rst = c->proto == IPPROTO_TCP && (c->tcp_flags & REFL_TCP_RST) &&
		   addr_equal((const struct sockaddr *)&c->dst, (struct sockaddr *)&a->x);
	bool icmp = c->proto == IPPROTO_ICMP && c->has_inner && c->inner_proto == IPPROTO_TCP &&
		    addr_equal((const struct sockaddr *)&c->inner_src, (struct sockaddr *)&a->x);

	if (c->proto == IPPROTO_TCP &&
	    (c->tcp_flags & (REFL_TCP_SYN | REFL_TCP_ACK)) == REFL_TCP_SYN &&
	    addr_equal((const struct sockaddr *)&c->dst, (struct sockaddr *)&a->x) &&
	    !a->o.seen_syn.ss_family)
		memcpy(&a->o.seen_syn, &c->src, sizeof(c->src));
	if ((!rst && !icmp) || a->o.outcome != REFL_SEEN_NOTHING)
		return;
	a->o.outcome = rst ? REFL_SEEN_RST : REFL_SEEN_ICMP;
	a->o.icmp_type = icmp ? c->icmp_type : 0;
	a->o.icmp_code = icmp ? c->icmp_code : 0;
	memcpy(&a->o.from, &c->src, sizeof(c->src));
	a->o.ttl = c->ttl;
	a->o.elapsed_us = (uint32_t)((now - a->seen_ns) / 1000);
	armed_finish(s, a, now); /* answered: no need to wait for our connect() to give up */
}

static void simopen_captured(struct refl_server *s, const struct refl_captured *c, uint64_t now)
{
	for (unsigned i = 0; i < ARMED_MAX; i++) {
		struct armed *a = &s->armed[i];
		struct refl_test mine = {.action = REFL_TEST_SYN};
		struct refl_observation o = {0};

		if (!a->used || a->done)
			continue;
		if (a->t.action == REFL_TEST_SYN_HOLD) {
			hold_captured(s, a, c, now);
			continue;
		}
		if (!a->o.seen_syn.ss_family) {
			if (c->proto == IPPROTO_TCP &&
			    (c->tcp_flags & (REFL_TCP_SYN | REFL_TCP_ACK)) == REFL_TCP_SYN &&
			    addr_equal((const struct sockaddr *)&c->dst,
				       (struct sockaddr *)&a->x) &&
			    !addr_equal((const struct sockaddr *)&c->src,
					(struct sockaddr *)&a->filler)) {
				if (a->t.action == REFL_TEST_ICMP_ARM)
					icmp_syn(s, a, c, now);
				else
					simopen_syn(s, a, c, now);
			}
			continue;
		}
		mine.target = a->o.seen_syn;
		if (c->proto == IPPROTO_TCP && (c->tcp_flags & REFL_TCP_SYN) &&
		    addr_equal((const struct sockaddr *)&c->src,
			       (struct sockaddr *)&a->o.seen_syn) &&
		    addr_equal((const struct sockaddr *)&c->dst, (struct sockaddr *)&a->x)) {
			if (c->tcp_flags & REFL_TCP_ACK)
				a->synack_seen = true;
			else if (!a->synack_seen)
				a->resent_seen = true;
			continue;
		}
		if (a->o.outcome == REFL_SEEN_NOTHING &&
		    refl_capture_match(&mine, (struct sockaddr *)&a->x, c, &o) &&
		    o.outcome != REFL_SEEN_SYN_ACK) {
			a->o.outcome = o.outcome;
			a->o.icmp_type = o.icmp_type;
			a->o.icmp_code = o.icmp_code;
			a->o.from = o.from;
			a->o.ttl = o.ttl;
			a->o.elapsed_us = (uint32_t)((now - a->seen_ns) / 1000);
		}
	}
}

/* Our connect() from X ended: a connection (served as any other from now
 * on), or refused, unreachable, timed out. */
static void simopen_connected(struct refl_server *s, unsigned index)
{
	struct armed *a = &s->armed[index];
	uint64_t now = now_ns();
	socklen_t len = sizeof(int);
	int err = 0;

	if (index >= ARMED_MAX || !a->used || a->done || a->out_fd < 0)
		return;
	if (getsockopt(a->out_fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	/* What capture holds of the answer is read first: it came before. */
	refl_probes_read(s->probes, on_captured, s);
	if (a->done)
		return;
	if (!err) {
		/* Simultaneous open only when our SYN reached the other end: a
		 * connection made by its SYN sent again, after the NAT dropped
		 * ours, is an ordinary one. */
		if (a->synack_seen || a->t.action == REFL_TEST_SYN_HOLD) {
			a->o.outcome = REFL_SEEN_CONNECTED;
			a->o.from = a->target;
		}
		counters_add(&s->counters, a->synack_seen   ? "simopen crossed"
					   : a->resent_seen ? "simopen connected on a resent syn"
							    : "simopen connected unseen");
		a->o.elapsed_us = (uint32_t)((now - a->seen_ns) / 1000);
		adopt_conn(s, a);
	} else if (a->o.outcome == REFL_SEEN_NOTHING && err != ETIMEDOUT) {
		a->o.outcome = err == ECONNREFUSED ? REFL_SEEN_RST : REFL_SEEN_ICMP;
		a->o.elapsed_us = (uint32_t)((now - a->seen_ns) / 1000);
	}
	armed_finish(s, a, now);
}

/* The connection made by simultaneous open joins the others: STUN is served
 * on it, so the probe can prove data flows both ways. */
static void adopt_conn(struct refl_server *s, struct armed *a)
{
	struct epoll_event ev = {.events = EPOLLIN};
	unsigned slot;

	if (!s->nfree || admit(s, (struct sockaddr *)&a->target, now_ns())) {
		counters_add(&s->counters, "simopen connection not kept");
		return;
	}
	slot = s->free_slots[--s->nfree];
	s->conns[slot] = (struct conn){.fd = a->out_fd,
				       .family = a->family,
				       .role = a->t.from_role,
				       .peer = a->target,
				       .last_ns = now_ns(),
				       .gen = ++s->next_gen};
	ev.data.u64 = (uint64_t)KIND_CONN << 32 | slot;
	s->nconns++;
	if (epoll_ctl(s->epoll, EPOLL_CTL_MOD, a->out_fd, &ev)) {
		a->out_fd = -1;
		drop_conn(s, slot, "tcp epoll failed");
		return;
	}
	a->out_fd = -1; /* the connection's now */
}

static void expire_armed(struct refl_server *s, uint64_t now)
{
	for (unsigned i = 0; i < ARMED_MAX; i++) {
		struct armed *a = &s->armed[i];

		if (!a->used || now < a->deadline_ns)
			continue;
		if (a->done)
			a->used = false; /* its RESULT never came */
		else
			armed_finish(s, a, now);
	}
}

/* The connection whose peer is `peer`, or -1. */
static int conn_of_peer(const struct refl_server *s, const struct sockaddr *peer)
{
	for (unsigned i = 0; i < s->cfg.tcp_max; i++)
		if (s->conns[i].fd >= 0 &&
		    addr_equal((const struct sockaddr *)&s->conns[i].peer, peer))
			return (int)i;
	return -1;
}

/* ICMP-CONN: port unreachable (from the connection's own address) and time
 * exceeded (from the order's role, a router on the way) about a connection
 * of the requester's (the order's own, or the one from the port
 * NATLAB-TARGET-PORT names), to its peer, quoting the peer's next segment
 * (its SYN's sequence number plus what it has sent), each as many times as
 * asked; then the answer on the order's connection. */
static void icmp_conn(struct refl_server *s, int f, int conn, const struct refl_test *t)
{
	int victim = addr_equal((const struct sockaddr *)&s->conns[conn].peer,
				(const struct sockaddr *)&t->target)
			 ? conn
			 : conn_of_peer(s, (const struct sockaddr *)&t->target);
	struct conn *c = &s->conns[victim < 0 ? conn : victim];
	const struct sockaddr *local = (const struct sockaddr *)&s->cfg.bound[f][c->role];
	const struct sockaddr *router = (const struct sockaddr *)&s->cfg.bound[f][t->from_role];
	const struct sockaddr *peer = (const struct sockaddr *)&c->peer;
	const struct sockaddr *adv =
	    (const struct sockaddr *)&s->cfg.handler[f].advertised[t->from_role];
	struct refl_observation o = {0};
	uint8_t quote[REFL_ICMP_QUOTE_LEN], *buf = s->out[0].buf[0];
	uint32_t isn = 0, gen = s->conns[conn].gen;
	unsigned sent = 0;
	size_t len;

	if (victim < 0) {
		counters_add(&s->counters, "icmp conn: no such connection");
		goto answer;
	}
	refl_probes_read(s->probes, on_captured, s); /* its SYN, if not read yet */
	if (!syn_seq(s, peer, &isn))
		counters_add(&s->counters, "icmp conn without its syn");
	refl_icmp_quote((const struct sockaddr_in *)(const void *)peer,
			(const struct sockaddr_in *)(const void *)local, isn + 1 + (uint32_t)c->rx,
			quote);
	for (unsigned i = 0; i < t->copies; i++) {
		sent += !refl_probes_send_icmp(s->probes, local, peer, 3, 3, quote, sizeof(quote));
		sent +=
		    !refl_probes_send_icmp(s->probes, router, peer, 11, 0, quote, sizeof(quote));
	}
	counters_add(&s->counters, sent ? "icmp conn sent" : "icmp send failed");
	if (sent) {
		o.icmp_type = 3;
		o.icmp_code = 3;
	}
	o.peer_ttl = syn_ttl(s, peer);
answer:
	if (refl_test_answer(t, &o, adv, s->cfg.handler[f].software, buf, MSG_CAP, &len) == STUN_OK)
		send_on_conn(s, conn, gen, buf, len);
}

/* PUSH: the answer down the kept connection NATLAB-TARGET-PORT names (the
 * client sees it arrive there only if its NAT still holds the connection),
 * or down the order's own when there is no such connection. */
static void push_conn(struct refl_server *s, int f, int conn, const struct refl_test *t)
{
	int victim = conn_of_peer(s, (const struct sockaddr *)&t->target);
	const struct sockaddr *adv =
	    (const struct sockaddr *)&s->cfg.handler[f].advertised[t->from_role];
	struct refl_observation o = {0};
	uint8_t *buf = s->out[0].buf[0];
	int to = victim >= 0 && s->conns[victim].keep ? victim : conn;
	size_t len;

	counters_add(&s->counters, to == conn ? "push: no kept connection" : "push sent");
	o.peer_ttl = syn_ttl(s, (const struct sockaddr *)&s->conns[to].peer);
	if (refl_test_answer(t, &o, adv, s->cfg.handler[f].software, buf, MSG_CAP, &len) == STUN_OK)
		send_on_conn(s, to, s->conns[to].gen, buf, len);
}

/* Send the test's packet; the answer comes from capture or the deadline. */
static void start_test(struct refl_server *s, int f, enum refl_role arrival,
		       const struct sockaddr *from, int conn, const struct refl_test *t,
		       uint64_t now)
{
	const struct sockaddr *src = (const struct sockaddr *)&s->cfg.bound[f][t->from_role];
	const struct sockaddr *dst = (const struct sockaddr *)&t->target;
	struct pending *p = NULL;
	uint8_t dgram[128];
	size_t len;
	int rc;

	if (t->action >= REFL_TEST_SIMOPEN_ARM) {
		if (conn < 0 || !s->probes)
			counters_add(&s->counters, conn < 0 ? "connection test over udp"
							    : "natlab test without capture");
		else if (t->action == REFL_TEST_SIMOPEN_ARM || t->action == REFL_TEST_ICMP_ARM)
			simopen_arm(s, f, conn, t, now);
		else if (t->action == REFL_TEST_SYN_HOLD)
			syn_hold(s, f, conn, t, now);
		else if (t->action == REFL_TEST_KEEP)
			keep_conn(s, f, conn, t);
		else if (t->action == REFL_TEST_ICMP_CONN)
			icmp_conn(s, f, conn, t);
		else if (t->action == REFL_TEST_PUSH)
			push_conn(s, f, conn, t);
		else
			simopen_result(s, conn, arrival, t);
		return;
	}
	for (unsigned i = 0; i < PENDING_MAX && !p; i++)
		if (!s->pending[i].used)
			p = &s->pending[i];
	if (!p || !s->probes) {
		counters_add(&s->counters, p ? "natlab test without capture" : "natlab tests full");
		return;
	}
	if (t->action == REFL_TEST_SYN) {
		rc = refl_probes_send_syn(s->probes, src, dst, wire_get32(t->token));
		counters_add(&s->counters, "natlab test syn");
	} else {
		rc = refl_test_datagram(t, dgram, sizeof(dgram), &len) == STUN_OK
			 ? (int)sendto(s->udp[f * 4 + (int)t->from_role], dgram, len, 0, dst,
				       addr_len(dst))
			 : -1;
		counters_add(&s->counters, "natlab test udp");
	}
	if (rc < 0) {
		counters_add(&s->counters, "natlab test send failed");
		return;
	}
	*p = (struct pending){.used = true,
			      .t = *t,
			      .family = f,
			      .arrival = arrival,
			      .conn = conn,
			      .sent_ns = now,
			      .deadline_ns = now + (uint64_t)t->wait_ms * 1000000u};
	memcpy(&p->requester, from, addr_len(from));
	if (conn >= 0)
		p->conn_gen = s->conns[conn].gen;
	s->npending++;
}

static void on_captured(void *ctx, const struct refl_captured *c)
{
	struct refl_server *s = ctx;
	uint64_t now = now_ns();

	if (c->proto == IPPROTO_TCP &&
	    (c->tcp_flags & (REFL_TCP_SYN | REFL_TCP_ACK)) == REFL_TCP_SYN) {
		s->syns[s->syn_next % SYN_RING].src = c->src;
		s->syns[s->syn_next % SYN_RING].seq = c->tcp_seq;
		s->syns[s->syn_next++ % SYN_RING].ttl = c->ttl;
	}

	simopen_captured(s, c, now);
	for (unsigned i = 0; i < PENDING_MAX && s->npending; i++) {
		struct pending *p = &s->pending[i];
		const struct sockaddr *src =
		    (const struct sockaddr *)&s->cfg.bound[p->family][p->t.from_role];
		struct refl_observation o = {0};

		if (p->used && refl_capture_match(&p->t, src, c, &o)) {
			o.elapsed_us = (uint32_t)((now - p->sent_ns) / 1000);
			answer_test(s, p, &o);
		}
	}
}

static void expire_tests(struct refl_server *s, uint64_t now)
{
	static const struct refl_observation nothing;

	for (unsigned i = 0; i < PENDING_MAX && s->npending; i++) {
		struct pending *p = &s->pending[i];
		struct refl_observation o = nothing;

		if (p->used && now >= p->deadline_ns) {
			o.elapsed_us = (uint32_t)((now - p->sent_ns) / 1000);
			answer_test(s, p, &o);
		}
	}
}

/* How long epoll may sleep: until the next deadline (a test's, or the
 * publishing of changed counters), at most 250 ms. */
static int sleep_ms(const struct refl_server *s, uint64_t now)
{
	uint64_t next = now + 250000000u;

	if (s->dirty && s->publish_ns < next)
		next = s->publish_ns;

	for (unsigned i = 0; i < PENDING_MAX && s->npending; i++)
		if (s->pending[i].used && s->pending[i].deadline_ns < next)
			next = s->pending[i].deadline_ns;
	for (unsigned i = 0; i < ARMED_MAX; i++)
		if (s->armed[i].used && s->armed[i].deadline_ns < next)
			next = s->armed[i].deadline_ns;
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

/* ---- the loop ---- */

/* ---- workers ---- */

/* A worker's counters, for worker 0 to read: when they changed, at most
 * every PUBLISH_NS (a copy of a few hundred bytes under a lock no one holds
 * long). */
static void publish(struct refl_server *s, uint64_t now, bool now_or_never)
{
	if (!s->crew || !s->id || !s->dirty || (now < s->publish_ns && !now_or_never))
		return;
	pthread_mutex_lock(&s->crew->lock);
	s->published = s->counters;
	pthread_mutex_unlock(&s->crew->lock);
	s->dirty = false;
	s->publish_ns = now + PUBLISH_NS;
}

/* The counters summed, then each worker's answers (with workers). */
static void report(struct refl_server *s, FILE *log)
{
	struct worker_sum w[REFL_WORKERS_MAX];
	struct counters sum;
	unsigned n = worker_sums(s, w);

	total(s, &sum);
	counters_print(&sum, log, "natreflector");
	for (unsigned k = 0; s->crew && k < n; k++)
		fprintf(log, "natreflector worker id=%u packets=%lu answered=%lu\n", k,
			w[k].packets, w[k].answered);
	fflush(log);
}

/* ---- the loop ---- */

/* What an epoll event is for. */
static void dispatch(struct refl_server *s, uint64_t data)
{
	unsigned index = (unsigned)data;

	switch ((enum kind)(data >> 32)) {
	case KIND_LISTEN:
		accept_conns(s, index);
		break;
	case KIND_CONN:
		if (s->conns[index].fd >= 0)
			serve_conn(s, index);
		break;
	case KIND_CAPTURE:
		refl_probes_read(s->probes, on_captured, s);
		break;
	case KIND_SIMOPEN:
		simopen_connected(s, index);
		break;
	case KIND_METRICS:
		metrics_accept(s);
		break;
	case KIND_METRICS_CONN:
		metrics_answer(s, index);
		break;
	}
}

static int loop(struct refl_server *s, FILE *log)
{
	struct epoll_event ev[32];
	uint64_t next_sweep = now_ns() + 1000000000u;

	while (!counters_stop) {
		int n = poll(s->polled, s->npolled, sleep_ms(s, now_ns()));
		uint64_t now;

		if (counters_report && s->id == 0) {
			counters_report = 0;
			report(s, log);
		}
		if (n < 0 && errno != EINTR) {
			perror("natreflector: poll");
			return -1;
		}
		for (unsigned i = 1; n > 0 && i < s->npolled; i++)
			if (s->polled[i].revents)
				serve_udp(s, i - 1);
		if (n > 0 && s->polled[0].revents) {
			int m = epoll_wait(s->epoll, ev, 32, 0);

			for (int i = 0; i < m; i++)
				dispatch(s, ev[i].data.u64);
		}
		now = now_ns();
		s->dirty |= n > 0 && s->id;
		publish(s, now, false);
		expire_tests(s, now);
		expire_armed(s, now);
		if (now >= next_sweep) {
			close_idle(s, now);
			next_sweep = now + 1000000000u;
		}
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct refl_server *s = arg;
	int rc = loop(s, NULL);

	publish(s, now_ns(), true);
	if (rc)
		counters_stop = 1; /* one loop failed: all stop, and say so */
	return rc ? arg : NULL;
}

/* The other workers' threads, with the signals blocked: they go to worker
 * 0's thread, which reports, and all loops see counters_stop. */
static int start_crew(struct crew *c)
{
	sigset_t all, old;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned k = 1; k < c->n && !err; k++) {
		err = pthread_create(&c->thread[k], NULL, worker_main, c->w[k]);
		if (!err)
			c->started = k;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		fprintf(stderr, "natreflector: cannot start worker %u: %s\n", c->started + 1,
			strerror(err));
	return err ? -1 : 0;
}

/* Stops and joins the workers; -1 when one of their loops had failed. */
static int stop_crew(struct crew *c)
{
	int rc = 0;

	counters_stop = 1;
	for (unsigned k = 1; k <= c->started; k++) {
		void *failed = NULL;

		pthread_join(c->thread[k], &failed);
		rc |= failed ? -1 : 0;
	}
	c->started = 0;
	return rc;
}

int refl_server_run(refl_server_t *s, FILE *log)
{
	int rc = s->crew ? start_crew(s->crew) : 0;

	log_line(log, "natreflector", "ready",
		 "families=%d tcp=%s natlab_tests=%s rate=%u burst=%u limiter_bytes=%zu "
		 "tcp_max=%u tcp_per_source=%u tcp_idle_s=%u workers=%u",
		 s->cfg.nfamilies, s->cfg.tcp ? "on" : "off", s->probes ? "on" : "off", s->cfg.rate,
		 s->cfg.burst, refl_limiter_bytes(s->limiter), s->cfg.tcp_max,
		 s->cfg.tcp_per_source, s->cfg.tcp_idle_s, s->crew ? s->crew->n : 1);
	if (rc == 0)
		rc = loop(s, log);
	if (s->crew)
		rc |= stop_crew(s->crew);
	log_line(log, "natreflector", "stopping", "tcp_open=%u", s->nconns);
	report(s, log);
	return rc;
}

static void close_one(struct refl_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < ENDPOINTS; i++) {
		if (s->udp[i] >= 0)
			close(s->udp[i]);
		if (s->listener[i] >= 0)
			close(s->listener[i]);
	}
	for (unsigned i = 0; s->conns && i < s->cfg.tcp_max; i++)
		if (s->conns[i].fd >= 0)
			close(s->conns[i].fd);
	for (unsigned i = 0; i < ARMED_MAX; i++)
		if (s->armed[i].used) {
			close_fd(&s->armed[i].listen_fd);
			close_fd(&s->armed[i].filler_fd);
			close_fd(&s->armed[i].out_fd);
		}
	close_fd(&s->metrics_fd);
	for (int i = 0; i < METRICS_CONNS; i++)
		close_fd(&s->metrics_conn[i]);
	if (s->epoll >= 0)
		close(s->epoll);
	if (s->id == 0)
		refl_limiter_free(s->limiter); /* the others share it */
	refl_probes_close(s->probes);
	rdv_free(s->rdv);
	free(s->conns);
	free(s->free_slots);
	free(s);
}

void refl_server_close(refl_server_t *s)
{
	struct crew *c;

	if (!s)
		return;
	c = s->crew; /* its threads, if any ran, were joined by refl_server_run */
	if (c) {
		for (unsigned k = 1; k < c->n; k++)
			close_one(c->w[k]);
		pthread_mutex_destroy(&c->lock);
		free(c);
	}
	close_one(s);
}
