#include "testlib.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t test_load_hex(const char *name, uint8_t *buf, size_t cap)
{
	const char *dir = getenv("NATLAB_TESTDATA");
	char path[512];
	FILE *f;
	size_t n = 0;
	int c, high = -1;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/vectors", name);
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 0;
	}
	while ((c = fgetc(f)) != EOF) {
		if (c == '#') {
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (isspace(c))
			continue;
		if (hex_value(c) < 0 || (high < 0 && n == cap)) {
			fprintf(stderr, "%s: bad hex or too long at byte %zu\n", path, n);
			n = 0;
			break;
		}
		if (high < 0) {
			high = hex_value(c);
		} else {
			buf[n++] = (uint8_t)(high << 4 | hex_value(c));
			high = -1;
		}
	}
	fclose(f);
	return n;
}
