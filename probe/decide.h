/*
 * The deciders UDP and TCP share: pure functions over what the answers said,
 * so that one rule gives both protocols' verdicts (RFC 4787 for UDP, RFC
 * 5382 REQ-1 and section 4 for TCP, which borrow its terms).
 */
#ifndef NATLAB_PROBE_DECIDE_H
#define NATLAB_PROBE_DECIDE_H

#include <sys/socket.h>

#include "probe/result.h"

/*
 * Mapping (RFC 4787 4.1, RFC 5780 4.3) from one internal endpoint's four
 * mapped addresses, by role (PP, PA, AP, AA): every answer must agree with
 * the verdict. *why says why when inconclusive.
 */
enum probe_mapping probe_decide_mapping(const struct sockaddr_storage seen[4],
					const struct sockaddr_storage *local, const char **why);

/* Port allocation from n fresh endpoints' local and mapped ports (see
 * t_ports.c): the pattern, with its delta, predictability and parity. */
struct probe_port_pattern {
	enum probe_ports pattern;
	unsigned delta;
	double predictability;
	enum probe_bool parity;
};
void probe_decide_ports(const uint16_t *local, const uint16_t *mapped, int n,
			struct probe_port_pattern *out, const char **why);

/* Steps between successive new ports: sequential (sets *delta), random or
 * inconclusive; *predictability is the share of steps equal to the delta. */
enum probe_ports probe_step_pattern(const unsigned *steps, int n, unsigned *delta,
				    double *predictability);

#endif
