/*
 * The port-mapping protocols' clients (portmap.h): UPnP IGD through
 * libminiupnpc, NAT-PMP through libnatpmp, PCP through lib/pcp.h, each in a
 * thread of its own with its own UDP socket, so that a gateway that speaks
 * none costs the slowest one's bound (about 2 s), not the sum.
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

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#define ENABLE_STRNATPMPERR /* natpmp.h declares strnatpmperr only then */
#include <natpmp.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/pcp.h"
#include "lib/stun.h"

#define PORTMAP_LIFETIME_S 120u
#define PROTO_BOUND_MS     2000 /* NAT-PMP and PCP: 250 + 500 + 1000 ms of retries */
#define UPNP_DISCOVER_MS   1000
#define REACH_TRIES        4
#define REACH_WAIT_MS      250

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct job {
	const struct portmap_ctx *c;
	struct portmap_proto_result *r;
	int sock; /* the socket whose port is mapped */
	uint16_t port;
	void *(*fn)(void *);
};

static void fail(struct portmap_proto_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(struct portmap_proto_result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->error[0])
		return; /* the first failure is the one to tell */
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static uint64_t elapsed_ms(uint64_t t0)
{
	return (clock_now_us() - t0) / 1000;
}

/* A UDP socket on this host's address toward the reflector; its port. */
static int udp_socket(const struct portmap_ctx *c, uint16_t *port)
{
	struct sockaddr_storage a = c->local;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	addr_set_port((struct sockaddr *)&a, 0);
	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&a, addr_len((struct sockaddr *)&a)) ||
	    getsockname(s, (struct sockaddr *)&a, &len)) {
		close(s);
		return -1;
	}
	*port = addr_port((struct sockaddr *)&a);
	return s;
}

static bool external_from_text(const char *ip, struct portmap_proto_result *r)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&r->external;

	memset(&r->external, 0, sizeof(r->external));
	if (!ip[0] || inet_pton(AF_INET, ip, &in->sin_addr) != 1 || !in->sin_addr.s_addr) {
		r->no_public = true;
		return false;
	}
	in->sin_family = AF_INET;
	r->has_external = true;
	return true;
}

static void external_from_in(struct in_addr a, struct portmap_proto_result *r)
{
	char ip[INET_ADDRSTRLEN] = "";

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	external_from_text(a.s_addr ? ip : "", r);
}

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
	struct sockaddr_storage mapped;
	uint16_t qport;
	int q = udp_socket(j->c, &qport), socks[2], got;
	bool error;

	r->reached = -1;
	if (q < 0) {
		fail(r, "reach test: cannot open a UDP socket: %s", strerror(errno));
		return;
	}
	socks[0] = j->sock;
	socks[1] = q;
	got = exchange(j->c, q, r->external_port, socks, 2, &mapped, &error);
	if (got == 0) {
		r->reached = 1;
		r->reach_target = mapped;
		addr_set_port((struct sockaddr *)&r->reach_target, r->external_port);
	} else if (got == 1 && error) {
		fail(r, "reach test: the reflector refused RESPONSE-PORT (RFC 5780)");
	} else if (exchange(j->c, q, 0, &q, 1, &mapped, &error) == 0 && !error) {
		/* The reflector answers this socket: the silence was the mapping's. */
		r->reached = 0;
		r->reach_target = mapped;
		addr_set_port((struct sockaddr *)&r->reach_target, r->external_port);
	} else {
		fail(r, "reach test: the reflector did not answer");
	}
	close(q);
}

/* ---- UPnP IGD ---- */

static void upnp_map(const struct job *j, struct UPNPUrls *u, struct IGDdatas *d, const char *lan)
{
	struct portmap_proto_result *r = j->r;
	char port[8], lease[12], in_client[16], in_port[8], en[4], desc[80], dur[16];
	int rc;

	snprintf(port, sizeof(port), "%u", j->port);
	snprintf(lease, sizeof(lease), "%u", PORTMAP_LIFETIME_S);
	r->map_asked = true;
	r->internal_port = j->port;
	rc = UPNP_AddPortMapping(u->controlURL, d->first.servicetype, port, port, lan, "natprobe",
				 "UDP", NULL, lease);
	if (rc) {
		fail(r, "AddPortMapping: %d %s", rc, strupnperror(rc));
		return;
	}
	r->granted = true;
	r->external_port = j->port;
	r->lifetime_s = PORTMAP_LIFETIME_S;
	if (!stop_signal)
		reach(j);
	rc = UPNP_DeletePortMapping(u->controlURL, d->first.servicetype, port, "UDP", NULL);
	if (rc) {
		r->deleted = 0;
		fail(r, "DeletePortMapping: %d %s", rc, strupnperror(rc));
		return;
	}
	/* Deleted only when the gateway no longer lists it. */
	rc = UPNP_GetSpecificPortMappingEntry(u->controlURL, d->first.servicetype, port, "UDP",
					      NULL, in_client, in_port, desc, en, dur);
	r->deleted = rc != UPNPCOMMAND_SUCCESS;
	if (!r->deleted)
		fail(r, "DeletePortMapping succeeded, yet the gateway still lists port %s", port);
}

static void *upnp_thread(void *arg)
{
	const struct job *j = arg;
	struct portmap_proto_result *r = j->r;
	struct UPNPDev *devs;
	struct UPNPUrls u;
	struct IGDdatas d;
	char lan[64], ext[40] = "";
	int err = 0, rc;

	/* One search, for IGD version 1, which an IGD of any version answers
	 * (UPnP Device Architecture 1.0, 1.3.2): upnpDiscover would wait once
	 * per device type it knows, four times as long with nothing there. */
	devs = upnpDiscoverDevice("urn:schemas-upnp-org:device:InternetGatewayDevice:1",
				  UPNP_DISCOVER_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &err);
	if (!devs) {
		fail(r, "no UPnP device answered discovery (SSDP) in %d ms", UPNP_DISCOVER_MS);
		return NULL;
	}
	rc = UPNP_GetValidIGD(devs, &u, &d, lan, sizeof(lan));
	freeUPNPDevlist(devs);
	if (rc != 1 && rc != 2) {
		fail(r, "UPnP devices answered, but none is an Internet Gateway Device");
		if (rc)
			FreeUPNPUrls(&u);
		return NULL;
	}
	r->answered = true;
	snprintf(r->server, sizeof(r->server), "%s", u.controlURL ? u.controlURL : "");
	rc = UPNP_GetExternalIPAddress(u.controlURL, d.first.servicetype, ext);
	if (rc)
		fail(r, "GetExternalIPAddress: %d %s", rc, strupnperror(rc));
	else if (!external_from_text(ext, r))
		fail(r, "GetExternalIPAddress: '%s', no public address", ext);
	if (j->c->mapping && !stop_signal)
		upnp_map(j, &u, &d, lan);
	FreeUPNPUrls(&u);
	return NULL;
}

/* ---- NAT-PMP ---- */

/* One answer, within PROTO_BOUND_MS of t0; libnatpmp retries on its own. */
static int natpmp_wait(natpmp_t *n, natpmpresp_t *resp, uint64_t t0)
{
	int rc = NATPMP_TRYAGAIN;

	while (rc == NATPMP_TRYAGAIN && elapsed_ms(t0) < PROTO_BOUND_MS && !stop_signal) {
		struct timeval tv;
		struct pollfd p = {n->s, POLLIN, 0};
		int ms = 100;

		if (getnatpmprequesttimeout(n, &tv) == 0)
			ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
		if (ms > 100)
			ms = 100;
		poll(&p, 1, ms);
		rc = readnatpmpresponseorretry(n, resp);
	}
	return rc;
}

static void natpmp_map(const struct job *j, natpmp_t *n)
{
	struct portmap_proto_result *r = j->r;
	natpmpresp_t resp;
	int rc;

	r->map_asked = true;
	r->internal_port = j->port;
	sendnewportmappingrequest(n, NATPMP_PROTOCOL_UDP, j->port, j->port, PORTMAP_LIFETIME_S);
	rc = natpmp_wait(n, &resp, clock_now_us());
	if (rc) {
		fail(r, "mapping request: %s",
		     rc == NATPMP_TRYAGAIN ? "no answer" : strnatpmperr(rc));
		return;
	}
	r->granted = resp.pnu.newportmapping.lifetime > 0;
	r->external_port = resp.pnu.newportmapping.mappedpublicport;
	r->lifetime_s = resp.pnu.newportmapping.lifetime;
	if (!r->granted)
		return;
	if (!stop_signal)
		reach(j);
	/* RFC 6886 section 3.4: lifetime 0 and external port 0 delete it. */
	sendnewportmappingrequest(n, NATPMP_PROTOCOL_UDP, j->port, 0, 0);
	rc = natpmp_wait(n, &resp, clock_now_us());
	r->deleted = rc == 0 && resp.pnu.newportmapping.lifetime == 0;
	if (!r->deleted)
		fail(r, "deletion: %s", rc == NATPMP_TRYAGAIN ? "no answer" : strnatpmperr(rc));
}

static void *natpmp_thread(void *arg)
{
	const struct job *j = arg;
	struct portmap_proto_result *r = j->r;
	natpmp_t n;
	natpmpresp_t resp;
	int rc;

	rc = initnatpmp(&n, j->c->gateway.s_addr != 0, j->c->gateway.s_addr);
	if (rc < 0) {
		fail(r, "cannot start: %s", strnatpmperr(rc));
		return NULL;
	}
	inet_ntop(AF_INET, &n.gateway, r->server, sizeof(r->server));
	sendpublicaddressrequest(&n);
	rc = natpmp_wait(&n, &resp, clock_now_us());
	if (rc == NATPMP_TRYAGAIN) {
		fail(r, "no answer from %s port 5351 in %d ms", r->server, PROTO_BOUND_MS);
	} else if (rc < 0 && rc > NATPMP_ERR_UNSUPPORTEDVERSION) {
		fail(r, "%s", strnatpmperr(rc)); /* ours, not the gateway's */
	} else {
		r->answered = true;
		if (rc == NATPMP_ERR_NETWORKFAILURE) {
			r->no_public = true; /* RFC 6886 3.5: no public address yet */
			fail(r, "public address: network failure (the gateway has none)");
		} else if (rc) {
			fail(r, "public address: %s", strnatpmperr(rc));
		} else {
			external_from_in(resp.pnu.publicaddress.addr, r);
		}
		if (j->c->mapping && !stop_signal)
			natpmp_map(j, &n);
	}
	closenatpmp(&n);
	return NULL;
}

/* ---- PCP ---- */

/* Send req on s until an answer that matches it, within PROTO_BOUND_MS. */
static enum pcp_err pcp_ask(int s, const struct pcp_map_request *req, struct pcp_response *resp,
			    uint8_t *rbuf, size_t rcap, bool *answered, bool *refused)
{
	uint8_t buf[PCP_MAX_LEN];
	size_t len = 0;
	enum pcp_err err = pcp_build_map(req, buf, sizeof(buf), &len);
	uint64_t t0 = clock_now_us();
	int wait_ms = 250;

	*answered = *refused = false;
	if (err != PCP_OK)
		return err;
	while (elapsed_ms(t0) < PROTO_BOUND_MS && !stop_signal) {
		uint64_t until = clock_now_us() + (uint64_t)wait_ms * 1000u,
			 bound = t0 + PROTO_BOUND_MS * 1000u;

		if (until > bound)
			until = bound;
		send(s, buf, len, 0);
		while (clock_now_us() < until) {
			struct pollfd p = {s, POLLIN, 0};
			ssize_t n;

			if (poll(&p, 1, (int)((until - clock_now_us()) / 1000) + 1) <= 0)
				break;
			n = recv(s, rbuf, rcap, MSG_DONTWAIT);
			if (n < 0 && errno == ECONNREFUSED) {
				*refused = true; /* ICMP port unreachable: no server there */
				return PCP_ERR_NOT_FOUND;
			}
			if (n <= 0)
				continue;
			*answered = true;
			err = pcp_parse_response(resp, rbuf, (size_t)n);
			if (err != PCP_OK)
				return err;
			/* A header-only error answers whatever was asked. */
			if (pcp_map_match(resp, req) == PCP_OK ||
			    (!resp->has_payload && resp->result != PCP_SUCCESS))
				return PCP_OK;
		}
		wait_ms *= 2;
	}
	return PCP_ERR_NOT_FOUND; /* no answer that matched */
}

static void pcp_result(const struct job *j, const struct pcp_response *resp,
		       const struct pcp_map_request *req)
{
	struct portmap_proto_result *r = j->r;
	struct sockaddr_storage ext;

	if (resp->result == PCP_NETWORK_FAILURE) {
		r->no_public = true;
		fail(r, "MAP: network-failure (the gateway has no public address)");
		return;
	}
	if (resp->result != PCP_SUCCESS) {
		const char *name = pcp_result_name(resp->result);

		fail(r, "MAP: %s", name ? name : "an unknown result code");
		return;
	}
	if (pcp_external(resp, &ext) == PCP_OK) {
		char ip[INET_ADDRSTRLEN] = "";

		addr_format_ip((struct sockaddr *)&ext, ip, sizeof(ip));
		external_from_text(ip, r);
		r->external_port = addr_port((struct sockaddr *)&ext);
	}
	if (req->lifetime) {
		r->granted = resp->lifetime > 0;
		r->lifetime_s = resp->lifetime;
	}
}

/* The MAP request, the reach test and the deletion, on control socket cs. */
static void pcp_session(const struct job *j, int cs, const struct pcp_map_request *nonce)
{
	struct portmap_proto_result *r = j->r;
	struct pcp_map_request req = *nonce;
	struct pcp_response resp;
	uint8_t rbuf[PCP_MAX_LEN];
	enum pcp_err err;
	bool answered, refused;
	const char *name;

	/* RFC 6887 11.1: a MAP is the way to learn the external address too;
	 * without mappings asked for, a short one deleted at once. */
	req.client = j->c->local;
	req.protocol = 17;
	req.internal_port = j->port;
	req.suggested_port = j->port;
	req.lifetime = j->c->mapping ? PORTMAP_LIFETIME_S : 1;
	r->map_asked = j->c->mapping;
	r->internal_port = j->port;
	err = pcp_ask(cs, &req, &resp, rbuf, sizeof(rbuf), &answered, &refused);
	if (!answered) {
		if (refused)
			fail(r, "no PCP server at %s (port %d unreachable)", r->server,
			     PCP_SERVER_PORT);
		else
			fail(r, "no answer from %s port %d in %d ms", r->server, PCP_SERVER_PORT,
			     PROTO_BOUND_MS);
		return;
	}
	r->answered = true;
	if (err != PCP_OK) {
		fail(r, "%s",
		     err == PCP_ERR_VERSION && resp.version == PCP_NATPMP_VERSION
			 ? "the gateway speaks NAT-PMP, not PCP"
			 : pcp_strerror(err));
		return;
	}
	pcp_result(j, &resp, &req);
	if (resp.result != PCP_SUCCESS)
		return;
	if (r->granted && !stop_signal)
		reach(j);
	req.lifetime = 0; /* RFC 6887 15: the same nonce, lifetime 0 deletes */
	err = pcp_ask(cs, &req, &resp, rbuf, sizeof(rbuf), &answered, &refused);
	r->deleted = err == PCP_OK && resp.result == PCP_SUCCESS && resp.lifetime == 0;
	name = pcp_result_name(resp.result);
	if (!r->deleted)
		fail(r, "deletion: %s",
		     !answered       ? "no answer"
		     : err != PCP_OK ? pcp_strerror(err)
		     : name          ? name
				     : "an unknown result code");
	if (!j->c->mapping) {
		r->granted = false;
		r->deleted = -1;
	}
}

static void *pcp_thread(void *arg)
{
	const struct job *j = arg;
	struct portmap_proto_result *r = j->r;
	struct pcp_map_request req = {0};
	struct sockaddr_in gw = {.sin_family = AF_INET, .sin_port = htons(PCP_SERVER_PORT)};
	uint16_t cport;
	int cs;

	gw.sin_addr = j->c->gateway;
	if (!gw.sin_addr.s_addr) {
		fail(r, "no IPv4 default gateway to ask");
		return NULL;
	}
	inet_ntop(AF_INET, &gw.sin_addr, r->server, sizeof(r->server));
	/* The requests go from a connected socket of their own (so a port
	 * unreachable ends the wait), the mapping names the mapped socket's port
	 * (RFC 6887 11.1: the internal port is the payload's, not the source's). */
	cs = udp_socket(j->c, &cport);
	if (cs < 0 || connect(cs, (struct sockaddr *)&gw, sizeof(gw)) ||
	    getrandom(req.nonce, sizeof(req.nonce), 0) != sizeof(req.nonce)) {
		fail(r, "cannot reach %s: %s", r->server, strerror(errno));
		if (cs >= 0)
			close(cs);
		return NULL;
	}
	pcp_session(j, cs, &req);
	close(cs);
	return NULL;
}

/* ---- the test ---- */

static void *timed(void *arg)
{
	const struct job *j = arg;
	uint64_t t0 = clock_now_us();

	j->fn(arg);
	j->r->ms = (unsigned)elapsed_ms(t0);
	return NULL;
}

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

void portmap_run(const struct portmap_ctx *c, struct portmap_report *rep)
{
	static void *(*const run[PORTMAP_NPROTO])(void *) = {upnp_thread, natpmp_thread,
							     pcp_thread};
	struct job jobs[PORTMAP_NPROTO];
	pthread_t th[PORTMAP_NPROTO];
	bool started[PORTMAP_NPROTO] = {false};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;

	memset(rep, 0, sizeof(*rep));
	rep->ran = true;
	rep->mapping = c->mapping;
	stop_signal = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (int p = 0; p < PORTMAP_NPROTO; p++) {
		jobs[p] = (struct job){c, &rep->proto[p], -1, 0, run[p]};
		rep->proto[p].asked = true;
		rep->proto[p].reached = -1;
		rep->proto[p].deleted = -1;
		jobs[p].sock = udp_socket(c, &jobs[p].port);
		if (jobs[p].sock < 0) {
			fail(&rep->proto[p], "cannot open a UDP socket: %s", strerror(errno));
			continue;
		}
		if (p == PORTMAP_NATPMP && c->before_icmp)
			c->before_icmp(c->arg);
		started[p] = !pthread_create(&th[p], NULL, timed, &jobs[p]);
		if (!started[p])
			fail(&rep->proto[p], "cannot start a thread");
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
