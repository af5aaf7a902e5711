/*
 * natprobe's writers: a summary for people, the JSON record for machines
 * (INTERFACE.md, "The result record"), from the same typed result.
 */
#ifndef NATLAB_PROBE_REPORT_H
#define NATLAB_PROBE_REPORT_H

#include <stdio.h>

#include "probe/result.h"

void probe_report_text(FILE *out, const struct probe_result *r);
/* One line of JSON; started is an RFC 3339 UTC time; label the user's tag for
 * the run (NULL for none). 0, or -1 on a write error. */
int probe_report_json(FILE *out, const struct probe_result *r, const char *started,
		      const char *version, const char *label);

#endif
