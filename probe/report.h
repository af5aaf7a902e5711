/*
 * natprobe's writers: a summary for people, the JSON record for machines
 * (INTERFACE.md, "The result record"), from the same typed result.
 */
#ifndef NATLAB_PROBE_REPORT_H
#define NATLAB_PROBE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "probe/result.h"

#define PROBE_MAX_TAGS   8
#define NATPROBE_VERSION "0.1.0" /* tool.version in every record natprobe writes */

/* What the record says of the run itself, beside the verdicts. */
struct probe_meta {
	const char *started; /* RFC 3339, UTC */
	const char *version;
	const char *run_id; /* a UUID, one per run; NULL none */
	const char *label;  /* the user's name for the run; NULL for none */
	/* --tag NAME=VALUE: keys a survey can group by (tags.NAME). */
	const char *tag_name[PROBE_MAX_TAGS], *tag_value[PROBE_MAX_TAGS];
	size_t ntags;
	/* SERVER and --peer as given (names or addresses); the peer's address
	 * used, and whether it answered. NULL: no --peer. */
	const char *server_given, *peer_given;
	const struct sockaddr *peer;
	bool peer_reached;
};

void probe_report_text(FILE *out, const struct probe_result *r);
/* One line of JSON. 0, or -1 on a write error. */
int probe_report_json(FILE *out, const struct probe_result *r, const struct probe_meta *m);

/* An endpoint as the record writes it ("203.0.113.1:4000"), or null. */
json_t *probe_addr_json(const struct sockaddr_storage *ss);
/* The depth and portmap tests' part (reportdepth.c). */
void probe_report_depth_text(FILE *out, const struct probe_result *r);
void probe_report_depth_json(json_t *rec, const struct probe_result *r);

#endif
