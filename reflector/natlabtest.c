/*
 * natlab's own tests, the decisions. See natlabtest.h and PROTOCOL.md.
 *
 * NATLAB-ACTION (4 bytes):       NATLAB-TARGET-PORT (4 bytes):
 *   0       1       2       3      0       1       2       3
 *  +-------+-------+-------+----+  +---------------+---------------+
 *  |action | role  |   reserved |  |     port      |   reserved    |
 *  +-------+-------+-------+----+  +---------------+---------------+
 *
 * NATLAB-PEER-TTL (4 bytes): the TTL of the SYN that opened the connection, 3 reserved.
 *
 * NATLAB-OBSERVED (8 bytes):
 *  +-------+-------+-------+-------+-------------------------------+
 *  |outcome|ICMP ty|ICMP cd|  TTL  |   microseconds until seen     |
 *  +-------+-------+-------+-------+-------------------------------+
 */
#include "natlabtest.h"

#include <string.h>

#include <nettle/hmac.h>
#include <netinet/in.h>

#include "addr.h"
#include "wire.h"

void refl_session_key(const uint8_t *secret, size_t secret_len, const char *id,
		      char key[REFL_SESSION_KEY_LEN + 1])
{
	static const char label[] = "natlab session ";
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[SHA256_DIGEST_SIZE];
	struct hmac_sha256_ctx ctx;

	hmac_sha256_set_key(&ctx, secret_len, secret);
	hmac_sha256_update(&ctx, sizeof(label) - 1, (const uint8_t *)label);
	hmac_sha256_update(&ctx, strlen(id), (const uint8_t *)id);
	hmac_sha256_digest(&ctx, sizeof(mac), mac);
	for (int i = 0; i < REFL_SESSION_KEY_LEN / 2; i++) {
		key[2 * i] = hex[mac[i] >> 4];
		key[2 * i + 1] = hex[mac[i] & 15];
	}
	key[REFL_SESSION_KEY_LEN] = '\0';
}

/* USERNAME: 1 to 64 printable ASCII characters, copied out NUL-terminated. */
static bool session_id(const struct stun_msg *m, char id[REFL_SESSION_ID_MAX + 1])
{
	const struct stun_attr *a = stun_find(m, STUN_ATTR_USERNAME);
	const uint8_t *v;

	if (!a || a->len == 0 || a->len > REFL_SESSION_ID_MAX)
		return false;
	v = stun_attr_value(m, a);
	for (size_t i = 0; i < a->len; i++)
		if (v[i] < 0x21 || v[i] > 0x7E)
			return false;
	memcpy(id, v, a->len);
	id[a->len] = '\0';
	return true;
}

/* Authentication (RFC 8489 9.1.3, short-term): 400 without USERNAME or
 * MESSAGE-INTEGRITY, 401 when it does not verify. */
static unsigned authenticate(const struct stun_msg *m, const uint8_t *secret, size_t secret_len,
			     struct refl_test *t, const char **reason)
{
	char id[REFL_SESSION_ID_MAX + 1];

	if (!secret) {
		*reason = "natlab tests are not enabled on this reflector";
		return 403;
	}
	if (!session_id(m, id) || !stun_find(m, STUN_ATTR_MESSAGE_INTEGRITY)) {
		*reason = "USERNAME (the session ID) and MESSAGE-INTEGRITY required";
		return 400;
	}
	refl_session_key(secret, secret_len, id, t->key);
	if (stun_check_integrity(m, (const uint8_t *)t->key, REFL_SESSION_KEY_LEN) != STUN_OK) {
		*reason = "Unauthorized";
		return 401;
	}
	return 0;
}

static unsigned read_order(const struct stun_msg *m, const struct sockaddr *from,
			   struct refl_test *t, const char **reason)
{
	const struct stun_attr *action = stun_find(m, STUN_ATTR_NATLAB_ACTION);
	const struct stun_attr *port = stun_find(m, STUN_ATTR_NATLAB_TARGET_PORT);
	const struct stun_attr *token = stun_find(m, STUN_ATTR_NATLAB_TOKEN);
	uint32_t wait = REFL_TEST_WAIT_DEFAULT;
	const uint8_t *v;

	if (!action || !token) {
		*reason = "NATLAB-ACTION and NATLAB-TOKEN required";
		return 400;
	}
	v = stun_attr_value(m, action);
	if (v[0] < REFL_TEST_UDP || v[0] > REFL_TEST_PUSH || v[1] > 3) {
		*reason = "NATLAB-ACTION: unknown action or role";
		return 400;
	}
	if (v[2] > REFL_TEST_COPIES_MAX) {
		*reason = "NATLAB-ACTION: more than 20 copies";
		return 400;
	}
	if (v[0] != REFL_TEST_UDP && from->sa_family != AF_INET) {
		*reason = "SYN tests are IPv4 only";
		return 400;
	}
	if (stun_find(m, STUN_ATTR_CHANGE_REQUEST) || stun_find(m, STUN_ATTR_RESPONSE_PORT) ||
	    stun_find(m, STUN_ATTR_PADDING)) {
		*reason = "CHANGE-REQUEST, RESPONSE-PORT and PADDING do not apply to natlab tests";
		return 400;
	}
	t->action = (enum refl_test_action)v[0];
	t->from_role = v[1];
	t->copies = v[2] ? v[2] : 1;
	memcpy(&t->target, from, addr_len(from));
	if (port) {
		/* Like RESPONSE-PORT: another port, never another address. */
		uint16_t p = wire_get16(stun_attr_value(m, port));

		if (p == 0) {
			*reason = "NATLAB-TARGET-PORT 0";
			return 400;
		}
		addr_set_port((struct sockaddr *)&t->target, p);
	}
	memcpy(t->token, stun_attr_value(m, token), sizeof(t->token));
	stun_get_u32(m, STUN_ATTR_NATLAB_WAIT, &wait);
	if (wait < REFL_TEST_WAIT_MIN)
		wait = REFL_TEST_WAIT_MIN;
	if (wait > (v[0] == REFL_TEST_UDP ? REFL_TEST_WAIT_MAX : REFL_TEST_WAIT_MAX_SYN))
		wait = v[0] == REFL_TEST_UDP ? REFL_TEST_WAIT_MAX : REFL_TEST_WAIT_MAX_SYN;
	t->wait_ms = wait;
	return 0;
}

unsigned refl_test_accept(const struct stun_msg *m, const struct sockaddr *from,
			  const uint8_t *secret, size_t secret_len, struct refl_test *t,
			  const char **reason)
{
	unsigned code;

	memset(t, 0, sizeof(*t));
	memcpy(t->tid, m->tid, STUN_TID_LEN);
	t->fingerprint = stun_find(m, STUN_ATTR_FINGERPRINT) != NULL;
	code = authenticate(m, secret, secret_len, t, reason);
	if (!code)
		code = read_order(m, from, t, reason);
	return code;
}

enum stun_err refl_test_datagram(const struct refl_test *t, uint8_t *buf, size_t cap, size_t *len)
{
	struct stun_builder b;

	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_TEST, STUN_INDICATION),
			 STUN_MAGIC_COOKIE, t->tid);
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, t->token, sizeof(t->token));
	stun_build_fingerprint(&b);
	return stun_build_end(&b, len);
}

enum stun_err refl_test_answer(const struct refl_test *t, const struct refl_observation *o,
			       const struct sockaddr *sent_from, const char *software, uint8_t *buf,
			       size_t cap, size_t *len)
{
	struct stun_builder b;
	uint8_t seen[8] = {(uint8_t)o->outcome, o->icmp_type, o->icmp_code,
			   o->outcome == REFL_SEEN_NOTHING ? 0 : o->ttl};

	wire_put32(seen + 4, o->elapsed_us);
	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_TEST, STUN_SUCCESS), STUN_MAGIC_COOKIE,
			 t->tid);
	stun_build_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, (const struct sockaddr *)&t->target);
	stun_build_addr(&b, STUN_ATTR_NATLAB_SENT_FROM, sent_from);
	stun_build_attr(&b, STUN_ATTR_NATLAB_OBSERVED, seen, sizeof(seen));
	if (o->outcome != REFL_SEEN_NOTHING)
		stun_build_addr(&b, STUN_ATTR_NATLAB_OBSERVED_FROM,
				(const struct sockaddr *)&o->from);
	if (o->seen_syn.ss_family)
		stun_build_addr(&b, STUN_ATTR_NATLAB_SEEN_SYN,
				(const struct sockaddr *)&o->seen_syn);
	if (o->peer_ttl) {
		uint8_t peer[4] = {o->peer_ttl, 0, 0, 0};

		stun_build_attr(&b, STUN_ATTR_NATLAB_PEER_TTL, peer, sizeof(peer));
	}
	if (software)
		stun_build_string(&b, STUN_ATTR_SOFTWARE, software);
	stun_build_integrity(&b, (const uint8_t *)t->key, REFL_SESSION_KEY_LEN);
	if (t->fingerprint)
		stun_build_fingerprint(&b);
	return stun_build_end(&b, len);
}

const char *refl_outcome_name(enum refl_outcome o)
{
	static const char *const names[] = {"nothing", "syn-ack", "rst", "icmp", "connected"};

	return (unsigned)o < 5 ? names[o] : "invalid";
}
