/*
 * A natlab order (reflector/PROTOCOL.md, NatlabTest): the request, built,
 * and the reflector's answer, authenticated with the session key and read.
 * Pure; shared by the engine's TCP tests and the portmap test's TCP reach.
 */
#ifndef NATLAB_PROBE_ORDER_H
#define NATLAB_PROBE_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/stun.h"
#include "probe/engine.h"

struct probe_order_req {
	enum probe_order action;
	unsigned role, copies;
	uint16_t target_port; /* 0: none (the request's own source port) */
	uint8_t token[8];
	uint32_t wait_ms;
	const uint8_t *tid; /* STUN_TID_LEN bytes */
	const char *session, *key;
};

enum probe_order_read {
	PROBE_ORDER_OBSERVED, /* an authenticated answer, read into o */
	PROBE_ORDER_REFUSED,  /* an error response (unsigned when the key is the trouble) */
	PROBE_ORDER_IGNORED,  /* not an answer of the session's, or malformed */
};

enum stun_err probe_order_build(const struct probe_order_req *q, uint8_t *msg, size_t cap,
				size_t *len);
/* The answer m to an order: its outcome, what was seen and the addresses
 * (o->conn is left alone). */
enum probe_order_read probe_order_read(const struct stun_msg *m, const char *key,
				       struct probe_observation *o);

#endif
