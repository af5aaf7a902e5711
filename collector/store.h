/*
 * natcollect's store: accepted records appended to one JSON Lines file per
 * UTC day, DIR/YYYY/MM/DD.jsonl, each made durable (fdatasync) before the
 * collector answers 2xx, and a set of the run_ids kept, so that a record
 * sent twice (a probe that retried after a lost answer) is kept once.
 *
 * A kill at any moment: what was acknowledged was synced; what was being
 * written may leave a partial last line, which store_open cuts off (the
 * sender got no 2xx for it and sends it again). store_open rebuilds the
 * run_id set from the files.
 */
#ifndef NATLAB_COLLECTOR_STORE_H
#define NATLAB_COLLECTOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STORE_ID_LEN 16 /* a UUID's bytes */

typedef struct store store_t;

struct store_stats {
	unsigned long loaded;     /* records found at open */
	unsigned long repaired;   /* files whose partial last line was cut off */
	unsigned long unreadable; /* lines at open without a run_id: kept, not indexed */
};

/* Open DIR (made if missing), load the run_ids of its files, repair their
 * tails. NULL with errno (and what in *what, static text). */
store_t *store_open(const char *dir, struct store_stats *st, const char **what);
void store_close(store_t *s);

/* A run_id's text (RFC 4122, 36 characters) as bytes: 0, or -1 when it is
 * not one. */
int store_parse_id(const char *text, uint8_t id[STORE_ID_LEN]);

bool store_has(const store_t *s, const uint8_t id[STORE_ID_LEN]);

/*
 * Append line (len bytes, no newline inside; one is added; it must begin
 * {"schema":"natlab.result/1","run_id":"<id>", where store_open finds the
 * id again) for id, on the
 * file of `when`'s UTC day, and sync it. 0 stored; 1 a duplicate (nothing
 * written); -1 not stored (errno: ENOSPC, EIO...; nothing of it left).
 */
int store_put(store_t *s, const uint8_t id[STORE_ID_LEN], const char *line, size_t len,
	      time_t when);

unsigned long store_count(const store_t *s);

#endif
