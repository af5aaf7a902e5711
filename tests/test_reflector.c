/*
 * natreflector's request handler, without sockets: the role each reply
 * leaves from, what it says, and what is refused or dropped.
 */
#include <string.h>

#include <netinet/in.h>
#include <CUnit/CUnit.h>

#include "addr.h"
#include "reflector/handler.h"
#include "stun.h"
#include "testlib.h"
#include "wire.h"

static const char *const role_addr[4] = {"203.0.113.10:3478", "203.0.113.10:3479",
					 "203.0.113.11:3478", "203.0.113.11:3479"};
static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static struct refl_cfg config(void)
{
	struct refl_cfg cfg = {.software = "natlab test"};
	char err[128];

	for (int r = 0; r < 4; r++)
		CU_ASSERT_EQUAL(addr_parse(role_addr[r], ADDR_PORT_REQUIRED, 0, &cfg.advertised[r],
					   err, sizeof(err)),
				0);
	return cfg;
}

static struct sockaddr_storage client(void)
{
	struct sockaddr_storage ss;
	char err[128];

	CU_ASSERT_EQUAL(addr_parse("198.51.100.7:40000", ADDR_PORT_REQUIRED, 0, &ss, err, 128), 0);
	return ss;
}

/* A Binding request; change < 0 for no CHANGE-REQUEST, extra attributes optional. */
static size_t request(uint8_t *buf, size_t cap, int change, uint16_t extra_type, const void *extra,
		      size_t extra_len, bool fingerprint)
{
	struct stun_builder b;
	size_t len;

	stun_build_start(&b, buf, cap, stun_type(STUN_BINDING, STUN_REQUEST), STUN_MAGIC_COOKIE,
			 tid);
	if (change >= 0)
		stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, (uint32_t)change);
	if (extra_type)
		stun_build_attr(&b, extra_type, extra, extra_len);
	if (fingerprint)
		stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	return len;
}

static void handle(const struct refl_cfg *cfg, const uint8_t *msg, size_t len, enum refl_role role,
		   bool tcp, uint8_t *reply, struct refl_reply *out, struct stun_msg *parsed)
{
	struct sockaddr_storage from = client();
	struct refl_request req = {msg, len, role, (struct sockaddr *)&from, tcp};

	refl_handle(cfg, &req, reply, 1500, out);
	if (out->len)
		CU_ASSERT_EQUAL_FATAL(stun_parse(parsed, reply, out->len, STUN_PARSE_LEGACY),
				      STUN_OK);
}

static void expect_addr(const struct stun_msg *m, uint16_t type, const char *want)
{
	struct sockaddr_storage ss;
	char text[ADDR_STRLEN];

	CU_ASSERT_EQUAL_FATAL(stun_get_addr(m, type, &ss), STUN_OK);
	CU_ASSERT_STRING_EQUAL(addr_format((struct sockaddr *)&ss, text, sizeof(text)), want);
}

/* RFC 5780 section 6.1, table 1: every flag combination, on every socket. */
static void test_change_request_roles(void)
{
	struct refl_cfg cfg = config();

	for (int arrived = 0; arrived < 4; arrived++) {
		for (int flags = 0; flags < 4; flags++) {
			uint8_t msg[128], reply[1500];
			struct refl_reply out;
			struct stun_msg m;
			int change =
			    (flags & 1 ? STUN_CHANGE_PORT : 0) | (flags & 2 ? STUN_CHANGE_IP : 0);
			size_t len = request(msg, sizeof(msg), change, 0, NULL, 0, false);
			int want = arrived ^ flags; /* bit 0 port, bit 1 address */

			handle(&cfg, msg, len, (enum refl_role)arrived, false, reply, &out, &m);
			CU_ASSERT_EQUAL_FATAL(out.len > 0, true);
			CU_ASSERT_EQUAL(out.role, want);
			CU_ASSERT_EQUAL(m.cls, STUN_SUCCESS);
			CU_ASSERT_EQUAL(memcmp(m.tid, tid, STUN_TID_LEN), 0);
			expect_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, "198.51.100.7:40000");
			expect_addr(&m, STUN_ATTR_MAPPED_ADDRESS, "198.51.100.7:40000");
			expect_addr(&m, STUN_ATTR_RESPONSE_ORIGIN, role_addr[want]);
			expect_addr(&m, STUN_ATTR_OTHER_ADDRESS, role_addr[arrived ^ 3]);
			CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_ERR_NOT_FOUND);
			/* Never an amplifier: a plain answer stays small. */
			CU_ASSERT_TRUE(out.len <= REFL_MAX_PLAIN_REPLY);
		}
	}
}

/* RFC 3489: no cookie in, an RFC 3489 answer out, echoing all 16 bytes. */
static void test_rfc3489_request(void)
{
	struct refl_cfg cfg = config();
	uint8_t msg[28] = {0x00, 0x01, 0x00, 0x08, 0xDE, 0xAD, 0xBE, 0xEF, 1,    2,    3, 4, 5, 6,
			   7,    8,    9,    10,   11,   12,   0x00, 0x03, 0x00, 0x04, 0, 0, 0, 6};
	uint8_t reply[1500];
	struct refl_reply out;
	struct stun_msg m;

	handle(&cfg, msg, sizeof(msg), REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL_FATAL(out.len > 0, true);
	CU_ASSERT_TRUE(m.legacy);
	CU_ASSERT_EQUAL(memcmp(reply + 4, msg + 4, 16), 0);
	CU_ASSERT_EQUAL(out.role, REFL_AA);
	expect_addr(&m, STUN_ATTR_MAPPED_ADDRESS, "198.51.100.7:40000");
	expect_addr(&m, STUN_ATTR_SOURCE_ADDRESS, role_addr[REFL_AA]);
	expect_addr(&m, STUN_ATTR_CHANGED_ADDRESS, role_addr[REFL_AA]);
	/* XOR-MAPPED-ADDRESS is comprehension-required, unknown to RFC 3489 clients. */
	CU_ASSERT_PTR_NULL(stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS));
}

/* Malformed requests, and messages that are not requests, get no answer. */
static void test_no_answer(void)
{
	struct refl_cfg cfg = config();
	uint8_t msg[128], reply[1500];
	size_t len = request(msg, sizeof(msg), 6, 0, NULL, 0, true);
	struct refl_reply out;
	struct stun_msg m;

	for (size_t cut = 0; cut < len; cut++) {
		handle(&cfg, msg, cut, REFL_PP, false, reply, &out, &m);
		CU_ASSERT_EQUAL(out.len, 0);
		CU_ASSERT_PTR_NOT_NULL(out.drop);
	}
	msg[len - 1] ^= 1;
	handle(&cfg, msg, len, REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL(out.len, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out.drop);
	CU_ASSERT_STRING_EQUAL(out.drop, "fingerprint-mismatch");

	len = request(msg, sizeof(msg), -1, 0, NULL, 0, false);
	wire_put16(msg, stun_type(STUN_BINDING, STUN_SUCCESS));
	handle(&cfg, msg, len, REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL(out.len, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out.drop);
	CU_ASSERT_STRING_EQUAL(out.drop, "not a request");
	wire_put16(msg, stun_type(STUN_BINDING, STUN_INDICATION));
	handle(&cfg, msg, len, REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL(out.len, 0);
}

static void expect_error(const struct refl_cfg *cfg, const uint8_t *msg, size_t len, bool tcp,
			 unsigned code)
{
	uint8_t reply[1500];
	struct refl_reply out;
	struct stun_msg m;
	unsigned got;
	const char *reason;
	size_t rlen;

	handle(cfg, msg, len, REFL_PA, tcp, reply, &out, &m);
	CU_ASSERT_EQUAL_FATAL(out.len > 0, true);
	CU_ASSERT_EQUAL(out.role, REFL_PA); /* errors leave from the socket asked */
	CU_ASSERT_EQUAL(m.cls, STUN_ERROR);
	CU_ASSERT_EQUAL_FATAL(stun_get_error(&m, &got, &reason, &rlen), STUN_OK);
	CU_ASSERT_EQUAL(got, code);
	CU_ASSERT_EQUAL(out.error, code);
}

static void test_errors(void)
{
	struct refl_cfg cfg = config();
	uint8_t msg[256], reply[1500];
	struct refl_reply out;
	struct stun_msg m;
	uint16_t types[4];
	size_t n, len;
	static const uint8_t zero_port[4];
	uint32_t both_port = 40001u << 16;
	struct sockaddr_storage third = client();

	/* 420 names the unknown comprehension-required attribute. */
	len = request(msg, sizeof(msg), -1, 0x0031, "abcd", 4, true);
	handle(&cfg, msg, len, REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL(out.error, 420);
	CU_ASSERT_EQUAL(stun_get_unknown(&m, types, 4, &n), STUN_OK);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(types[0], 0x0031);
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_OK);

	/* PADDING with RESPONSE-PORT: refused (RFC 5780 6.1). */
	{
		struct stun_builder b;

		stun_build_start(&b, msg, sizeof(msg), 0x0001, STUN_MAGIC_COOKIE, tid);
		stun_build_u32(&b, STUN_ATTR_RESPONSE_PORT, both_port);
		stun_build_attr(&b, STUN_ATTR_PADDING, "pppp", 4);
		CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
		expect_error(&cfg, msg, len, false, 400);
	}
	len = request(msg, sizeof(msg), -1, STUN_ATTR_RESPONSE_PORT, zero_port, 4, false);
	expect_error(&cfg, msg, len, false, 400);

	/* Over TCP there is no other socket to answer from. */
	len = request(msg, sizeof(msg), STUN_CHANGE_IP, 0, NULL, 0, false);
	expect_error(&cfg, msg, len, true, 400);
	len = request(msg, sizeof(msg), 0, 0, NULL, 0, false);
	handle(&cfg, msg, len, REFL_AP, true, reply, &out, &m);
	CU_ASSERT_EQUAL(out.error, 0);
	CU_ASSERT_EQUAL(out.role, REFL_AP);

	/* RFC 3489 RESPONSE-ADDRESS would answer a third party: refused. */
	{
		struct stun_builder b;

		stun_build_start(&b, msg, sizeof(msg), 0x0001, STUN_MAGIC_COOKIE, tid);
		stun_build_addr(&b, STUN_ATTR_RESPONSE_ADDRESS, (struct sockaddr *)&third);
		CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
		expect_error(&cfg, msg, len, false, 400);
	}

	/* Methods other than Binding. */
	len = request(msg, sizeof(msg), -1, 0, NULL, 0, false);
	wire_put16(msg, stun_type(0x003, STUN_REQUEST));
	expect_error(&cfg, msg, len, false, 400);
}

/* RFC 5780 7.5: to the source address, at RESPONSE-PORT, from the socket asked. */
static void test_response_port(void)
{
	struct refl_cfg cfg = config();
	uint8_t msg[128], reply[1500];
	struct refl_reply out;
	struct stun_msg m;
	static const uint8_t port_40001[4] = {0x9C, 0x41, 0, 0}; /* network order, 2 reserved */
	size_t len = request(msg, sizeof(msg), -1, STUN_ATTR_RESPONSE_PORT, port_40001, 4, false);
	char text[ADDR_STRLEN];

	handle(&cfg, msg, len, REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL_FATAL(out.len > 0, true);
	CU_ASSERT_STRING_EQUAL(addr_format((struct sockaddr *)&out.to, text, sizeof(text)),
			       "198.51.100.7:40001");
	expect_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, "198.51.100.7:40000");
}

/* PADDING is answered with PADDING, but never beyond the request's own size. */
static void test_padding_bounded(void)
{
	struct refl_cfg cfg = config();
	static uint8_t pad[1200];
	uint8_t msg[1400], reply[1500];
	struct refl_reply out;
	struct stun_msg m;
	size_t len;

	len = request(msg, sizeof(msg), -1, STUN_ATTR_PADDING, pad, sizeof(pad), true);
	handle(&cfg, msg, len, REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL_FATAL(out.len > 0, true);
	CU_ASSERT_PTR_NOT_NULL(stun_find(&m, STUN_ATTR_PADDING));
	CU_ASSERT_TRUE(out.len <= len);
	CU_ASSERT_TRUE(out.len + 4 > len); /* padded up to it */
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_OK);

	len = request(msg, sizeof(msg), -1, STUN_ATTR_PADDING, pad, 0, false);
	handle(&cfg, msg, len, REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL_FATAL(out.len > 0, true);
	CU_ASSERT_EQUAL(stun_find(&m, STUN_ATTR_PADDING)->len, 0);
}

/* With --key: MESSAGE-INTEGRITY required, checked, and put on the answer. */
static void test_authentication(void)
{
	static const uint8_t key[] = "probe-session-key";
	struct refl_cfg cfg = config();
	uint8_t msg[128], reply[1500];
	struct refl_reply out;
	struct stun_msg m;
	struct stun_builder b;
	size_t len;

	cfg.key = key;
	cfg.key_len = sizeof(key) - 1;
	len = request(msg, sizeof(msg), -1, 0, NULL, 0, false);
	expect_error(&cfg, msg, len, false, 400);

	stun_build_start(&b, msg, sizeof(msg), 0x0001, STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, "probe");
	stun_build_integrity(&b, (const uint8_t *)"wrong", 5);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	expect_error(&cfg, msg, len, false, 401);

	stun_build_start(&b, msg, sizeof(msg), 0x0001, STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, "probe");
	stun_build_integrity(&b, key, sizeof(key) - 1);
	stun_build_fingerprint(&b);
	CU_ASSERT_EQUAL_FATAL(stun_build_end(&b, &len), STUN_OK);
	handle(&cfg, msg, len, REFL_PP, false, reply, &out, &m);
	CU_ASSERT_EQUAL_FATAL(out.len > 0, true);
	CU_ASSERT_EQUAL(m.cls, STUN_SUCCESS);
	CU_ASSERT_EQUAL(stun_check_integrity(&m, key, sizeof(key) - 1), STUN_OK);
	CU_ASSERT_EQUAL(stun_check_fingerprint(&m), STUN_OK);
}

int test_reflector_register(void)
{
	static const struct test_case tests[] = {
	    {"CHANGE-REQUEST: every flag on every socket", test_change_request_roles},
	    {"RFC 3489 request, RFC 3489 answer", test_rfc3489_request},
	    {"malformed and non-requests get no answer", test_no_answer},
	    {"errors: 420, 400 for unsafe or impossible asks", test_errors},
	    {"RESPONSE-PORT goes to the requester's address", test_response_port},
	    {"PADDING never beyond the request's size", test_padding_bounded},
	    {"short-term authentication", test_authentication},
	};

	return TEST_SUITE("reflector handler", tests);
}
