/*
 * labecho: the flows that check a lab. A server on the lab's "internet"
 * tells each client the source address it saw (so the client learns its
 * mapping), and can answer from another of its endpoints (so the client
 * learns the NAT's filtering). It is deliberately not STUN: the labs are
 * checked with a tool that shares no code with the probe it will later judge.
 *
 * UDP request:  "natlab-echo" [" via IP:PORT"]
 * UDP answer:   "seen IP:PORT", from the endpoint named by via (when the
 *               server has it) or else from the one the request reached.
 * TCP:          the server writes "seen IP:PORT\n" and closes.
 *
 * mirror: every UDP datagram goes back to its sender as it came, and every
 * TCP connection's bytes back on it (a host that replays what it is sent:
 * natprobe punch's decoy, tests/punch.sh).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "addr.h"

#define MAX_ENDPOINTS  16
#define EXIT_NO_ANSWER 1
#define EXIT_USAGE     2
#define REQUEST        "natlab-echo"

static const char usage[] =
    "usage: labecho serve [--for SECONDS] IP:PORT...\n"
    "       labecho udp [--local IP:PORT] [--via IP:PORT] [--timeout MS] [--tries N]\n"
    "                   [--listen MS] SERVER:PORT\n"
    "       labecho tcp [--local IP:PORT] [--timeout MS] SERVER:PORT\n"
    "       labecho send [--local IP:PORT] DEST:PORT\n"
    "       labecho mirror [--for SECONDS] IP:PORT\n"
    "\n"
    "serve   answer UDP and TCP on each endpoint with the source address seen,\n"
    "        for SECONDS (default 3600) or until SIGTERM\n"
    "udp     ask SERVER what source address it sees; prints 'mapped IP:PORT from\n"
    "        RESPONDER'. --via asks for the answer from another of the server's\n"
    "        endpoints; --listen keeps the socket open MS more and prints 'heard\n"
    "        SOURCE' for each datagram that arrives\n"
    "tcp     the same over a TCP connection\n"
    "send    send one datagram and exit\n"
    "mirror  send every UDP datagram back to its sender, as it came, and accept\n"
    "        TCP connections and send their bytes back on them (16 at once), for\n"
    "        SECONDS (default 3600) or until SIGTERM; prints 'mirrored N' (datagrams\n"
    "        and TCP reads) at the end\n"
    "\n"
    "Exit status: 0 answered, 1 no answer (timeout, refused), 2 bad usage.\n";

struct opts {
	struct sockaddr_storage local, via;
	bool has_local, has_via;
	int timeout_ms, tries, listen_ms, for_s;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_endpoint(const char *text, struct sockaddr_storage *ss)
{
	char err[160];

	if (addr_parse(text, ADDR_PORT_REQUIRED, 0, ss, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "labecho: %s\n", err);
	return -1;
}

static int parse_int(const char *name, const char *text, int max, int *v)
{
	char *end;
	long n = strtol(text, &end, 10);

	if (*text == '\0' || *end != '\0' || n < 0 || n > max) {
		fprintf(stderr, "labecho: %s wants a number from 0 to %d, not '%s'\n", name, max,
			text);
		return -1;
	}
	*v = (int)n;
	return 0;
}

/* Options after the subcommand; returns the index of the first operand or -1. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	int i;

	*o = (struct opts){.timeout_ms = 500, .tries = 3, .for_s = 3600};
	for (i = 2; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *name = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int rc;

		if (!val) {
			fprintf(stderr, "labecho: %s wants a value\n", name);
			return -1;
		}
		if (!strcmp(name, "--local")) {
			rc = parse_endpoint(val, &o->local);
			o->has_local = true;
		} else if (!strcmp(name, "--via")) {
			rc = parse_endpoint(val, &o->via);
			o->has_via = true;
		} else if (!strcmp(name, "--timeout"))
			rc = parse_int(name, val, 60000, &o->timeout_ms);
		else if (!strcmp(name, "--tries"))
			rc = parse_int(name, val, 100, &o->tries);
		else if (!strcmp(name, "--listen"))
			rc = parse_int(name, val, 60000, &o->listen_ms);
		else if (!strcmp(name, "--for"))
			rc = parse_int(name, val, 86400, &o->for_s);
		else {
			fprintf(stderr, "labecho: unknown option '%s'\n%s", name, usage);
			return -1;
		}
		if (rc)
			return -1;
	}
	return i;
}

static int open_socket(int type, const struct sockaddr_storage *bind_to, int family)
{
	int fd = socket(family, type, 0), one = 1;

	if (fd < 0) {
		perror("labecho: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind_to && bind(fd, (const struct sockaddr *)bind_to,
			    addr_len((const struct sockaddr *)bind_to)) < 0) {
		char text[ADDR_STRLEN];

		fprintf(stderr, "labecho: bind %s: %s\n",
			addr_format((const struct sockaddr *)bind_to, text, sizeof(text)),
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- server ---- */

struct endpoint {
	struct sockaddr_storage addr;
	int udp, tcp;
};

static void answer_udp(struct endpoint *eps, int n, int i)
{
	char buf[128], reply[96], seen[ADDR_STRLEN];
	struct sockaddr_storage from, via;
	socklen_t flen = sizeof(from);
	ssize_t got =
	    recvfrom(eps[i].udp, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
	int out = i;

	if (got < (ssize_t)strlen(REQUEST) || memcmp(buf, REQUEST, strlen(REQUEST)))
		return; /* not ours: dropped */
	buf[got] = '\0';
	if (!strncmp(buf + strlen(REQUEST), " via ", 5)) {
		char err[160];

		if (addr_parse(buf + strlen(REQUEST) + 5, ADDR_PORT_REQUIRED, 0, &via, err,
			       sizeof(err)))
			return;
		for (int k = 0; k < n; k++)
			if (addr_equal((struct sockaddr *)&eps[k].addr, (struct sockaddr *)&via))
				out = k;
	}
	snprintf(reply, sizeof(reply), "seen %s",
		 addr_format((struct sockaddr *)&from, seen, sizeof(seen)));
	sendto(eps[out].udp, reply, strlen(reply), 0, (struct sockaddr *)&from, flen);
}

static void answer_tcp(int listener)
{
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	char line[96], seen[ADDR_STRLEN];
	int fd = accept(listener, (struct sockaddr *)&from, &flen);

	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "seen %s\n",
		 addr_format((struct sockaddr *)&from, seen, sizeof(seen)));
	if (write(fd, line, strlen(line)) < 0)
		perror("labecho: write");
	close(fd);
}

static int serve(int argc, char **argv, int first, const struct opts *o)
{
	struct endpoint eps[MAX_ENDPOINTS];
	struct pollfd pfd[2 * MAX_ENDPOINTS];
	int n = argc - first, rc = 0;
	int64_t deadline = now_ms() + (int64_t)o->for_s * 1000;

	if (n < 1 || n > MAX_ENDPOINTS) {
		fprintf(stderr, "labecho: serve wants 1 to %d endpoints\n", MAX_ENDPOINTS);
		return EXIT_USAGE;
	}
	for (int i = 0; i < n; i++) {
		if (parse_endpoint(argv[first + i], &eps[i].addr))
			return EXIT_USAGE;
		eps[i].udp = open_socket(SOCK_DGRAM, &eps[i].addr, eps[i].addr.ss_family);
		eps[i].tcp = open_socket(SOCK_STREAM, &eps[i].addr, eps[i].addr.ss_family);
		if (eps[i].udp < 0 || eps[i].tcp < 0 || listen(eps[i].tcp, 64) < 0)
			return EXIT_USAGE;
		pfd[2 * i] = (struct pollfd){.fd = eps[i].udp, .events = POLLIN};
		pfd[2 * i + 1] = (struct pollfd){.fd = eps[i].tcp, .events = POLLIN};
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop && now_ms() < deadline) {
		if (poll(pfd, (nfds_t)(2 * n), 200) < 0 && errno != EINTR) {
			perror("labecho: poll");
			rc = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (pfd[2 * i].revents & POLLIN)
				answer_udp(eps, n, i);
			if (pfd[2 * i + 1].revents & POLLIN)
				answer_tcp(eps[i].tcp);
		}
	}
	return rc;
}

#define MIRROR_CONNS 16

/* One readable socket of the mirror: a datagram back to its sender, a new
 * connection taken (or refused, when all slots are used), or a
 * connection's bytes back on it (closed at its end). 1 when something was
 * mirrored. */
static int mirror_one(struct pollfd *p, int i)
{
	char buf[2048];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t got;

	if (i == 0) {
		got = recvfrom(p[0].fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		return got >= 0 &&
		       sendto(p[0].fd, buf, (size_t)got, 0, (struct sockaddr *)&from, flen) >= 0;
	}
	if (i == 1) {
		int fd = accept(p[1].fd, NULL, NULL), k = 2;

		while (fd >= 0 && k < 2 + MIRROR_CONNS && p[k].fd >= 0)
			k++;
		if (fd >= 0 && k == 2 + MIRROR_CONNS)
			close(fd);
		else if (fd >= 0)
			p[k] = (struct pollfd){.fd = fd, .events = POLLIN};
		return 0;
	}
	got = read(p[i].fd, buf, sizeof(buf));
	if (got <= 0 || write(p[i].fd, buf, (size_t)got) != got) {
		close(p[i].fd);
		p[i].fd = -1;
		return 0;
	}
	return 1;
}

static int mirror(int argc, char **argv, int first, const struct opts *o)
{
	struct sockaddr_storage at;
	int64_t deadline = now_ms() + (int64_t)o->for_s * 1000;
	unsigned long mirrored = 0;
	struct pollfd p[2 + MIRROR_CONNS];

	if (argc - first != 1 || parse_endpoint(argv[first], &at))
		return EXIT_USAGE;
	p[0] = (struct pollfd){.fd = open_socket(SOCK_DGRAM, &at, at.ss_family), .events = POLLIN};
	p[1] = (struct pollfd){.fd = open_socket(SOCK_STREAM, &at, at.ss_family), .events = POLLIN};
	if (p[0].fd < 0 || p[1].fd < 0 || listen(p[1].fd, 16) < 0)
		return EXIT_USAGE;
	for (int k = 2; k < 2 + MIRROR_CONNS; k++)
		p[k] = (struct pollfd){.fd = -1, .events = POLLIN};
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop && now_ms() < deadline) {
		if (poll(p, 2 + MIRROR_CONNS, 200) <= 0)
			continue;
		for (int k = 0; k < 2 + MIRROR_CONNS; k++)
			if (p[k].fd >= 0 && (p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				mirrored += (unsigned long)mirror_one(p, k);
	}
	printf("mirrored %lu\n", mirrored);
	return 0;
}

/* ---- clients ---- */

static int target(int argc, char **argv, int first, struct sockaddr_storage *dest)
{
	if (argc - first != 1) {
		fprintf(stderr, "labecho: want one SERVER:PORT\n%s", usage);
		return -1;
	}
	return parse_endpoint(argv[first], dest);
}

/* Wait up to ms for a datagram; its length, or -1 on timeout. */
static ssize_t wait_datagram(int fd, int ms, char *buf, size_t cap, struct sockaddr_storage *from)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	socklen_t flen = sizeof(*from);
	ssize_t got;

	if (poll(&p, 1, ms) <= 0)
		return -1;
	got = recvfrom(fd, buf, cap - 1, 0, (struct sockaddr *)from, &flen);
	if (got >= 0)
		buf[got] = '\0';
	return got;
}

static void listen_more(int fd, int ms)
{
	int64_t deadline = now_ms() + ms;
	struct sockaddr_storage from;
	char buf[128], text[ADDR_STRLEN];

	for (int64_t left = ms; left > 0; left = deadline - now_ms()) {
		if (wait_datagram(fd, (int)left, buf, sizeof(buf), &from) < 0)
			continue;
		printf("heard %s\n", addr_format((struct sockaddr *)&from, text, sizeof(text)));
		fflush(stdout);
	}
}

static int udp_client(int argc, char **argv, int first, const struct opts *o)
{
	struct sockaddr_storage dest, from;
	char req[96], buf[128], via[ADDR_STRLEN], text[ADDR_STRLEN];
	int fd, rc = EXIT_NO_ANSWER;

	if (target(argc, argv, first, &dest))
		return EXIT_USAGE;
	fd = open_socket(SOCK_DGRAM, o->has_local ? &o->local : NULL, dest.ss_family);
	if (fd < 0)
		return EXIT_USAGE;
	snprintf(req, sizeof(req), REQUEST "%s%s", o->has_via ? " via " : "",
		 o->has_via ? addr_format((const struct sockaddr *)&o->via, via, sizeof(via)) : "");
	for (int t = 0; t < o->tries && rc; t++) {
		sendto(fd, req, strlen(req), 0, (struct sockaddr *)&dest,
		       addr_len((struct sockaddr *)&dest));
		if (wait_datagram(fd, o->timeout_ms, buf, sizeof(buf), &from) > 5 &&
		    !strncmp(buf, "seen ", 5)) {
			printf("mapped %s from %s\n", buf + 5,
			       addr_format((struct sockaddr *)&from, text, sizeof(text)));
			fflush(stdout);
			rc = 0;
		}
	}
	if (rc)
		printf("no answer\n");
	if (o->listen_ms)
		listen_more(fd, o->listen_ms);
	close(fd);
	return rc;
}

/* What became of a connection attempt, in natlab's unsolicited_syn words. */
static const char *connect_outcome(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "rst";
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EACCES:
		return "icmp";
	case EINPROGRESS:
	case EAGAIN:
	case ETIMEDOUT:
		return "drop";
	default:
		return "other";
	}
}

static int tcp_client(int argc, char **argv, int first, const struct opts *o)
{
	struct sockaddr_storage dest;
	struct pollfd p;
	struct timeval tv;
	char buf[128];
	ssize_t got;
	int fd, rc = EXIT_NO_ANSWER;

	if (target(argc, argv, first, &dest))
		return EXIT_USAGE;
	fd = open_socket(SOCK_STREAM, o->has_local ? &o->local : NULL, dest.ss_family);
	if (fd < 0)
		return EXIT_USAGE;
	/* A blocking connect, bounded by SO_SNDTIMEO, then a bounded read. */
	tv = (struct timeval){o->timeout_ms / 1000, (o->timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	errno = 0;
	if (connect(fd, (struct sockaddr *)&dest, addr_len((struct sockaddr *)&dest)) == 0) {
		p = (struct pollfd){.fd = fd, .events = POLLIN};
		if (poll(&p, 1, o->timeout_ms) > 0 && (got = read(fd, buf, sizeof(buf) - 1)) > 5) {
			buf[got] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			if (!strncmp(buf, "seen ", 5)) {
				printf("mapped %s\n", buf + 5);
				rc = 0;
			}
		}
	}
	if (rc)
		printf("no answer: %s (%s)\n", connect_outcome(errno),
		       errno ? strerror(errno) : "no reply");
	close(fd);
	return rc;
}

static int send_one(int argc, char **argv, int first, const struct opts *o)
{
	struct sockaddr_storage dest;
	int fd;

	if (target(argc, argv, first, &dest))
		return EXIT_USAGE;
	fd = open_socket(SOCK_DGRAM, o->has_local ? &o->local : NULL, dest.ss_family);
	if (fd < 0)
		return EXIT_USAGE;
	if (sendto(fd, "natlab-hello", 12, 0, (struct sockaddr *)&dest,
		   addr_len((struct sockaddr *)&dest)) < 0)
		perror("labecho: sendto");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **, int, const struct opts *);
	} commands[] = {{"serve", serve},
			{"udp", udp_client},
			{"tcp", tcp_client},
			{"send", send_one},
			{"mirror", mirror}};
	struct opts o;
	int first;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	first = parse_opts(argc, argv, &o);
	if (first < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc, argv, first, &o);
	fprintf(stderr, "labecho: unknown command '%s'\n%s", argv[1], usage);
	return EXIT_USAGE;
}
