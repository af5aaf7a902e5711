/*
 * natprobe --upload URL: the spool's records POSTed to a collector
 * (natcollect) with a bearer token, over HTTP or HTTPS (libcurl). The
 * record is in the spool before anything is sent; each one the collector
 * acknowledges (2xx) moves to DIR/sent/, the same path below it; one it
 * refuses as not a record (4xx) moves to DIR/refused/; anything else
 * (no answer, 5xx, 429) leaves it where it is for the next run. Bounded:
 * UPLOAD_MAX_FILES a run, UPLOAD_TRIES tries each with a backoff, a time
 * limit per request.
 */
#ifndef NATLAB_PROBE_UPLOAD_H
#define NATLAB_PROBE_UPLOAD_H

#include <stdbool.h>
#include <stdio.h>

#define UPLOAD_MAX_FILES 200
#define UPLOAD_TRIES     3
#define UPLOAD_TOKEN_MAX 128

struct upload_report {
	unsigned sent, refused, left; /* files */
	bool this_run_sent;           /* the file named `mine` was acknowledged */
	char why[256];                /* why something was left; "" none */
};

/* Read the token file's first line: 0, or -1 with why. */
int upload_read_token(const char *path, char token[UPLOAD_TOKEN_MAX], char *why, size_t len);

/* Where records go: the collector's URL, the token, and the CA
 * certificates (PEM file) an https URL is checked with (NULL: the system's). */
struct upload_to {
	const char *url, *token, *ca_file;
};

/* Send the spool DIR's pending records (this run's, `mine`, among them).
 * Progress lines to `log` (NULL: quiet). */
void upload_spool(const struct upload_to *to, const char *dir, const char *mine, FILE *log,
		  struct upload_report *rep);

#endif
