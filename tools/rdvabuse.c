/*
 * rdvabuse: tries to use natreflector's rendezvous (RFC 5128's S) as an
 * amplifier and as a port scanner, and says what came of it (RFC 5128 6.2,
 * 6.3). For tests/punch.sh, in a namespace of its own; never aimed at
 * anything but a reflector of our own labs.
 *
 * amplify: unauthenticated and wrongly signed rendezvous requests, from 20
 *   bytes (a header) up, from one socket: bytes sent against bytes answered.
 * forge: a key holder pretending to be two probes at a victim's endpoints
 *   (the victim: the address of --victim, ports from --port): registrations
 *   as a spoofer sends them, blind, never echoing a cookie, each naming
 *   the victim's port 22 as its own endpoint and asking for the relay; then
 *   signed punch packets for the relay. The sockets stand where the victim
 *   would, and count what reaches them: the answers, any start, any packet
 *   that names a peer, anything relayed.
 * --echo-cookies: the control. The same registrations from sources that do
 *   receive, echoing each answer's cookie as natprobe does: they must meet
 *   (starts and peers named), or the forge's zeros prove nothing.
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
#include "clock.h"
#include "stun.h"

#define PAIRS     16 /* forged trials: two victim endpoints each */
#define ROUNDS    4  /* registrations per endpoint, as a prober repeats them */
#define PUNCHES   4  /* punch packets per endpoint for the relay */
#define LISTEN_MS 60 /* after each burst: what comes back */

static const char usage[] =
    "usage: rdvabuse --session ID --key KEY --victim IP [--port N] [--echo-cookies]\n"
    "                SERVER[:PORT]\n"
    "\n"
    "Try to use natreflector's rendezvous as an amplifier and a port scanner\n"
    "(RFC 5128 6.2, 6.3); only against a reflector of your own. Prints:\n"
    "  amplify requests=N bytes_out=B answers=M bytes_in=K\n"
    "  forge registrations=N bytes_out=B datagrams_in=M bytes_in=K starts=S peers=P\n"
    "  relay punches=N bytes_out=B relayed=M\n"
    "forge: 16 trials registered by a key holder from the victim's ports (IP\n"
    "--victim, ports from --port, default 40000; the address must be local), never\n"
    "echoing a cookie, each naming the victim's port 22 as its own endpoint;\n"
    "starts: meeting starts that reached the victim; peers: packets naming a peer.\n"
    "--echo-cookies: the control, echoing each answer's cookie as a real probe does.\n"
    "Exit status: 0 ran, 2 bad usage or no socket.\n";

struct opts {
	const char *session, *key;
	struct sockaddr_storage server, victim;
	bool echo;
};

struct tally {
	unsigned sent, datagrams, starts, peers;
	size_t bytes_out, bytes_in;
};

static int open_at(const struct sockaddr_storage *at)
{
	int fd = socket(at->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 ||
	    bind(fd, (const struct sockaddr *)at, addr_len((const struct sockaddr *)at))) {
		char a[ADDR_STRLEN];

		fprintf(stderr, "rdvabuse: cannot bind %s: %s\n",
			addr_format((const struct sockaddr *)at, a, sizeof(a)), strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void send_to_server(const struct opts *o, int fd, const uint8_t *msg, size_t len,
			   struct tally *t)
{
	if (sendto(fd, msg, len, 0, (const struct sockaddr *)&o->server,
		   addr_len((const struct sockaddr *)&o->server)) == (ssize_t)len) {
		t->sent++;
		t->bytes_out += len;
	}
}

/* What reached the sockets within ms: counted; the cookie of each
 * answer kept (cookies[i], 8 bytes) for the control. */
static void drain(int *fds, size_t n, unsigned ms, struct tally *t, uint8_t (*cookies)[8])
{
	uint64_t end = clock_now_us() + (uint64_t)ms * 1000;

	while (clock_now_us() < end) {
		struct pollfd p[2 * PAIRS];

		for (size_t i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		if (poll(p, n, (int)((end - clock_now_us()) / 1000) + 1) <= 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			uint8_t buf[2048];
			ssize_t got;
			struct stun_msg m;
			const struct stun_attr *c;

			while ((got = recv(fds[i], buf, sizeof(buf), 0)) >= 0) {
				t->datagrams++;
				t->bytes_in += (size_t)got;
				if (stun_parse(&m, buf, (size_t)got, 0) != STUN_OK)
					continue;
				t->starts +=
				    m.cls == STUN_INDICATION && m.method == STUN_NATLAB_RENDEZVOUS;
				t->peers += stun_find(&m, STUN_ATTR_XOR_PEER_ADDRESS) != NULL;
				c = stun_find(&m, STUN_ATTR_NATLAB_COOKIE);
				if (cookies && c && c->len == 8)
					memcpy(cookies[i], stun_attr_value(&m, c), 8);
			}
		}
	}
}

/* ---- amplify ---- */

/* Request k of the battery: a header alone, USERNAME of k bytes, junk
 * attributes, a wrong key. Its length, 0 past the end. */
static size_t bad_request(const struct opts *o, unsigned k, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = {0xAB, (uint8_t)k};
	char user[65];
	size_t len;

	if (k > 64 + 16 + 8)
		return 0;
	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_RENDEZVOUS, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	if (k > 0 && k <= 64) { /* USERNAME of k bytes, nothing else: 400 */
		memset(user, 'u', k);
		user[k] = '\0';
		stun_build_string(&b, STUN_ATTR_USERNAME, user);
	} else if (k > 64 && k <= 80) { /* junk: 4 to 64 bytes of an unknown optional attribute */
		uint8_t junk[64] = {0};

		stun_build_attr(&b, 0x8F00, junk, (k - 64) * 4);
	} else if (k > 80) { /* signed with a wrong key: 401 */
		stun_build_string(&b, STUN_ATTR_USERNAME, o->session);
		stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, (const uint8_t *)"WRONGKEY", 8);
		stun_build_integrity_sha256(&b, (const uint8_t *)"not the key", 11);
		stun_build_fingerprint(&b);
	}
	return stun_build_end(&b, &len) == STUN_OK ? len : 0;
}

static int amplify(const struct opts *o)
{
	struct sockaddr_storage at = o->victim;
	struct tally t = {0};
	uint8_t buf[512];
	size_t len;
	int fd;

	addr_set_port((struct sockaddr *)&at, 0);
	if ((fd = open_at(&at)) < 0)
		return -1;
	for (unsigned k = 0; (len = bad_request(o, k, buf, sizeof(buf))); k++)
		send_to_server(o, fd, buf, len, &t);
	drain(&fd, 1, 200, &t, NULL);
	close(fd);
	printf("amplify requests=%u bytes_out=%zu answers=%u bytes_in=%zu\n", t.sent, t.bytes_out,
	       t.datagrams, t.bytes_in);
	return 0;
}

/* ---- forge ---- */

static size_t registration(const struct opts *o, unsigned pair, int side, const uint8_t *cookie,
			   uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = {0xF0, (uint8_t)pair, (uint8_t)side}, token[8];
	struct sockaddr_storage ssh = o->victim;
	size_t len;

	snprintf((char *)token, sizeof(token), "F%03u-%c", pair, 'A' + side);
	token[7] = (uint8_t)side;
	addr_set_port((struct sockaddr *)&ssh, 22);
	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_RENDEZVOUS, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, o->session);
	stun_build_u32(&b, STUN_ATTR_NATLAB_TRIAL, 1000 + pair);
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, token, 8);
	stun_build_addr(&b, STUN_ATTR_NATLAB_PRIVATE, (const struct sockaddr *)&ssh);
	stun_build_u32(&b, STUN_ATTR_NATLAB_RTT, 1000);
	stun_build_attr(&b, STUN_ATTR_NATLAB_RELAY, NULL, 0);
	if (cookie)
		stun_build_attr(&b, STUN_ATTR_NATLAB_COOKIE, cookie, 8);
	stun_build_integrity_sha256(&b, (const uint8_t *)o->key, strlen(o->key));
	stun_build_fingerprint(&b);
	return stun_build_end(&b, &len) == STUN_OK ? len : 0;
}

static size_t punch(const struct opts *o, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = {0xEE};
	size_t len;

	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_PUNCH, STUN_INDICATION),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, o->session);
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, (const uint8_t *)"RELAYME!", 8);
	stun_build_integrity_sha256(&b, (const uint8_t *)o->key, strlen(o->key));
	stun_build_fingerprint(&b);
	return stun_build_end(&b, &len) == STUN_OK ? len : 0;
}

static int forge(const struct opts *o)
{
	int fds[2 * PAIRS];
	uint8_t cookies[2 * PAIRS][8], buf[512];
	bool have[2 * PAIRS] = {false};
	struct tally t = {0}, r = {0};
	size_t n = 0, len;
	int rc = 0;

	for (; n < 2 * PAIRS; n++) {
		struct sockaddr_storage at = o->victim;

		addr_set_port((struct sockaddr *)&at,
			      (uint16_t)(addr_port((struct sockaddr *)&at) + n));
		if ((fds[n] = open_at(&at)) < 0) {
			rc = -1;
			break;
		}
	}
	for (unsigned round = 0; !rc && round < ROUNDS; round++) {
		for (size_t i = 0; i < n; i++) {
			len =
			    registration(o, (unsigned)i / 2, (int)(i % 2),
					 o->echo && have[i] ? cookies[i] : NULL, buf, sizeof(buf));
			send_to_server(o, fds[i], buf, len, &t);
		}
		memset(cookies, 0, sizeof(cookies));
		drain(fds, n, LISTEN_MS, &t, cookies);
		for (size_t i = 0; i < n; i++)
			have[i] = have[i] || memcmp(cookies[i], (uint8_t[8]){0}, 8);
	}
	printf("forge registrations=%u bytes_out=%zu datagrams_in=%u bytes_in=%zu starts=%u "
	       "peers=%u\n",
	       t.sent, t.bytes_out, t.datagrams, t.bytes_in, t.starts, t.peers);
	for (unsigned k = 0; !rc && k < PUNCHES; k++)
		for (size_t i = 0; i < n; i++)
			send_to_server(o, fds[i], buf, punch(o, buf, sizeof(buf)), &r);
	if (!rc)
		drain(fds, n, 200, &r, NULL);
	printf("relay punches=%u bytes_out=%zu relayed=%u\n", r.sent, r.bytes_out, r.datagrams);
	while (n)
		close(fds[--n]);
	return rc;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"session", required_argument, NULL, 's'},
	    {"key", required_argument, NULL, 'k'},
	    {"victim", required_argument, NULL, 'v'},
	    {"port", required_argument, NULL, 'p'},
	    {"echo-cookies", no_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *victim = NULL;
	unsigned long port = 40000;
	char err[320], *end;
	int c;

	*o = (struct opts){0};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 's')
			o->session = optarg;
		else if (c == 'k')
			o->key = optarg;
		else if (c == 'v')
			victim = optarg;
		else if (c == 'e')
			o->echo = true;
		else if (c == 'p') {
			port = strtoul(optarg, &end, 10);
			if (*end || port < 1 || port > 65535 - 2 * PAIRS) {
				fprintf(stderr, "rdvabuse: --port: '%s' is not a port to %d\n",
					optarg, 65535 - 2 * PAIRS);
				return -1;
			}
		} else if (c == 'h') {
			fputs(usage, stdout);
			exit(0);
		} else
			return -1;
	}
	if (!o->session || !o->key || !victim || optind != argc - 1) {
		fputs(usage, stderr);
		return -1;
	}
	if (addr_resolve(argv[optind], ADDR_PORT_OPTIONAL, 3478, AF_UNSPEC, &o->server, err,
			 sizeof(err)) ||
	    addr_resolve(victim, ADDR_PORT_NONE, 0, o->server.ss_family, &o->victim, err,
			 sizeof(err))) {
		fprintf(stderr, "rdvabuse: %s\n", err);
		return -1;
	}
	addr_set_port((struct sockaddr *)&o->victim, (uint16_t)port);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (parse(argc, argv, &o))
		return 2;
	if (amplify(&o) || forge(&o))
		return 2;
	return 0;
}
