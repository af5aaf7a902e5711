/*
 * natreflector: the STUN reflector on a host with two addresses, each on two
 * ports (RFC 5780's four roles), for IPv4, IPv6 or both. The decisions are
 * handler.c's, the sockets and limits server.c's; this file owns the options
 * and the drop of privileges.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>

#include "addr.h"
#include "counters.h"
#include "reflector/server.h"

#define EXIT_USAGE 2
#define EXIT_HOST  3
#define SOFTWARE   "natlab natreflector 0.1.0"

static const char usage[] =
    "usage: natreflector --primary HOST --alternate HOST [--port 3478]\n"
    "                    [--alt-port 3479] [--advertise-primary IP]\n"
    "                    [--advertise-alternate IP] [--key SECRET] [--no-software]\n"
    "                    [--no-tcp] [--user NAME] [--rate N] [--burst N]\n"
    "                    [--tcp-max N] [--tcp-per-source N] [--tcp-idle SECONDS]\n"
    "                    [--session-secret FILE] [--relay-max N] [--relay-seconds S]\n"
    "                    [--relay-bytes N] [--relay-pps N] [--metrics HOST:PORT]\n"
    "                    [--workers N|auto]\n"
    "       natreflector --session-secret FILE --issue-session ID\n"
    "\n"
    "Answer STUN Binding requests (RFC 8489/5389, RFC 5780 behaviour discovery,\n"
    "RFC 3489) over UDP and TCP on the four endpoints PRIMARY:PORT,\n"
    "PRIMARY:ALT-PORT, ALTERNATE:PORT and ALTERNATE:ALT-PORT. Give --primary and\n"
    "--alternate once per address family to serve IPv4 and IPv6 side by side.\n"
    "\n"
    "Addresses and roles:\n"
    "  --primary HOST            the primary address (bound): an address of this\n"
    "                            host, or a name of one (its first address)\n"
    "  --alternate HOST          the alternate address (bound), likewise\n"
    "  --port N, --alt-port N    the two ports (3478, 3479)\n"
    "  --advertise-primary IP    the primary's public address, behind a 1:1 NAT;\n"
    "  --advertise-alternate IP  RESPONSE-ORIGIN and OTHER-ADDRESS say these (IP\n"
    "                            addresses: a name may resolve to the inside one)\n"
    "Answers:\n"
    "  --key SECRET              require MESSAGE-INTEGRITY with this short-term key\n"
    "  --no-software             leave SOFTWARE out of answers\n"
    "  --no-tcp                  serve UDP only\n"
    "Limits (safe on the internet):\n"
    "  --rate N                  requests per second from one source address (100;\n"
    "                            0 for no limit: behind a carrier-grade NAT many\n"
    "                            probes share one address)\n"
    "  --burst N                 requests one source may send at once (2 x rate)\n"
    "  --tcp-max N               TCP connections in all (1024)\n"
    "  --tcp-per-source N        TCP connections from one address (64)\n"
    "  --tcp-idle SECONDS        close a TCP connection idle this long (30)\n"
    "  --user NAME               after binding, run as this user\n"
    "natlab's own tests (reflector/PROTOCOL.md: UDP datagrams and TCP SYNs on request):\n"
    "  --session-secret FILE     enable them; session keys derive from the secret\n"
    "                            in FILE (16 bytes or more; needs CAP_NET_RAW)\n"
    "                            (also the rendezvous of natprobe punch)\n"
    "  --relay-max N             trials relayed at once, for natprobe punch's relay\n"
    "                            technique (64; 0: no relay)\n"
    "  --relay-seconds S         a relay's life from the meeting (10)\n"
    "  --relay-bytes N           bytes one relay forwards, both ways (65536)\n"
    "  --relay-pps N             packets one relay forwards a second (100)\n"
    "  --issue-session ID        print the key of session ID, for natprobe --key\n"
    "Operation:\n"
    "  --workers N|auto          event loops, one thread each (1; auto: one per\n"
    "                            CPU, at most 64), each with its own UDP sockets\n"
    "                            on the four endpoints (SO_REUSEPORT): the kernel\n"
    "                            spreads clients over them and steers natlab's\n"
    "                            own requests to worker 0, which also serves TCP\n"
    "                            and --metrics; --rate holds per source across\n"
    "                            them (one shared table)\n"
    "  --metrics HOST:PORT       serve the counters over HTTP (GET, any path) in\n"
    "                            Prometheus' text format: a local port\n"
    "  -h, --help                this text\n"
    "\n"
    "Log lines on stdout: 'natreflector EVENT ts=... key=value ...'. SIGUSR1\n"
    "prints the counters ('natreflector count reason=\"...\" packets=N');\n"
    "SIGTERM or SIGINT prints them and exits.\n"
    "Exit status: 0 stopped by a signal, 2 bad usage, a name that does not resolve\n"
    "or an address that cannot be bound (the message says which), 3 a failure\n"
    "while running.\n";

struct options {
	/* [0] primary, [1] alternate; each by family, [0] IPv4, [1] IPv6 */
	struct sockaddr_storage ip[2][REFL_FAMILIES], advertised[2][REFL_FAMILIES];
	bool has_ip[2][REFL_FAMILIES], has_advertised[2][REFL_FAMILIES];
	uint16_t port[2];
	const char *user;
	uint8_t key[256];
	size_t key_len;
	bool software;
	uint8_t secret[1024];
	size_t secret_len;
	const char *issue; /* --issue-session ID */
};

static const char *const ip_option[2] = {"--primary", "--alternate"};

/*
 * Addresses go to slot 0 (IPv4) or 1 (IPv6); one of each per option. The
 * addresses to bind may be host names (a name of this host's own address);
 * the advertised ones may not: they go into answers as they are, and behind
 * a 1:1 NAT the host's own resolver often gives the inside address of its
 * public name (split-horizon DNS), which is the one not to advertise.
 */
static int parse_ip(const char *opt, const char *text, bool names,
		    struct sockaddr_storage slot[REFL_FAMILIES], bool given[REFL_FAMILIES])
{
	struct sockaddr_storage ss;
	char err[320];
	int f;

	if (names ? addr_resolve(text, ADDR_PORT_NONE, 0, AF_UNSPEC, &ss, err, sizeof(err))
		  : addr_parse(text, ADDR_PORT_NONE, 0, &ss, err, sizeof(err))) {
		fprintf(stderr, "natreflector: %s: %s\n", opt, err);
		return -1;
	}
	f = ss.ss_family == AF_INET6;
	if (given[f]) {
		fprintf(stderr, "natreflector: %s given twice for IPv%c ('%s')\n", opt,
			f ? '6' : '4', text);
		return -1;
	}
	slot[f] = ss;
	given[f] = true;
	return 0;
}

static int parse_uint(const char *opt, const char *text, unsigned long min, unsigned long max,
		      unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(text, &end, 10);
	if (*text < '0' || *text > '9' || *end || errno || *v < min || *v > max) {
		fprintf(stderr, "natreflector: %s wants a number from %lu to %lu, not '%s'\n", opt,
			min, max, text);
		return -1;
	}
	return 0;
}

/* The secret comes from a file, never the command line, where ps shows it. */
static int read_secret(const char *path, struct options *o)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "natreflector: --session-secret %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(o->secret, 1, sizeof(o->secret), f);
	fclose(f);
	while (n && (o->secret[n - 1] == '\n' || o->secret[n - 1] == '\r'))
		n--;
	if (n < 16 || n == sizeof(o->secret)) {
		fprintf(stderr,
			"natreflector: --session-secret %s: want 16 to %zu bytes, not %zu\n", path,
			sizeof(o->secret) - 1, n);
		return -1;
	}
	o->secret_len = n;
	return 0;
}

static int parse_key(const char *text, struct options *o)
{
	size_t len = strlen(text);

	if (len == 0 || len > sizeof(o->key)) {
		fprintf(stderr, "natreflector: --key wants 1 to %zu bytes\n", sizeof(o->key));
		return -1;
	}
	memcpy(o->key, text, len);
	o->key_len = len;
	return 0;
}

enum {
	OPT_PRIMARY = 256,
	OPT_ALTERNATE,
	OPT_PORT,
	OPT_ALT_PORT,
	OPT_ADV_PRIMARY,
	OPT_ADV_ALTERNATE,
	OPT_KEY,
	OPT_NO_SOFTWARE,
	OPT_NO_TCP,
	OPT_USER,
	OPT_RATE,
	OPT_BURST,
	OPT_TCP_MAX,
	OPT_TCP_PER_SOURCE,
	OPT_TCP_IDLE,
	OPT_SESSION_SECRET,
	OPT_ISSUE_SESSION,
	OPT_RELAY_MAX,
	OPT_RELAY_SECONDS,
	OPT_RELAY_BYTES,
	OPT_RELAY_PPS,
	OPT_METRICS,
	OPT_WORKERS,
};

static const struct option longopts[] = {
    {"primary", required_argument, NULL, OPT_PRIMARY},
    {"alternate", required_argument, NULL, OPT_ALTERNATE},
    {"port", required_argument, NULL, OPT_PORT},
    {"alt-port", required_argument, NULL, OPT_ALT_PORT},
    {"advertise-primary", required_argument, NULL, OPT_ADV_PRIMARY},
    {"advertise-alternate", required_argument, NULL, OPT_ADV_ALTERNATE},
    {"key", required_argument, NULL, OPT_KEY},
    {"no-software", no_argument, NULL, OPT_NO_SOFTWARE},
    {"no-tcp", no_argument, NULL, OPT_NO_TCP},
    {"user", required_argument, NULL, OPT_USER},
    {"rate", required_argument, NULL, OPT_RATE},
    {"burst", required_argument, NULL, OPT_BURST},
    {"tcp-max", required_argument, NULL, OPT_TCP_MAX},
    {"tcp-per-source", required_argument, NULL, OPT_TCP_PER_SOURCE},
    {"tcp-idle", required_argument, NULL, OPT_TCP_IDLE},
    {"session-secret", required_argument, NULL, OPT_SESSION_SECRET},
    {"issue-session", required_argument, NULL, OPT_ISSUE_SESSION},
    {"relay-max", required_argument, NULL, OPT_RELAY_MAX},
    {"relay-seconds", required_argument, NULL, OPT_RELAY_SECONDS},
    {"relay-bytes", required_argument, NULL, OPT_RELAY_BYTES},
    {"relay-pps", required_argument, NULL, OPT_RELAY_PPS},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* --metrics HOST:PORT: an address and a port, both given. */
static int parse_metrics(const char *arg, struct refl_server_cfg *cfg)
{
	char err[128];

	if (addr_parse(arg, ADDR_PORT_REQUIRED, 0, &cfg->metrics, err, sizeof(err))) {
		fprintf(stderr, "natreflector: --metrics: %s\n", err);
		return -1;
	}
	return 0;
}

/* The options that are numbers: where each goes, and its range. */
static int parse_number(int c, const char *text, struct options *o, struct refl_server_cfg *cfg,
			bool *burst_given)
{
	const struct {
		int opt;
		const char *name;
		unsigned long min, max;
		unsigned *to;
	} numbers[] = {
	    {OPT_RATE, "--rate", 0, 1000000, &cfg->rate},
	    {OPT_BURST, "--burst", 1, 10000000, &cfg->burst},
	    {OPT_TCP_MAX, "--tcp-max", 1, 1000000, &cfg->tcp_max},
	    {OPT_TCP_PER_SOURCE, "--tcp-per-source", 1, 1000000, &cfg->tcp_per_source},
	    {OPT_TCP_IDLE, "--tcp-idle", 1, 86400, &cfg->tcp_idle_s},
	    {OPT_RELAY_MAX, "--relay-max", 0, 1024, &cfg->relay_max},
	    {OPT_RELAY_SECONDS, "--relay-seconds", 1, 60, &cfg->relay_s},
	    {OPT_RELAY_BYTES, "--relay-bytes", 1024, 100000000, &cfg->relay_bytes},
	    {OPT_RELAY_PPS, "--relay-pps", 1, 100000, &cfg->relay_pps},
	    {OPT_WORKERS, "--workers", 1, REFL_WORKERS_MAX, &cfg->workers},
	};
	unsigned long v;

	if (c == OPT_PORT || c == OPT_ALT_PORT) {
		if (parse_uint(c == OPT_PORT ? "--port" : "--alt-port", text, 1, 65535, &v))
			return -1;
		o->port[c == OPT_ALT_PORT] = (uint16_t)v;
		return 0;
	}
	*burst_given |= c == OPT_BURST;
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		if (numbers[i].opt != c)
			continue;
		if (parse_uint(numbers[i].name, text, numbers[i].min, numbers[i].max, &v))
			return -1;
		*numbers[i].to = (unsigned)v;
		return 0;
	}
	return -1;
}

/* --workers auto: the CPUs this process may run on, 1 to REFL_WORKERS_MAX. */
static unsigned cpus(void)
{
	cpu_set_t set;
	int n = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);

	return n < 1 ? 1 : n > REFL_WORKERS_MAX ? REFL_WORKERS_MAX : (unsigned)n;
}

static int parse_one(int c, const char *arg, struct options *o, struct refl_server_cfg *cfg,
		     bool *burst_given)
{
	switch (c) {
	case OPT_PRIMARY:
	case OPT_ALTERNATE:
		return parse_ip(ip_option[c == OPT_ALTERNATE], arg, true, o->ip[c == OPT_ALTERNATE],
				o->has_ip[c == OPT_ALTERNATE]);
	case OPT_ADV_PRIMARY:
	case OPT_ADV_ALTERNATE:
		return parse_ip(c == OPT_ADV_PRIMARY ? "--advertise-primary"
						     : "--advertise-alternate",
				arg, false, o->advertised[c == OPT_ADV_ALTERNATE],
				o->has_advertised[c == OPT_ADV_ALTERNATE]);
	case OPT_KEY:
		return parse_key(arg, o);
	case OPT_NO_SOFTWARE:
		o->software = false;
		return 0;
	case OPT_NO_TCP:
		cfg->tcp = false;
		return 0;
	case OPT_USER:
		o->user = arg;
		return 0;
	case OPT_SESSION_SECRET:
		return read_secret(arg, o);
	case OPT_ISSUE_SESSION:
		o->issue = arg;
		return 0;
	case OPT_METRICS:
		return parse_metrics(arg, cfg);
	case OPT_WORKERS:
		if (strcmp(arg, "auto"))
			return parse_number(c, arg, o, cfg, burst_given);
		cfg->workers = cpus();
		return 0;
	case 'h':
		fputs(usage, stdout);
		exit(0);
	case '?':
		return -1;
	default:
		return parse_number(c, arg, o, cfg, burst_given);
	}
}

/* Every family given must have both addresses; advertised ones need their own. */
static int check_families(const struct options *o)
{
	int served = 0;

	for (int f = 0; f < REFL_FAMILIES; f++) {
		char v = f ? '6' : '4';

		if (o->has_ip[0][f] != o->has_ip[1][f]) {
			fprintf(stderr,
				"natreflector: IPv%c needs both --primary and --alternate\n", v);
			return -1;
		}
		for (int which = 0; which < 2; which++) {
			if (o->has_advertised[which][f] && !o->has_ip[which][f]) {
				fprintf(stderr,
					"natreflector: an IPv%c address to advertise, "
					"but no IPv%c address to bind\n",
					v, v);
				return -1;
			}
		}
		served += o->has_ip[0][f];
	}
	if (!served) {
		fprintf(stderr, "natreflector: want --primary and --alternate\n");
		return -1;
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o, struct refl_server_cfg *cfg)
{
	bool burst_given = false;
	int c, rc = 0;

	*o = (struct options){.port = {3478, 3479}, .software = true};
	*cfg = (struct refl_server_cfg){.tcp = true,
					.rate = 100,
					.limiter_slots = 65536,
					.tcp_max = 1024,
					.tcp_per_source = 64,
					.tcp_idle_s = 30,
					.relay_max = 64,
					.relay_s = 10,
					.relay_bytes = 65536,
					.relay_pps = 100,
					.workers = 1};
	while (rc == 0 && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		rc = parse_one(c, optarg, o, cfg, &burst_given);
	if (rc == 0 && o->issue) {
		if (optind == argc && o->secret_len)
			return 0;
		fprintf(stderr, "natreflector: --issue-session wants --session-secret, and no "
				"other arguments\n");
		rc = -1;
	}
	if (rc == 0 && optind != argc) {
		fprintf(stderr, "natreflector: unexpected argument '%s'\n", argv[optind]);
		rc = -1;
	}
	if (rc == 0)
		rc = check_families(o);
	if (rc == 0 && o->port[0] == o->port[1]) {
		fprintf(stderr, "natreflector: --port and --alt-port must differ (both %u)\n",
			o->port[0]);
		rc = -1;
	}
	if (!burst_given)
		cfg->burst = cfg->rate ? 2 * cfg->rate : 1;
	if (rc)
		fputs("Try 'natreflector --help'.\n", stderr);
	return rc;
}

/* The roles: bit 1 picks the address, bit 0 the port. */
static void assign_roles(const struct options *o, struct refl_server_cfg *cfg)
{
	cfg->nfamilies = 0;
	for (int f = 0; f < REFL_FAMILIES; f++) {
		int n = cfg->nfamilies;
		struct refl_cfg *h = &cfg->handler[n];

		if (!o->has_ip[0][f])
			continue;
		h->software = o->software ? SOFTWARE : NULL;
		h->key = o->key_len ? o->key : NULL;
		h->key_len = o->key_len;
		h->session_secret = o->secret_len ? o->secret : NULL;
		h->session_secret_len = o->secret_len;
		for (int role = 0; role < 4; role++) {
			int a = role >> 1, p = role & 1;
			struct sockaddr *bound = (struct sockaddr *)&cfg->bound[n][role];
			struct sockaddr *adv = (struct sockaddr *)&h->advertised[role];

			cfg->bound[n][role] = o->ip[a][f];
			addr_set_port(bound, o->port[p]);
			h->advertised[role] =
			    o->has_advertised[a][f] ? o->advertised[a][f] : o->ip[a][f];
			addr_set_port(adv, o->port[p]);
		}
		cfg->nfamilies++;
	}
}

/* After binding, nothing needs root: give it up for good. */
static int drop_privileges(const char *user)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "natreflector: --user: no user '%s'\n", user);
		return -1;
	}
	if (setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid)) {
		fprintf(stderr, "natreflector: --user %s: %s\n", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		fprintf(stderr, "natreflector: --user %s: root could be regained\n", user);
		return -1;
	}
	return 0;
}

static int issue_session(const struct options *o)
{
	char key[REFL_SESSION_KEY_LEN + 1];
	size_t len = strlen(o->issue);

	for (size_t i = 0; i < len; i++) {
		if (o->issue[i] < 0x21 || o->issue[i] > 0x7E) {
			fprintf(stderr,
				"natreflector: --issue-session: the ID is printable ASCII "
				"without spaces, not '%s'\n",
				o->issue);
			return EXIT_USAGE;
		}
	}
	if (len == 0 || len > REFL_SESSION_ID_MAX) {
		fprintf(stderr, "natreflector: --issue-session: the ID is 1 to %d characters\n",
			REFL_SESSION_ID_MAX);
		return EXIT_USAGE;
	}
	refl_session_key(o->secret, o->secret_len, o->issue, key);
	printf("session %s key %s\n", o->issue, key);
	return 0;
}

int main(int argc, char **argv)
{
	static struct options o;
	struct refl_server_cfg cfg;
	refl_server_t *s;
	int rc = EXIT_USAGE;

	if (parse_options(argc, argv, &o, &cfg))
		return EXIT_USAGE;
	if (o.issue)
		return issue_session(&o);
	assign_roles(&o, &cfg);
	s = refl_server_open(&cfg);
	if (!s)
		return EXIT_USAGE;
	if (o.user && drop_privileges(o.user))
		goto cleanup;
	setvbuf(stdout, NULL, _IOLBF, 0);
	counters_signals();
	rc = refl_server_run(s, stdout) ? EXIT_HOST : 0;
cleanup:
	refl_server_close(s);
	return rc;
}
