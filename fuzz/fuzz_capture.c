/*
 * libFuzzer harness for the reading of captured frames (reflector/capture.c)
 * under every link type it knows. Invariants: a parsed frame is TCP or ICMP;
 * a match names a known outcome, and an ICMP match comes from a frame that
 * quoted a packet.
 */
#include "fuzz/fuzz.h"

#include "addr.h"
#include "reflector/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int links[] = {REFL_LINK_EN10MB, REFL_LINK_RAW, REFL_LINK_IPV4, REFL_LINK_SLL,
				    REFL_LINK_SLL2};
	struct refl_test t = {.token = {0x11, 0x22, 0x33, 0x44}};
	struct sockaddr_storage sent;
	char err[128];

	addr_parse("203.0.113.11:3479", ADDR_PORT_REQUIRED, 0, &sent, err, sizeof(err));
	addr_parse("198.51.100.1:50000", ADDR_PORT_REQUIRED, 0, &t.target, err, sizeof(err));
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		struct refl_captured c;

		if (!refl_capture_parse(links[i], data, size, &c))
			continue;
		CHECK(c.proto == 6 || c.proto == 1);
		for (int action = REFL_TEST_UDP; action <= REFL_TEST_SYN; action++) {
			struct refl_observation o = {0};

			t.action = (enum refl_test_action)action;
			if (!refl_capture_match(&t, (struct sockaddr *)&sent, &c, &o))
				continue;
			CHECK(o.outcome >= REFL_SEEN_SYN_ACK && o.outcome <= REFL_SEEN_ICMP);
			CHECK(o.outcome != REFL_SEEN_ICMP || c.has_inner);
		}
	}
	return 0;
}
