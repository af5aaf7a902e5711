/*
 * Reading natprobe's result records: JSON Lines, or JSON objects one after
 * another (pretty-printed or not), from files, folders and standard input.
 * Streaming: a bounded number of records in memory, whatever the count. A
 * record begins with '{' at the start of a line; bad ones are reported with
 * their file and line, counted and skipped, and reading goes on.
 *
 * Parsing is most of the cost, so it runs on worker threads: the caller's
 * work turns each record into a result there, and its take gets the results
 * back on the calling thread in input order, interleaved with the messages
 * about bad input exactly as a reading on one thread would give them.
 */
#ifndef NATLAB_ANALYSIS_RECORDS_H
#define NATLAB_ANALYSIS_RECORDS_H

#include <stdio.h>

#include <jansson.h>

#define REC_SCHEMA      "natlab.result/1"
#define REC_MAX_BYTES   (1u << 20) /* a longer record is bad input */
#define REC_MAX_DEPTH   8          /* folders within folders */
#define REC_MAX_THREADS 16

/* Where a record began, and its text (not NUL-terminated). */
struct rec_where {
	const char *file; /* "-" for standard input */
	unsigned long line;
	unsigned long index; /* the record's place in the input, from 0, bad ones counted */
	const char *text;
	size_t len;
};

struct rec_stats {
	unsigned long records;    /* handed on */
	unsigned long skipped;    /* bad records and lines */
	unsigned long files;      /* read */
	unsigned long unreadable; /* paths that could not be read at all */
};

struct rec_jobs {
	/* Each good record to its result (result_size bytes), on a worker
	 * thread: it may read ctx, and write only the result. rec is borrowed
	 * for the call. */
	void (*work)(void *ctx, const json_t *rec, const struct rec_where *where, void *result);
	/* Each result, on the calling thread, in input order; a nonzero return
	 * stops the reading. */
	int (*take)(void *ctx, void *result, const struct rec_where *where);
	void *ctx;
	size_t result_size;
	unsigned threads; /* workers, at most REC_MAX_THREADS; 0: all on the calling thread */
	FILE *err;        /* messages, prefixed with program; NULL: none */
	const char *program;
};

/*
 * Read the records of every path in order: a file, a folder (its .json and
 * .jsonl files, sorted by name, and its folders'), or "-" for standard
 * input. Returns take's nonzero value, 0, or -1 when there was no memory
 * to start (said on err).
 */
int rec_read_paths(char *const *paths, size_t n, const struct rec_jobs *jobs, struct rec_stats *st);

/* One stream, named name in messages. */
int rec_read_stream(FILE *in, const char *name, const struct rec_jobs *jobs, struct rec_stats *st);

/* Whether rec is a record this reader understands; if not, why. */
int rec_check(const json_t *rec, char *why, size_t len);

#endif
