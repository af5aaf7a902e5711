/*
 * natreport's pure parts (analysis/): the record reader on good and bad
 * input, verdicts out of records, the compliance judges, survey counting
 * and the diff. Input goes in through memory streams; messages come back
 * through one, so each test can check what a user would read.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "analysis/compliance.h"
#include "analysis/diff.h"
#include "analysis/plots.h"
#include "analysis/records.h"
#include "analysis/survey.h"
#include "testlib.h"

#define REC(label, mapping)                                                                        \
	"{\"schema\":\"natlab.result/1\",\"label\":\"" label "\",\"udp\":{\"nat\":true,"           \
	"\"mapping\":\"" mapping "\"}}"

struct collected {
	char labels[16][64];
	unsigned long lines[16], indexes[16];
	size_t n;
	/* Over every record taken, in order: a hash of label, line and index. */
	unsigned long all, hash;
	const char *stop_at; /* a label whose record stops the reading */
};

struct label_of {
	char label[64];
};

static void work_label(void *ctx, const json_t *rec, const struct rec_where *where, void *result)
{
	const char *label = json_string_value(json_object_get(rec, "label"));

	(void)ctx;
	(void)where;
	snprintf(((struct label_of *)result)->label, sizeof(struct label_of), "%s",
		 label ? label : "");
}

static int collect(void *ctx, void *result, const struct rec_where *where)
{
	struct collected *c = ctx;
	const char *label = ((struct label_of *)result)->label;

	if (c->n < 16) {
		snprintf(c->labels[c->n], sizeof(c->labels[0]), "%s", label);
		c->indexes[c->n] = where->index;
		c->lines[c->n++] = where->line;
	}
	c->all++;
	for (const char *p = label; *p; p++)
		c->hash = c->hash * 31 + (unsigned char)*p;
	c->hash = c->hash * 31 + where->line * 7 + where->index;
	return c->stop_at && !strcmp(label, c->stop_at);
}

/* Read len bytes of text as a stream named "in" with this many worker
 * threads; the messages land in msgs (freed by caller). */
static struct rec_stats read_threads(const char *text, size_t len, unsigned threads,
				     struct collected *c, char **msgs)
{
	struct rec_stats st = {0};
	struct rec_jobs jobs = {work_label, collect, c,          sizeof(struct label_of),
				threads,    NULL,    "natreport"};
	size_t mlen;
	FILE *in = fmemopen((void *)(uintptr_t)text, len, "r");
	const char *stop_at = c->stop_at;

	memset(c, 0, sizeof(*c));
	c->stop_at = stop_at;
	jobs.err = open_memstream(msgs, &mlen);
	rec_read_stream(in, "in", &jobs, &st);
	fclose(in);
	fclose(jobs.err);
	return st;
}

/* Read on the calling thread and again with workers: what is taken, the
 * counts and the messages must be the same, in the same order. */
static struct rec_stats read_both(const char *text, size_t len, struct collected *c, char **msgs)
{
	struct collected t = {.stop_at = c->stop_at};
	char *tmsgs;
	struct rec_stats st = read_threads(text, len, 0, c, msgs);
	struct rec_stats tst = read_threads(text, len, 3, &t, &tmsgs);

	CU_ASSERT_EQUAL(tst.records, st.records);
	CU_ASSERT_EQUAL(tst.skipped, st.skipped);
	CU_ASSERT_EQUAL(t.all, c->all);
	CU_ASSERT_EQUAL(t.hash, c->hash);
	CU_ASSERT_STRING_EQUAL(tmsgs, *msgs);
	free(tmsgs);
	return st;
}

static struct rec_stats read_text(const char *text, struct collected *c, char **msgs)
{
	c->stop_at = NULL;
	return read_both(text, strlen(text), c, msgs);
}

static void test_jsonl(void)
{
	struct collected c;
	char *msgs;
	struct rec_stats st = read_text(
	    REC("a", "endpoint-independent") "\n\n" REC("b", "address-dependent") "\n", &c, &msgs);

	CU_ASSERT_EQUAL(st.records, 2);
	CU_ASSERT_EQUAL(st.skipped, 0);
	CU_ASSERT_STRING_EQUAL(c.labels[1], "b");
	CU_ASSERT_EQUAL(c.lines[1], 3);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	free(msgs);
}

/* Pretty-printed over many lines, braces inside strings, two on one line. */
static void test_pretty(void)
{
	struct collected c;
	char *msgs;
	struct rec_stats st = read_text("{\n  \"schema\": \"natlab.result/1\",\n  \"label\": "
					"\"}{ \\\" {\",\n  \"udp\": {\"nat\": true}\n}\n" REC(
					    "x", "none") " " REC("y", "none") "\n",
					&c, &msgs);

	CU_ASSERT_EQUAL(st.records, 3);
	CU_ASSERT_EQUAL(st.skipped, 0);
	CU_ASSERT_STRING_EQUAL(c.labels[0], "}{ \" {");
	CU_ASSERT_STRING_EQUAL(c.labels[2], "y");
	CU_ASSERT_EQUAL(c.lines[1], 6);
	free(msgs);
}

/* A truncated line, an unknown schema, garbage, an array: each reported
 * with its line, the good records around them still read. */
static void test_bad_input(void)
{
	struct collected c;
	char *msgs;
	struct rec_stats st = read_text(
	    REC("one",
		"none") "\n"
			"{\"schema\":\"natlab.result/1\",\"label\":\"cut\",\"udp\":{\"na\n" REC(
			    "two", "none") "\n"
					   "{\"schema\":\"natlab.result/2\"}\n"
					   "garbage\n"
					   "[1, 2]\n"
					   "{\"label\":\"no schema\"}\n"
					   "{\"schema\":\"natlab.result/1\",\"x\":tru}\n" REC(
					       "three", "none"),
	    &c, &msgs);

	CU_ASSERT_EQUAL(st.records, 3);
	CU_ASSERT_EQUAL(st.skipped, 6);
	CU_ASSERT_STRING_EQUAL(c.labels[2], "three");
	/* Its place among the records found, the bad ones but the one cut short. */
	CU_ASSERT_EQUAL(c.indexes[1], 1);
	CU_ASSERT_EQUAL(c.indexes[2], 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "natreport: in:2: record cut short"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:4: schema \"natlab.result/2\" is not one"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:5: not the start of a JSON object"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:6: a JSON array"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:7: no \"schema\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:8: not valid JSON"));
	free(msgs);
}

static void test_empty_and_cut_at_end(void)
{
	struct collected c;
	char *msgs;
	struct rec_stats st = read_text("", &c, &msgs);

	CU_ASSERT_EQUAL(st.records + st.skipped, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in: no records (empty input)"));
	free(msgs);
	st = read_text(REC("a", "none") "\n{\"schema\":\"natlab.result/1\",", &c, &msgs);
	CU_ASSERT_EQUAL(st.records, 1);
	CU_ASSERT_EQUAL(st.skipped, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:2: record cut short at the end"));
	free(msgs);
}

static void test_too_long(void)
{
	size_t n = REC_MAX_BYTES + 100;
	char *text = malloc(n + 200), *msgs;
	struct collected c;
	struct rec_stats st;

	strcpy(text, "{\"schema\":\"natlab.result/1\",\"pad\":\"");
	memset(text + strlen(text), 'x', n);
	strcpy(text + n, "\"}\n" REC("after", "none") "\n");
	st = read_text(text, &c, &msgs);
	CU_ASSERT_EQUAL(st.records, 1);
	CU_ASSERT_EQUAL(st.skipped, 1);
	CU_ASSERT_STRING_EQUAL(c.labels[0], "after");
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:1: record longer than 1 MiB"));
	free(msgs);
	free(text);
}

/* Lines longer than the reader's buffer (64 KiB): a record over several
 * pieces is whole, a garbage line is one complaint, and NUL bytes are bytes. */
static void test_long_lines_and_nul(void)
{
	size_t big = 200 * 1024;
	char *text = malloc(2 * big + 1024), *msgs, *at = text;
	struct collected c = {0};
	struct rec_stats st;

	at += sprintf(at, "{\"schema\":\"natlab.result/1\",\"label\":\"long\",\"pad\":\"");
	memset(at, 'x', big);
	at += big;
	at += sprintf(at, "\"}\n");
	memset(at, 'g', big);
	at += big;
	at += sprintf(at, "\n" REC("after", "none") "\n");
	at += sprintf(at, "{\"schema\":\"natlab.result/1\",\"label\":\"n");
	*at++ = '\0';
	at += sprintf(at, "ul\"}\n" REC("last", "none") "\n");
	st = read_both(text, (size_t)(at - text), &c, &msgs);
	CU_ASSERT_EQUAL(st.records, 3);
	CU_ASSERT_EQUAL(st.skipped, 2);
	CU_ASSERT_STRING_EQUAL(c.labels[0], "long");
	CU_ASSERT_STRING_EQUAL(c.labels[1], "after");
	CU_ASSERT_EQUAL(c.lines[1], 3);
	CU_ASSERT_STRING_EQUAL(c.labels[2], "last");
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:2: not the start of a JSON object"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msgs, "in:4: not valid JSON"));
	free(msgs);
	free(text);
}

/* The line of the last message in msgs ("natreport: in:LINE: ..."); 0
 * when the lines are not in increasing order. */
static unsigned long last_line_said(const char *msgs)
{
	unsigned long last = 0;

	for (const char *m = msgs; (m = strstr(m, "natreport: in:")); m++) {
		unsigned long at = strtoul(m + strlen("natreport: in:"), NULL, 10);

		if (at <= last)
			return 0;
		last = at;
	}
	return last;
}

/* Thousands of records over many batches, good and bad mixed, one over
 * 1 MiB: every record and every message in input order, whatever the
 * number of workers, and a take that stops the reading stops it there. */
static void test_many_batches(void)
{
	size_t cap = 6000 * 120 + REC_MAX_BYTES + 1024, len = 0;
	char *text = malloc(cap), *msgs;
	unsigned long line = 0, good = 0, bad = 0, last_bad = 0;
	unsigned long good_to_stop = 0, last_bad_to_stop = 0;
	struct collected c = {0};
	struct rec_stats st;

	for (int i = 0; i < 6000; i++) {
		bool ok = false;

		line++;
		if (i == 4000) {
			len +=
			    (size_t)sprintf(text + len, "{\"schema\":\"natlab.result/1\",\"p\":\"");
			memset(text + len, 'x', REC_MAX_BYTES);
			len += REC_MAX_BYTES;
			len += (size_t)sprintf(text + len, "\"}\n");
		} else if (i % 13 == 3) {
			len += (size_t)sprintf(text + len, "garbage %d\n", i);
		} else if (i % 13 == 5) {
			len += (size_t)sprintf(text + len,
					       "{\"schema\":\"natlab.result/1\",\"x\":%d,}\n", i);
		} else if (i % 13 == 7) { /* cut short: the next record starts on the next line */
			len += (size_t)sprintf(text + len, "{\"schema\":\"natlab.result/1\",\"l\n");
		} else if (i % 13 == 11) {
			len += (size_t)sprintf(text + len,
					       "{\"schema\":\"other/1\",\"label\":\"%d\"}\n", i);
		} else if (i % 13 == 12) { /* over two lines */
			len += (size_t)sprintf(
			    text + len, "{\"schema\":\"natlab.result/1\",\n\"label\":\"r%d\"}\n",
			    i);
			line++;
			ok = true;
		} else {
			len += (size_t)sprintf(
			    text + len, "{\"schema\":\"natlab.result/1\",\"label\":\"r%d\"}\n", i);
			ok = true;
		}
		good += ok;
		bad += !ok;
		if (!ok)
			last_bad = line;
		if (i <= 2600) {
			good_to_stop = good;
			last_bad_to_stop = last_bad;
		}
	}
	st = read_both(text, len, &c, &msgs);
	CU_ASSERT_EQUAL(st.records, good);
	CU_ASSERT_EQUAL(st.skipped, bad);
	CU_ASSERT_EQUAL(c.all, good);
	CU_ASSERT_STRING_EQUAL(c.labels[3], "r4");
	CU_ASSERT_EQUAL(c.lines[3], 5);
	CU_ASSERT_EQUAL(last_line_said(msgs), last_bad);
	free(msgs);

	c.stop_at = "r2600";
	st = read_both(text, len, &c, &msgs);
	CU_ASSERT_EQUAL(c.all, good_to_stop);
	CU_ASSERT_EQUAL(last_line_said(msgs), last_bad_to_stop);
	free(msgs);
	free(text);
}

/* ---- verdicts and compliance ---- */

static void row_of(const char *text, struct nr_row *row)
{
	json_error_t e;
	json_t *rec = json_loads(text, 0, &e);

	CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
	nr_row_from(row, rec, "tags.isp", "f", 1, true);
	json_decref(rec);
}

static size_t req(const char *rfc, const char *id)
{
	for (size_t i = 0; i < nr_nrequirements; i++)
		if (!strcmp(nr_requirements[i].rfc, rfc) && !strcmp(nr_requirements[i].id, id))
			return i;
	CU_FAIL("no such requirement");
	return 0;
}

static enum nr_mark mark(const struct nr_row *row, const char *rfc, const char *id)
{
	char why[NR_TEXT_LEN];

	return nr_judge(req(rfc, id), row, why, sizeof(why));
}

static void test_verdicts(void)
{
	struct nr_row row;

	row_of("{\"label\":\"L\",\"tags\":{\"isp\":\"X\"},\"udp\":{\"nat\":true,\"mapping\":"
	       "\"endpoint-independent\",\"filtering\":\"address-and-port-dependent\","
	       "\"port_allocation\":{\"pattern\":\"preserving\",\"parity_preserved\":false,"
	       "\"samples\":[40000,40001,70000]},\"binding_lifetime_s\":29.5,"
	       "\"evidence\":{\"mapping\":{\"PP\":\"198.51.100.1:1\",\"AA\":\"198.51.100.1:1\"}},"
	       "\"reasons\":{\"pooling\":\"one address\"},\"pooling\":\"inconclusive\"}}",
	       &row);
	CU_ASSERT_STRING_EQUAL(row.label, "L");
	CU_ASSERT_STRING_EQUAL(row.group, "X");
	CU_ASSERT_STRING_EQUAL(row.value[NR_MAPPING], "endpoint-independent");
	CU_ASSERT_STRING_EQUAL(row.value[NR_PARITY], "false");
	CU_ASSERT_STRING_EQUAL(row.value[NR_LIFETIME], "29.5");
	CU_ASSERT_STRING_EQUAL(row.value[NR_TCP_MAPPING], "");
	CU_ASSERT_EQUAL(row.nsamples, 2); /* 70000 is no port */
	CU_ASSERT_STRING_EQUAL(row.evidence[NR_MAPPING], "PP 198.51.100.1:1, AA 198.51.100.1:1");
	CU_ASSERT_STRING_EQUAL(row.evidence[NR_POOLING], "one address");
	CU_ASSERT_STRING_EQUAL(nr_lifetime_band(row.value[NR_LIFETIME]), "under 30 s");
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-1"), NR_PASS);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-8"), NR_FAIL);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-4"), NR_FAIL);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-2"), NR_UNTESTED); /* inconclusive */
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-9"), NR_UNTESTED); /* absent */
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-6"), NR_UNTESTED); /* no test */
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-1"), NR_UNTESTED);
}

/* What the figures read: local ports only when each sample has one; connect
 * times only with the evidence, and only numbers that can be times. */
static void test_figure_data(void)
{
	static const char rec[] =
	    "{\"udp\":{\"port_allocation\":{\"samples\":[50000,50002],"
	    "\"local_ports\":[41000,42000]}},\"punch\":[{\"technique\":\"relay\","
	    "\"trials\":4,\"successes\":3,\"connect_ms\":[12.5,\"x\",-1,30,null,44]}]}";
	struct nr_row row;
	json_t *j = json_loads(rec, 0, NULL);
	char buf[64] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	nr_row_from(&row, j, NULL, "f", 1, true);
	CU_ASSERT_TRUE(row.have_locals);
	CU_ASSERT_EQUAL(row.locals[1], 42000);
	CU_ASSERT_EQUAL(row.npunch, 1);
	CU_ASSERT_EQUAL(row.punch[0].nconnect, 3);
	CU_ASSERT_DOUBLE_EQUAL(row.connect_ms[0][0], 12.5, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(row.connect_ms[0][2], 44, 1e-6);
	nr_row_from(&row, j, NULL, "f", 1, false); /* a survey's row: no times */
	CU_ASSERT_EQUAL(row.punch[0].nconnect, 0);
	CU_ASSERT_EQUAL(row.punch[0].successes, 3);
	json_decref(j);

	row_of("{\"udp\":{\"port_allocation\":{\"samples\":[50000,50002],"
	       "\"local_ports\":[41000]}}}",
	       &row);
	CU_ASSERT_FALSE(row.have_locals); /* one short: which sample is whose? */
	row_of("{\"udp\":{\"port_allocation\":{\"samples\":[50000,50002],"
	       "\"local_ports\":[41000,70000]}}}",
	       &row);
	CU_ASSERT_FALSE(row.have_locals);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	nr_plot_string(f, "a \"b\"\nc");
	nr_plot_string(f, "x\\y\\"); /* a last backslash must not escape the quote */
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "\"a 'b' c\"\"x\\\\y\\\\\"");
}

static void test_compliance_edges(void)
{
	struct nr_row row;

	/* No NAT: nothing to judge, whatever the words. */
	row_of("{\"udp\":{\"nat\":false,\"mapping\":\"none\",\"filtering\":"
	       "\"endpoint-independent\"}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-1"), NR_UNTESTED);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-8"), NR_UNTESTED);
	/* Lifetime: alive past two minutes passes, dead before fails, short trials do not judge. */
	row_of("{\"udp\":{\"nat\":true,\"binding_lifetime_s\":150,\"binding_lifetime\":{"
	       "\"outbound_only\":{\"alive_s\":150.2,\"dead_s\":null}}}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-5"), NR_PASS);
	row_of("{\"udp\":{\"nat\":true,\"binding_lifetime_s\":29.9,\"binding_lifetime\":{"
	       "\"outbound_only\":{\"alive_s\":29.9,\"dead_s\":31.2}}}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-5"), NR_FAIL);
	row_of("{\"udp\":{\"nat\":true,\"binding_lifetime_s\":null,\"binding_lifetime\":{"
	       "\"outbound_only\":{\"alive_s\":20,\"dead_s\":null}}}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-5"), NR_UNTESTED);
	/* Hairpinning with the inside source: REQ-9 met, REQ-9a not. */
	row_of("{\"udp\":{\"nat\":true,\"hairpinning\":true,\"evidence\":{\"hairpinning\":"
	       "{\"source\":\"internal\"}}},\"tcp\":{\"unsolicited_syn\":\"rst\"}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-9"), NR_PASS);
	CU_ASSERT_EQUAL(mark(&row, "4787", "REQ-9a"), NR_FAIL);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-4"), NR_FAIL);
	/* REQ-4 and an ICMP error: after 6 s it is the SHOULD, before it a fail. */
	row_of("{\"tcp\":{\"unsolicited_syn\":\"icmp\",\"unsolicited_syn_ms\":0.4}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-4"), NR_FAIL);
	row_of("{\"tcp\":{\"unsolicited_syn\":\"icmp\",\"unsolicited_syn_ms\":6001}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-4"), NR_PASS);
	row_of("{\"tcp\":{\"unsolicited_syn\":\"icmp\"}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-4"), NR_UNTESTED);
	row_of("{\"tcp\":{\"filtering\":\"address-dependent\",\"unsolicited_syn\":\"drop\"}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-3"), NR_PASS);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-4"), NR_PASS);
	/* REQ-9 and REQ-10 from tcp-icmp's two verdicts; null is untested, with why. */
	row_of("{\"tcp\":{\"icmp_translated\":false,\"icmp_keeps_connection\":true}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-9"), NR_FAIL);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-10"), NR_PASS);
	row_of("{\"tcp\":{\"icmp_translated\":true,\"icmp_keeps_connection\":false}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-9"), NR_PASS);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-10"), NR_FAIL);
	row_of("{\"tcp\":{\"icmp_translated\":null,\"reasons\":{\"icmp_translated\":\"lossy\"}}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-9"), NR_UNTESTED);
	/* REQ-4's hold: a RST to a SYN at a mapping fails it, whatever the unused port got. */
	row_of("{\"tcp\":{\"unsolicited_syn\":\"drop\",\"syn_hold\":\"rst\",\"syn_hold_ms\":0.3}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-4"), NR_FAIL);
	row_of(
	    "{\"tcp\":{\"unsolicited_syn\":\"drop\",\"syn_hold\":\"held\",\"syn_hold_ms\":2003}}",
	    &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-4"), NR_PASS);
	/* REQ-6: a rewrite seen fails; none seen judges nothing (other ports). */
	row_of("{\"tcp\":{\"alg_rewrite\":true}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-6"), NR_FAIL);
	row_of("{\"tcp\":{\"alg_rewrite\":false}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-6"), NR_UNTESTED);
	/* REQ-7 from tcp-overloading (--peer). */
	row_of("{\"tcp\":{\"port_overloading\":true}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-7"), NR_FAIL);
	row_of("{\"tcp\":{\"port_overloading\":false}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-7"), NR_PASS);
	/* REQ-5 from tcp-lifetime's bracket. */
	row_of("{\"tcp\":{\"established_idle\":{\"alive_s\":4,\"dead_s\":8}}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-5"), NR_FAIL);
	/* Both floors met: a pass; the established one alone judges nothing. */
	row_of("{\"tcp\":{\"established_idle\":{\"alive_s\":7440,\"dead_s\":null},"
	       "\"transitory_idle\":{\"alive_s\":7440,\"dead_s\":null}}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-5"), NR_PASS);
	row_of("{\"tcp\":{\"established_idle\":{\"alive_s\":7440,\"dead_s\":null}}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-5"), NR_UNTESTED);
	row_of("{\"tcp\":{\"established_idle\":{\"alive_s\":300,\"dead_s\":null}}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-5"), NR_UNTESTED);
	/* Linux's default: half-closed connections dropped after 60 s. */
	row_of("{\"tcp\":{\"established_idle\":{\"alive_s\":7440,\"dead_s\":null},"
	       "\"transitory_idle\":{\"alive_s\":32,\"dead_s\":64}}}",
	       &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-5"), NR_FAIL);
	row_of("{\"tcp\":{\"transitory_idle\":{\"alive_s\":256,\"dead_s\":null}}}", &row);
	CU_ASSERT_EQUAL(mark(&row, "5382", "REQ-5"), NR_UNTESTED);
}

/* ---- survey ---- */

static void test_survey(void)
{
	nr_survey_t *s = nr_survey_new();
	struct nr_row row;
	char text[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int i = 0; i < 300; i++) {
		snprintf(text, sizeof(text),
			 "{\"tags\":{\"isp\":\"isp%d\"},\"udp\":{\"nat\":true,\"mapping\":\"%s\","
			 "\"binding_lifetime_s\":%d}}",
			 i % 200, i % 3 ? "endpoint-independent" : "address-dependent", i);
		row_of(text, &row);
		nr_survey_add(s, &row);
	}
	CU_ASSERT_EQUAL(s->n, 300);
	CU_ASSERT_EQUAL(s->groups[0].count[NR_MAPPING][0], 100); /* address-dependent first */
	CU_ASSERT_STRING_EQUAL(s->value[NR_MAPPING][1], "endpoint-independent");
	CU_ASSERT_EQUAL(s->groups[0].count[NR_MAPPING][1], 200);
	/* Lifetimes counted in bands, not one value each. */
	CU_ASSERT_EQUAL(s->nvalues[NR_LIFETIME], 3);
	/* 200 ISPs: 128 groups, the rest together. */
	CU_ASSERT_EQUAL(s->ngroups, NR_MAX_GROUPS + 1);
	CU_ASSERT_TRUE(s->other_groups);
	CU_ASSERT_STRING_EQUAL(s->groups[1].name, "isp0");
	CU_ASSERT_EQUAL(s->groups[1].n, 2);
	CU_ASSERT_EQUAL(s->groups[NR_MAX_GROUPS + 1].n, 300 - 2 * 100 - 28);
	CU_ASSERT_EQUAL(s->groups[0].marks[req("4787", "REQ-1")][NR_PASS], 200);
	nr_survey_free(s);
}

/* nat_depth, cgn and portmap: absent is not measured (never 0 or false),
 * a wrong type is malformed, and both are counted, not crashed on. */
static void test_depth_portmap(void)
{
	static const char *const recs[] = {
	    "{\"tags\":{\"isp\":\"a\"},\"nat_depth\":0,\"cgn\":false,\"portmap\":{"
	    "\"answered\":[\"upnp\",\"pcp\"],\"works\":[\"pcp\"]}}",
	    "{\"tags\":{\"isp\":\"a\"},\"nat_depth\":2,\"cgn\":true,\"portmap\":{"
	    "\"answered\":[\"nat-pmp\",\"later\",3],\"works\":null}}",
	    "{\"tags\":{\"isp\":\"b\"},\"nat_depth\":7,\"cgn\":null,\"portmap\":{"
	    "\"answered\":[],\"works\":[]}}",
	    "{\"tags\":{\"isp\":\"b\"},\"nat_depth\":null}",
	    "{\"tags\":{\"isp\":\"b\"}}", /* an older natprobe */
	    "{\"nat_depth\":\"two\",\"cgn\":1,\"portmap\":{\"answered\":\"upnp\",\"works\":null}}",
	    "{\"nat_depth\":-1,\"portmap\":{\"answered\":[\"upnp\"],\"works\":\"upnp\"}}",
	};
	nr_survey_t *s = nr_survey_new();
	const struct nr_group *all, *b;
	struct nr_row row;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(&row, 0, sizeof(row)); /* a row nothing filled in: not measured */
	CU_ASSERT_EQUAL(row.depth, NR_DEPTH_ABSENT);
	CU_ASSERT_EQUAL(row.cgn, NR_TRI_ABSENT);
	CU_ASSERT_EQUAL(row.portmap.state, NR_PM_ABSENT);
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		row_of(recs[i], &row);
		nr_survey_add(s, &row);
	}
	all = &s->groups[0];
	CU_ASSERT_EQUAL(all->depth.depth[NR_DEPTH_0], 1);
	CU_ASSERT_EQUAL(all->depth.depth[NR_DEPTH_2], 1);
	CU_ASSERT_EQUAL(all->depth.depth[NR_DEPTH_3UP], 1);
	CU_ASSERT_EQUAL(all->depth.depth[NR_DEPTH_NULL], 1);
	CU_ASSERT_EQUAL(all->depth.depth[NR_DEPTH_ABSENT], 1);
	CU_ASSERT_EQUAL(all->depth.depth[NR_DEPTH_BAD], 2);
	CU_ASSERT_EQUAL(nr_depth_known(&all->depth), 3);
	CU_ASSERT_EQUAL(nr_nat444(&all->depth), 2);
	CU_ASSERT_EQUAL(all->depth.cgn[NR_TRI_TRUE], 1);
	CU_ASSERT_EQUAL(all->depth.cgn[NR_TRI_FALSE], 1);
	CU_ASSERT_EQUAL(all->depth.cgn[NR_TRI_NULL], 1);
	CU_ASSERT_EQUAL(all->depth.cgn[NR_TRI_ABSENT], 3);
	CU_ASSERT_EQUAL(all->depth.cgn[NR_TRI_BAD], 1);
	CU_ASSERT_EQUAL(all->portmap.state[NR_PM_MEASURED], 3);
	CU_ASSERT_EQUAL(all->portmap.state[NR_PM_ABSENT], 2);
	CU_ASSERT_EQUAL(all->portmap.state[NR_PM_BAD], 2);
	CU_ASSERT_EQUAL(all->portmap.asked, 2);
	CU_ASSERT_EQUAL(all->portmap.answered[NR_PM_UPNP], 1);
	CU_ASSERT_EQUAL(all->portmap.answered[NR_PM_NATPMP], 1); /* "later" and 3 passed over */
	CU_ASSERT_EQUAL(all->portmap.answered[NR_NPM], 2);
	CU_ASSERT_EQUAL(all->portmap.works[NR_PM_PCP], 1);
	CU_ASSERT_EQUAL(all->portmap.works[NR_PM_UPNP], 0);
	CU_ASSERT_EQUAL(all->portmap.works[NR_NPM], 1);
	/* Groups count the same way: b is 7, null and an older record. */
	b = &s->groups[2];
	CU_ASSERT_STRING_EQUAL(b->name, "b");
	CU_ASSERT_EQUAL(b->depth.depth[NR_DEPTH_3UP], 1);
	CU_ASSERT_EQUAL(b->depth.depth[NR_DEPTH_NULL], 1);
	CU_ASSERT_EQUAL(b->depth.depth[NR_DEPTH_ABSENT], 1);
	CU_ASSERT_EQUAL(b->portmap.state[NR_PM_MEASURED], 1);
	CU_ASSERT_EQUAL(b->portmap.asked, 1);
	CU_ASSERT_EQUAL(b->portmap.works[NR_NPM], 0);
	nr_survey_free(s);
}

/* ---- diff ---- */

struct seen {
	unsigned long compared, missing, added;
	char last[128];
};

static void note(void *ctx, const char *label, const char *what, const char *before,
		 const char *after)
{
	struct seen *s = ctx;

	if (!before || !after) {
		s->missing += after == NULL;
		s->added += before == NULL;
		if (what)
			snprintf(s->last, sizeof(s->last), "%s %s only", label, what);
		return;
	}
	s->compared++;
	if (strcmp(before, after))
		snprintf(s->last, sizeof(s->last), "%s %s %s %s", label, what, before, after);
}

static void side_of(struct nr_side *side, const char *const *records, size_t n)
{
	struct nr_row row;

	memset(side, 0, sizeof(*side));
	for (size_t i = 0; i < n; i++) {
		row_of(records[i], &row);
		CU_ASSERT_EQUAL(nr_side_add(side, &row), 0);
	}
}

static void test_diff(void)
{
	static const char *const base[] = {REC("a", "endpoint-independent"),
					   REC("b", "address-dependent"), REC("c", "none")};
	static const char *const same[] = {REC("c", "none"), REC("b", "address-dependent"),
					   REC("a", "endpoint-independent")};
	static const char *const changed[] = {REC("a", "address-dependent"),
					      REC("b", "address-dependent"), REC("d", "none")};
	struct nr_side a, b;
	struct seen s = {0};

	side_of(&a, base, 3);
	side_of(&b, same, 3);
	CU_ASSERT_EQUAL(nr_diff(&a, &b, note, &s), 0);
	CU_ASSERT_EQUAL(s.compared, 6);
	nr_side_free(&b);
	memset(&s, 0, sizeof(s));
	side_of(&b, changed, 3);
	CU_ASSERT_EQUAL(nr_diff(&a, &b, note, &s), 3);
	CU_ASSERT_STRING_EQUAL(s.last, "a udp.mapping endpoint-independent address-dependent");
	CU_ASSERT_EQUAL(s.missing, 1);
	CU_ASSERT_EQUAL(s.added, 1);
	nr_side_free(&a);
	nr_side_free(&b);
}

/* Several records of one label: their values joined the same way whatever
 * their order, so that a mix is no change by itself. */
static void test_diff_mixed(void)
{
	static const char *const one[] = {REC("a", "x"), REC("b", "q"), REC("a", "y"),
					  REC("a", "x")};
	static const char *const two[] = {REC("a", "y"), REC("a", "x"), REC("b", "q")};
	struct nr_side a, b;
	struct seen s = {0};
	char *xml;
	size_t len;
	FILE *out;

	side_of(&a, one, 4);
	side_of(&b, two, 3);
	CU_ASSERT_EQUAL(nr_diff(&a, &b, note, &s), 0);
	CU_ASSERT_STRING_EQUAL(a.e[0].value[NR_MAPPING], "x|y");
	out = open_memstream(&xml, &len);
	nr_diff_junit(out, &a, &b, "t<&>");
	fclose(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(xml, "name=\"t&lt;&amp;&gt;\" tests=\"4\" failures=\"0\""));
	free(xml);
	nr_side_free(&a);
	nr_side_free(&b);
}

int test_report_register(void)
{
	static const struct test_case tests[] = {
	    {"JSON Lines", test_jsonl},
	    {"pretty-printed records, braces in strings", test_pretty},
	    {"bad input: reported by line, the rest read", test_bad_input},
	    {"empty input, a record cut at the end", test_empty_and_cut_at_end},
	    {"a record over 1 MiB", test_too_long},
	    {"lines longer than the buffer, NUL bytes", test_long_lines_and_nul},
	    {"many batches: order kept with workers; a stop", test_many_batches},
	    {"verdicts, evidence and compliance from a record", test_verdicts},
	    {"compliance: no NAT, lifetimes, hairpin source, SYN", test_compliance_edges},
	    {"figure data: local ports, connect times, names", test_figure_data},
	    {"survey: counts, bands, groups beyond the bound", test_survey},
	    {"survey: NAT depth, CGN, port mapping; absent, malformed", test_depth_portmap},
	    {"diff: same, changed, missing and new labels", test_diff},
	    {"diff: mixed values and JUnit", test_diff_mixed},
	};

	return TEST_SUITE("natreport", tests);
}
