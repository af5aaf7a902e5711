/*
 * natreflector: the STUN reflector on a host with two addresses, each on two
 * ports (RFC 5780's four roles). The decisions are handler.c's; this file
 * owns the sockets, the options and the counters.
 *
 * This first version serves UDP with one poll loop; TCP, recvmmsg batching,
 * rate limits and natlab's own tests come next (issue 4).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "addr.h"
#include "counters.h"
#include "reflector/handler.h"

#define EXIT_USAGE 2
#define EXIT_HOST  3
#define SOFTWARE   "natlab natreflector 0.1.0"

static const char usage[] =
    "usage: natreflector --primary IP --alternate IP [--port 3478] [--alt-port 3479]\n"
    "                    [--advertise-primary IP] [--advertise-alternate IP]\n"
    "                    [--key SECRET] [--no-software] [--no-tcp]\n"
    "\n"
    "Answer STUN Binding requests (RFC 8489/5389, RFC 5780 behaviour discovery,\n"
    "RFC 3489) on the four endpoints PRIMARY:PORT, PRIMARY:ALT-PORT,\n"
    "ALTERNATE:PORT and ALTERNATE:ALT-PORT, over UDP.\n"
    "\n"
    "  --primary IP              the primary address (bound)\n"
    "  --alternate IP            the alternate address (bound)\n"
    "  --port N, --alt-port N    the two ports (3478, 3479)\n"
    "  --advertise-primary IP    the primary's public address, behind a 1:1 NAT;\n"
    "  --advertise-alternate IP  RESPONSE-ORIGIN and OTHER-ADDRESS say these\n"
    "  --key SECRET              require MESSAGE-INTEGRITY with this short-term key\n"
    "  --no-software             leave SOFTWARE out of answers\n"
    "  --no-tcp                  accepted for scripts; TCP is not served yet\n"
    "  -h, --help                this text\n"
    "\n"
    "SIGUSR1 prints counters; SIGTERM or SIGINT prints them and exits.\n"
    "Exit status: 0 stopped by a signal, 2 bad usage or an address that cannot be\n"
    "bound (the message says which), 3 a socket error while running.\n";

struct reflector {
	struct refl_cfg cfg;
	struct sockaddr_storage bound[4];
	int udp[4];
	struct counters counters;
	uint8_t key[256];
};

static int parse_ip(const char *opt, const char *text, struct sockaddr_storage *ss)
{
	char err[160];

	if (addr_parse(text, ADDR_PORT_NONE, 0, ss, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "natreflector: %s: %s\n", opt, err);
	return -1;
}

static int parse_port(const char *opt, const char *text, uint16_t *port)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*text < '0' || *text > '9' || *end || v == 0 || v > 65535) {
		fprintf(stderr, "natreflector: %s wants a port from 1 to 65535, not '%s'\n", opt,
			text);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

struct options {
	struct sockaddr_storage ip[2], advertised[2];
	bool has_ip[2], has_advertised[2];
	uint16_t port[2];
};

static int parse_options(int argc, char **argv, struct options *o, struct reflector *r)
{
	static const struct option longopts[] = {
	    {"primary", required_argument, NULL, 'p'},
	    {"alternate", required_argument, NULL, 'a'},
	    {"port", required_argument, NULL, 'P'},
	    {"alt-port", required_argument, NULL, 'A'},
	    {"advertise-primary", required_argument, NULL, 'x'},
	    {"advertise-alternate", required_argument, NULL, 'y'},
	    {"key", required_argument, NULL, 'k'},
	    {"no-software", no_argument, NULL, 's'},
	    {"no-tcp", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, rc = 0;

	*o = (struct options){.port = {3478, 3479}};
	r->cfg.software = SOFTWARE;
	while (rc == 0 && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'a':
			rc = parse_ip(c == 'p' ? "--primary" : "--alternate", optarg,
				      &o->ip[c == 'a']);
			o->has_ip[c == 'a'] = true;
			break;
		case 'x':
		case 'y':
			rc = parse_ip(c == 'x' ? "--advertise-primary" : "--advertise-alternate",
				      optarg, &o->advertised[c == 'y']);
			o->has_advertised[c == 'y'] = true;
			break;
		case 'P':
		case 'A':
			rc = parse_port(c == 'P' ? "--port" : "--alt-port", optarg,
					&o->port[c == 'A']);
			break;
		case 'k':
			if (strlen(optarg) == 0 || strlen(optarg) > sizeof(r->key)) {
				fprintf(stderr, "natreflector: --key wants 1 to %zu bytes\n",
					sizeof(r->key));
				rc = -1;
				break;
			}
			memcpy(r->key, optarg, strlen(optarg));
			r->cfg.key = r->key;
			r->cfg.key_len = strlen(optarg);
			break;
		case 's':
			r->cfg.software = NULL;
			break;
		case 't':
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			rc = -1;
		}
	}
	if (rc == 0 && (!o->has_ip[0] || !o->has_ip[1] || optind != argc)) {
		fprintf(stderr, "natreflector: want --primary and --alternate%s\n",
			optind != argc ? ", and no other arguments" : "");
		rc = -1;
	}
	if (rc == 0 && (o->ip[0].ss_family != o->ip[1].ss_family || o->port[0] == o->port[1])) {
		fprintf(stderr, "natreflector: the two addresses must be of one family, and the "
				"two ports different\n");
		rc = -1;
	}
	if (rc)
		fputs(usage, stderr);
	return rc;
}

/* The roles: bit 1 picks the address, bit 0 the port. */
static void assign_roles(const struct options *o, struct reflector *r)
{
	for (int role = 0; role < 4; role++) {
		int a = role >> 1, p = role & 1;

		r->bound[role] = o->ip[a];
		addr_set_port((struct sockaddr *)&r->bound[role], o->port[p]);
		r->cfg.advertised[role] = o->has_advertised[a] ? o->advertised[a] : o->ip[a];
		addr_set_port((struct sockaddr *)&r->cfg.advertised[role], o->port[p]);
	}
}

static int open_sockets(struct reflector *r)
{
	char text[ADDR_STRLEN];

	for (int role = 0; role < 4; role++) {
		const struct sockaddr *sa = (const struct sockaddr *)&r->bound[role];
		int fd = socket(sa->sa_family, SOCK_DGRAM, 0);

		r->udp[role] = fd;
		if (fd < 0 || bind(fd, sa, addr_len(sa)) < 0) {
			fprintf(stderr, "natreflector: cannot bind UDP %s: %s\n",
				addr_format(sa, text, sizeof(text)), strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void serve_one(struct reflector *r, int role)
{
	uint8_t msg[2048], reply[2048];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t got =
	    recvfrom(r->udp[role], msg, sizeof(msg), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	struct refl_request req;
	struct refl_reply out;

	if (got < 0)
		return;
	req = (struct refl_request){msg, (size_t)got, (enum refl_role)role,
				    (struct sockaddr *)&from, false};
	refl_handle(&r->cfg, &req, reply, sizeof(reply), &out);
	if (!out.len) {
		counters_add(&r->counters, out.drop);
		return;
	}
	counters_add(&r->counters, out.error ? "answered with an error" : "answered");
	if (sendto(r->udp[out.role], reply, out.len, 0, (struct sockaddr *)&out.to,
		   addr_len((struct sockaddr *)&out.to)) < 0)
		counters_add(&r->counters, "send failed");
}

static int run(struct reflector *r)
{
	struct pollfd pfd[4];

	for (int role = 0; role < 4; role++)
		pfd[role] = (struct pollfd){.fd = r->udp[role], .events = POLLIN};
	printf("natreflector ready\n");
	fflush(stdout);
	while (!counters_stop) {
		if (counters_report) {
			counters_report = 0;
			counters_print(&r->counters, stdout, "natreflector");
		}
		if (poll(pfd, 4, 500) < 0 && errno != EINTR) {
			perror("natreflector: poll");
			return EXIT_HOST;
		}
		for (int role = 0; role < 4; role++)
			if (pfd[role].revents & POLLIN)
				serve_one(r, role);
	}
	counters_print(&r->counters, stdout, "natreflector");
	return 0;
}

int main(int argc, char **argv)
{
	static struct reflector r;
	struct options o;
	int rc = EXIT_USAGE;

	for (int role = 0; role < 4; role++)
		r.udp[role] = -1;
	if (parse_options(argc, argv, &o, &r))
		return EXIT_USAGE;
	assign_roles(&o, &r);
	if (open_sockets(&r))
		goto cleanup;
	counters_signals();
	rc = run(&r);
cleanup:
	for (int role = 0; role < 4; role++)
		if (r.udp[role] >= 0)
			close(r.udp[role]);
	return rc;
}
