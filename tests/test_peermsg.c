/*
 * The NatlabPeer codec (lib/peermsg.c, probe/PEER.md): every operation
 * builds and parses back; what a hostile or broken sender may put on the
 * wire is refused with a reason, never half-read.
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "addr.h"
#include "peermsg.h"
#include "testlib.h"

static struct peer_msg msg(enum peer_op op, enum stun_class cls)
{
	struct peer_msg pm = {.op = op, .cls = cls, .socket = 7, .port = 40000};
	char err[64];

	memcpy(pm.tid, "natlab-peer!", STUN_TID_LEN);
	addr_parse("203.0.113.10:3478", ADDR_PORT_REQUIRED, 0, &pm.addr, err, sizeof(err));
	return pm;
}

static void test_round_trip(void)
{
	static const uint8_t payload[] = "a datagram";
	static const struct {
		enum peer_op op;
		enum stun_class cls;
	} cases[] = {
	    {PEER_OPEN, STUN_REQUEST},         {PEER_OPEN, STUN_SUCCESS},
	    {PEER_SEND, STUN_INDICATION},      {PEER_DATA, STUN_INDICATION},
	    {PEER_RESET, STUN_REQUEST},        {PEER_RESET, STUN_SUCCESS},
	    {PEER_TCP_LISTEN, STUN_REQUEST},   {PEER_TCP_LISTEN, STUN_SUCCESS},
	    {PEER_TCP_CONNECT, STUN_REQUEST},  {PEER_TCP_CONNECT, STUN_SUCCESS},
	    {PEER_TCP_EVENT, STUN_INDICATION}, {PEER_CLOSE, STUN_INDICATION},
	};
	uint8_t buf[PEER_MSG_MAX];
	struct peer_msg in, out;
	const char *why;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;

		in = msg(cases[i].op, cases[i].cls);
		in.data = payload;
		in.data_len = sizeof(payload);
		in.event = PEER_EV_ACCEPTED;
		in.accepted = 0x01020304;
		len = peer_build(&in, buf, sizeof(buf));
		CU_ASSERT_FATAL(len > 0);
		CU_ASSERT_EQUAL_FATAL(peer_parse(&out, buf, len, &why), 0);
		CU_ASSERT_EQUAL(out.op, in.op);
		CU_ASSERT_EQUAL(out.cls, in.cls);
		CU_ASSERT_EQUAL(memcmp(out.tid, in.tid, STUN_TID_LEN), 0);
		if (in.op == PEER_SEND || in.op == PEER_DATA) {
			CU_ASSERT_EQUAL(out.data_len, sizeof(payload));
			CU_ASSERT_EQUAL(memcmp(out.data, payload, sizeof(payload)), 0);
		}
		if (in.op != PEER_RESET && in.op != PEER_CLOSE)
			CU_ASSERT_TRUE(
			    addr_equal((struct sockaddr *)&out.addr, (struct sockaddr *)&in.addr));
		if (in.op != PEER_SEND && in.op != PEER_DATA)
			CU_ASSERT_PTR_NULL(out.data);
		if (in.cls == STUN_REQUEST && in.op != PEER_RESET)
			CU_ASSERT_EQUAL(out.port, 40000);
		if (in.op != PEER_RESET && in.cls != STUN_REQUEST)
			CU_ASSERT_EQUAL(out.socket, 7);
		if (in.op == PEER_TCP_EVENT) {
			CU_ASSERT_EQUAL(out.event, PEER_EV_ACCEPTED);
			CU_ASSERT_EQUAL(out.accepted, 0x01020304);
		} else
			CU_ASSERT_EQUAL(out.event, 0);
	}
}

static void test_error(void)
{
	struct peer_msg in = msg(PEER_OPEN, STUN_ERROR), out;
	uint8_t buf[PEER_MSG_MAX];
	const char *why;
	size_t len;

	in.code = 500;
	strcpy(in.reason, "cannot open a UDP socket on port 40000: Address in use");
	len = peer_build(&in, buf, sizeof(buf));
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL_FATAL(peer_parse(&out, buf, len, &why), 0);
	CU_ASSERT_EQUAL(out.code, 500);
	CU_ASSERT_STRING_EQUAL(out.reason, in.reason);
}

static void test_refused(void)
{
	struct peer_msg in = msg(PEER_SEND, STUN_INDICATION), out;
	uint8_t buf[PEER_MSG_MAX], big[PEER_DATA_MAX + 1] = {0};
	const char *why = NULL;
	size_t len;

	/* Wrong class for the operation: not built, and not parsed either. */
	in.cls = STUN_REQUEST;
	CU_ASSERT_EQUAL(peer_build(&in, buf, sizeof(buf)), 0);
	/* More data than a peer carries. */
	in.cls = STUN_INDICATION;
	in.data = big;
	in.data_len = sizeof(big);
	CU_ASSERT_EQUAL(peer_build(&in, buf, sizeof(buf)), 0);
	/* A good message, then damaged: the fingerprint catches a flipped byte;
	 * every truncation is refused. */
	in.data_len = 8;
	len = peer_build(&in, buf, sizeof(buf));
	CU_ASSERT_FATAL(len > 0);
	for (size_t cut = 0; cut < len; cut++)
		CU_ASSERT_EQUAL(peer_parse(&out, buf, cut, &why), -1);
	buf[24] ^= 0x40;
	CU_ASSERT_EQUAL(peer_parse(&out, buf, len, &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "no valid FINGERPRINT");
	/* A TCP event the parser does not know. */
	in = msg(PEER_TCP_EVENT, STUN_INDICATION);
	in.event = (enum peer_event)(PEER_EV_CLOSED + 1);
	len = peer_build(&in, buf, sizeof(buf));
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(peer_parse(&out, buf, len, &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "no NATLAB-PEER-EVENT, or an unknown event");
	/* A Binding request is no peer message. */
	memcpy(buf, "\x00\x01\x00\x00\x21\x12\xa4\x42natlab-peer!", 20);
	CU_ASSERT_EQUAL(peer_parse(&out, buf, 20, &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "not a NatlabPeer message");
}

int test_peermsg_register(void)
{
	static const struct test_case tests[] = {
	    {"every operation builds and parses back", test_round_trip},
	    {"an error carries its code and reason", test_error},
	    {"wrong class, oversized, truncated, damaged: refused", test_refused},
	};

	return TEST_SUITE("NatlabPeer codec", tests);
}
