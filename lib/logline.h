/*
 * Log lines a machine can parse: "PROGRAM EVENT ts=2026-11-21T10:00:00.123Z
 * key=value ...", one event per line, values with spaces in double quotes
 * (the counters' lines, "PROGRAM count reason=... packets=N", share the
 * shape). Written whole and flushed, so a reader following the file never
 * sees half a line.
 */
#ifndef NATLAB_LOGLINE_H
#define NATLAB_LOGLINE_H

#include <stdio.h>

/* fmt gives the key=value part; NULL for none. */
void log_line(FILE *out, const char *program, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
