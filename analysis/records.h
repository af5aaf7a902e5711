/*
 * Reading natprobe's result records: JSON Lines, or JSON objects one after
 * another (pretty-printed or not), from files, folders and standard input.
 * Streaming: one record in memory at a time, whatever the count. A record
 * begins with '{' at the start of a line; bad ones are reported with their
 * file and line, counted and skipped, and reading goes on.
 */
#ifndef NATLAB_ANALYSIS_RECORDS_H
#define NATLAB_ANALYSIS_RECORDS_H

#include <stdio.h>

#include <jansson.h>

#define REC_SCHEMA    "natlab.result/1"
#define REC_MAX_BYTES (1u << 20) /* a longer record is bad input */
#define REC_MAX_DEPTH 8          /* folders within folders */

/* Where a record began: for messages and reports. */
struct rec_where {
	const char *file; /* "-" for standard input */
	unsigned long line;
};

struct rec_stats {
	unsigned long records;    /* handed on */
	unsigned long skipped;    /* bad records and lines */
	unsigned long files;      /* read */
	unsigned long unreadable; /* paths that could not be read at all */
};

/* Called for each good record (borrowed: keep a reference to keep it).
 * A nonzero return stops the reading. */
typedef int (*rec_fn)(void *ctx, json_t *rec, const struct rec_where *where);

/*
 * Read the records of every path in order: a file, a folder (its .json and
 * .jsonl files, sorted by name, and its folders'), or "-" for standard
 * input. Messages go to err (NULL: none), prefixed with program. Returns
 * the callback's nonzero value, or 0.
 */
int rec_read_paths(char *const *paths, size_t n, rec_fn fn, void *ctx, struct rec_stats *st,
		   FILE *err, const char *program);

/* One stream, named name in messages. */
int rec_read_stream(FILE *in, const char *name, rec_fn fn, void *ctx, struct rec_stats *st,
		    FILE *err, const char *program);

/* Whether rec is a record this reader understands; if not, why. */
int rec_check(const json_t *rec, char *why, size_t len);

#endif
