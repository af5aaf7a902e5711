/*
 * libFuzzer harness for one side of a traversal trial (probe/punch.c). The
 * input is a run of datagrams, each raw or built from fields with the right
 * or a wrong key, with time passing between them. Invariants: success only
 * with a verified packet that echoed our token; what is sent stays within
 * the trial's bounds; every packet it sends parses as STUN.
 */
#include <string.h>

#include <arpa/inet.h>

#include "fuzz/fuzz.h"

#include "probe/punch.h"
#include "stun.h"

static unsigned sent;

static int count(void *ctx, const struct sockaddr *to, const uint8_t *msg, size_t len, unsigned ttl)
{
	struct stun_msg m;

	(void)ctx;
	(void)to;
	(void)ttl;
	CHECK(stun_parse(&m, msg, len, 0) == STUN_OK);
	sent++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct punch_cfg cfg = {.session = "s",
				.key_len = 4,
				.interval_us = 50000,
				.max_rounds = 4,
				.timeout_us = 1000000,
				.ncand = 1};
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(5000)};
	struct punch_trial t;
	uint64_t now = 0;
	bool echoed = false;

	memcpy(cfg.key, "keyk", 4);
	memcpy(cfg.token, "OURTOKEN", 8);
	cfg.cand[0].addr.ss_family = AF_INET;
	cfg.passive = size && (data[0] & 1);
	sent = 0;
	punch_start(&t, &cfg, count, NULL, now);
	while (size >= 12) {
		uint8_t buf[256];
		size_t len = 0, take = 12;

		now += data[1] * 1000u;
		punch_tick(&t, now);
		if (data[0] & 2) {
			struct punch_cfg peer = cfg;

			memcpy(peer.token, data + 2, 8);
			peer.key[0] ^= (uint8_t)(data[0] & 4);
			len = punch_build(&peer, data[0] & 8 ? cfg.token : data + 2, data[0] & 16,
					  buf, sizeof(buf));
			echoed = echoed || ((data[0] & 12) == 8 && memcmp(data + 2, cfg.token, 8));
		} else {
			take = 12 + (data[10] < size - 12 ? data[10] : size - 12);
			len = take - 12;
			memcpy(buf, data + 12, len);
		}
		punch_receive(&t, (struct sockaddr *)&from, buf, len, now);
		data += take;
		size -= take;
	}
	if (t.res.outcome == PUNCH_SUCCESS)
		CHECK(echoed && t.res.verified > 0);
	CHECK(sent <= cfg.max_rounds * cfg.ncand + 4 * cfg.max_rounds + 3);
	return 0;
}
