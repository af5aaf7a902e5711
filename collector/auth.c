/* natcollect's tokens. See auth.h. */
#include "collector/auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One line's fields: 0 a token, 1 nothing there, -1 malformed (why). */
static int parse_line(char *line, struct auth_token *t, const char **why)
{
	char *save = NULL, *name, *token, *extra;

	line[strcspn(line, "#\r\n")] = '\0';
	name = strtok_r(line, " \t", &save);
	if (!name)
		return 1;
	token = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	*why = !token                            ? "want NAME TOKEN"
	       : extra                           ? "more than NAME TOKEN"
	       : strlen(name) >= AUTH_NAME_LEN   ? "NAME longer than 31 characters"
	       : strlen(token) < AUTH_TOKEN_MIN  ? "TOKEN shorter than 16 characters"
	       : strlen(token) >= AUTH_TOKEN_LEN ? "TOKEN longer than 127 characters"
						 : NULL;
	if (*why)
		return -1;
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->token, sizeof(t->token), "%s", token);
	return 0;
}

int auth_load(struct auth *a, const char *path, char *why, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned long lineno = 0;
	int rc = 0;

	a->n = 0;
	if (!f) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		const char *bad = NULL;
		int got;

		lineno++;
		if (a->n == AUTH_MAX_TOKENS) {
			bad = "more than 256 tokens";
			got = -1;
		} else {
			got = parse_line(line, &a->t[a->n], &bad);
		}
		if (got < 0) {
			snprintf(why, len, "%s:%lu: %s", path, lineno, bad);
			rc = -1;
		} else if (got == 0) {
			a->n++;
		}
	}
	fclose(f);
	if (!rc && !a->n) {
		snprintf(why, len, "%s: no token", path);
		rc = -1;
	}
	return rc;
}

static bool same(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

int auth_check(const struct auth *a, const char *header)
{
	const char *given;
	size_t n;
	int found = -1;

	if (!header || strncasecmp(header, "Bearer ", 7))
		return -1;
	given = header + 7;
	n = strlen(given);
	for (size_t i = 0; i < a->n; i++)
		if (strlen(a->t[i].token) == n && same(a->t[i].token, given, n))
			found = (int)i; /* no early return: every token compared */
	return found;
}
