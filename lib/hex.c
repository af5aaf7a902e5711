#include "hex.h"

#include <stdio.h>

static int digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int hex_decode(const char *text, uint8_t *out, size_t cap, size_t *len, char *err, size_t err_len)
{
	unsigned line = 1, column = 0;
	int high = -1;

	*len = 0;
	for (const char *p = text; *p; p++) {
		column++;
		if (*p == '\n') {
			line++;
			column = 0;
		}
		if (*p == '#' && high < 0) {
			while (p[1] && p[1] != '\n')
				p++;
			continue;
		}
		if (is_space(*p) && high < 0)
			continue;
		if (digit(*p) < 0) {
			if (is_space(*p))
				snprintf(err, err_len,
					 "line %u, column %u: odd number of hex digits", line,
					 column);
			else if (*p > ' ' && *p < 0x7f)
				snprintf(err, err_len,
					 "line %u, column %u: '%c' is not a hex digit", line,
					 column, *p);
			else
				snprintf(err, err_len,
					 "line %u, column %u: byte 0x%02x is not a hex digit", line,
					 column, (unsigned char)*p);
			return -1;
		}
		if (high >= 0) {
			out[(*len)++] = (uint8_t)(high << 4 | digit(*p));
			high = -1;
		} else if (*len == cap) {
			snprintf(err, err_len, "line %u, column %u: more than %zu bytes", line,
				 column, cap);
			return -1;
		} else {
			high = digit(*p);
		}
	}
	if (high >= 0) {
		snprintf(err, err_len, "line %u: odd number of hex digits at the end", line);
		return -1;
	}
	return 0;
}
