/*
 * libFuzzer harness for the NatlabPeer codec (lib/peermsg.c), which both
 * natprobe and `natprobe peer` run on datagrams from the network: whatever
 * it accepts must build again and parse back to the same message.
 */
#include <string.h>

#include "fuzz/fuzz.h"

#include "addr.h"
#include "peermsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer_msg a, b;
	uint8_t out[PEER_MSG_MAX];
	const char *why;
	size_t len;

	if (peer_parse(&a, data, size, &why))
		return 0;
	len = peer_build(&a, out, sizeof(out));
	CHECK(len > 0);
	CHECK(peer_parse(&b, out, len, &why) == 0);
	CHECK(a.op == b.op && a.cls == b.cls && a.socket == b.socket && a.port == b.port);
	CHECK(a.data_len == b.data_len && (!a.data_len || !memcmp(a.data, b.data, a.data_len)));
	CHECK(a.code == b.code);
	if (a.addr.ss_family)
		CHECK(addr_equal((struct sockaddr *)&a.addr, (struct sockaddr *)&b.addr));
	return 0;
}
