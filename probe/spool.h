/*
 * natprobe --spool DIR: each run's record as one closed file in a folder
 * by date, DIR/YYYY/MM/DD/YYYYMMDDTHHMMSSZ-RUN_ID.json, written under a
 * hidden temporary name (which natreport and a pusher skip), flushed to
 * disk, then renamed: a file in the spool is always a whole record.
 */
#ifndef NATLAB_PROBE_SPOOL_H
#define NATLAB_PROBE_SPOOL_H

#include <stddef.h>
#include <time.h>

#define SPOOL_PATH_MAX 4096

/* DIR made (mkdir -p) and writable: 0, or -1 with errno, before a run
 * spends its time. */
int spool_check(const char *dir);

/* Write the record (text, len bytes, one line) for run_id, started at
 * `when` (UTC). 0, and the file's path in path; -1 with errno set and
 * path naming what failed. */
int spool_write(const char *dir, const char *run_id, const struct tm *when, const char *text,
		size_t len, char path[SPOOL_PATH_MAX]);

#endif
