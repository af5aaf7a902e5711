/*
 * natcollect --clickhouse URL: each stored record also goes to ClickHouse,
 * as natreport export sends it (analysis/clickhouse.h), in batches a thread
 * POSTs every second (or at FORWARD_BATCH rows). The day files stay the
 * truth: a batch ClickHouse does not take is kept and tried again the next
 * second, up to FORWARD_KEEP rows, beyond which the oldest are dropped and
 * counted (natreport export reloads them from the files); rows not yet sent
 * when natcollect is killed are not in ClickHouse either, for the same
 * reload.
 */
#ifndef NATLAB_COLLECTOR_FORWARD_H
#define NATLAB_COLLECTOR_FORWARD_H

#include <stdatomic.h>
#include <stddef.h>

#define FORWARD_BATCH 1000
#define FORWARD_KEEP  100000

typedef struct forwarder forwarder_t;

struct forward_counts {
	atomic_ulong sent, failed_batches, dropped;
};

/* NULL when out of memory or the thread cannot start. */
forwarder_t *forward_start(const char *url, const char *table, struct forward_counts *counts);
/* One row (a JSON line, copied). */
void forward_row(forwarder_t *f, const char *row, size_t len);
/* Send what is left (one try), stop the thread, free. */
void forward_stop(forwarder_t *f);

#endif
