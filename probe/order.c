/* natlab orders, built and read. See order.h and reflector/PROTOCOL.md. */
#include "probe/order.h"

#include <string.h>

#include "lib/wire.h"

enum stun_err probe_order_build(const struct probe_order_req *q, uint8_t *msg, size_t cap,
				size_t *len)
{
	uint8_t action[4] = {(uint8_t)q->action, (uint8_t)q->role, (uint8_t)q->copies, 0};
	uint8_t port[4] = {0};
	struct stun_builder b;

	stun_build_start(&b, msg, cap, stun_type(STUN_NATLAB_TEST, STUN_REQUEST), STUN_MAGIC_COOKIE,
			 q->tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, q->session);
	stun_build_attr(&b, STUN_ATTR_NATLAB_ACTION, action, sizeof(action));
	if (q->target_port) {
		wire_put16(port, q->target_port);
		stun_build_attr(&b, STUN_ATTR_NATLAB_TARGET_PORT, port, sizeof(port));
	}
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, q->token, sizeof(q->token));
	stun_build_u32(&b, STUN_ATTR_NATLAB_WAIT, q->wait_ms);
	stun_build_integrity(&b, (const uint8_t *)q->key, strlen(q->key));
	stun_build_fingerprint(&b);
	return stun_build_end(&b, len);
}

enum probe_order_read probe_order_read(const struct stun_msg *m, const char *key,
				       struct probe_observation *o)
{
	const struct stun_attr *a;
	const uint8_t *v;
	uint32_t peer = 0;
	int conn = o->conn;

	if (m->cls == STUN_ERROR)
		return PROBE_ORDER_REFUSED;
	if (stun_check_integrity(m, (const uint8_t *)key, strlen(key)) != STUN_OK)
		return PROBE_ORDER_IGNORED; /* not from the reflector holding our session */
	*o = (struct probe_observation){.conn = conn};
	a = stun_find(m, STUN_ATTR_NATLAB_OBSERVED);
	v = a && a->len == 8 ? stun_attr_value(m, a) : NULL;
	if (m->cls != STUN_SUCCESS || !v || v[0] > PROBE_SEEN_CONNECTED ||
	    stun_get_addr(m, STUN_ATTR_NATLAB_SENT_FROM, &o->sent_from) != STUN_OK)
		return PROBE_ORDER_IGNORED;
	o->outcome = (enum probe_seen)v[0];
	o->icmp_type = v[1];
	o->icmp_code = v[2];
	o->ttl = v[3];
	o->us = wire_get32(v + 4);
	if (o->outcome != PROBE_SEEN_NOTHING &&
	    stun_get_addr(m, STUN_ATTR_NATLAB_OBSERVED_FROM, &o->from) != STUN_OK)
		return PROBE_ORDER_IGNORED;
	stun_get_addr(m, STUN_ATTR_NATLAB_SEEN_SYN, &o->seen_syn);
	stun_get_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &o->target);
	if (stun_get_u32(m, STUN_ATTR_NATLAB_PEER_TTL, &peer) == STUN_OK)
		o->peer_ttl = (uint8_t)(peer >> 24);
	return PROBE_ORDER_OBSERVED;
}
