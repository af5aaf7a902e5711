/*
 * natprobe's portmap test (portmap.h): the three protocols' clients
 * (pmclient.h), each in a thread of its own with its own UDP socket, so that
 * a gateway that speaks none costs the slowest one's bound, not the sum.
 *
 * Each protocol: the external address; then, when mappings are asked for,
 * one UDP mapping of its socket's port (the same external port requested),
 * the reflector's reach test through it, and its deletion. Every mapping is
 * deleted before the thread ends, on every path; a SIGINT or SIGTERM meanwhile
 * cuts the test short but not the deletions (portmap_run re-raises it
 * after), and the lifetime asked for (PORTMAP_LIFETIME_S) bounds what a
 * SIGKILL can leave.
 *
 * The reach test (RFC 5780 section 7.4, RESPONSE-PORT): a Binding request
 * from another socket, asking the reflector to answer from its alternate
 * address and port to the external port granted. Only the mapping can bring
 * that answer to the mapped socket: nothing of ours ever sent to the
 * alternate endpoint, and the answer's port is not the requesting socket's.
 * Silence is "not reached" only when the reflector answered the same socket
 * otherwise (the control); without the control, not known.
 */
#include "probe/portmapcmd.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/stun.h"

#define REACH_TRIES   4
#define REACH_WAIT_MS 250

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct job {
	const struct portmap_ctx *c;
	enum portmap_proto proto;
	struct portmap_proto_result *r;
	int sock; /* the socket whose port is mapped */
	uint16_t port;
};

/* ---- the reach test ---- */

static size_t reach_request(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
			    uint16_t response_port)
{
	struct stun_builder b;
	uint8_t port[4] = {(uint8_t)(response_port >> 8), (uint8_t)response_port, 0, 0};
	size_t len = 0;

	stun_build_start(&b, buf, cap, stun_type(STUN_BINDING, STUN_REQUEST), STUN_MAGIC_COOKIE,
			 tid);
	if (response_port) {
		stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, 0x6); /* change IP and port */
		stun_build_attr(&b, STUN_ATTR_RESPONSE_PORT, port, sizeof(port));
	}
	stun_build_fingerprint(&b);
	return stun_build_end(&b, &len) == STUN_OK ? len : 0;
}

/* The answer with tid on s: 1 a success (mapped filled), 2 an error, 0 none. */
static int read_answer(int s, const uint8_t tid[STUN_TID_LEN], struct sockaddr_storage *mapped)
{
	uint8_t buf[1500];
	struct stun_msg m;
	ssize_t n;

	while ((n = recv(s, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (stun_parse(&m, buf, (size_t)n, 0) != STUN_OK ||
		    memcmp(m.tid, tid, STUN_TID_LEN))
			continue;
		if (m.cls == STUN_ERROR)
			return 2;
		if (m.cls == STUN_SUCCESS &&
		    (stun_get_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, mapped) == STUN_OK ||
		     stun_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, mapped) == STUN_OK))
			return 1;
	}
	return 0;
}

/* Ask from q (response_port 0: a plain Binding, the control); wait on
 * socks[0..n). Returns the index of the socket the answer came on, or -1;
 * *error when it was an error response. */
static int exchange(const struct portmap_ctx *c, int q, uint16_t response_port, const int *socks,
		    int n, struct sockaddr_storage *mapped, bool *error)
{
	uint8_t tid[STUN_TID_LEN], buf[128];
	size_t len;

	*error = false;
	if (getrandom(tid, sizeof(tid), 0) != sizeof(tid))
		return -1;
	len = reach_request(buf, sizeof(buf), tid, response_port);
	for (int i = 0; len && i < REACH_TRIES && !stop_signal; i++) {
		struct pollfd p[2] = {{socks[0], POLLIN, 0}, {n > 1 ? socks[1] : -1, POLLIN, 0}};
		uint64_t until = clock_now_us() + REACH_WAIT_MS * 1000u;

		sendto(q, buf, len, 0, (const struct sockaddr *)&c->server,
		       addr_len((const struct sockaddr *)&c->server));
		while (clock_now_us() < until) {
			int ms = (int)((until - clock_now_us()) / 1000) + 1;

			if (poll(p, 2, ms) <= 0)
				break;
			for (int k = 0; k < n; k++) {
				int got = read_answer(socks[k], tid, mapped);

				if (got) {
					*error = got == 2;
					return k;
				}
			}
		}
	}
	return -1;
}

static void reach(const struct job *j)
{
	struct portmap_proto_result *r = j->r;
	struct portmap_mapping *m = &r->udp;
	struct sockaddr_storage mapped;
	uint16_t qport;
	int q = portmap_udp_socket(j->c, &qport), socks[2], got;
	bool error;

	m->reached = -1;
	if (q < 0) {
		portmap_note(r, "reach test: cannot open a UDP socket: %s", strerror(errno));
		return;
	}
	socks[0] = j->sock;
	socks[1] = q;
	got = exchange(j->c, q, m->external_port, socks, 2, &mapped, &error);
	if (got == 0) {
		m->reached = 1;
		m->reach_target = mapped;
		addr_set_port((struct sockaddr *)&m->reach_target, m->external_port);
	} else if (got == 1) {
		/* An error, or a plain answer to the asking socket: RESPONSE-PORT
		 * refused or ignored, so silence on the mapping would prove nothing. */
		portmap_note(
		    r, error ? "reach test: the reflector refused RESPONSE-PORT (RFC 5780)"
			     : "reach test: the reflector answered the asking socket, not the "
			       "port asked (no RESPONSE-PORT)");
	} else if (exchange(j->c, q, 0, &q, 1, &mapped, &error) == 0 && !error) {
		/* The reflector answers this socket: the silence was the mapping's. */
		m->reached = 0;
		m->reach_target = mapped;
		addr_set_port((struct sockaddr *)&m->reach_target, m->external_port);
	} else {
		portmap_note(r, "reach test: the reflector did not answer");
	}
	close(q);
}

/* ---- one protocol ---- */

static void *protocol_thread(void *arg)
{
	const struct job *j = arg;
	uint64_t t0 = clock_now_us();
	portmap_client_t *pc = portmap_client_open(j->c, j->proto, !j->c->mapping, j->r);

	if (pc && j->c->mapping && !stop_signal && !portmap_client_map(pc, false, j->port, j->r)) {
		if (!stop_signal)
			reach(j);
		portmap_client_unmap(pc, j->r);
	}
	/* PCP's client is open before it has answered: its UDP MAP says. */
	if (pc && j->c->mapping && !stop_signal && j->r->answered)
		portmap_tcp_trial(j->c, pc, j->r);
	portmap_client_close(pc);
	j->r->ms = (unsigned)((clock_now_us() - t0) / 1000);
	return NULL;
}

/* ---- the test ---- */

int portmap_default_gateway(struct in_addr *gw)
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[256];
	int rc = -1;

	gw->s_addr = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char ifname[32];
		unsigned long dest, gateway, flags;

		if (sscanf(line, "%31s %lx %lx %lx", ifname, &dest, &gateway, &flags) == 4 &&
		    dest == 0 && (flags & 0x2) && gateway) { /* RTF_GATEWAY */
			gw->s_addr = (in_addr_t)gateway;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

void portmap_run(const struct portmap_ctx *ctx, struct portmap_report *rep)
{
	struct portmap_ctx c = *ctx;
	struct job jobs[PORTMAP_NPROTO];
	pthread_t th[PORTMAP_NPROTO];
	bool started[PORTMAP_NPROTO] = {false};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;

	memset(rep, 0, sizeof(*rep));
	rep->ran = true;
	rep->mapping = c.mapping;
	stop_signal = 0;
	c.stop = &stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (int p = 0; p < PORTMAP_NPROTO; p++) {
		jobs[p] = (struct job){&c, (enum portmap_proto)p, &rep->proto[p], -1, 0};
		portmap_result_init(&rep->proto[p]);
		rep->proto[p].asked = true;
		jobs[p].sock = portmap_udp_socket(&c, &jobs[p].port);
		if (jobs[p].sock < 0) {
			portmap_note(&rep->proto[p], "cannot open a UDP socket: %s",
				     strerror(errno));
			continue;
		}
		if (p == PORTMAP_NATPMP && c.before_icmp)
			c.before_icmp(c.arg);
		started[p] = !pthread_create(&th[p], NULL, protocol_thread, &jobs[p]);
		if (!started[p])
			portmap_note(&rep->proto[p], "cannot start a thread");
	}
	for (int p = 0; p < PORTMAP_NPROTO; p++) {
		if (started[p])
			pthread_join(th[p], NULL);
		if (jobs[p].sock >= 0)
			close(jobs[p].sock);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (stop_signal)
		raise(stop_signal);
}
