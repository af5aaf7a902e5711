/*
 * natlab's own tests, the I/O. See probes.h.
 */
#include "probes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libnet.h>
#include <pcap/pcap.h>

/* What a test can get back: SYN-ACKs and RSTs, and ICMP errors. */
#define FILTER "ip and (icmp or tcp[tcpflags] & (tcp-syn|tcp-rst) != 0)"

struct refl_probes {
	pcap_t *pcap;
	libnet_t *net;
	int linktype;
	void (*fn)(void *ctx, const struct refl_captured *c);
	void *ctx;
};

static int open_capture(struct refl_probes *p, char *err, size_t err_len)
{
	char pcap_err[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;

	p->pcap = pcap_create("any", pcap_err);
	if (!p->pcap || pcap_set_snaplen(p->pcap, 256) || pcap_set_immediate_mode(p->pcap, 1) ||
	    pcap_activate(p->pcap) < 0) {
		snprintf(err, err_len, "capture on 'any': %s",
			 p->pcap ? pcap_geterr(p->pcap) : pcap_err);
		return -1;
	}
	if (pcap_setdirection(p->pcap, PCAP_D_IN) || pcap_compile(p->pcap, &prog, FILTER, 1, 0)) {
		snprintf(err, err_len, "capture filter: %s", pcap_geterr(p->pcap));
		return -1;
	}
	if (pcap_setfilter(p->pcap, &prog) || pcap_setnonblock(p->pcap, 1, pcap_err)) {
		pcap_freecode(&prog);
		snprintf(err, err_len, "capture set-up: %s", pcap_geterr(p->pcap));
		return -1;
	}
	pcap_freecode(&prog);
	p->linktype = pcap_datalink(p->pcap);
	return 0;
}

refl_probes_t *refl_probes_open(char *err, size_t err_len)
{
	struct refl_probes *p = calloc(1, sizeof(*p));
	char net_err[LIBNET_ERRBUF_SIZE] = "";

	if (!p) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (open_capture(p, err, err_len))
		goto fail;
	p->net = libnet_init(LIBNET_RAW4, NULL, net_err);
	if (!p->net) {
		snprintf(err, err_len, "raw IPv4 socket (libnet): %s", net_err);
		goto fail;
	}
	return p;
fail:
	refl_probes_close(p);
	return NULL;
}

void refl_probes_close(refl_probes_t *p)
{
	if (!p)
		return;
	if (p->pcap)
		pcap_close(p->pcap);
	if (p->net)
		libnet_destroy(p->net);
	free(p);
}

int refl_probes_fd(const refl_probes_t *p)
{
	return pcap_get_selectable_fd(p->pcap);
}

int refl_probes_send_syn(refl_probes_t *p, const struct sockaddr *from, const struct sockaddr *to,
			 uint32_t seq)
{
	const struct sockaddr_in *src = (const struct sockaddr_in *)(const void *)from;
	const struct sockaddr_in *dst = (const struct sockaddr_in *)(const void *)to;
	int rc = -1;

	if (from->sa_family != AF_INET || to->sa_family != AF_INET)
		return -1;
	if (libnet_build_tcp(ntohs(src->sin_port), ntohs(dst->sin_port), seq, 0, TH_SYN, 64240, 0,
			     0, LIBNET_TCP_H, NULL, 0, p->net, 0) != -1 &&
	    libnet_build_ipv4(LIBNET_IPV4_H + LIBNET_TCP_H, 0, (uint16_t)(seq >> 16), 0, 64,
			      IPPROTO_TCP, 0, src->sin_addr.s_addr, dst->sin_addr.s_addr, NULL, 0,
			      p->net, 0) != -1 &&
	    libnet_write(p->net) != -1)
		rc = 0;
	libnet_clear_packet(p->net);
	return rc;
}

int refl_probes_send_icmp(refl_probes_t *p, const struct sockaddr *from, const struct sockaddr *to,
			  uint8_t type, uint8_t code, const uint8_t *quote, size_t quote_len)
{
	const struct sockaddr_in *src = (const struct sockaddr_in *)(const void *)from;
	const struct sockaddr_in *dst = (const struct sockaddr_in *)(const void *)to;
	libnet_ptag_t tag;
	int rc = -1;

	if (from->sa_family != AF_INET || to->sa_family != AF_INET)
		return -1;
	/* Both builders write a 4-byte unused field, then the quoted packet. */
	tag = type == 11 ? libnet_build_icmpv4_timeexceed(type, code, 0, quote, (uint32_t)quote_len,
							  p->net, 0)
			 : libnet_build_icmpv4_unreach(type, code, 0, quote, (uint32_t)quote_len,
						       p->net, 0);
	if (tag != -1 &&
	    libnet_build_ipv4((uint16_t)(LIBNET_IPV4_H + LIBNET_ICMPV4_UNREACH_H + quote_len), 0, 0,
			      0, 64, IPPROTO_ICMP, 0, src->sin_addr.s_addr, dst->sin_addr.s_addr,
			      NULL, 0, p->net, 0) != -1 &&
	    libnet_write(p->net) != -1)
		rc = 0;
	libnet_clear_packet(p->net);
	return rc;
}

static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct refl_probes *p = (struct refl_probes *)(void *)user;
	struct refl_captured c;

	if (refl_capture_parse(p->linktype, bytes, h->caplen, &c))
		p->fn(p->ctx, &c);
}

int refl_probes_read(refl_probes_t *p, void (*fn)(void *ctx, const struct refl_captured *c),
		     void *ctx)
{
	p->fn = fn;
	p->ctx = ctx;
	return pcap_dispatch(p->pcap, 64, on_frame, (u_char *)p);
}
