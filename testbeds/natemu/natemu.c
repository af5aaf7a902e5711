/*
 * natemu: a configurable IPv4 NAT for natlab's labs.
 *
 * It runs in a NAT namespace whose kernel forwards nothing: forwarding is
 * off and an nftables netdev-ingress rule drops every IP frame on the inside
 * and outside interfaces (ARP still reaches the kernel, which keeps answering
 * for the NAT's addresses). libpcap sees those frames before the ingress
 * hook, hands them to the pure core in nat.c, and what the core forwards is
 * sent through a raw IP socket, so the kernel routes it and resolves the next
 * hop's MAC address. Impairments (loss, delay, reordering, duplication) are
 * applied here, since these kernels have no netem.
 *
 *   inside host -> [lan] pcap -> nat.c -> impair -> raw socket -> [wan] -> peer
 *   peer        -> [wan] pcap -> nat.c -> impair -> raw socket -> [lan] -> inside host
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/socket.h>

#include "counters.h"
#include "natemu/impair.h"
#include "natemu/nat.h"
#include "natemu/packet.h"

#define EXIT_USAGE 2
#define EXIT_HOST  3
#define QUEUE_MAX  4096
/* Time exceeded, at most: a lab's trials send a few low-TTL packets at a
 * time (natprobe's opening round), which a burst of 10 answers all of; 100 a
 * second of at most 576 bytes keeps a flood of expiring packets, spoofed
 * sources included, from making natemu a reflector of load. One bucket for
 * all: Linux's limit is per destination (icmp_ratelimit, 1000 ms, a burst of
 * 6), which needs a table; a lab has a handful of senders. */
#define TIME_EXCEEDED_RATE  100
#define TIME_EXCEEDED_BURST 10

struct natemu_run {
	natemu_t *nat;
	struct natemu_cfg cfg;
	struct impair_cfg imp;
	uint64_t rng;
	pcap_t *side[2]; /* NATEMU_INSIDE, NATEMU_OUTSIDE */
	int raw;
	struct impair_queue queue;
	struct counters counters;
	bool forward_only;            /* a delay box: no translation, no filter */
	bool ttl_silent;              /* --ttl-exceeded drop */
	struct packet_addrs addrs[2]; /* each side's, to answer from */
	struct packet_budget budget;  /* for time exceeded */
};

static const char usage[] =
    "usage: natemu --inside IFACE --outside IFACE --set KEY=VALUE... [options]\n"
    "\n"
    "A configurable IPv4 NAT for natlab labs. Run it in a namespace whose kernel\n"
    "forwards nothing (testbeds/natlab sets that up).\n"
    "\n"
    "  --inside IFACE        the interface towards the inside hosts\n"
    "  --outside IFACE       the interface towards the internet\n"
    "  --set KEY=VALUE       a NAT setting (repeat); see below\n"
    "  --seed N              random seed for ports, pooling and impairments (default 1)\n"
    "  --loss PCT            drop PCT% of forwarded packets\n"
    "  --delay MS            delay every forwarded packet by MS\n"
    "  --reorder PCT:MS      hold PCT% of packets MS longer, so later ones overtake\n"
    "  --duplicate PCT       send PCT% of packets twice\n"
    "  --forward-only        translate nothing: forward every IPv4 packet as it is\n"
    "                        (TTL one less, as a router), with the impairments: a\n"
    "                        delay box for a lab's path (no --set needed)\n"
    "  --ttl-exceeded icmp|drop  a packet that would leave with TTL 0: its source\n"
    "                        gets ICMP time exceeded from this side's address, as\n"
    "                        from a router (icmp, the default; at most 100 a\n"
    "                        second), or it dies silently (drop)\n"
    "  -h, --help            this text\n"
    "\n"
    "Settings (default first): mapping= and filtering= endpoint-independent,\n"
    "address-dependent, address-and-port-dependent (filtering defaults to the last);\n"
    "ports=preserve|sequential|random; delta=N (1); skip=PCT (0); parity=off|on;\n"
    "range=LO-HI (1024-65535); pool=IP[,IP...] (required); pooling=paired|arbitrary;\n"
    "hairpin=external|internal|off; udp-lifetime=S (120); inbound-refresh=on|off;\n"
    "unsolicited-syn=drop|rst|icmp; simultaneous-open=on|off (off refuses the SYN that\n"
    "crosses our own); tcp-established=S (7440); tcp-transitory=S (240), per connection;\n"
    "icmp=translate|drop|kill (an ICMP error about a mapping's packet: in, translated;\n"
    "dropped; or in, ending its connection or UDP mapping); alg=off|on (on: a generic\n"
    "ALG, every copy of a translated address in a TCP payload rewritten as well).\n"
    "\n"
    "SIGUSR1 prints the counters; SIGTERM or SIGINT prints them and exits.\n"
    "Exit status: 0 stopped by a signal, 2 bad usage, 3 the interfaces or sockets\n"
    "could not be opened (the message says which).\n";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void send_now(struct natemu_run *r, const uint8_t *pkt, size_t len)
{
	struct sockaddr_in dst = {.sin_family = AF_INET};

	memcpy(&dst.sin_addr, pkt + 16, 4);
	if (sendto(r->raw, pkt, len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		counters_add(&r->counters, "send failed");
}

/* Loss, duplication, delay and reordering, then the wire. */
static void emit(struct natemu_run *r, const uint8_t *pkt, size_t len, uint64_t now)
{
	uint64_t due[2];
	unsigned events;
	size_t copies = impair_plan(&r->imp, &r->rng, now, due, &events);

	if (events & IMPAIR_LOST)
		counters_add(&r->counters, "impairment: lost");
	if (events & IMPAIR_DUPLICATED)
		counters_add(&r->counters, "impairment: duplicated");
	if (events & IMPAIR_REORDERED)
		counters_add(&r->counters, "impairment: reordered");
	for (size_t c = 0; c < copies; c++) {
		if (due[c] <= now && r->queue.n == 0)
			send_now(r, pkt, len);
		else if (impair_push(&r->queue, due[c], pkt, len))
			counters_add(&r->counters, "impairment queue full");
	}
}

/* Send what is due; the milliseconds until the next, or -1 when none waits. */
static int release_due(struct natemu_run *r, uint64_t now)
{
	const uint8_t *pkt;
	size_t len;

	while ((pkt = impair_due(&r->queue, now, &len))) {
		send_now(r, pkt, len);
		impair_pop(&r->queue);
	}
	return impair_wait(&r->queue, now);
}

/* RFC 1812 5.3.1: a router tells the source of a packet whose TTL ends
 * there, from its address on the interface the packet came in on (in NAT
 * mode too: one from outside is answered from outside, about the packet as
 * it came, as Linux's NAT answers after translating its error back). */
static void ttl_expired(struct natemu_run *r, enum natemu_side from, const struct packet *p,
			uint64_t now)
{
	uint8_t out[PACKET_TIME_EXCEEDED_MAX];
	size_t out_len;
	uint32_t src = packet_source_for(&r->addrs[from], p->summary.src_ip);
	const char *why = r->ttl_silent ? "ttl expired, not answered (--ttl-exceeded drop)"
					: packet_time_exceeded_refused(p);

	if (!why && !src)
		why = "ttl expired, no address to answer from";
	if (!why && !packet_budget_take(&r->budget, now))
		why = "time exceeded rate-limited";
	if (why) {
		counters_add(&r->counters, why);
		return;
	}
	packet_build_time_exceeded(p, src, out, &out_len);
	send_now(r, out, out_len);
	counters_add(&r->counters, "time exceeded sent");
}

static void handle(struct natemu_run *r, enum natemu_side from, const uint8_t *frame, size_t len)
{
	struct packet p;
	struct natemu_result res;
	uint8_t out[PACKET_MAX];
	size_t out_len;
	const char *err = packet_parse(&p, frame, len);
	uint64_t now = now_ms();

	if (err) {
		counters_add(&r->counters, err);
		return;
	}
	if (r->forward_only) {
		counters_add(&r->counters, "forwarded as it is");
		res.verdict = NATEMU_FORWARD;
		res.pkt = p.summary;
	} else {
		res = natemu_process(r->nat, from, &p.summary, now);
		counters_add(&r->counters, res.reason);
	}
	switch (res.verdict) {
	case NATEMU_FORWARD:
		err = packet_rewrite(&p, &res.pkt, r->cfg.alg && !r->forward_only, out, &out_len);
		if (err)
			counters_add(&r->counters, err);
		else
			emit(r, out, out_len, now);
		if (err && p.ip[8] <= 1)
			ttl_expired(r, from, &p, now);
		break;
	case NATEMU_SEND_RST:
		packet_build_rst(&p, out, &out_len);
		send_now(r, out, out_len);
		break;
	case NATEMU_SEND_ICMP:
		/* From the public address the refused packet was sent to. */
		packet_build_icmp_prohibited(&p, p.summary.dst_ip, out, &out_len);
		send_now(r, out, out_len);
		break;
	default:
		break;
	}
}

static void on_frame_inside(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	handle((struct natemu_run *)(void *)user, NATEMU_INSIDE, bytes, h->caplen);
}

static void on_frame_outside(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	handle((struct natemu_run *)(void *)user, NATEMU_OUTSIDE, bytes, h->caplen);
}

static pcap_t *open_side(const char *ifname)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p;

	if (if_nametoindex(ifname) == 0) {
		fprintf(stderr, "natemu: no interface '%s' in this namespace\n", ifname);
		return NULL;
	}
	p = pcap_create(ifname, err);
	if (!p || pcap_set_snaplen(p, PACKET_MAX + 14) || pcap_set_promisc(p, 0) ||
	    pcap_set_immediate_mode(p, 1) || pcap_activate(p) < 0 ||
	    pcap_setdirection(p, PCAP_D_IN) || pcap_setnonblock(p, 1, err)) {
		fprintf(stderr, "natemu: cannot capture on %s: %s\n", ifname,
			p ? pcap_geterr(p) : err);
		if (p)
			pcap_close(p);
		return NULL;
	}
	return p;
}

static int parse_pct_ms(const char *text, unsigned *pct, unsigned *ms)
{
	char *end;
	unsigned long a = strtoul(text, &end, 10), b;

	if (end == text || *end != ':' || a > 100)
		return -1;
	b = strtoul(end + 1, &end, 10);
	if (*end || b > 60000)
		return -1;
	*pct = (unsigned)a;
	*ms = (unsigned)b;
	return 0;
}

static int parse_number(const char *opt, const char *text, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*text < '0' || *text > '9' || *end || v > max) {
		fprintf(stderr, "natemu: %s wants a number from 0 to %lu, not '%s'\n", opt, max,
			text);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_ttl_exceeded(const char *text, bool *silent)
{
	if (strcmp(text, "icmp") && strcmp(text, "drop")) {
		fprintf(stderr, "natemu: --ttl-exceeded wants icmp or drop, not '%s'\n", text);
		return -1;
	}
	*silent = !strcmp(text, "drop");
	return 0;
}

static int apply_setting(struct natemu_cfg *cfg, const char *arg)
{
	char key[64], err[200];
	const char *eq = strchr(arg, '=');

	if (!eq || (size_t)(eq - arg) >= sizeof(key)) {
		fprintf(stderr, "natemu: --set wants KEY=VALUE, not '%s'\n", arg);
		return -1;
	}
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	if (natemu_cfg_set(cfg, key, eq + 1, err, sizeof(err))) {
		fprintf(stderr, "natemu: %s\n", err);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct natemu_run *r, const char **ifname,
		      unsigned *seed)
{
	static const struct option longopts[] = {
	    {"inside", required_argument, NULL, 'i'},
	    {"outside", required_argument, NULL, 'o'},
	    {"set", required_argument, NULL, 's'},
	    {"seed", required_argument, NULL, 'S'},
	    {"loss", required_argument, NULL, 'l'},
	    {"delay", required_argument, NULL, 'd'},
	    {"reorder", required_argument, NULL, 'r'},
	    {"duplicate", required_argument, NULL, 'u'},
	    {"forward-only", no_argument, NULL, 'F'},
	    {"ttl-exceeded", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			ifname[NATEMU_INSIDE] = optarg;
			break;
		case 'o':
			ifname[NATEMU_OUTSIDE] = optarg;
			break;
		case 's':
			rc = apply_setting(&r->cfg, optarg);
			break;
		case 'S':
			rc = parse_number("--seed", optarg, 0xFFFFFFFFul, seed);
			break;
		case 'l':
			rc = parse_number("--loss", optarg, 100, &r->imp.loss_pct);
			break;
		case 'd':
			rc = parse_number("--delay", optarg, 60000, &r->imp.delay_ms);
			break;
		case 'u':
			rc = parse_number("--duplicate", optarg, 100, &r->imp.dup_pct);
			break;
		case 'r':
			rc = parse_pct_ms(optarg, &r->imp.reorder_pct, &r->imp.reorder_ms);
			if (rc)
				fprintf(stderr, "natemu: --reorder wants PCT:MS, not '%s'\n",
					optarg);
			break;
		case 'F':
			r->forward_only = true;
			break;
		case 'T':
			rc = parse_ttl_exceeded(optarg, &r->ttl_silent);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			rc = -1;
		}
	}
	if (rc == 0 && (optind != argc || !ifname[0] || !ifname[1] ||
			(r->cfg.npool == 0 && !r->forward_only))) {
		fprintf(stderr, "natemu: want --inside, --outside and --set pool=...%s\n",
			optind != argc ? ", and no other arguments" : "");
		rc = -1;
	}
	if (rc)
		fputs(usage, stderr);
	return rc;
}

static void add_address(struct packet_addrs *a, const struct ifaddrs *i)
{
	if (a->n == PACKET_ADDRS_MAX)
		return;
	a->ip[a->n] =
	    ntohl(((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr.s_addr);
	a->mask[a->n++] =
	    ntohl(((const struct sockaddr_in *)(const void *)i->ifa_netmask)->sin_addr.s_addr);
}

/* The IPv4 addresses each side has at start (a lab gives them before it
 * starts natemu), in the kernel's order, the primary first. */
static void read_addresses(struct natemu_run *r, const char *const *ifname)
{
	struct ifaddrs *all;

	if (getifaddrs(&all)) {
		perror("natemu: getifaddrs");
		return;
	}
	for (const struct ifaddrs *i = all; i; i = i->ifa_next)
		for (int s = 0; s < 2; s++)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && i->ifa_netmask &&
			    !strcmp(i->ifa_name, ifname[s]))
				add_address(&r->addrs[s], i);
	freeifaddrs(all);
	for (int s = 0; s < 2; s++)
		if (!r->ttl_silent && r->addrs[s].n == 0)
			fprintf(stderr,
				"natemu: %s has no IPv4 address: no time exceeded from it\n",
				ifname[s]);
}

static int run(struct natemu_run *r)
{
	struct pollfd pfd[2];

	for (int s = 0; s < 2; s++)
		pfd[s] =
		    (struct pollfd){.fd = pcap_get_selectable_fd(r->side[s]), .events = POLLIN};
	printf("natemu ready\n");
	fflush(stdout);
	while (!counters_stop) {
		int wait = release_due(r, now_ms());

		if (counters_report) {
			counters_report = 0;
			counters_print(&r->counters, stdout, "natemu");
		}
		if (poll(pfd, 2, wait < 0 || wait > 500 ? 500 : wait) < 0 && errno != EINTR) {
			perror("natemu: poll");
			return EXIT_HOST;
		}
		if (pfd[0].revents & POLLIN)
			pcap_dispatch(r->side[0], 64, on_frame_inside, (u_char *)r);
		if (pfd[1].revents & POLLIN)
			pcap_dispatch(r->side[1], 64, on_frame_outside, (u_char *)r);
	}
	counters_print(&r->counters, stdout, "natemu");
	return 0;
}

int main(int argc, char **argv)
{
	static struct natemu_run r;
	const char *ifname[2] = {NULL, NULL};
	unsigned seed = 1;
	int rc = EXIT_HOST;

	natemu_cfg_default(&r.cfg);
	r.raw = -1;
	if (parse_args(argc, argv, &r, ifname, &seed))
		return EXIT_USAGE;
	r.rng = seed ? seed : 1;
	r.budget = (struct packet_budget){.interval_ms = 1000 / TIME_EXCEEDED_RATE,
					  .burst = TIME_EXCEEDED_BURST};
	r.nat = r.forward_only ? NULL : natemu_new(&r.cfg, seed);
	if ((!r.nat && !r.forward_only) || impair_init(&r.queue, QUEUE_MAX)) {
		fprintf(stderr, "natemu: settings unusable or out of memory\n");
		goto cleanup;
	}
	r.side[NATEMU_INSIDE] = open_side(ifname[NATEMU_INSIDE]);
	r.side[NATEMU_OUTSIDE] = open_side(ifname[NATEMU_OUTSIDE]);
	if (!r.side[0] || !r.side[1])
		goto cleanup;
	read_addresses(&r, ifname);
	r.raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (r.raw < 0) {
		fprintf(stderr, "natemu: raw socket: %s (natemu needs root)\n", strerror(errno));
		goto cleanup;
	}
	counters_signals();
	rc = run(&r);
cleanup:
	for (int s = 0; s < 2; s++)
		if (r.side[s])
			pcap_close(r.side[s]);
	if (r.raw >= 0)
		close(r.raw);
	impair_fini(&r.queue);
	natemu_free(r.nat);
	return rc;
}
