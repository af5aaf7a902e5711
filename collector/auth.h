/*
 * natcollect's tokens: a file of "NAME TOKEN" lines (# comments, blank
 * lines), NAME a probe fleet's name for the counters, TOKEN what its probes
 * send as "Authorization: Bearer TOKEN". Pure but for reading the file.
 */
#ifndef NATLAB_COLLECTOR_AUTH_H
#define NATLAB_COLLECTOR_AUTH_H

#include <stddef.h>

#define AUTH_MAX_TOKENS 256
#define AUTH_NAME_LEN   32
#define AUTH_TOKEN_MIN  16 /* characters: a guessable token is refused at start */
#define AUTH_TOKEN_LEN  128

struct auth_token {
	char name[AUTH_NAME_LEN];
	char token[AUTH_TOKEN_LEN];
};

struct auth {
	struct auth_token t[AUTH_MAX_TOKENS];
	size_t n;
};

/* Read path into a: 0, or -1 with what was wrong and where in why. */
int auth_load(struct auth *a, const char *path, char *why, size_t len);
/* The index of the token an Authorization header carries, or -1 (none,
 * not Bearer, unknown). Compared in constant time per token. */
int auth_check(const struct auth *a, const char *header);

#endif
