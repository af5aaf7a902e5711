/*
 * `natprobe punch`: traversal trials between two probes through their NATs
 * (RFC 5128), met at natreflector's rendezvous (reflector/PROTOCOL.md). The
 * driver: options, sockets, the clock, the record; the decisions are
 * punch.c's (one side of a trial), predict.c's and trials.c's.
 */
#ifndef NATLAB_PROBE_PUNCHCMD_H
#define NATLAB_PROBE_PUNCHCMD_H

#include <stdbool.h>
#include <sys/socket.h>

#include "probe/result.h"

/* argv[0] is "punch". */
int punch_main(int argc, char **argv);

/* natprobe's classification (nat, mapping, filtering, ports, hairpinning) against
 * server, for the prediction; natprobe.c's driver. 0, or -1. */
/* This NAT's class for punch: UDP's five tests; with tcp, TCP's mapping,
 * ports, filtering, unsolicited SYN and simultaneous open too (those need
 * the session, which serves natlab's tests as well). */
int natprobe_classify(const struct sockaddr *server, const char *session, const char *key, bool tcp,
		      struct probe_result *res);

#endif
