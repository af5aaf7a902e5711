/*
 * libFuzzer harness for the address parser: whatever it accepts must print
 * and parse back to the same address.
 */
#include <string.h>

#include "fuzz/fuzz.h"

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[128], err[256], printed[ADDR_STRLEN];
	struct sockaddr_storage a, b;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (int rule = ADDR_PORT_NONE; rule <= ADDR_PORT_REQUIRED; rule++) {
		if (addr_parse(text, (enum addr_port_rule)rule, 3478, &a, err, sizeof(err)))
			continue;
		/* With no port, print the address alone: ":0" is no port a user can type. */
		if (rule == ADDR_PORT_NONE)
			addr_format_ip((struct sockaddr *)&a, printed, sizeof(printed));
		else
			addr_format((struct sockaddr *)&a, printed, sizeof(printed));
		CHECK(addr_parse(printed, (enum addr_port_rule)rule, 3478, &b, err, sizeof(err)) ==
		      0);
		CHECK(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	}
	return 0;
}
