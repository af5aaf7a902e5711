/*
 * The port-mapping protocols' clients. See pmclient.h.
 *
 * UPnP IGD: one SSDP search for IGD version 1, which an IGD of any version
 * answers (UPnP Device Architecture 1.0, 1.3.2); upnpDiscover would wait
 * once per device type it knows, four times as long with nothing there.
 * Then the device's description and SOAP: GetExternalIPAddress,
 * AddPortMapping, DeletePortMapping, and GetSpecificPortMappingEntry to see
 * a deletion done.
 *
 * NAT-PMP: libnatpmp at the default gateway, its retransmissions (250 ms,
 * doubling) bounded to 1 s: a gateway is the first hop, and a probe that
 * waits longer for one that says nothing only costs its users. Result 3, network failure, is RFC
 * 6886's "the NAT box has not obtained a public address": what miniupnpd says behind a CGN.
 *
 * PCP: lib/pcp.c's MAP (RFC 6887 section 11) from a connected socket of its
 * own, so that an ICMP port unreachable ends the wait at once; the mapping
 * names the mapped socket's port (the internal port is the payload's, not
 * the request's source). Sent at 0, 250 and 750 ms within 1 s (the RFC's
 * 3 s initial timeout is for daemons, not for a probe). Deletion: the same
 * nonce with lifetime 0 (section 15).
 */
#include "probe/pmclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
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

#define PROTO_BOUND_MS   1000
#define UPNP_DISCOVER_MS 1000

struct portmap_client {
	enum portmap_proto proto;
	const struct portmap_ctx *c;
	uint16_t port; /* the mapping made; 0 none */
	bool tcp;      /* its transport */
	bool deleting; /* a stop does not cut a deletion's waits */
	/* UPnP */
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lan[64];
	/* NAT-PMP */
	natpmp_t natpmp;
	/* PCP */
	int cs;
	struct pcp_map_request req;
};

void portmap_note(struct portmap_proto_result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static bool stopped(const portmap_client_t *pc)
{
	return !pc->deleting && pc->c->stop && *pc->c->stop;
}

static uint64_t elapsed_ms(uint64_t t0)
{
	return (clock_now_us() - t0) / 1000;
}

int portmap_udp_socket(const struct portmap_ctx *c, uint16_t *port)
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

/* The reported external address: none when empty or unspecified (0.0.0.0:
 * what a gateway without a public one says). */
static bool external_from_text(const char *ip, struct portmap_proto_result *r)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&r->external;

	memset(&r->external, 0, sizeof(r->external));
	r->has_external = false;
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

/* The mapping being made or deleted: r's UDP or TCP one. */
static struct portmap_mapping *mapping_of(const portmap_client_t *pc,
					  struct portmap_proto_result *r)
{
	return pc->tcp ? &r->tcp : &r->udp;
}

static void granted(struct portmap_mapping *m, uint16_t external, uint32_t lifetime)
{
	m->granted = lifetime > 0;
	m->external_port = external;
	m->lifetime_s = lifetime;
}

/* ---- UPnP IGD ---- */

static bool upnp_open(portmap_client_t *pc, struct portmap_proto_result *r)
{
	struct UPNPDev *devs;
	char ext[40] = "";
	int err = 0, rc;

	devs = upnpDiscoverDevice("urn:schemas-upnp-org:device:InternetGatewayDevice:1",
				  UPNP_DISCOVER_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &err);
	if (!devs) {
		portmap_note(r, "no UPnP device answered discovery (SSDP) in %d ms",
			     UPNP_DISCOVER_MS);
		return false;
	}
	rc = UPNP_GetValidIGD(devs, &pc->urls, &pc->data, pc->lan, sizeof(pc->lan));
	freeUPNPDevlist(devs);
	if (rc != 1 && rc != 2) { /* 2: "not connected", which a private address also gives */
		portmap_note(r, "UPnP devices answered, but none is an Internet Gateway Device");
		if (rc)
			FreeUPNPUrls(&pc->urls);
		return false;
	}
	r->answered = true;
	snprintf(r->server, sizeof(r->server), "%s", pc->urls.controlURL);
	rc = UPNP_GetExternalIPAddress(pc->urls.controlURL, pc->data.first.servicetype, ext);
	if (rc)
		portmap_note(r, "GetExternalIPAddress: %d %s", rc, strupnperror(rc));
	else if (!external_from_text(ext, r))
		portmap_note(r, "GetExternalIPAddress: '%s', no public address", ext);
	return true;
}

static int upnp_map(portmap_client_t *pc, uint16_t port, struct portmap_proto_result *r)
{
	char p[8], lease[12];
	int rc;

	snprintf(p, sizeof(p), "%u", port);
	snprintf(lease, sizeof(lease), "%u", PORTMAP_LIFETIME_S);
	rc = UPNP_AddPortMapping(pc->urls.controlURL, pc->data.first.servicetype, p, p, pc->lan,
				 "natprobe", pc->tcp ? "TCP" : "UDP", NULL, lease);
	if (rc) {
		portmap_note(r, "AddPortMapping (%s): %d %s", pc->tcp ? "TCP" : "UDP", rc,
			     strupnperror(rc));
		return -1;
	}
	granted(mapping_of(pc, r), port, PORTMAP_LIFETIME_S);
	return 0;
}

static int upnp_unmap(portmap_client_t *pc, struct portmap_proto_result *r)
{
	char p[8], in_client[16], in_port[8], en[4], desc[80], dur[16];
	int rc;

	snprintf(p, sizeof(p), "%u", pc->port);
	rc = UPNP_DeletePortMapping(pc->urls.controlURL, pc->data.first.servicetype, p,
				    pc->tcp ? "TCP" : "UDP", NULL);
	if (rc) {
		portmap_note(r, "DeletePortMapping: %d %s", rc, strupnperror(rc));
		return -1;
	}
	/* Deleted only when the gateway no longer lists it. */
	rc = UPNP_GetSpecificPortMappingEntry(pc->urls.controlURL, pc->data.first.servicetype, p,
					      pc->tcp ? "TCP" : "UDP", NULL, in_client, in_port,
					      desc, en, dur);
	if (rc == UPNPCOMMAND_SUCCESS) {
		portmap_note(r, "DeletePortMapping succeeded, yet the gateway still lists port %s",
			     p);
		return -1;
	}
	return 0;
}

/* ---- NAT-PMP ---- */

/* One answer, within PROTO_BOUND_MS; libnatpmp retries on its own. */
static int natpmp_wait(portmap_client_t *pc, natpmpresp_t *resp)
{
	uint64_t t0 = clock_now_us();
	int rc = NATPMP_TRYAGAIN;

	while (rc == NATPMP_TRYAGAIN && elapsed_ms(t0) < PROTO_BOUND_MS && !stopped(pc)) {
		struct timeval tv;
		struct pollfd p = {pc->natpmp.s, POLLIN, 0};
		int ms = 100;

		if (getnatpmprequesttimeout(&pc->natpmp, &tv) == 0)
			ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
		poll(&p, 1, ms > 100 ? 100 : ms);
		rc = readnatpmpresponseorretry(&pc->natpmp, resp);
	}
	return rc;
}

static const char *natpmp_error(int rc)
{
	return rc == NATPMP_TRYAGAIN ? "no answer" : strnatpmperr(rc);
}

static bool natpmp_open(portmap_client_t *pc, struct portmap_proto_result *r)
{
	const struct portmap_ctx *c = pc->c;
	natpmpresp_t resp;
	int rc = initnatpmp(&pc->natpmp, c->gateway.s_addr != 0, c->gateway.s_addr);

	if (rc < 0) {
		portmap_note(r, "cannot start: %s", strnatpmperr(rc));
		return false;
	}
	inet_ntop(AF_INET, &pc->natpmp.gateway, r->server, sizeof(r->server));
	sendpublicaddressrequest(&pc->natpmp);
	rc = natpmp_wait(pc, &resp);
	if (rc == NATPMP_TRYAGAIN || (rc < 0 && rc > NATPMP_ERR_UNSUPPORTEDVERSION)) {
		/* No answer, or ours (a port unreachable: "does not support"). */
		if (rc == NATPMP_TRYAGAIN)
			portmap_note(r, "no answer from %s port 5351 in %d ms", r->server,
				     PROTO_BOUND_MS);
		else
			portmap_note(r, "%s", strnatpmperr(rc));
		closenatpmp(&pc->natpmp);
		return false;
	}
	r->answered = true;
	if (rc == NATPMP_ERR_NETWORKFAILURE) {
		r->no_public = true; /* RFC 6886 3.5: no public address yet */
		portmap_note(r, "public address: network failure (the gateway has none)");
	} else if (rc) {
		portmap_note(r, "public address: %s", strnatpmperr(rc));
	} else {
		external_from_in(resp.pnu.publicaddress.addr, r);
	}
	return true;
}

static int natpmp_map(portmap_client_t *pc, uint16_t port, struct portmap_proto_result *r)
{
	natpmpresp_t resp;
	int rc;

	sendnewportmappingrequest(&pc->natpmp, pc->tcp ? NATPMP_PROTOCOL_TCP : NATPMP_PROTOCOL_UDP,
				  port, port, PORTMAP_LIFETIME_S);
	rc = natpmp_wait(pc, &resp);
	if (rc) {
		portmap_note(r, "mapping request: %s", natpmp_error(rc));
		return -1;
	}
	granted(mapping_of(pc, r), resp.pnu.newportmapping.mappedpublicport,
		resp.pnu.newportmapping.lifetime);
	return mapping_of(pc, r)->granted ? 0 : -1;
}

static int natpmp_unmap(portmap_client_t *pc, struct portmap_proto_result *r)
{
	natpmpresp_t resp;
	int rc;

	/* RFC 6886 section 3.4: lifetime 0 and external port 0 delete it. */
	sendnewportmappingrequest(&pc->natpmp, pc->tcp ? NATPMP_PROTOCOL_TCP : NATPMP_PROTOCOL_UDP,
				  pc->port, 0, 0);
	rc = natpmp_wait(pc, &resp);
	if (rc || resp.pnu.newportmapping.lifetime) {
		portmap_note(r, "deletion: %s", rc ? natpmp_error(rc) : "a lifetime left");
		return -1;
	}
	return 0;
}

/* ---- PCP ---- */

/* Send req until an answer that matches it, within PROTO_BOUND_MS. */
static enum pcp_err pcp_ask(portmap_client_t *pc, struct pcp_response *resp, uint8_t *rbuf,
			    size_t rcap, bool *answered, bool *refused)
{
	uint8_t buf[PCP_MAX_LEN];
	size_t len = 0;
	enum pcp_err err = pcp_build_map(&pc->req, buf, sizeof(buf), &len);
	uint64_t t0 = clock_now_us(), bound = t0 + PROTO_BOUND_MS * 1000u;
	unsigned wait_ms = 250;

	*answered = *refused = false;
	while (err == PCP_OK && clock_now_us() < bound && !stopped(pc)) {
		uint64_t until = clock_now_us() + wait_ms * 1000u;

		if (until > bound)
			until = bound;
		send(pc->cs, buf, len, 0);
		while (clock_now_us() < until) {
			struct pollfd p = {pc->cs, POLLIN, 0};
			ssize_t n;

			if (poll(&p, 1, (int)((until - clock_now_us()) / 1000) + 1) <= 0)
				break;
			n = recv(pc->cs, rbuf, rcap, MSG_DONTWAIT);
			if (n < 0 && errno == ECONNREFUSED) {
				*refused = true; /* ICMP port unreachable: no server there */
				return PCP_ERR_NOT_FOUND;
			}
			if (n <= 0)
				continue;
			*answered = true;
			err = pcp_parse_response(resp, rbuf, (size_t)n);
			/* A header-only error answers whatever was asked. */
			if (err != PCP_OK || pcp_map_match(resp, &pc->req) == PCP_OK ||
			    (!resp->has_payload && resp->result != PCP_SUCCESS))
				return err;
		}
		wait_ms *= 2;
	}
	return err == PCP_OK ? PCP_ERR_NOT_FOUND : err; /* no answer that matched */
}

static const char *pcp_result_text(uint8_t result)
{
	const char *name = pcp_result_name(result);

	return name ? name : "an unknown result code";
}

/* One MAP (pc->req) asked and read into r: 0 success, -1 not (said why). */
static int pcp_map_once(portmap_client_t *pc, struct portmap_proto_result *r,
			struct pcp_response *resp)
{
	uint8_t rbuf[PCP_MAX_LEN];
	struct sockaddr_storage ext;
	bool answered, refused;
	enum pcp_err err = pcp_ask(pc, resp, rbuf, sizeof(rbuf), &answered, &refused);

	if (!answered) {
		portmap_note(r,
			     refused ? "no PCP server at %s (port %d unreachable)"
				     : "no answer from %s port %d in 1000 ms",
			     r->server, PCP_SERVER_PORT);
		return -1;
	}
	r->answered = true;
	if (err != PCP_OK) {
		portmap_note(r, "%s",
			     err == PCP_ERR_VERSION && resp->version == PCP_NATPMP_VERSION
				 ? "the gateway speaks NAT-PMP, not PCP"
				 : pcp_strerror(err));
		return -1;
	}
	if (resp->result != PCP_SUCCESS) {
		r->no_public = r->no_public || resp->result == PCP_NETWORK_FAILURE;
		portmap_note(r, "MAP: %s%s", pcp_result_text(resp->result),
			     resp->result == PCP_NETWORK_FAILURE
				 ? " (the gateway has no public address)"
				 : "");
		return -1;
	}
	if (resp->lifetime && pcp_external(resp, &ext) == PCP_OK) {
		char ip[INET_ADDRSTRLEN] = "";

		addr_format_ip((struct sockaddr *)&ext, ip, sizeof(ip));
		external_from_text(ip, r);
	}
	return 0;
}

static int pcp_map(portmap_client_t *pc, uint16_t port, struct portmap_proto_result *r)
{
	struct pcp_response resp;

	pc->req.protocol = pc->tcp ? 6 : 17;
	pc->req.internal_port = port;
	pc->req.suggested_port = port;
	pc->req.lifetime = PORTMAP_LIFETIME_S;
	if (pcp_map_once(pc, r, &resp))
		return -1;
	granted(mapping_of(pc, r), resp.external_port, resp.lifetime);
	return mapping_of(pc, r)->granted ? 0 : -1;
}

static int pcp_unmap(portmap_client_t *pc, struct portmap_proto_result *r)
{
	struct pcp_response resp;
	struct portmap_proto_result scratch = *r;

	pc->req.lifetime = 0; /* RFC 6887 15: the same nonce, lifetime 0 deletes */
	if (pcp_map_once(pc, &scratch, &resp) || resp.lifetime) {
		portmap_note(r, "deletion: %s",
			     scratch.error[0] && !r->error[0] ? scratch.error : "a lifetime left");
		return -1;
	}
	return 0;
}

static bool pcp_open(portmap_client_t *pc, bool external_only, struct portmap_proto_result *r)
{
	struct sockaddr_in gw = {.sin_family = AF_INET, .sin_port = htons(PCP_SERVER_PORT)};
	struct pcp_response resp;
	uint16_t port;

	gw.sin_addr = pc->c->gateway;
	if (!gw.sin_addr.s_addr) {
		portmap_note(r, "no IPv4 default gateway to ask");
		return false;
	}
	inet_ntop(AF_INET, &gw.sin_addr, r->server, sizeof(r->server));
	pc->cs = portmap_udp_socket(pc->c, &port);
	if (pc->cs < 0 || connect(pc->cs, (struct sockaddr *)&gw, sizeof(gw)) ||
	    getrandom(pc->req.nonce, sizeof(pc->req.nonce), 0) != sizeof(pc->req.nonce)) {
		portmap_note(r, "cannot reach %s: %s", r->server, strerror(errno));
		return false;
	}
	pc->req.client = pc->c->local;
	pc->req.protocol = 17;
	if (!external_only)
		return true; /* the MAP to come says whether it answers */
	/* RFC 6887 11.1: a MAP is the way to learn the external address; a
	 * short one, deleted at once. */
	pc->req.internal_port = pc->req.suggested_port = port;
	pc->req.lifetime = 1;
	if (pcp_map_once(pc, r, &resp))
		return r->answered;
	pc->port = port;
	portmap_client_unmap(pc, r);
	r->udp.deleted = -1; /* not a mapping of the test's */
	return true;
}

/* ---- the client ---- */

portmap_client_t *portmap_client_open(const struct portmap_ctx *c, enum portmap_proto p,
				      bool external_only, struct portmap_proto_result *r)
{
	portmap_client_t *pc = calloc(1, sizeof(*pc));
	bool ok = false;

	if (!pc) {
		portmap_note(r, "out of memory");
		return NULL;
	}
	pc->proto = p;
	pc->c = c;
	pc->cs = -1;
	if (p == PORTMAP_UPNP)
		ok = upnp_open(pc, r);
	else if (p == PORTMAP_NATPMP)
		ok = natpmp_open(pc, r);
	else if (p == PORTMAP_PCP)
		ok = pcp_open(pc, external_only, r);
	if (ok)
		return pc;
	if (pc->cs >= 0)
		close(pc->cs);
	free(pc);
	return NULL;
}

int portmap_client_map(portmap_client_t *pc, bool tcp, uint16_t port,
		       struct portmap_proto_result *r)
{
	static int (*const map[PORTMAP_NPROTO])(
	    portmap_client_t *, uint16_t, struct portmap_proto_result *) = {upnp_map, natpmp_map,
									    pcp_map};

	struct portmap_mapping *m;

	if (pc->port || stopped(pc))
		return -1;
	pc->tcp = tcp;
	m = mapping_of(pc, r);
	m->asked = true;
	m->internal_port = port;
	if (map[pc->proto](pc, port, r))
		return -1;
	pc->port = port;
	return 0;
}

int portmap_client_unmap(portmap_client_t *pc, struct portmap_proto_result *r)
{
	static int (*const unmap[PORTMAP_NPROTO])(
	    portmap_client_t *, struct portmap_proto_result *) = {upnp_unmap, natpmp_unmap,
								  pcp_unmap};
	int rc;

	if (!pc->port)
		return 0;
	pc->deleting = true;
	rc = unmap[pc->proto](pc, r);
	pc->deleting = false;
	mapping_of(pc, r)->deleted = rc == 0;
	pc->port = 0;
	return rc;
}

void portmap_client_close(portmap_client_t *pc)
{
	if (!pc)
		return;
	if (pc->proto == PORTMAP_UPNP)
		FreeUPNPUrls(&pc->urls);
	if (pc->proto == PORTMAP_NATPMP)
		closenatpmp(&pc->natpmp);
	if (pc->cs >= 0)
		close(pc->cs);
	free(pc);
}
