#include "peermsg.h"

#include <string.h>

#include "wire.h"

/* Which attributes each (op, class) needs. */
#define NEED_SOCKET 0x1u
#define NEED_ADDR   0x2u
#define NEED_DATA   0x4u
#define NEED_PORT   0x8u
#define NEED_EVENT  0x10u

static unsigned needs(enum peer_op op, enum stun_class cls)
{
	if (cls == STUN_ERROR)
		return 0;
	switch (op) {
	case PEER_OPEN:
	case PEER_TCP_LISTEN:
	case PEER_TCP_CONNECT:
		return cls == STUN_REQUEST   ? NEED_PORT | NEED_ADDR
		       : cls == STUN_SUCCESS ? NEED_SOCKET | NEED_ADDR
					     : ~0u;
	case PEER_SEND:
	case PEER_DATA:
		return cls == STUN_INDICATION ? NEED_SOCKET | NEED_ADDR | NEED_DATA : ~0u;
	case PEER_RESET:
		return cls == STUN_REQUEST || cls == STUN_SUCCESS ? 0 : ~0u;
	case PEER_TCP_EVENT:
		return cls == STUN_INDICATION ? NEED_SOCKET | NEED_ADDR | NEED_EVENT : ~0u;
	case PEER_CLOSE:
		return cls == STUN_INDICATION ? NEED_SOCKET : ~0u;
	default:
		return ~0u;
	}
}

/* NATLAB-PEER-EVENT: event, 3 reserved bytes, the accepted socket. */
static int parse_event(const struct stun_msg *m, struct peer_msg *pm)
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_NATLAB_PEER_EVENT);
	const uint8_t *v;

	if (!a || a->len != 8)
		return -1;
	v = stun_attr_value(m, a);
	if (v[0] < PEER_EV_CONNECTED || v[0] > PEER_EV_CLOSED)
		return -1;
	pm->event = (enum peer_event)v[0];
	pm->accepted = wire_get32(v + 4);
	return 0;
}

int peer_parse(struct peer_msg *pm, const uint8_t *buf, size_t len, const char **why)
{
	struct stun_msg m;
	const struct stun_attr *data;
	uint32_t op = 0, port = 0;
	unsigned need;

	memset(pm, 0, sizeof(*pm));
	if (stun_parse(&m, buf, len, 0) != STUN_OK || m.method != STUN_NATLAB_PEER) {
		*why = "not a NatlabPeer message";
		return -1;
	}
	if (stun_check_fingerprint(&m) != STUN_OK) {
		*why = "no valid FINGERPRINT";
		return -1;
	}
	if (stun_get_u32(&m, STUN_ATTR_NATLAB_PEER_OP, &op) != STUN_OK) {
		*why = "no NATLAB-PEER-OP";
		return -1;
	}
	pm->op = (enum peer_op)op;
	pm->cls = m.cls;
	memcpy(pm->tid, m.tid, STUN_TID_LEN);
	need = needs(pm->op, m.cls);
	if (need == ~0u) {
		*why = "an unknown operation, or one in the wrong class";
		return -1;
	}
	if (m.cls == STUN_ERROR) {
		const char *reason;
		size_t reason_len;

		if (stun_get_error(&m, &pm->code, &reason, &reason_len) != STUN_OK) {
			*why = "an error without a valid ERROR-CODE";
			return -1;
		}
		if (reason_len >= sizeof(pm->reason))
			reason_len = sizeof(pm->reason) - 1;
		memcpy(pm->reason, reason, reason_len);
		return 0;
	}
	if (((need & NEED_SOCKET) &&
	     stun_get_u32(&m, STUN_ATTR_NATLAB_PEER_SOCKET, &pm->socket) != STUN_OK) ||
	    ((need & NEED_ADDR) &&
	     stun_get_addr(&m, STUN_ATTR_XOR_PEER_ADDRESS, &pm->addr) != STUN_OK) ||
	    ((need & NEED_PORT) &&
	     stun_get_u32(&m, STUN_ATTR_NATLAB_PEER_PORT, &port) != STUN_OK)) {
		*why = "an attribute the operation needs is missing or malformed";
		return -1;
	}
	if (port > 65535) {
		*why = "NATLAB-PEER-PORT past 65535";
		return -1;
	}
	pm->port = (uint16_t)port;
	if ((need & NEED_EVENT) && parse_event(&m, pm)) {
		*why = "no NATLAB-PEER-EVENT, or an unknown event";
		return -1;
	}
	if (need & NEED_DATA) {
		data = stun_find(&m, STUN_ATTR_DATA);
		if (!data || data->len > PEER_DATA_MAX) {
			*why = "no DATA, or more than a peer carries";
			return -1;
		}
		pm->data = stun_attr_value(&m, data);
		pm->data_len = data->len;
	}
	return 0;
}

size_t peer_build(const struct peer_msg *pm, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	unsigned need = needs(pm->op, pm->cls);
	size_t len;

	if (need == ~0u)
		return 0;
	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_PEER, pm->cls), STUN_MAGIC_COOKIE,
			 pm->tid);
	stun_build_u32(&b, STUN_ATTR_NATLAB_PEER_OP, (uint32_t)pm->op);
	if (pm->cls == STUN_ERROR)
		stun_build_error(&b, pm->code, pm->reason);
	if (need & NEED_PORT)
		stun_build_u32(&b, STUN_ATTR_NATLAB_PEER_PORT, pm->port);
	if (need & NEED_SOCKET)
		stun_build_u32(&b, STUN_ATTR_NATLAB_PEER_SOCKET, pm->socket);
	if (need & NEED_ADDR)
		stun_build_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, (const struct sockaddr *)&pm->addr);
	if (need & NEED_EVENT) {
		uint8_t ev[8] = {(uint8_t)pm->event};

		wire_put32(ev + 4, pm->accepted);
		stun_build_attr(&b, STUN_ATTR_NATLAB_PEER_EVENT, ev, sizeof(ev));
	}
	if (need & NEED_DATA) {
		if (pm->data_len > PEER_DATA_MAX)
			return 0;
		stun_build_attr(&b, STUN_ATTR_DATA, pm->data, pm->data_len);
	}
	stun_build_fingerprint(&b);
	return stun_build_end(&b, &len) == STUN_OK ? len : 0;
}
