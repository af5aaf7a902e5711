/*
 * natreport export --clickhouse URL [--table NAME] RECORD...: every record
 * natreport reads, as ClickHouse rows (clickhouse.h), POSTed in batches of
 * up to BATCH_ROWS rows (INSERT INTO NAME FORMAT JSONEachRow) to
 * ClickHouse's HTTP interface, with insert_distributed_sync=1 so that a
 * Distributed table has written to every shard when it answers. A batch
 * ClickHouse refuses stops the export (its message said); what was sent
 * before it stays. --clickhouse-schema prints the tables instead.
 */
#include "analysis/chexport.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "analysis/clickhouse.h"

#define EXIT_USAGE      2
#define EXIT_NO_RECORDS 3
#define EXIT_BAD_INPUT  4
#define EXIT_REFUSED    5
#define BATCH_ROWS      10000
#define BATCH_BYTES     (32u << 20)

static const char usage[] =
    "usage: natreport export --clickhouse URL [--table NAME] RECORD...\n"
    "       natreport export --clickhouse-schema [--table NAME]\n"
    "\n"
    "Load the records (files, folders or '-') into ClickHouse through its HTTP\n"
    "interface (URL: http://HOST:8123), as table NAME (default natlab_records:\n"
    "a Distributed table over the shards of the cluster natlab_survey, each with\n"
    "NAME_local), in batches of 10000 rows. --clickhouse-schema prints the\n"
    "CREATE TABLE statements for each shard.\n"
    "\n"
    "Exit status: 0 done; 2 bad usage; 3 no record could be read; 4 some input\n"
    "was bad and skipped (the rest loaded); 5 ClickHouse refused a batch or\n"
    "could not be reached (what was loaded before stays).\n";

struct exporter {
	const char *url, *table;
	CURL *curl;
	char *buf; /* the batch: rows, one a line */
	size_t len, cap, rows;
	unsigned long sent;
	bool failed; /* out of memory or refused: stop */
	char error[CURL_ERROR_SIZE];
	char answer[512];
	size_t answer_len;
};

struct made {
	char *line; /* malloc'd; NULL out of memory */
};

static void work(void *ctx, const json_t *rec, const struct rec_where *where, void *result)
{
	struct nr_row *row = malloc(sizeof(*row));
	struct made *m = result;

	(void)ctx;
	m->line = NULL;
	if (!row)
		return;
	nr_row_from(row, rec, NULL, where->file, where->line, false);
	m->line = ch_row(row, rec, where);
	free(row);
}

static size_t keep_answer(char *p, size_t size, size_t n, void *ctx)
{
	struct exporter *x = ctx;
	size_t room = sizeof(x->answer) - 1 - x->answer_len, k = size * n < room ? size * n : room;

	memcpy(x->answer + x->answer_len, p, k);
	x->answer_len += k;
	x->answer[x->answer_len] = '\0';
	return size * n;
}

/* The batch to ClickHouse: 0, or -1 (said why). */
static int flush(struct exporter *x)
{
	char url[1024];
	long status = 0;
	char *query;

	if (!x->rows)
		return 0;
	query = curl_easy_escape(x->curl, "INSERT INTO ", 0);
	snprintf(url, sizeof(url),
		 "%s/?insert_distributed_sync=1&input_format_import_nested_json=1&query=%s%s%%20"
		 "FORMAT%%20JSONEachRow",
		 x->url, query ? query : "", x->table);
	curl_free(query);
	x->answer_len = 0;
	x->answer[0] = '\0';
	curl_easy_setopt(x->curl, CURLOPT_URL, url);
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, x->buf);
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE, (long)x->len);
	if (curl_easy_perform(x->curl) == CURLE_OK)
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		fprintf(stderr, "natreport export: ClickHouse at %s %s: %s%s\n", x->url,
			status ? "refused a batch" : "could not be reached",
			status ? x->answer : x->error, status ? "" : "");
		x->failed = true;
		return -1;
	}
	x->sent += x->rows;
	x->rows = x->len = 0;
	return 0;
}

static int take(void *ctx, void *result, const struct rec_where *where)
{
	struct exporter *x = ctx;
	struct made *m = result;
	size_t n = m->line ? strlen(m->line) : 0;

	(void)where;
	if (!m->line || x->failed) {
		x->failed = true;
		free(m->line);
		return 1;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 1u << 20;
		char *more = cap < x->len + n + 1 ? NULL : realloc(x->buf, cap);

		if (!more) {
			free(m->line);
			x->failed = true;
			return 1;
		}
		x->buf = more;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, m->line, n);
	x->buf[x->len + n] = '\n';
	x->len += n + 1;
	x->rows++;
	free(m->line);
	if ((x->rows >= BATCH_ROWS || x->len >= BATCH_BYTES) && flush(x))
		return 1;
	return 0;
}

static int run(struct exporter *x, char *const *paths, size_t n, unsigned threads)
{
	struct rec_jobs jobs = {work, take, x, sizeof(struct made), threads, stderr, "natreport"};
	struct rec_stats st = {0};

	x->curl = curl_easy_init();
	if (!x->curl)
		return EXIT_REFUSED;
	curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->curl, CURLOPT_ERRORBUFFER, x->error);
	curl_easy_setopt(x->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
	rec_read_paths(paths, n, &jobs, &st);
	if (!x->failed)
		flush(x);
	curl_easy_cleanup(x->curl);
	free(x->buf);
	fprintf(stderr, "natreport export: %lu records loaded into %s, %lu read, %lu skipped\n",
		x->sent, x->table, st.records, st.skipped);
	if (x->failed)
		return EXIT_REFUSED;
	if (!st.records)
		return EXIT_NO_RECORDS;
	return st.skipped || st.unreadable ? EXIT_BAD_INPUT : 0;
}

int ch_export_main(int argc, char **argv, unsigned threads)
{
	static const struct option longs[] = {{"clickhouse", required_argument, NULL, 'c'},
					      {"clickhouse-schema", no_argument, NULL, 's'},
					      {"table", required_argument, NULL, 't'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	struct exporter x = {.table = CH_TABLE_DEFAULT};
	bool schema = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		if (c == 'c')
			x.url = optarg;
		else if (c == 's')
			schema = true;
		else if (c == 't')
			x.table = optarg;
		else if (c == 'h')
			return fputs(usage, stdout), 0;
		else
			return fputs(usage, stderr), EXIT_USAGE;
	}
	if (strspn(x.table, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(x.table) ||
	    !x.table[0]) {
		fprintf(stderr, "natreport export: --table '%s': lower-case letters, digits, _\n",
			x.table);
		return EXIT_USAGE;
	}
	if (schema) {
		ch_schema(stdout, x.table);
		return 0;
	}
	if (!x.url || optind == argc) {
		fprintf(stderr, "natreport export: want --clickhouse URL and records\n%s", usage);
		return EXIT_USAGE;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = run(&x, argv + optind, (size_t)(argc - optind), threads);
	curl_global_cleanup();
	return rc;
}
