/*
 * From a result record to a row: each verdict as text, with the evidence or
 * the reason behind it, as natprobe wrote them (probe/report.c). Unknown
 * keys are ignored (INTERFACE.md); a key that is missing stays "".
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/verdicts.h"

const struct nr_key_info nr_keys[NR_NKEYS] = {
    [NR_NAT] = {"udp.nat", "NAT"},
    [NR_MAPPING] = {"udp.mapping", "mapping"},
    [NR_FILTERING] = {"udp.filtering", "filtering"},
    [NR_HAIRPINNING] = {"udp.hairpinning", "hairpinning"},
    [NR_HAIRPIN_SOURCE] = {"udp.evidence.hairpinning.source", "hairpin source"},
    [NR_PORTS] = {"udp.port_allocation.pattern", "port allocation"},
    [NR_PARITY] = {"udp.port_allocation.parity_preserved", "port parity kept"},
    [NR_CONTIGUITY] = {"udp.port_allocation.contiguity_preserved", "port contiguity kept"},
    [NR_POOLING] = {"udp.pooling", "pooling"},
    [NR_OVERLOADING] = {"udp.port_overloading", "port overloading"},
    [NR_LIFETIME] = {"udp.binding_lifetime_s", "binding lifetime (s)"},
    [NR_INBOUND_REFRESH] = {"udp.binding_lifetime.inbound_refresh", "inbound refresh"},
    [NR_LEGACY] = {"udp.legacy_type", "RFC 3489 type"},
    [NR_TCP_MAPPING] = {"tcp.mapping", "TCP mapping"},
    [NR_TCP_FILTERING] = {"tcp.filtering", "TCP filtering"},
    [NR_TCP_SYN] = {"tcp.unsolicited_syn", "TCP unsolicited SYN"},
    [NR_TCP_SYN_MAPPED] = {"tcp.unsolicited_syn_mapped", "TCP unsolicited SYN to a mapping"},
    [NR_TCP_SIMOPEN] = {"tcp.simultaneous_open", "TCP simultaneous open"},
    [NR_TCP_HAIRPINNING] = {"tcp.hairpinning", "TCP hairpinning"},
    [NR_TCP_OVERLOADING] = {"tcp.port_overloading", "TCP port overloading"},
    [NR_TCP_ALG] = {"tcp.alg_rewrite", "TCP payload rewritten (ALG)"},
    [NR_TCP_ICMP] = {"tcp.icmp_translated", "ICMP errors translated in"},
    [NR_TCP_ICMP_KEPT] = {"tcp.icmp_keeps_connection", "TCP connections outlive ICMP errors"},
    [NR_TCP_SYN_HOLD] = {"tcp.syn_hold", "TCP SYN held, then ours through"},
};

const char *const nr_pm_names[NR_NPM] = {
    [NR_PM_UPNP] = "upnp", [NR_PM_NATPMP] = "nat-pmp", [NR_PM_PCP] = "pcp"};

/* The reason natprobe gave for a verdict it could not reach, by key. */
static const char *const reason_of[NR_NKEYS] = {
    [NR_NAT] = "udp.reasons.nat",
    [NR_MAPPING] = "udp.reasons.mapping",
    [NR_FILTERING] = "udp.reasons.filtering",
    [NR_HAIRPINNING] = "udp.reasons.hairpinning",
    [NR_PORTS] = "udp.reasons.port_allocation",
    [NR_CONTIGUITY] = "udp.port_allocation.contiguity.reason",
    [NR_POOLING] = "udp.reasons.pooling",
    [NR_OVERLOADING] = "udp.reasons.port_overloading",
    [NR_LIFETIME] = "udp.reasons.binding_lifetime",
    [NR_TCP_MAPPING] = "tcp.reasons.mapping",
    [NR_TCP_FILTERING] = "tcp.reasons.filtering",
    [NR_TCP_SYN] = "tcp.reasons.unsolicited_syn",
    [NR_TCP_SYN_MAPPED] = "tcp.reasons.unsolicited_syn_mapped",
    [NR_TCP_SIMOPEN] = "tcp.reasons.simultaneous_open",
    [NR_TCP_HAIRPINNING] = "tcp.reasons.hairpinning",
    [NR_TCP_OVERLOADING] = "tcp.reasons.port_overloading",
    [NR_TCP_ALG] = "tcp.reasons.alg_rewrite",
    [NR_TCP_ICMP] = "tcp.reasons.icmp_translated",
    [NR_TCP_ICMP_KEPT] = "tcp.reasons.icmp_keeps_connection",
    [NR_TCP_SYN_HOLD] = "tcp.reasons.syn_hold",
};

json_t *nr_get(const json_t *rec, const char *path)
{
	char key[64];
	const json_t *parent = rec;
	json_t *v = NULL;

	while (parent && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = json_object_get(parent, key); /* NULL unless parent is an object */
		parent = v;
		path += n + (path[n] == '.');
	}
	return v;
}

/* Copied, not printed: a survey does this for every key of a million records. */
static void copy(char *out, size_t len, const char *s, size_t n)
{
	n = n < len ? n : len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

void nr_value_text(const json_t *v, char *out, size_t len)
{
	if (!len)
		return;
	if (!v)
		out[0] = '\0';
	else if (json_is_string(v))
		copy(out, len, json_string_value(v), json_string_length(v));
	else if (json_is_true(v))
		copy(out, len, "true", 4);
	else if (json_is_false(v))
		copy(out, len, "false", 5);
	else if (json_is_null(v))
		copy(out, len, "null", 4);
	else if (json_is_integer(v))
		snprintf(out, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, len, "%g", json_real_value(v));
	else
		snprintf(out, len, "(%s)", json_is_array(v) ? "a list" : "an object");
}

/* Append to a bounded text, cutting with "..." when full. */
static void add(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *out, size_t len, const char *fmt, ...)
{
	size_t used = strlen(out);
	va_list ap;

	if (used + 4 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(out + used, len - used, fmt, ap);
	va_end(ap);
	if (strlen(out) + 1 >= len)
		snprintf(out + len - 4, 4, "...");
}

static void text_at(const json_t *rec, const char *path, char *out, size_t len)
{
	nr_value_text(nr_get(rec, path), out, len);
}

/* "PP a, PA b, AP c, AA d" from an object of four endpoints. */
static void roles(const json_t *o, char *out, size_t len)
{
	static const char *const names[] = {"PP", "PA", "AP", "AA"};
	char v[NR_VALUE_LEN];

	for (size_t i = 0; i < 4; i++) {
		nr_value_text(json_object_get(o, names[i]), v, sizeof(v));
		if (v[0])
			add(out, len, "%s%s %s", out[0] ? ", " : "", names[i], v);
	}
}

/* Each string of a list, separated by ", ". */
static void list(const json_t *a, char *out, size_t len)
{
	size_t i;
	json_t *v;
	char s[NR_VALUE_LEN];

	json_array_foreach (a, i, v) {
		nr_value_text(v, s, sizeof(s));
		add(out, len, "%s%s", i ? ", " : "", s);
	}
}

static void contiguity_pairs(const json_t *pairs, char *out, size_t len)
{
	size_t i;
	json_t *p;
	char a[NR_VALUE_LEN], b[NR_VALUE_LEN];

	json_array_foreach (pairs, i, p) {
		json_int_t n = json_integer_value(json_object_get(p, "local"));

		nr_value_text(json_array_get(json_object_get(p, "mapped"), 0), a, sizeof(a));
		nr_value_text(json_array_get(json_object_get(p, "mapped"), 1), b, sizeof(b));
		add(out, len, "%s%lld,%lld -> %s, %s", i ? "; " : "", (long long)n,
		    (long long)n + 1, a, b);
	}
}

static void lifetime(const json_t *rec, struct nr_row *row, char *out, size_t len)
{
	static const char *const flows[2] = {"outbound_only", "bidirectional"};
	const json_t *l = nr_get(rec, "udp.binding_lifetime");
	char a[24], d[24];

	for (int k = 0; k < 2; k++) {
		const json_t *f = json_object_get(l, flows[k]);
		const json_t *alive = json_object_get(f, "alive_s"),
			     *dead = json_object_get(f, "dead_s");

		row->alive_s[k] = json_is_number(alive) ? json_number_value(alive) : -1;
		row->dead_s[k] = json_is_number(dead) ? json_number_value(dead) : -1;
		if (!f)
			continue;
		nr_value_text(alive, a, sizeof(a));
		nr_value_text(dead, d, sizeof(d));
		add(out, len, "%s%s", out[0] ? "; " : "", k ? "bidirectional" : "outbound only");
		add(out, len, " alive at %s s, dead at %s s", a, d);
	}
}

static bool is_port(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 65535;
}

/* The mapped ports; the local ones only when each sample has its own. */
/* A number at path, or -1 when there is none. */
static double number_or(const json_t *rec, const char *path)
{
	const json_t *v = nr_get(rec, path);

	return json_is_number(v) ? json_number_value(v) : -1;
}

static void samples(const json_t *rec, struct nr_row *row)
{
	const json_t *a = nr_get(rec, "udp.port_allocation.samples"),
		     *l = nr_get(rec, "udp.port_allocation.local_ports");
	size_t i;
	json_t *v;

	json_array_foreach (a, i, v) {
		if (row->nsamples < NR_SAMPLES && is_port(v))
			row->samples[row->nsamples++] = (uint16_t)json_integer_value(v);
	}
	if (json_array_size(l) != json_array_size(a) || row->nsamples != json_array_size(a))
		return;
	json_array_foreach (l, i, v) {
		if (!is_port(v))
			return;
		row->locals[i] = (uint16_t)json_integer_value(v);
	}
	row->have_locals = true;
}

static void connect_times(const json_t *times, struct nr_punch *t, float *ms)
{
	size_t i;
	json_t *v;

	json_array_foreach (times, i, v) {
		if (t->nconnect < NR_CONNECT && json_is_number(v) && json_number_value(v) >= 0 &&
		    json_number_value(v) < 1e9)
			ms[t->nconnect++] = (float)json_number_value(v);
	}
}

static void punch(const json_t *rec, struct nr_row *row, bool with_times)
{
	size_t i;
	json_t *p;

	json_array_foreach (json_object_get(rec, "punch"), i, p) {
		struct nr_punch *t = &row->punch[row->npunch];
		const json_t *ms = json_object_get(p, "median_connect_ms");

		if (!json_is_string(json_object_get(p, "technique")))
			continue;
		if (row->npunch == NR_PUNCH) {
			row->punch_over++;
			continue;
		}
		nr_value_text(json_object_get(p, "technique"), t->technique, sizeof(t->technique));
		t->trials = (long)json_integer_value(json_object_get(p, "trials"));
		t->successes = (long)json_integer_value(json_object_get(p, "successes"));
		t->setup_failed = (long)json_integer_value(json_object_get(p, "setup_failed"));
		nr_value_text(json_object_get(p, "expected"), t->expected, sizeof(t->expected));
		nr_value_text(json_object_get(p, "agrees"), t->agrees, sizeof(t->agrees));
		t->median_connect_ms = json_is_number(ms) ? json_number_value(ms) : -1;
		t->tcp = json_is_string(json_object_get(p, "transport")) &&
			 !strcmp(json_string_value(json_object_get(p, "transport")), "tcp");
		if (with_times)
			connect_times(json_object_get(p, "connect_ms"), t,
				      row->connect_ms[row->npunch]);
		row->npunch++;
	}
}

/* What backs each verdict: natprobe's evidence, the samples, the endpoints. */
static void evidence(struct nr_row *row, const json_t *rec)
{
	const json_t *ev = nr_get(rec, "udp.evidence");
	char a[NR_VALUE_LEN], b[NR_VALUE_LEN];

	text_at(rec, "local", a, sizeof(a));
	text_at(rec, "udp.mapped", b, sizeof(b));
	if (a[0] || b[0])
		add(row->evidence[NR_NAT], NR_TEXT_LEN, "local %s, mapped %s", a, b);
	roles(json_object_get(ev, "mapping"), row->evidence[NR_MAPPING], NR_TEXT_LEN);
	text_at(rec, "udp.evidence.filtering.other_address", a, sizeof(a));
	text_at(rec, "udp.evidence.filtering.other_port", b, sizeof(b));
	if (a[0] || b[0])
		add(row->evidence[NR_FILTERING], NR_TEXT_LEN,
		    "came in from the other address: %s; from the other port: %s", a, b);
	text_at(rec, "udp.evidence.hairpinning.this_host", a, sizeof(a));
	text_at(rec, "udp.evidence.hairpinning.between_hosts", b, sizeof(b));
	if (a[0])
		add(row->evidence[NR_HAIRPINNING], NR_TEXT_LEN, "this host: %s", a);
	if (b[0])
		add(row->evidence[NR_HAIRPINNING], NR_TEXT_LEN, "; between hosts: %s", b);
	for (unsigned i = 0; i < row->nsamples; i++) {
		snprintf(a, sizeof(a), "%u", row->samples[i]);
		add(row->evidence[NR_PORTS], NR_TEXT_LEN, "%s%s", i ? " " : "", a);
	}
	contiguity_pairs(nr_get(rec, "udp.port_allocation.contiguity.pairs"),
			 row->evidence[NR_CONTIGUITY], NR_TEXT_LEN);
	list(json_object_get(ev, "pooling"), row->evidence[NR_POOLING], NR_TEXT_LEN);
	text_at(rec, "udp.evidence.port_overloading.here_to_PP", a, sizeof(a));
	text_at(rec, "udp.evidence.port_overloading.peer_same_port_to_AA", b, sizeof(b));
	if (a[0] || b[0]) {
		add(row->evidence[NR_OVERLOADING], NR_TEXT_LEN,
		    "here to PP %s; second host, same port, to AA %s", a, b);
		text_at(rec, "udp.evidence.port_overloading.here_to_AA", a, sizeof(a));
		add(row->evidence[NR_OVERLOADING], NR_TEXT_LEN, "; here to AA %s", a);
	}
	lifetime(rec, row, row->evidence[NR_LIFETIME], NR_TEXT_LEN);
}

enum nr_depth nr_depth_of(const json_t *v)
{
	json_int_t n = json_integer_value(v); /* 0 unless an integer */

	if (!v)
		return NR_DEPTH_ABSENT;
	if (json_is_null(v))
		return NR_DEPTH_NULL;
	if (!json_is_integer(v) || n < 0)
		return NR_DEPTH_BAD; /* "two", 1.5, -1: no depth, and no crash */
	return n >= 3 ? NR_DEPTH_3UP : n == 2 ? NR_DEPTH_2 : n == 1 ? NR_DEPTH_1 : NR_DEPTH_0;
}

enum nr_tri nr_tri_of(const json_t *v)
{
	if (!v)
		return NR_TRI_ABSENT;
	return json_is_true(v)    ? NR_TRI_TRUE
	       : json_is_false(v) ? NR_TRI_FALSE
	       : json_is_null(v)  ? NR_TRI_NULL
				  : NR_TRI_BAD;
}

/* The protocols a list names, as bits. Other words (a protocol a later
 * natprobe adds) and other values are passed over, as unknown keys are. */
static unsigned char protocols(const json_t *list)
{
	unsigned char bits = 0;
	size_t i;
	json_t *v;

	json_array_foreach (list, i, v) {
		for (unsigned p = 0; p < NR_NPM && json_is_string(v); p++)
			if (!strcmp(json_string_value(v), nr_pm_names[p]))
				bits |= (unsigned char)(1u << p);
	}
	return bits;
}

/* From the summary natprobe writes beside each protocol's details:
 * "answered", a list, and "works", a list or null (no mapping asked for). */
const char *nr_depth_word(unsigned d)
{
	static const char *const words[NR_NDEPTH] = {
	    [NR_DEPTH_0] = "0",    [NR_DEPTH_1] = "1",       [NR_DEPTH_2] = "2",
	    [NR_DEPTH_3UP] = "3+", [NR_DEPTH_NULL] = "null", [NR_DEPTH_BAD] = "malformed"};

	return d < NR_NDEPTH && words[d] ? words[d] : "";
}

const char *nr_tri_word(unsigned t)
{
	static const char *const words[NR_NTRI] = {[NR_TRI_TRUE] = "true",
						   [NR_TRI_FALSE] = "false",
						   [NR_TRI_NULL] = "null",
						   [NR_TRI_BAD] = "malformed"};

	return t < NR_NTRI && words[t] ? words[t] : "";
}

struct nr_portmap nr_portmap_of(const json_t *pm)
{
	const json_t *answered = json_object_get(pm, "answered"); /* NULL unless pm is an object */
	const json_t *works = json_object_get(pm, "works");
	struct nr_portmap r = {.state = NR_PM_ABSENT};

	if (!pm)
		return r;
	r.state = NR_PM_BAD;
	if (!json_is_array(answered) || !(json_is_array(works) || json_is_null(works)))
		return r;
	r.state = NR_PM_MEASURED;
	r.answered = protocols(answered);
	r.works = protocols(works);
	r.asked = json_is_array(works);
	return r;
}

void nr_row_from(struct nr_row *row, const json_t *rec, const char *group_path, const char *file,
		 unsigned long line, bool with_evidence)
{
	memset(row, 0, offsetof(struct nr_row, connect_ms));
	text_at(rec, "label", row->label, sizeof(row->label));
	text_at(rec, "started", row->started, sizeof(row->started));
	if (group_path)
		text_at(rec, group_path, row->group, sizeof(row->group));
	snprintf(row->where, sizeof(row->where), "%s:%lu", file, line);
	for (int k = 0; k < NR_NKEYS; k++)
		text_at(rec, nr_keys[k].path, row->value[k], sizeof(row->value[k]));
	samples(rec, row);
	row->syn_ms = number_or(rec, "tcp.unsolicited_syn_ms");
	row->idle_alive_s = number_or(rec, "tcp.established_idle.alive_s");
	row->idle_dead_s = number_or(rec, "tcp.established_idle.dead_s");
	row->transitory_alive_s = number_or(rec, "tcp.transitory_idle.alive_s");
	row->transitory_dead_s = number_or(rec, "tcp.transitory_idle.dead_s");
	row->hold_ms = number_or(rec, "tcp.syn_hold_ms");
	punch(rec, row, with_evidence);
	text_at(rec, "punch_peer.mapping", row->peer[0], sizeof(row->peer[0]));
	text_at(rec, "punch_peer.filtering", row->peer[1], sizeof(row->peer[1]));
	text_at(rec, "punch_peer.tcp.mapping", row->peer_tcp[0], sizeof(row->peer_tcp[0]));
	text_at(rec, "punch_peer.tcp.filtering", row->peer_tcp[1], sizeof(row->peer_tcp[1]));
	row->depth = (unsigned char)nr_depth_of(json_object_get(rec, "nat_depth"));
	row->cgn = (unsigned char)nr_tri_of(json_object_get(rec, "cgn"));
	row->portmap = nr_portmap_of(json_object_get(rec, "portmap"));
	if (!with_evidence) {
		lifetime(rec, row, row->evidence[NR_LIFETIME], NR_TEXT_LEN); /* REQ-5 reads it */
		return;
	}
	evidence(row, rec);
	/* Where a verdict was not reached, natprobe's reason says more than evidence. */
	for (int k = 0; k < NR_NKEYS; k++) {
		const json_t *why = reason_of[k] ? nr_get(rec, reason_of[k]) : NULL;

		if (json_is_string(why))
			snprintf(row->evidence[k], NR_TEXT_LEN, "%s", json_string_value(why));
	}
}

const char *nr_lifetime_band(const char *value)
{
	double s;
	char *end;

	if (!value[0] || !strcmp(value, "null"))
		return value;
	s = strtod(value, &end);
	if (*end || isnan(s))
		return "(not a number)";
	return s < 30    ? "under 30 s"
	       : s < 120 ? "30-119 s"
	       : s < 300 ? "120-299 s"
			 : "300 s or more";
}
