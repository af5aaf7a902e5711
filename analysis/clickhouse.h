/*
 * natreport's ClickHouse side (`natreport export --clickhouse URL`, and
 * `--clickhouse-schema`): a record as one JSONEachRow row of flat typed
 * columns, each verdict in natreport's own reading of it (verdicts.h, so
 * ClickHouse counts what natreport counts), plus the record's raw text; the
 * tables' schema, made from the same column list so the two never differ.
 * ClickHouse 18.16 (Debian 12's) has neither Map nor best-effort dates nor
 * JSON functions beyond visitParam*: hence flat columns, Array(String) for
 * the tags and the port-mapping protocols, and a DateTime written as
 * "YYYY-MM-DD hh:mm:ss".
 */
#ifndef NATLAB_ANALYSIS_CLICKHOUSE_H
#define NATLAB_ANALYSIS_CLICKHOUSE_H

#include <stdio.h>

#include <jansson.h>

#include "analysis/records.h"
#include "analysis/verdicts.h"

#define CH_TABLE_DEFAULT "natlab_records"
#define CH_CLUSTER       "natlab_survey"

/* The row of one record (its reading and its text): a JSON line, malloc'd;
 * NULL when out of memory. */
char *ch_row(const struct nr_row *row, const json_t *rec, const struct rec_where *where);

/* The schema: TABLE_local (MergeTree, on every shard) and TABLE, a
 * Distributed table over the cluster CH_CLUSTER, sharded by run_id (and
 * label and start, for records older than run_id). */
void ch_schema(FILE *out, const char *table);

#endif
