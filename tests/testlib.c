#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include <arpa/inet.h>

#include "addr.h"
#include "hex.h"

size_t test_load_hex(const char *name, uint8_t *buf, size_t cap)
{
	const char *dir = getenv("NATLAB_TESTDATA");
	char path[512], text[8192], err[128];
	FILE *f;
	size_t n, len;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/vectors", name);
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 0;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (hex_decode(text, buf, cap, &len, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", path, err);
		return 0;
	}
	return len;
}

int test_suite(const char *name, const struct test_case *tests, size_t n)
{
	CU_pSuite suite = CU_add_suite(name, NULL, NULL);

	if (!suite)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}

void test_sockaddr_v4(uint32_t ip, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(ip);
	in->sin_port = htons(port);
}

void test_sockaddr(const char *text, struct sockaddr_storage *ss)
{
	char err[96];

	CU_ASSERT_EQUAL_FATAL(addr_parse(text, ADDR_PORT_OPTIONAL, 0, ss, err, sizeof(err)), 0);
}
