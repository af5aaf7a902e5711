/* natreport's ClickHouse rows and schema. See clickhouse.h. */
#include "analysis/clickhouse.h"

#include <stdlib.h>
#include <string.h>

/* A key's column: its dotted path with '_' for '.' (udp_mapping). */
static void column_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	for (char *p = out; *p; p++)
		if (*p == '.')
			*p = '_';
}

static json_t *protocols(unsigned bits)
{
	json_t *a = json_array();

	for (int p = 0; p < NR_NPM; p++)
		if (bits & (1u << p))
			json_array_append_new(a, json_string(nr_pm_names[p]));
	return a;
}

/* "2026-12-03T20:17:08Z" as ClickHouse 18 reads a DateTime; the epoch when
 * it is not one. */
static void when(const char *started, char out[20])
{
	if (strlen(started) >= 19 && started[10] == 'T') {
		memcpy(out, started, 19);
		out[10] = ' ';
		out[19] = '\0';
	} else {
		snprintf(out, 20, "1970-01-01 00:00:00");
	}
}

static void tags(const json_t *rec, json_t *row)
{
	json_t *names = json_array(), *values = json_array();
	json_t *t = json_object_get(rec, "tags");
	const char *k;
	json_t *v;

	json_object_foreach (t, k, v) {
		char text[NR_VALUE_LEN];

		nr_value_text(v, text, sizeof(text));
		json_array_append_new(names, json_string(k));
		json_array_append_new(values, json_string(text));
	}
	json_object_set_new(row, "tag_names", names);
	json_object_set_new(row, "tag_values", values);
}

char *ch_row(const struct nr_row *r, const json_t *rec, const struct rec_where *where)
{
	json_t *row = json_object();
	const char *id = json_string_value(json_object_get(rec, "run_id"));
	char started[20], column[NR_VALUE_LEN + 16], *text;

	when(r->started, started);
	json_object_set_new(row, "run_id", json_string(id ? id : ""));
	json_object_set_new(row, "label", json_string(r->label));
	json_object_set_new(row, "started", json_string(started));
	tags(rec, row);
	for (int k = 0; k < NR_NKEYS; k++) {
		column_of(nr_keys[k].path, column, sizeof(column));
		json_object_set_new(row, column, json_string(r->value[k]));
	}
	json_object_set_new(row, "nat_depth", json_string(nr_depth_word(r->depth)));
	json_object_set_new(row, "cgn", json_string(nr_tri_word(r->cgn)));
	json_object_set_new(row, "portmap_tested",
			    json_integer(r->portmap.state == NR_PM_MEASURED));
	json_object_set_new(row, "portmap_mapping_asked", json_integer(r->portmap.asked));
	json_object_set_new(row, "portmap_answered", protocols(r->portmap.answered));
	json_object_set_new(row, "portmap_works", protocols(r->portmap.works));
	json_object_set_new(row, "raw", json_stringn(where->text, where->len));
	text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(row);
	return text;
}

void ch_schema(FILE *out, const char *table)
{
	char column[NR_VALUE_LEN + 16];

	fprintf(
	    out,
	    "-- natlab's records in ClickHouse (18.16 or later): natreport export --clickhouse\n"
	    "-- loads %s; run this on every shard of the cluster %s.\n"
	    "CREATE TABLE IF NOT EXISTS %s_local (\n"
	    "    run_id String,\n    label String,\n    started DateTime,\n"
	    "    tag_names Array(String),\n    tag_values Array(String),\n",
	    table, CH_CLUSTER, table);
	for (int k = 0; k < NR_NKEYS; k++) {
		column_of(nr_keys[k].path, column, sizeof(column));
		fprintf(out, "    %s String,\n", column);
	}
	fprintf(out,
		"    nat_depth String,\n    cgn String,\n    portmap_tested UInt8,\n"
		"    portmap_mapping_asked UInt8,\n    portmap_answered Array(String),\n"
		"    portmap_works Array(String),\n    raw String\n"
		") ENGINE = MergeTree PARTITION BY toYYYYMM(started) ORDER BY (started, run_id);\n"
		"CREATE TABLE IF NOT EXISTS %s AS %s_local\n"
		"    ENGINE = Distributed(%s, currentDatabase(), %s_local,\n"
		"        cityHash64(run_id, label, started));\n",
		table, table, CH_CLUSTER, table);
}
