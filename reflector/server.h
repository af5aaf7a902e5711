/*
 * natreflector's sockets and event loop: for each address family served, the
 * four roles over UDP and (unless turned off) TCP, one epoll loop, UDP read
 * and answered in batches (recvmmsg/sendmmsg), TCP framed per RFC 8489
 * section 6.2.2. The decisions are handler.c's; the limits are here:
 * a per-source rate, caps on TCP connections per source and in all, an idle
 * timeout, and a connection closed rather than buffered for when it stops
 * reading. State is allocated once, at start.
 *
 * With workers (--workers N), N event loops, one thread each, serve UDP on
 * SO_REUSEPORT sockets of their own on every endpoint. Worker 0 is the whole
 * server: TCP, natlab's tests, the rendezvous and relay, --metrics; the
 * kernel steers natlab's own requests to it (server.c's steer) and spreads
 * the rest. The rate limit is one table shared by all (limiter.h), so a
 * source's rate is one rate whichever worker it reaches; counters are each
 * worker's own, summed when read.
 */
#ifndef NATLAB_REFLECTOR_SERVER_H
#define NATLAB_REFLECTOR_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "counters.h"
#include "reflector/handler.h"

#define REFL_FAMILIES    2 /* an IPv4 set and an IPv6 set of four roles */
#define REFL_WORKERS_MAX 64

struct refl_server_cfg {
	struct refl_cfg handler[REFL_FAMILIES];
	struct sockaddr_storage bound[REFL_FAMILIES][4];
	int nfamilies;
	bool tcp;
	unsigned rate, burst;    /* per source address; rate 0: no limit */
	size_t limiter_slots;    /* sources tracked at once */
	unsigned tcp_max;        /* connections in all */
	unsigned tcp_per_source; /* connections from one address */
	unsigned tcp_idle_s;     /* closed after this long without a request */
	/* The rendezvous's relay (rendezvous.h): trials at once, and each one's
	 * life, bytes and packets a second. */
	unsigned relay_max, relay_s, relay_bytes, relay_pps;
	/* --metrics: the counters over HTTP, Prometheus' text format (family 0: off). */
	struct sockaddr_storage metrics;
	unsigned workers; /* event loops, 1 to REFL_WORKERS_MAX (0: 1) */
};

typedef struct refl_server refl_server_t;

/* Bind everything. NULL after printing to stderr what could not be bound. */
refl_server_t *refl_server_open(const struct refl_server_cfg *cfg);
/* Serve until counters_stop (every worker); the counters, summed, to log on
 * counters_report and at the end, with each worker's answers.
 * 0, or -1 when a loop failed (the message is printed). */
int refl_server_run(refl_server_t *s, FILE *log);
void refl_server_close(refl_server_t *s);

#endif
