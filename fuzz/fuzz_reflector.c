/*
 * libFuzzer harness for natreflector's request handler, on every socket role
 * over UDP and TCP. Invariants: a reply parses as STUN, goes to the
 * requester's own address, and is never longer than the larger of the
 * request and REFL_MAX_PLAIN_REPLY (no amplification). With natlab tests on,
 * an order is only ever aimed at the requester's own address.
 */
#include <string.h>

#include "fuzz/fuzz.h"

#include "addr.h"
#include "reflector/handler.h"
#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const roles[4] = {"203.0.113.10:3478", "203.0.113.10:3479",
					     "203.0.113.11:3478", "203.0.113.11:3479"};
	static uint8_t reply[2048];
	static const uint8_t key[] = "k", secret[] = "fuzz secret, 16 bytes or more";
	struct refl_cfg cfg = {.software = "fuzz"};
	struct sockaddr_storage from;
	char err[128];

	addr_parse("198.51.100.7:40000", ADDR_PORT_REQUIRED, 0, &from, err, sizeof(err));
	for (int r = 0; r < 4; r++)
		addr_parse(roles[r], ADDR_PORT_REQUIRED, 0, &cfg.advertised[r], err, sizeof(err));
	for (int variant = 0; variant < 32; variant++) {
		struct refl_request req = {data, size, (enum refl_role)(variant & 3),
					   (struct sockaddr *)&from, (variant & 4) != 0};
		struct refl_reply out;
		struct stun_msg m;

		cfg.key = variant & 8 ? key : NULL;
		cfg.key_len = variant & 8 ? 1 : 0;
		cfg.session_secret = variant & 16 ? secret : NULL;
		cfg.session_secret_len = variant & 16 ? sizeof(secret) - 1 : 0;
		refl_handle(&cfg, &req, reply, sizeof(reply), &out);
		if (out.test) {
			CHECK(cfg.session_secret && !out.len);
			CHECK(addr_same_ip((struct sockaddr *)&out.order.target,
					   (struct sockaddr *)&from));
			CHECK(out.order.from_role < 4);
			CHECK(out.order.wait_ms >= REFL_TEST_WAIT_MIN &&
			      out.order.wait_ms <= REFL_TEST_WAIT_MAX);
			continue;
		}
		if (!out.len) {
			CHECK(out.drop != NULL);
			continue;
		}
		CHECK(out.len <= sizeof(reply));
		CHECK(out.len <= (size > REFL_MAX_PLAIN_REPLY ? size : REFL_MAX_PLAIN_REPLY));
		CHECK(stun_parse(&m, reply, out.len, STUN_PARSE_LEGACY) == STUN_OK);
		CHECK(addr_same_ip((struct sockaddr *)&out.to, (struct sockaddr *)&from));
	}
	return 0;
}
