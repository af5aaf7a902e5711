/*
 * natlab's own tests, without sockets: session keys, which requests become
 * orders and which are refused, the answer, and the reading of captured
 * frames (SYN-ACK, RST, ICMP errors quoting our packet).
 */
#include <string.h>

#include <CUnit/CUnit.h>
#include <netinet/in.h>

#include "addr.h"
#include "reflector/capture.h"
#include "reflector/handler.h"
#include "stun.h"
#include "testlib.h"
#include "wire.h"

static const uint8_t secret[] = "0123456789abcdef0123456789abcdef";
#define SECRET_LEN (sizeof(secret) - 1)
static const uint8_t tid[STUN_TID_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
static const uint8_t token[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};

static struct sockaddr_storage at(const char *text)
{
	struct sockaddr_storage ss;
	char err[128];

	CU_ASSERT_EQUAL(addr_parse(text, ADDR_PORT_REQUIRED, 0, &ss, err, sizeof(err)), 0);
	return ss;
}

/* NATLAB-ACTION's third byte (ICMP copies) in the next request only. */
static uint8_t next_copies;

/* A NatlabTest request; NULL session for none, NULL key for no MESSAGE-INTEGRITY. */
static size_t request(uint8_t *buf, const char *session, const char *key, uint8_t action,
		      uint8_t role, uint16_t target_port, int wait)
{
	uint8_t act[4] = {action, role, next_copies, 0}, port[4] = {0};
	struct stun_builder b;
	size_t len = 0;

	stun_build_start(&b, buf, 512, stun_type(STUN_NATLAB_TEST, STUN_REQUEST), STUN_MAGIC_COOKIE,
			 tid);
	if (session)
		stun_build_string(&b, STUN_ATTR_USERNAME, session);
	stun_build_attr(&b, STUN_ATTR_NATLAB_ACTION, act, 4);
	if (target_port) {
		wire_put16(port, target_port);
		stun_build_attr(&b, STUN_ATTR_NATLAB_TARGET_PORT, port, 4);
	}
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, token, 8);
	if (wait >= 0)
		stun_build_u32(&b, STUN_ATTR_NATLAB_WAIT, (uint32_t)wait);
	if (key)
		stun_build_integrity(&b, (const uint8_t *)key, strlen(key));
	stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	next_copies = 0;
	return len;
}

/* Through the handler, as natreflector does it. */
static void handle(const uint8_t *s, const uint8_t *msg, size_t len, const char *from,
		   struct refl_reply *out, uint8_t *reply)
{
	struct refl_cfg cfg = {
	    .software = "t", .session_secret = s, .session_secret_len = SECRET_LEN};
	struct sockaddr_storage src = at(from);
	struct refl_request req = {msg, len, REFL_PP, (struct sockaddr *)&src, false};

	refl_handle(&cfg, &req, reply, 1500, out);
}

static unsigned error_code(const uint8_t *reply, size_t len)
{
	struct stun_msg m;
	unsigned code = 0;
	const char *reason;
	size_t rlen;

	if (!len || stun_parse(&m, reply, len, 0) != STUN_OK || m.cls != STUN_ERROR)
		return 0;
	stun_get_error(&m, &code, &reason, &rlen);
	return code;
}

/* The derivation, checked against Python's hmac module. */
static void test_session_key(void)
{
	char key[REFL_SESSION_KEY_LEN + 1];

	refl_session_key(secret, SECRET_LEN, "probe-7", key);
	CU_ASSERT_STRING_EQUAL(key, "a5e4c319edb8eecb3615035a2c0e74c2");
	refl_session_key(secret, SECRET_LEN, "probe-8", key);
	CU_ASSERT_STRING_NOT_EQUAL(key, "a5e4c319edb8eecb3615035a2c0e74c2");
}

static void test_order(void)
{
	char key[REFL_SESSION_KEY_LEN + 1], text[ADDR_STRLEN];
	uint8_t msg[512], reply[1500];
	struct refl_reply out;
	size_t len;

	refl_session_key(secret, SECRET_LEN, "probe-7", key);
	len = request(msg, "probe-7", key, REFL_TEST_SYN, 3, 0, 800);
	handle(secret, msg, len, "198.51.100.7:40000", &out, reply);
	CU_ASSERT_TRUE_FATAL(out.test);
	CU_ASSERT_EQUAL(out.len, 0);
	CU_ASSERT_EQUAL(out.order.action, REFL_TEST_SYN);
	CU_ASSERT_EQUAL(out.order.from_role, 3);
	CU_ASSERT_EQUAL(out.order.wait_ms, 800);
	CU_ASSERT_EQUAL(memcmp(out.order.token, token, 8), 0);
	CU_ASSERT_STRING_EQUAL(
	    addr_format((struct sockaddr *)&out.order.target, text, sizeof(text)),
	    "198.51.100.7:40000");
	/* Another port on the requester's address, never another address; wait bounded. */
	len = request(msg, "probe-7", key, REFL_TEST_UDP, 1, 5555, 1);
	handle(secret, msg, len, "198.51.100.7:40000", &out, reply);
	CU_ASSERT_TRUE_FATAL(out.test);
	CU_ASSERT_STRING_EQUAL(
	    addr_format((struct sockaddr *)&out.order.target, text, sizeof(text)),
	    "198.51.100.7:5555");
	CU_ASSERT_EQUAL(out.order.wait_ms, REFL_TEST_WAIT_MIN);
	len = request(msg, "probe-7", key, REFL_TEST_UDP, 1, 0, 999999);
	handle(secret, msg, len, "198.51.100.7:40000", &out, reply);
	CU_ASSERT_EQUAL(out.order.wait_ms, REFL_TEST_WAIT_MAX);
	/* A SYN may be watched longer: RFC 5382 REQ-4's 6 s hold must fit. */
	len = request(msg, "probe-7", key, REFL_TEST_SYN, 1, 0, 8000);
	handle(secret, msg, len, "198.51.100.7:40000", &out, reply);
	CU_ASSERT_EQUAL(out.order.wait_ms, 8000);
	len = request(msg, "probe-7", key, REFL_TEST_SYN, 1, 0, 999999);
	handle(secret, msg, len, "198.51.100.7:40000", &out, reply);
	CU_ASSERT_EQUAL(out.order.wait_ms, REFL_TEST_WAIT_MAX_SYN);
	len = request(msg, "probe-7", key, REFL_TEST_UDP, 1, 0, -1);
	handle(secret, msg, len, "198.51.100.7:40000", &out, reply);
	CU_ASSERT_EQUAL(out.order.wait_ms, REFL_TEST_WAIT_DEFAULT);
}

static void test_refusals(void)
{
	char key[REFL_SESSION_KEY_LEN + 1], other[REFL_SESSION_KEY_LEN + 1];
	uint8_t msg[512], reply[1500];
	struct refl_reply out;
	size_t len;

	refl_session_key(secret, SECRET_LEN, "probe-7", key);
	refl_session_key(secret, SECRET_LEN, "probe-8", other);
	len = request(msg, "probe-7", key, REFL_TEST_UDP, 0, 0, -1);
	handle(NULL, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 403); /* tests off */
	CU_ASSERT_FALSE(out.test);
	len = request(msg, NULL, key, REFL_TEST_UDP, 0, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 400); /* no USERNAME */
	len = request(msg, "probe-7", NULL, REFL_TEST_UDP, 0, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 400); /* no MESSAGE-INTEGRITY */
	len = request(msg, "probe-7", other, REFL_TEST_UDP, 0, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 401); /* another session's key */
	CU_ASSERT_FALSE(out.test);
	len = request(msg, "probe-7", key, REFL_TEST_PUSH + 1, 0, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 400); /* unknown action */
	/* ICMP tests: copies of each error, 1 when not said, at most 20. */
	next_copies = 4;
	len = request(msg, "probe-7", key, REFL_TEST_ICMP_ARM, 2, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_TRUE(out.test);
	CU_ASSERT_EQUAL(out.order.action, REFL_TEST_ICMP_ARM);
	CU_ASSERT_EQUAL(out.order.copies, 4);
	len = request(msg, "probe-7", key, REFL_TEST_ICMP_CONN, 2, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_TRUE(out.test);
	CU_ASSERT_EQUAL(out.order.action, REFL_TEST_ICMP_CONN);
	CU_ASSERT_EQUAL(out.order.copies, 1);
	next_copies = 21;
	len = request(msg, "probe-7", key, REFL_TEST_ICMP_CONN, 2, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 400);
	len = request(msg, "probe-7", key, REFL_TEST_SIMOPEN_ARM, 2, 0, -1);
	handle(secret, msg, len, "[2001:db8::7]:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 400); /* simultaneous open: IPv4 only */
	len = request(msg, "probe-7", key, REFL_TEST_SIMOPEN_ARM, 2, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_TRUE(out.test);
	CU_ASSERT_EQUAL(out.order.action, REFL_TEST_SIMOPEN_ARM);
	CU_ASSERT_EQUAL(out.order.from_role, 2);
	len = request(msg, "probe-7", key, REFL_TEST_UDP, 4, 0, -1);
	handle(secret, msg, len, "198.51.100.7:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 400); /* no role 4 */
	len = request(msg, "probe-7", key, REFL_TEST_SYN, 0, 0, -1);
	handle(secret, msg, len, "[2001:db8::7]:1", &out, reply);
	CU_ASSERT_EQUAL(error_code(reply, out.len), 400); /* SYN: IPv4 only */
	len = request(msg, "probe-7", key, REFL_TEST_UDP, 0, 0, -1);
	handle(secret, msg, len, "[2001:db8::7]:1", &out, reply);
	CU_ASSERT_TRUE(out.test); /* UDP over IPv6 is fine */
}

static void test_answer_and_datagram(void)
{
	struct refl_test t = {.action = REFL_TEST_SYN, .from_role = 3, .fingerprint = true};
	struct refl_observation o = {.outcome = REFL_SEEN_ICMP,
				     .icmp_type = 3,
				     .icmp_code = 13,
				     .ttl = 62,
				     .elapsed_us = 1234};
	struct sockaddr_storage sent = at("203.0.113.11:3479");
	uint8_t buf[512];
	const struct stun_attr *a;
	struct stun_msg m;
	size_t len;

	memcpy(t.tid, tid, sizeof(tid));
	memcpy(t.token, token, sizeof(token));
	t.target = at("198.51.100.7:40000");
	o.from = at("198.51.100.1:1");
	refl_session_key(secret, SECRET_LEN, "probe-7", t.key);
	CU_ASSERT_EQUAL_FATAL(
	    refl_test_answer(&t, &o, (struct sockaddr *)&sent, NULL, buf, sizeof(buf), &len),
	    STUN_OK);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(m.method, STUN_NATLAB_TEST);
	CU_ASSERT_EQUAL(m.cls, STUN_SUCCESS);
	CU_ASSERT_EQUAL(stun_check_integrity(&m, (uint8_t *)t.key, REFL_SESSION_KEY_LEN), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_OK);
	a = stun_find(&m, STUN_ATTR_NATLAB_OBSERVED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(memcmp(stun_attr_value(&m, a), "\x03\x03\x0d\x3e\x00\x00\x04\xd2", 8), 0);
	CU_ASSERT_PTR_NOT_NULL(stun_find(&m, STUN_ATTR_NATLAB_OBSERVED_FROM));
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_NATLAB_PEER_TTL)); /* not known */
	/* The connection's SYN was seen: its TTL, the client's baseline. */
	o.peer_ttl = 63;
	CU_ASSERT_EQUAL_FATAL(
	    refl_test_answer(&t, &o, (struct sockaddr *)&sent, NULL, buf, sizeof(buf), &len),
	    STUN_OK);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_integrity(&m, (uint8_t *)t.key, REFL_SESSION_KEY_LEN), STUN_OK);
	a = stun_find(&m, STUN_ATTR_NATLAB_PEER_TTL);
	CU_ASSERT_TRUE_FATAL(a && a->len == 4);
	CU_ASSERT_EQUAL(memcmp(stun_attr_value(&m, a), "\x3f\x00\x00\x00", 4), 0);
	o.peer_ttl = 0;
	/* Nothing seen: no TTL, whatever the observation held. */
	o.outcome = REFL_SEEN_NOTHING;
	CU_ASSERT_EQUAL_FATAL(
	    refl_test_answer(&t, &o, (struct sockaddr *)&sent, NULL, buf, sizeof(buf), &len),
	    STUN_OK);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	a = stun_find(&m, STUN_ATTR_NATLAB_OBSERVED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(stun_attr_value(&m, a)[3], 0);
	/* The UDP test's datagram: an indication carrying the token. */
	CU_ASSERT_EQUAL_FATAL(refl_test_datagram(&t, buf, sizeof(buf), &len), STUN_OK);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, len, 0), STUN_OK);
	CU_ASSERT_EQUAL(m.cls, STUN_INDICATION);
	a = stun_find(&m, STUN_ATTR_NATLAB_TOKEN);
	CU_ASSERT_TRUE_FATAL(a && a->len == 8);
	CU_ASSERT_EQUAL(memcmp(stun_attr_value(&m, a), token, 8), 0);
}

/* An SLL2 frame ("any" capture) around an IPv4 packet with the given body. */
static size_t frame(uint8_t *f, uint8_t proto, const char *src, const char *dst,
		    const uint8_t *body, size_t body_len)
{
	struct sockaddr_storage s = at(src), d = at(dst);

	memset(f, 0, 40);
	wire_put16(f, 0x0800);
	f[20] = 0x45;
	wire_put16(f + 22, (uint16_t)(20 + body_len));
	f[28] = 64;
	f[29] = proto;
	memcpy(f + 32, &((struct sockaddr_in *)&s)->sin_addr, 4);
	memcpy(f + 36, &((struct sockaddr_in *)&d)->sin_addr, 4);
	memcpy(f + 40, body, body_len);
	return 40 + body_len;
}

/* What an ICMP error about a TCP segment quotes: a valid IPv4 header, the
 * ports and the sequence number, as RFC 792 and the receiving stack want. */
static void test_icmp_quote(void)
{
	struct sockaddr_storage src = at("198.51.100.7:40000"), dst = at("203.0.113.11:3479");
	uint8_t q[REFL_ICMP_QUOTE_LEN];
	uint32_t sum = 0;

	refl_icmp_quote((struct sockaddr_in *)&src, (struct sockaddr_in *)&dst, 0xDEADBEEF, q);
	CU_ASSERT_EQUAL(q[0], 0x45);
	CU_ASSERT_EQUAL(q[9], IPPROTO_TCP);
	CU_ASSERT_EQUAL(wire_get16(q + 2), 40);
	CU_ASSERT_EQUAL(wire_get32(q + 12), 0xC6336407u); /* 198.51.100.7 */
	CU_ASSERT_EQUAL(wire_get32(q + 16), 0xCB00710Bu); /* 203.0.113.11 */
	for (int i = 0; i < 20; i += 2)
		sum += wire_get16(q + i);
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	CU_ASSERT_EQUAL(sum, 0xFFFF); /* the header checksum holds */
	CU_ASSERT_EQUAL(wire_get16(q + 20), 40000);
	CU_ASSERT_EQUAL(wire_get16(q + 22), 3479);
	CU_ASSERT_EQUAL(wire_get32(q + 24), 0xDEADBEEF);
}

static void test_capture(void)
{
	struct refl_test t = {.action = REFL_TEST_SYN};
	struct sockaddr_storage sent = at("203.0.113.11:3479");
	uint8_t tcp[20] = {0xC3, 0x50, 0x0D, 0x97}; /* 50000 -> 3479 */
	uint8_t icmp[36] = {3, 13};
	uint8_t f[128];
	struct refl_captured c;
	struct refl_observation o;
	size_t len;

	memcpy(t.token, token, 8);
	t.target = at("198.51.100.1:50000");
	/* A SYN-ACK acknowledging our sequence number (the token's first 4 bytes). */
	wire_put32(tcp + 4, 0xCAFE0001);
	wire_put32(tcp + 8, 0x11223345);
	tcp[13] = REFL_TCP_SYN | REFL_TCP_ACK;
	len = frame(f, IPPROTO_TCP, "198.51.100.1:1", "203.0.113.11:1", tcp, 20);
	CU_ASSERT_TRUE_FATAL(refl_capture_parse(REFL_LINK_SLL2, f, len, &c));
	CU_ASSERT_EQUAL(c.tcp_seq, 0xCAFE0001); /* its own sequence number, for ICMP quotes */
	CU_ASSERT_TRUE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	CU_ASSERT_EQUAL(o.outcome, REFL_SEEN_SYN_ACK);
	CU_ASSERT_EQUAL(o.ttl, 64); /* as the frame has it */
	/* ... but not one for another SYN, nor from another port. */
	wire_put32(tcp + 8, 0x11223346);
	len = frame(f, IPPROTO_TCP, "198.51.100.1:1", "203.0.113.11:1", tcp, 20);
	refl_capture_parse(REFL_LINK_SLL2, f, len, &c);
	CU_ASSERT_FALSE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	tcp[13] = REFL_TCP_RST | REFL_TCP_ACK;
	len = frame(f, IPPROTO_TCP, "198.51.100.1:1", "203.0.113.11:1", tcp, 20);
	refl_capture_parse(REFL_LINK_SLL2, f, len, &c);
	CU_ASSERT_TRUE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	CU_ASSERT_EQUAL(o.outcome, REFL_SEEN_RST);
	tcp[1] = 0x51;
	len = frame(f, IPPROTO_TCP, "198.51.100.1:1", "203.0.113.11:1", tcp, 20);
	refl_capture_parse(REFL_LINK_SLL2, f, len, &c);
	CU_ASSERT_FALSE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	/* From another port (or address) only when it acknowledges our SYN: the
	 * host's answer, sent out by a NAT through a mapping of its own. */
	wire_put32(tcp + 8, 0x11223345);
	len = frame(f, IPPROTO_TCP, "198.51.100.2:1", "203.0.113.11:1", tcp, 20);
	refl_capture_parse(REFL_LINK_SLL2, f, len, &c);
	CU_ASSERT_TRUE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	CU_ASSERT_EQUAL(o.outcome, REFL_SEEN_RST);
	tcp[13] = REFL_TCP_SYN | REFL_TCP_ACK;
	len = frame(f, IPPROTO_TCP, "198.51.100.1:1", "203.0.113.11:1", tcp, 20);
	refl_capture_parse(REFL_LINK_SLL2, f, len, &c);
	CU_ASSERT_TRUE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	CU_ASSERT_EQUAL(o.outcome, REFL_SEEN_SYN_ACK);
	CU_ASSERT_EQUAL(ntohs(((struct sockaddr_in *)&o.from)->sin_port), 50001);
	len = frame(f, IPPROTO_TCP, "198.51.100.1:1", "203.0.113.10:1", tcp, 20);
	refl_capture_parse(REFL_LINK_SLL2, f, len, &c); /* to another of our addresses */
	CU_ASSERT_FALSE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	/* An ICMP error quoting our SYN: 203.0.113.11:3479 -> 198.51.100.1:50000. */
	icmp[8] = 0x45;
	icmp[17] = IPPROTO_TCP;
	memcpy(icmp + 20, "\xCB\x00\x71\x0B", 4);
	memcpy(icmp + 24, "\xC6\x33\x64\x01", 4);
	memcpy(icmp + 28, "\x0D\x97\xC3\x50", 4);
	len = frame(f, IPPROTO_ICMP, "198.51.100.254:1", "203.0.113.11:1", icmp, sizeof(icmp));
	f[28] = 61; /* two routers nearer than the host: its TTL, not the first frame's */
	CU_ASSERT_TRUE_FATAL(refl_capture_parse(REFL_LINK_SLL2, f, len, &c));
	CU_ASSERT_TRUE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	CU_ASSERT_EQUAL(o.outcome, REFL_SEEN_ICMP);
	CU_ASSERT_EQUAL(o.icmp_code, 13);
	CU_ASSERT_EQUAL(o.ttl, 61);
	/* The same error about a UDP datagram is not about this SYN. */
	icmp[17] = IPPROTO_UDP;
	len = frame(f, IPPROTO_ICMP, "198.51.100.254:1", "203.0.113.11:1", icmp, sizeof(icmp));
	refl_capture_parse(REFL_LINK_SLL2, f, len, &c);
	CU_ASSERT_FALSE(refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o));
	/* Every truncation is refused or parsed without reading past the end. */
	for (size_t cut = 0; cut < len; cut++)
		refl_capture_parse(REFL_LINK_SLL2, f, cut, &c);
	CU_ASSERT_FALSE(refl_capture_parse(REFL_LINK_SLL2, f, 39, &c));
	CU_ASSERT_FALSE(refl_capture_parse(999, f, len, &c));
}

int test_natlabtest_register(void)
{
	static const struct test_case tests[] = {
	    {"session keys", test_session_key},
	    {"a request becomes an order", test_order},
	    {"refusals: off, unauthenticated, malformed", test_refusals},
	    {"the answer and the datagram", test_answer_and_datagram},
	    {"the quote of an ICMP error about a TCP segment", test_icmp_quote},
	    {"captured frames read and matched", test_capture},
	};

	return TEST_SUITE("natlab tests (reflector)", tests);
}
