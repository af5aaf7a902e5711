/*
 * natprobe's writers: the same typed result as a summary for people and as
 * the JSON record of INTERFACE.md (with jansson). Untested verdicts are left
 * out of both; inconclusive ones carry their reason.
 */
#include "report.h"

#include <math.h>
#include <string.h>

#include <jansson.h>

#include "addr.h"
#include "probe/engine.h"

static const char *addr_or_null(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	return ss->ss_family ? addr_format((const struct sockaddr *)ss, buf, len) : NULL;
}

/* RFC 4787 REQ-1 and REQ-8, as a short mark beside the verdict. */
static const char *mapping_mark(enum probe_mapping m)
{
	switch (m) {
	case PROBE_MAPPING_EI:
		return "RFC 4787 REQ-1 met";
	case PROBE_MAPPING_AD:
	case PROBE_MAPPING_APD:
		return "RFC 4787 REQ-1 not met (MUST be endpoint-independent)";
	default:
		return "";
	}
}

static const char *filtering_mark(enum probe_filtering f)
{
	switch (f) {
	case PROBE_FILTERING_EI:
		return "RFC 4787 REQ-8: the choice for application transparency";
	case PROBE_FILTERING_AD:
		return "RFC 4787 REQ-8: the choice for stricter filtering";
	case PROBE_FILTERING_APD:
		return "RFC 4787 REQ-8: neither recommended choice";
	default:
		return "";
	}
}

/* RFC 4787 REQ-9: hairpinning, with the sender's external source. */
static const char *hairpin_mark(const struct probe_result *r)
{
	if (r->hairpinning == PROBE_NO)
		return "RFC 4787 REQ-9 not met (MUST support hairpinning)";
	if (r->hairpinning == PROBE_UNKNOWN)
		return r->hairpin_reason;
	if (!strcmp(r->hairpin_source, "external"))
		return "source external: RFC 4787 REQ-9 met";
	if (!strcmp(r->hairpin_source, "internal"))
		return "source internal: RFC 4787 REQ-9 not met (MUST be the external one)";
	return "source neither external nor internal";
}

static const char *came_in(enum probe_bool b)
{
	return b == PROBE_YES ? "in" : b == PROBE_NO ? "not in" : "?";
}

/* The mapped address each endpoint saw, on one line: "PP 203.0.113.1:4000,
 * PA same, AP 203.0.113.1:4001, AA same" ("same" as the one before). */
static void print_mapped(FILE *out, const struct sockaddr_storage all[4])
{
	static const char *const roles[4] = {"PP", "PA", "AP", "AA"};
	char a[ADDR_STRLEN];

	if (!all[0].ss_family && !all[1].ss_family && !all[2].ss_family && !all[3].ss_family)
		return;
	fprintf(out, "  %-10s %-28s", "", "");
	for (int role = 0; role < 4; role++) {
		const struct sockaddr *seen = (const struct sockaddr *)&all[role];

		if (!seen->sa_family)
			fprintf(out, "%s %s no answer", role ? "," : "", roles[role]);
		else if (role && addr_equal(seen, (const struct sockaddr *)&all[role - 1]))
			fprintf(out, ", %s same", roles[role]);
		else
			fprintf(out, "%s %s %s", role ? "," : "", roles[role],
				addr_format(seen, a, sizeof(a)));
	}
	fputc('\n', out);
}

static void print_ports(FILE *out, const struct probe_result *r)
{
	char pattern[40];

	if (r->port_pattern == PROBE_PORTS_SEQUENTIAL)
		snprintf(pattern, sizeof(pattern), "sequential, delta %u", r->port_delta);
	else
		snprintf(pattern, sizeof(pattern), "%s", probe_ports_name(r->port_pattern));
	if (r->port_pattern == PROBE_PORTS_INCONCLUSIVE && !r->port_nsamples) {
		fprintf(out, "  %-10s %-28s %s\n", "ports", pattern, r->port_reason);
		return;
	}
	fprintf(out, "  %-10s %-28s parity %s (REQ-4), predictability %.2f%s%s\n", "ports", pattern,
		r->port_parity == PROBE_YES ? "kept" : "not kept", r->port_predictability,
		r->port_reason[0] ? "; " : "", r->port_reason);
	fprintf(out, "  %-10s %-28s", "", "");
	for (unsigned i = 0; i < r->port_nsamples; i++)
		fprintf(out, " %u", r->port_samples[i]);
	fputc('\n', out);
	if (r->dest_pattern == PROBE_DEST_UNTESTED)
		return;
	if (r->dest_pattern == PROBE_DEST_SEQUENTIAL)
		snprintf(pattern, sizeof(pattern), "sequential, delta %u", r->dest_delta);
	else
		snprintf(pattern, sizeof(pattern), "%s", probe_dest_ports_name(r->dest_pattern));
	fprintf(out, "  %-10s %-28s one socket to PP, PA, AP, AA:", "", pattern);
	for (unsigned i = 0; i < r->dest_nsamples; i++)
		fprintf(out, " %u", r->dest_samples[i]);
	fprintf(out, "%s%s\n", r->dest_reason[0] ? "; " : "", r->dest_reason);
}

/* Contiguity: "kept", then each pair's local ports and public ports. */
static void print_contiguity(FILE *out, const struct probe_result *r)
{
	const char *verdict = r->contiguity == PROBE_YES  ? "contiguity kept"
			      : r->contiguity == PROBE_NO ? "contiguity not kept"
							  : "contiguity inconclusive";

	if (!r->contiguity_tested)
		return;
	fprintf(out, "  %-10s %-28s", "", verdict);
	for (unsigned i = 0; i < r->npairs; i++) {
		uint16_t n = addr_port((const struct sockaddr *)&r->pair_local[i]);

		fprintf(out, "%s %u,%u ->", i ? ";" : "", n, n + 1u);
		for (int j = 0; j < 2; j++) {
			const struct sockaddr *m = (const struct sockaddr *)&r->pair_mapped[i][j];

			if (m->sa_family)
				fprintf(out, "%s%u", j ? "," : " ", addr_port(m));
			else
				fprintf(out, "%s-", j ? "," : " ");
		}
	}
	if (r->contiguity_reason[0])
		fprintf(out, "%s%s", r->npairs ? "; " : " ", r->contiguity_reason);
	fputc('\n', out);
}

static void print_addresses(FILE *out, const struct sockaddr_storage *pool, unsigned n)
{
	char a[ADDR_STRLEN];

	for (unsigned i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? ", " : "",
			addr_format_ip((const struct sockaddr *)&pool[i], a, sizeof(a)));
}

static void print_pooling(FILE *out, const struct probe_result *r)
{
	fprintf(out, "  %-10s %-28s ", "pooling", probe_pooling_name(r->pooling));
	if (!r->npool && !r->npool_peer) {
		fprintf(out, "%s\n", r->pooling_reason);
		return;
	}
	print_addresses(out, r->pool, r->npool);
	if (r->npool_peer) {
		fprintf(out, " here, ");
		print_addresses(out, r->pool_peer, r->npool_peer);
		fprintf(out, " on the second host");
	}
	fprintf(out, "%s%s%s\n", r->pooling_reason[0] ? "; " : "", r->pooling_reason,
		r->pooling_by_design ? " (not counted in the exit status)" : "");
}

/* Loud: the most interesting thing a run can find, and why verdicts went. */
static void print_contradictions(FILE *out, const struct probe_result *r)
{
	for (unsigned i = 0; i < r->ncontradictions; i++)
		fprintf(out, "  CONTRADICTION: %s; both verdicts made inconclusive\n",
			r->contradiction[i]);
}

/* The verdicts behind exit status 1 (probe_result_open), named. */
static void print_open(FILE *out, const struct probe_result *r)
{
	const char *names[16];
	size_t n = probe_result_open(r, names, 16);

	if (!n || !r->answers)
		return;
	fprintf(out, "  %-10s ", "open");
	for (size_t i = 0; i < n && i < 16; i++)
		fprintf(out, "%s%s", i ? ", " : "", names[i]);
	fprintf(out, " inconclusive (exit status 1)\n");
}

/* Port overloading (RFC 4787 REQ-3, RFC 5382 REQ-7): the verdict, then the
 * three public endpoints it came from. */
static void print_overload(FILE *out, const char *label, const char *req, enum probe_bool v,
			   const struct sockaddr_storage seen[3], const char *reason)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], c[ADDR_STRLEN];

	if (v == PROBE_UNKNOWN) {
		fprintf(out, "  %-10s %-28s %s\n", label, "inconclusive", reason);
		return;
	}
	fprintf(out, "  %-10s %-28s %s %s\n", label, v == PROBE_YES ? "yes" : "no", req,
		v == PROBE_YES ? "not met (MUST NOT overload ports)" : "met");
	fprintf(out,
		"  %-10s %-28s here to PP %s; second host, same port, to AA %s; here to AA %s\n",
		"", "", addr_or_null(&seen[0], a, sizeof(a)), addr_or_null(&seen[1], b, sizeof(b)),
		seen[2].ss_family ? addr_format((const struct sockaddr *)&seen[2], c, sizeof(c))
				  : "no answer");
}

static void print_overloading(FILE *out, const struct probe_result *r)
{
	const struct sockaddr_storage seen[3] = {r->overload_here, r->overload_peer,
						 r->overload_after};

	print_overload(out, "overload", "RFC 4787 REQ-3", r->overloading, seen, r->overload_reason);
}

static void print_tcp_overloading(FILE *out, const struct probe_tcp *t)
{
	const struct sockaddr_storage seen[3] = {t->overload_here, t->overload_peer,
						 t->overload_after};

	if (t->overload_tested)
		print_overload(out, "tcp overld", "RFC 5382 REQ-7", t->overloading, seen,
			       t->overload_reason);
}

static const char *yes_no(enum probe_bool b)
{
	return b == PROBE_YES ? "yes" : b == PROBE_NO ? "no" : "inconclusive";
}

/* "alive after 28.5 s, gone after 30.0 s", or "alive after 300 s (the longest trial)". */
static void lifetime_text(const struct probe_lifetime *l, char *buf, size_t len)
{
	if (!l->known)
		snprintf(buf, len, "inconclusive");
	else if (l->hi_s < 0)
		snprintf(buf, len, "alive after %.0f s (the longest trial)", l->lo_s);
	else
		snprintf(buf, len, "alive after %.1f s, gone after %.1f s", l->lo_s, l->hi_s);
}

/* RFC 4787 REQ-5: no UDP mapping timer shorter than two minutes. */
static const char *lifetime_mark(const struct probe_result *r)
{
	double shortest = r->binding_lifetime_s;

	if (shortest < 0)
		return "";
	if (shortest >= 120)
		return "RFC 4787 REQ-5 met (2 minutes at least)";
	if ((r->lifetime_outbound.hi_s >= 0 && r->lifetime_outbound.hi_s < 120) ||
	    (r->lifetime_bidirectional.hi_s >= 0 && r->lifetime_bidirectional.hi_s < 120))
		return "RFC 4787 REQ-5 not met (MUST NOT expire in under 2 minutes)";
	return "";
}

static void print_lifetime(FILE *out, const struct probe_result *r)
{
	char a[80], b[80];

	if (r->binding_lifetime_s < 0) {
		fprintf(out, "  %-10s %-28s %s\n", "lifetime", "inconclusive", r->lifetime_reason);
		return;
	}
	snprintf(a, sizeof(a), "%.1f s", r->binding_lifetime_s);
	fprintf(out, "  %-10s %-28s %s\n", "lifetime", a, lifetime_mark(r));
	lifetime_text(&r->lifetime_outbound, a, sizeof(a));
	lifetime_text(&r->lifetime_bidirectional, b, sizeof(b));
	fprintf(out, "  %-10s %-28s outbound-only: %s; bidirectional: %s\n", "", "", a, b);
	fprintf(out, "  %-10s %-28s inbound traffic refreshes: %s (REQ-6 allows either)%s%s\n", "",
		"", yes_no(r->inbound_refresh), r->lifetime_reason[0] ? "; " : "",
		r->lifetime_reason);
}

/* One pair's verdict, with the source or the reason. */
static void print_pair(FILE *out, const char *name, enum probe_bool b, const char *source,
		       const char *reason)
{
	fprintf(out, "%s: %s", name, yes_no(b));
	if (b == PROBE_YES && source[0])
		fprintf(out, ", source %s", source);
	else if (b == PROBE_UNKNOWN && reason[0])
		fprintf(out, " (%s)", reason);
}

/* Hairpinning's two kinds (--peer): this host's pairs, and between hosts. */
static void print_hosts(FILE *out, enum probe_bool host, const char *host_source,
			enum probe_bool peer, const char *peer_source, const char *peer_reason)
{
	fprintf(out, "  %-10s %-28s ", "", "");
	print_pair(out, "this host", host, host_source, "");
	fputs("; ", out);
	print_pair(out, "between hosts", peer, peer_source, peer_reason);
	fputc('\n', out);
}

static void print_hairpin(FILE *out, const struct probe_result *r)
{
	fprintf(out, "  %-10s %-28s %s\n", "hairpin", yes_no(r->hairpinning), hairpin_mark(r));
	if (r->hairpin_peer_tested)
		print_hosts(out, r->hairpin_host, r->hairpin_host_source, r->hairpin_peer,
			    r->hairpin_peer_source, r->hairpin_peer_reason);
}

/* RFC 5382 REQ-8; with --peer, each pair kind's verdict too. */
static void print_tcp_hairpin(FILE *out, const struct probe_tcp *t)
{
	if (!t->hairpin_tested)
		return;
	fprintf(out, "  %-10s %-28s %s%s\n", "tcp hairpin", yes_no(t->hairpinning),
		t->hairpinning == PROBE_YES ? "source " : "",
		t->hairpinning == PROBE_YES ? t->hairpin_source : t->hairpin_reason);
	if (t->hairpin_peer_tested)
		print_hosts(out, t->hairpin_host, t->hairpin_host_source, t->hairpin_peer,
			    t->hairpin_peer_source, t->hairpin_peer_reason);
}

/* What the reflector saw come back (enum probe_seen), in the record's words. */
static const char *seen_name(unsigned outcome)
{
	static const char *const names[5] = {"nothing", "syn-ack", "rst", "icmp", "connected"};

	return outcome < 5 ? names[outcome] : "nothing";
}

static void print_tcp_ports(FILE *out, const struct probe_tcp *t);
static void print_tcp_filtering(FILE *out, const struct probe_tcp *t);
static void print_tcp_simopen(FILE *out, const struct probe_tcp *t);
static void print_tcp_icmp(FILE *out, const struct probe_tcp *t);
static void print_tcp_hold(FILE *out, const struct probe_tcp *t);
static void print_tcp_idle(FILE *out, const struct probe_tcp *t);

/* RFC 5382 REQ-6: a payload rewrite seen in the mapping test's answers. */
static void print_tcp_alg(FILE *out, const struct probe_tcp *t)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (t->alg == PROBE_YES)
		fprintf(out,
			"  %-10s %-28s MAPPED-ADDRESS came as %s, XOR-MAPPED-ADDRESS %s: an ALG "
			"rewrites TCP payloads (RFC 5382 REQ-6 not met)\n",
			"tcp alg", "rewrite",
			addr_format((const struct sockaddr *)&t->alg_plain, a, sizeof(a)),
			addr_format((const struct sockaddr *)&t->alg_xor, b, sizeof(b)));
	else if (t->alg == PROBE_NO)
		fprintf(out, "  %-10s %-28s %s\n", "tcp alg", "none seen",
			"the answers' plain MAPPED-ADDRESS came unchanged (ALGs on other ports "
			"cannot be seen)");
}

/* The TCP verdicts (RFC 5382), after UDP's. */
static void print_tcp(FILE *out, const struct probe_tcp *t)
{
	if (t->mapping != PROBE_MAPPING_UNTESTED) {
		fprintf(out, "  %-10s %-28s %s\n", "tcp mapping", probe_mapping_name(t->mapping),
			t->mapping == PROBE_MAPPING_INCONCLUSIVE ? t->mapping_reason
			: t->mapping == PROBE_MAPPING_EI         ? "RFC 5382 REQ-1 met"
			: t->mapping == PROBE_MAPPING_NONE
			    ? ""
			    : "RFC 5382 REQ-1 not met (MUST be endpoint-independent)");
		print_mapped(out, t->mapping_seen);
		print_tcp_alg(out, t);
	}
	print_tcp_ports(out, t);
	print_tcp_filtering(out, t);
	print_tcp_simopen(out, t);
	print_tcp_hairpin(out, t);
	print_tcp_overloading(out, t);
	print_tcp_icmp(out, t);
	print_tcp_hold(out, t);
	print_tcp_idle(out, t);
}

static const char *bool_word(enum probe_bool b)
{
	return b == PROBE_YES ? "true" : b == PROBE_NO ? "false" : "inconclusive";
}

/* One of RFC 5382 REQ-5's timeouts (tcp-lifetime): its bracket and what
 * that says against the requirement's floor. */
static void print_idle(FILE *out, const char *label, const struct probe_tcp_idle *t,
		       unsigned floor_s, const char *floor_text)
{
	char bracket[64], verdict[128];

	if (!t->tested)
		return;
	if (t->alive_s < 0 && t->dead_s < 0) {
		fprintf(out, "  %-10s %-28s %s\n", label, "inconclusive", t->reason);
		return;
	}
	if (t->dead_s >= 0)
		snprintf(bracket, sizeof(bracket), "%.0f to %.0f s",
			 t->alive_s < 0 ? 0 : t->alive_s, t->dead_s);
	else
		snprintf(bracket, sizeof(bracket), "over %.0f s", t->alive_s);
	if (t->dead_s >= 0 && t->dead_s <= floor_s)
		snprintf(verdict, sizeof(verdict), "dropped idle (REQ-5 not met: %s)", floor_text);
	else if (t->alive_s >= floor_s)
		snprintf(verdict, sizeof(verdict), "REQ-5 met (%s)", floor_text);
	else
		snprintf(verdict, sizeof(verdict),
			 "alive as long as measured (--tcp-lifetime=%u judges REQ-5)", floor_s);
	fprintf(out, "  %-10s %-28s %s\n", label, bracket, verdict);
}

static void print_tcp_idle(FILE *out, const struct probe_tcp *t)
{
	print_idle(out, "tcp idle", &t->established, 7440, "2 h 4 min established");
	print_idle(out, "tcp closing", &t->transitory, 240, "4 min half-closed");
}

/* RFC 5382 REQ-4's hold (tcp-syn-hold). */
static void print_tcp_hold(FILE *out, const struct probe_tcp *t)
{
	if (t->hold == PROBE_HOLD_UNTESTED)
		return;
	fprintf(out, "  %-10s %-28s ", "syn hold", probe_hold_name(t->hold));
	switch (t->hold) {
	case PROBE_HOLD_HELD:
		fprintf(out,
			"no answer to the reflector's SYN, and ours 2 s later made the "
			"connection in %.0f ms (REQ-4 met for 2 s)\n",
			t->hold_ms);
		break;
	case PROBE_HOLD_RST:
	case PROBE_HOLD_ICMP:
		fprintf(out, "the NAT answered the reflector's SYN after %.1f ms (REQ-4 %s)\n",
			t->hold_ms, t->hold_ms >= 6000 ? "met" : "not met: silent for 6 s");
		break;
	case PROBE_HOLD_PASS:
		fprintf(out, "the SYN reached this host: nothing held\n");
		break;
	default:
		fprintf(out, "%s\n", t->hold_reason);
	}
}

/* RFC 5382 REQ-9 and REQ-10, two lines. */
static void print_tcp_icmp(FILE *out, const struct probe_tcp *t)
{
	if (!t->icmp_tested) {
		if (t->icmp_reason[0])
			fprintf(out, "  %-10s %-28s %s\n", "tcp icmp", "untested", t->icmp_reason);
		return;
	}
	fprintf(out, "  %-10s %-28s ", "icmp in", bool_word(t->icmp_translated));
	if (t->icmp_translated == PROBE_YES)
		fprintf(out, "host unreachable for our SYN came back in %.1f ms (REQ-9 met)\n",
			t->icmp_translated_ms);
	else if (t->icmp_translated == PROBE_NO)
		fprintf(out,
			"host unreachable for our SYN, sent %u times, never came back "
			"(REQ-9 not met: SHOULD translate)\n",
			t->icmp_copies);
	else
		fprintf(out, "%s\n", t->icmp_translated_reason);
	fprintf(out, "  %-10s %-28s ", "icmp kept", bool_word(t->icmp_kept));
	if (t->icmp_kept == PROBE_UNKNOWN)
		fprintf(out, "%s\n", t->icmp_kept_reason);
	else
		fprintf(out,
			"%u of %u connections alive after port unreachable and time exceeded "
			"(REQ-10 %s)\n",
			t->icmp_victims_kept, t->icmp_victims,
			t->icmp_kept == PROBE_YES ? "met" : "not met: MUST NOT end a connection");
}

/* What came back for one ordered SYN, in a few words. */
static void print_seen(FILE *out, const char *name, const struct probe_tcp_seen *s)
{
	if (!s->asked)
		return;
	fprintf(out, " %s %s", name, seen_name(s->outcome));
	if (s->outcome)
		fprintf(out, " ttl %u %.1f ms", s->ttl, s->ms);
	else
		fprintf(out, " x%u", s->tries);
}

static void print_tcp_filtering(FILE *out, const struct probe_tcp *t)
{
	if (t->filtering != PROBE_FILTERING_UNTESTED || t->filtering_reason[0]) {
		fprintf(out, "  %-10s %-28s", "tcp filter",
			t->filtering == PROBE_FILTERING_UNTESTED
			    ? "untested"
			    : probe_filtering_name(t->filtering));
		if (t->filtering == PROBE_FILTERING_UNTESTED ||
		    t->filtering == PROBE_FILTERING_INCONCLUSIVE)
			fprintf(out, " %s;", t->filtering_reason);
		print_seen(out, "PA", &t->filtering_seen[0]);
		print_seen(out, "AA", &t->filtering_seen[1]);
		if (t->baseline_ttl)
			fprintf(out, " (host ttl %u)", t->baseline_ttl);
		fputc('\n', out);
		fprintf(out, "  %-10s %-28s unsolicited, on a live mapping%s%s\n", "tcp syn",
			probe_syn_name(t->syn_mapped),
			t->syn_mapped == PROBE_SYN_INCONCLUSIVE ? ": " : "",
			t->syn_mapped == PROBE_SYN_INCONCLUSIVE ? t->syn_mapped_reason : "");
	}
	if (t->syn != PROBE_SYN_UNTESTED || t->syn_reason[0]) {
		fprintf(out, "  %-10s %-28s unsolicited, at an unused port", "tcp syn",
			probe_syn_name(t->syn));
		if (t->syn == PROBE_SYN_INCONCLUSIVE || t->syn == PROBE_SYN_UNTESTED)
			fprintf(out, ": %s", t->syn_reason);
		for (int i = 0; i < 2; i++)
			if (t->syn_seen[i].asked) {
				char name[16];

				snprintf(name, sizeof(name), "%u", t->syn_seen[i].port);
				print_seen(out, name, &t->syn_seen[i]);
			}
		fputc('\n', out);
	}
}

static void print_tcp_simopen(FILE *out, const struct probe_tcp *t)
{
	char a[ADDR_STRLEN];

	if (!t->simopen_tested && !t->simopen_reason[0])
		return;
	fprintf(out, "  %-10s %-28s", "tcp simopen",
		!t->simopen_tested        ? "untested"
		: t->simopen == PROBE_YES ? "true"
		: t->simopen == PROBE_NO  ? "false"
					  : "inconclusive");
	if (t->simopen_reason[0])
		fprintf(out, " %s;", t->simopen_reason);
	if (t->simopen_tested)
		fprintf(
		    out, " %u trial%s, our SYN %s, the reflector's: %s%s", t->simopen_trials,
		    t->simopen_trials == 1 ? "" : "s",
		    t->simopen_seen_syn.ss_family
			? addr_format((const struct sockaddr *)&t->simopen_seen_syn, a, sizeof(a))
			: "not seen",
		    seen_name(t->simopen_answer),
		    t->simopen == PROBE_YES ? ", data both ways" : "");
	fputc('\n', out);
}

static void print_tcp_ports(FILE *out, const struct probe_tcp *t)
{
	char pattern[40];

	if (t->port_pattern == PROBE_PORTS_UNTESTED)
		return;
	if (t->port_pattern == PROBE_PORTS_SEQUENTIAL)
		snprintf(pattern, sizeof(pattern), "sequential, delta %u", t->port_delta);
	else
		snprintf(pattern, sizeof(pattern), "%s", probe_ports_name(t->port_pattern));
	if (t->port_pattern == PROBE_PORTS_INCONCLUSIVE && !t->port_nsamples) {
		fprintf(out, "  %-10s %-28s %s\n", "tcp ports", pattern, t->port_reason);
		return;
	}
	fprintf(out, "  %-10s %-28s parity %s, predictability %.2f%s%s\n", "tcp ports", pattern,
		t->port_parity == PROBE_YES ? "kept" : "not kept", t->port_predictability,
		t->port_reason[0] ? "; " : "", t->port_reason);
	fprintf(out, "  %-10s %-28s", "", "");
	for (unsigned i = 0; i < t->port_nsamples; i++)
		fprintf(out, " %u", t->port_samples[i]);
	fputc('\n', out);
}

void probe_report_text(FILE *out, const struct probe_result *r)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	fprintf(out, "natprobe: reflector %s",
		addr_format((const struct sockaddr *)&r->primary, a, sizeof(a)));
	if (r->alternate.ss_family)
		fprintf(out, " (alternate %s)",
			addr_format((const struct sockaddr *)&r->alternate, a, sizeof(a)));
	fprintf(out, ", %.2f s, %u packets sent, %u answers", (double)r->duration_us / 1e6,
		r->sends, r->answers);
	if (r->tcp.duration_us)
		fprintf(out, "; the TCP tests %.2f s of it", (double)r->tcp.duration_us / 1e6);
	fputc('\n', out);
	if (r->nat != PROBE_UNKNOWN)
		fprintf(out, "  %-10s %-28s local %s, mapped %s\n", "nat",
			r->nat == PROBE_YES ? "yes" : "no", addr_or_null(&r->local, a, sizeof(a)),
			addr_or_null(&r->mapped, b, sizeof(b)));
	else if (r->nat_reason[0])
		fprintf(out, "  %-10s %-28s %s\n", "nat", "inconclusive", r->nat_reason);
	if (r->mapping != PROBE_MAPPING_UNTESTED) {
		fprintf(out, "  %-10s %-28s %s\n", "mapping", probe_mapping_name(r->mapping),
			r->mapping == PROBE_MAPPING_INCONCLUSIVE ? r->mapping_reason
								 : mapping_mark(r->mapping));
		print_mapped(out, r->mapping_seen);
	}
	if (r->filtering != PROBE_FILTERING_UNTESTED) {
		fprintf(out, "  %-10s %-28s %s\n", "filtering", probe_filtering_name(r->filtering),
			r->filtering == PROBE_FILTERING_INCONCLUSIVE
			    ? r->filtering_reason
			    : filtering_mark(r->filtering));
		if (r->filtering_other_address != PROBE_UNKNOWN ||
		    r->filtering_other_port != PROBE_UNKNOWN)
			fprintf(
			    out,
			    "  %-10s %-28s from the other address: %s; from the other port: %s\n",
			    "", "", came_in(r->filtering_other_address),
			    came_in(r->filtering_other_port));
	}
	if (r->port_pattern != PROBE_PORTS_UNTESTED) {
		print_ports(out, r);
		print_contiguity(out, r);
	}
	if (r->pooling != PROBE_POOLING_UNTESTED)
		print_pooling(out, r);
	if (r->overload_tested)
		print_overloading(out, r);
	if (r->lifetime_tested)
		print_lifetime(out, r);
	if (r->hairpin_tested)
		print_hairpin(out, r);
	if (r->mapping != PROBE_MAPPING_UNTESTED && r->filtering != PROBE_FILTERING_UNTESTED)
		fprintf(out, "  %-10s %s (RFC 3489's name)\n", "legacy", probe_legacy_type(r));
	if (r->tcp_tested)
		print_tcp(out, &r->tcp);
	probe_report_depth_text(out, r);
	print_contradictions(out, r);
	print_open(out, r);
}

static json_t *bool_or_null(enum probe_bool b)
{
	return b == PROBE_UNKNOWN ? json_null() : json_boolean(b == PROBE_YES);
}

json_t *probe_addr_json(const struct sockaddr_storage *ss)
{
	char buf[ADDR_STRLEN];
	const char *s = addr_or_null(ss, buf, sizeof(buf));

	return s ? json_string(s) : json_null();
}

/* Each pair: its first local port, and the two public endpoints (null: no answer). */
static json_t *contiguity_json(const struct probe_result *r)
{
	json_t *c = json_object(), *pairs = json_array();

	for (unsigned i = 0; i < r->npairs; i++)
		json_array_append_new(
		    pairs,
		    json_pack("{s:i, s:[o, o]}", "local",
			      (json_int_t)addr_port((const struct sockaddr *)&r->pair_local[i]),
			      "mapped", probe_addr_json(&r->pair_mapped[i][0]),
			      probe_addr_json(&r->pair_mapped[i][1])));
	json_object_set_new(c, "pairs", pairs);
	if (r->contiguity_reason[0])
		json_object_set_new(c, "reason", json_string(r->contiguity_reason));
	return c;
}

static json_t *source_or_null(enum probe_bool b, const char *source)
{
	return b == PROBE_YES && source[0] ? json_string(source) : json_null();
}

/* Port overloading's evidence (UDP's or TCP's section): the three public
 * endpoints, and the reason where there is no verdict. */
static void overload_json(const struct sockaddr_storage *here, const struct sockaddr_storage *peer,
			  const struct sockaddr_storage *after, const char *reason,
			  json_t *evidence, json_t *reasons)
{
	json_object_set_new(evidence, "port_overloading",
			    json_pack("{s:o, s:o, s:o}", "here_to_PP", probe_addr_json(here),
				      "peer_same_port_to_AA", probe_addr_json(peer), "here_to_AA",
				      probe_addr_json(after)));
	if (reason[0])
		json_object_set_new(reasons, "port_overloading", json_string(reason));
}

/* The joined verdict; in the evidence, each pair's. */
static void hairpin_json(const struct probe_result *r, json_t *udp, json_t *evidence,
			 json_t *reasons)
{
	json_t *ev = json_object();

	json_object_set_new(udp, "hairpinning", bool_or_null(r->hairpinning));
	if (r->hairpin_peer_tested)
		json_object_set_new(udp, "hairpinning_peer", bool_or_null(r->hairpin_peer));
	json_object_set_new(ev, "source", source_or_null(r->hairpinning, r->hairpin_source));
	json_object_set_new(ev, "this_host", bool_or_null(r->hairpin_host));
	json_object_set_new(ev, "this_host_source",
			    source_or_null(r->hairpin_host, r->hairpin_host_source));
	if (r->hairpin_peer_tested) {
		json_object_set_new(ev, "between_hosts", bool_or_null(r->hairpin_peer));
		json_object_set_new(ev, "between_hosts_source",
				    source_or_null(r->hairpin_peer, r->hairpin_peer_source));
		if (r->hairpin_peer_reason[0])
			json_object_set_new(reasons, "hairpinning_peer",
					    json_string(r->hairpin_peer_reason));
	}
	json_object_set_new(evidence, "hairpinning", ev);
	if (r->hairpin_reason[0])
		json_object_set_new(reasons, "hairpinning", json_string(r->hairpin_reason));
}

/* One socket toward the four endpoints in turn. */
static json_t *dest_json(const struct probe_result *r)
{
	json_t *d = json_object(), *samples = json_array();

	json_object_set_new(d, "pattern", json_string(probe_dest_ports_name(r->dest_pattern)));
	json_object_set_new(d, "delta",
			    r->dest_pattern == PROBE_DEST_SEQUENTIAL ? json_integer(r->dest_delta)
								     : json_null());
	json_object_set_new(d, "predictability", json_real(r->dest_predictability));
	for (unsigned i = 0; i < r->dest_nsamples; i++)
		json_array_append_new(samples, json_integer(r->dest_samples[i]));
	json_object_set_new(d, "samples", samples);
	if (r->dest_reason[0])
		json_object_set_new(d, "reason", json_string(r->dest_reason));
	return d;
}

/* Seconds to a tenth: the trials' timing is no finer. */
static json_t *tenths(double s)
{
	return json_real(round(s * 10) / 10);
}

static json_t *lifetime_json(const struct probe_lifetime *l)
{
	return json_pack("{s:o, s:o}", "alive_s", l->known ? tenths(l->lo_s) : json_null(),
			 "dead_s", l->known && l->hi_s >= 0 ? tenths(l->hi_s) : json_null());
}

/* The sockets' own ports, beside samples: a figure shows which were kept. */
static json_t *locals_json(const struct probe_result *r)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < r->port_nsamples; i++)
		json_array_append_new(a, json_integer(r->port_locals[i]));
	return a;
}

/* Verdicts made inconclusive because they contradicted each other. */
static json_t *contradictions_json(const struct probe_result *r)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < r->ncontradictions; i++)
		json_array_append_new(a, json_string(r->contradiction[i]));
	return a;
}

/* Inconclusive by design, whatever the packets (not counted in the exit status). */
static json_t *by_design_json(const struct probe_result *r)
{
	json_t *a = json_array();

	if (r->pooling == PROBE_POOLING_INCONCLUSIVE && r->pooling_by_design)
		json_array_append_new(a, json_string("pooling"));
	return a;
}

static json_t *udp_json(const struct probe_result *r)
{
	static const char *const roles[4] = {"PP", "PA", "AP", "AA"};
	json_t *udp = json_object(), *reasons = json_object(), *evidence = json_object();

	json_object_set_new(udp, "mapped", probe_addr_json(&r->mapped));
	json_object_set_new(udp, "nat", bool_or_null(r->nat));
	if (r->nat_reason[0])
		json_object_set_new(reasons, "nat", json_string(r->nat_reason));
	if (r->mapping != PROBE_MAPPING_UNTESTED) {
		json_t *seen = json_object();

		json_object_set_new(udp, "mapping", json_string(probe_mapping_name(r->mapping)));
		for (int role = 0; role < 4; role++)
			json_object_set_new(seen, roles[role],
					    probe_addr_json(&r->mapping_seen[role]));
		json_object_set_new(evidence, "mapping", seen);
		if (r->mapping_reason[0])
			json_object_set_new(reasons, "mapping", json_string(r->mapping_reason));
	}
	if (r->filtering != PROBE_FILTERING_UNTESTED) {
		json_object_set_new(udp, "filtering",
				    json_string(probe_filtering_name(r->filtering)));
		json_object_set_new(evidence, "filtering",
				    json_pack("{s:o, s:o, s:i}", "other_address",
					      bool_or_null(r->filtering_other_address),
					      "other_port", bool_or_null(r->filtering_other_port),
					      "attempts", (json_int_t)r->filtering_attempts));
		if (r->filtering_reason[0])
			json_object_set_new(reasons, "filtering", json_string(r->filtering_reason));
	}
	if (r->port_pattern != PROBE_PORTS_UNTESTED) {
		json_t *ports = json_object(), *samples = json_array();

		json_object_set_new(ports, "pattern",
				    json_string(probe_ports_name(r->port_pattern)));
		json_object_set_new(ports, "delta",
				    r->port_pattern == PROBE_PORTS_SEQUENTIAL
					? json_integer(r->port_delta)
					: json_null());
		json_object_set_new(ports, "parity_preserved", bool_or_null(r->port_parity));
		if (r->contiguity_tested) {
			json_object_set_new(ports, "contiguity_preserved",
					    bool_or_null(r->contiguity));
			json_object_set_new(ports, "contiguity", contiguity_json(r));
		}
		json_object_set_new(ports, "predictability", json_real(r->port_predictability));
		for (unsigned i = 0; i < r->port_nsamples; i++)
			json_array_append_new(samples, json_integer(r->port_samples[i]));
		json_object_set_new(ports, "samples", samples);
		json_object_set_new(ports, "local_ports", locals_json(r));
		if (r->dest_pattern != PROBE_DEST_UNTESTED)
			json_object_set_new(ports, "destinations", dest_json(r));
		json_object_set_new(udp, "port_allocation", ports);
		if (r->port_reason[0])
			json_object_set_new(reasons, "port_allocation",
					    json_string(r->port_reason));
	}
	if (r->pooling != PROBE_POOLING_UNTESTED) {
		json_t *pool = json_array();
		char a[ADDR_STRLEN];

		json_object_set_new(udp, "pooling", json_string(probe_pooling_name(r->pooling)));
		for (unsigned i = 0; i < r->npool; i++)
			json_array_append_new(
			    pool, json_string(addr_format_ip((const struct sockaddr *)&r->pool[i],
							     a, sizeof(a))));
		json_object_set_new(evidence, "pooling", pool);
		if (r->npool_peer) {
			json_t *peer = json_array();

			for (unsigned i = 0; i < r->npool_peer; i++)
				json_array_append_new(
				    peer,
				    json_string(addr_format_ip(
					(const struct sockaddr *)&r->pool_peer[i], a, sizeof(a))));
			json_object_set_new(evidence, "pooling_peer", peer);
		}
		if (r->pooling_reason[0])
			json_object_set_new(reasons, "pooling", json_string(r->pooling_reason));
	}
	/* null without a second host: not tested (INTERFACE.md). */
	json_object_set_new(udp, "port_overloading",
			    r->overload_tested ? bool_or_null(r->overloading) : json_null());
	if (r->overload_tested)
		overload_json(&r->overload_here, &r->overload_peer, &r->overload_after,
			      r->overload_reason, evidence, reasons);
	if (r->hairpin_tested)
		hairpin_json(r, udp, evidence, reasons);
	/* null unless --lifetime, or when no lifetime was reached. */
	json_object_set_new(udp, "binding_lifetime_s",
			    r->binding_lifetime_s >= 0 ? tenths(r->binding_lifetime_s)
						       : json_null());
	if (r->lifetime_tested) {
		json_object_set_new(udp, "binding_lifetime",
				    json_pack("{s:o, s:o, s:o, s:i}", "outbound_only",
					      lifetime_json(&r->lifetime_outbound), "bidirectional",
					      lifetime_json(&r->lifetime_bidirectional),
					      "inbound_refresh", bool_or_null(r->inbound_refresh),
					      "max_s", (json_int_t)r->lifetime_max_s));
		if (r->lifetime_reason[0])
			json_object_set_new(reasons, "binding_lifetime",
					    json_string(r->lifetime_reason));
	}
	if (r->mapping != PROBE_MAPPING_UNTESTED && r->filtering != PROBE_FILTERING_UNTESTED)
		json_object_set_new(udp, "legacy_type", json_string(probe_legacy_type(r)));
	json_object_set_new(udp, "contradictions", contradictions_json(r));
	json_object_set_new(udp, "inconclusive_by_design", by_design_json(r));
	json_object_set_new(udp, "evidence", evidence);
	json_object_set_new(udp, "reasons", reasons);
	return udp;
}

static json_t *ports_json(const uint16_t *v, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

/* The tcp section (RFC 5382): the verdicts, then evidence and reasons, as udp's. */
/* A verdict word, or null when the test did not run (the reason says why). */
static json_t *word_or_null(const char *word, bool tested)
{
	return tested ? json_string(word) : json_null();
}

/* One SYN the reflector sent on our order, and what came back. */
static json_t *seen_json(const struct probe_tcp_seen *s)
{
	json_t *j;

	if (!s->asked)
		return json_null();
	j = json_pack("{s:s, s:s, s:i, s:f, s:i, s:o, s:o}", "outcome", seen_name(s->outcome),
		      "fate", probe_syn_name(s->fate), "port", (json_int_t)s->port, "ms", s->ms,
		      "tries", (json_int_t)s->tries, "ttl",
		      s->ttl ? json_integer(s->ttl) : json_null(), "from",
		      probe_addr_json(&s->from));
	if (s->outcome == PROBE_SEEN_ICMP)
		json_object_set_new(j, "icmp", json_pack("[i, i]", s->icmp_type, s->icmp_code));
	return j;
}

static void tcp_filtering_json(const struct probe_tcp *t, json_t *tcp, json_t *evidence,
			       json_t *reasons)
{
	bool f = t->filtering != PROBE_FILTERING_UNTESTED, m = t->syn_mapped != PROBE_SYN_UNTESTED;

	json_object_set_new(tcp, "filtering", word_or_null(probe_filtering_name(t->filtering), f));
	json_object_set_new(tcp, "unsolicited_syn_mapped",
			    word_or_null(probe_syn_name(t->syn_mapped), m));
	json_object_set_new(tcp, "unsolicited_syn_mapped_ms",
			    m && t->syn_mapped != PROBE_SYN_INCONCLUSIVE &&
				    t->syn_mapped != PROBE_SYN_DROP
				? json_real(t->filtering_seen[1].ms)
				: json_null());
	if (f)
		json_object_set_new(evidence, "filtering",
				    json_pack("{s:o, s:o}", "PA", seen_json(&t->filtering_seen[0]),
					      "AA", seen_json(&t->filtering_seen[1])));
	if (t->filtering_reason[0])
		json_object_set_new(reasons, "filtering", json_string(t->filtering_reason));
	if (t->syn_mapped_reason[0])
		json_object_set_new(reasons, "unsolicited_syn_mapped",
				    json_string(t->syn_mapped_reason));
}

static void tcp_syn_json(const struct probe_tcp *t, json_t *tcp, json_t *evidence, json_t *reasons)
{
	const struct probe_tcp_seen *last = &t->syn_seen[t->syn_seen[1].asked ? 1 : 0];
	bool tested = t->syn != PROBE_SYN_UNTESTED,
	     timed = tested && t->syn != PROBE_SYN_INCONCLUSIVE && t->syn != PROBE_SYN_DROP;

	json_object_set_new(tcp, "unsolicited_syn", word_or_null(probe_syn_name(t->syn), tested));
	json_object_set_new(tcp, "unsolicited_syn_ms", timed ? json_real(last->ms) : json_null());
	json_object_set_new(
	    tcp, "unsolicited_syn_icmp",
	    t->syn == PROBE_SYN_ICMP
		? json_pack("{s:i, s:i}", "type", last->icmp_type, "code", last->icmp_code)
		: json_null());
	if (tested) {
		json_t *ports = json_array();

		for (int i = 0; i < 2; i++)
			if (t->syn_seen[i].asked)
				json_array_append_new(ports, seen_json(&t->syn_seen[i]));
		json_object_set_new(evidence, "unsolicited_syn", ports);
	}
	if (t->syn_reason[0])
		json_object_set_new(reasons, "unsolicited_syn", json_string(t->syn_reason));
}

static void tcp_simopen_json(const struct probe_tcp *t, json_t *tcp, json_t *evidence,
			     json_t *reasons)
{
	json_object_set_new(tcp, "simultaneous_open", bool_or_null(t->simopen));
	if (t->simopen_tested)
		json_object_set_new(
		    evidence, "simultaneous_open",
		    json_pack("{s:i, s:o, s:o, s:s, s:o, s:f}", "trials",
			      (json_int_t)t->simopen_trials, "silent_port",
			      probe_addr_json(&t->simopen_x), "seen_syn",
			      probe_addr_json(&t->simopen_seen_syn), "answer",
			      seen_name(t->simopen_answer), "ttl",
			      t->simopen_ttl ? json_integer(t->simopen_ttl) : json_null(), "ms",
			      t->simopen_ms));
	if (t->simopen_reason[0])
		json_object_set_new(reasons, "simultaneous_open", json_string(t->simopen_reason));
}

static void tcp_icmp_json(const struct probe_tcp *t, json_t *tcp, json_t *evidence, json_t *reasons)
{
	json_object_set_new(tcp, "icmp_translated", bool_or_null(t->icmp_translated));
	json_object_set_new(tcp, "icmp_keeps_connection", bool_or_null(t->icmp_kept));
	if (!t->icmp_tested) {
		json_object_set_new(reasons, "icmp", json_string(t->icmp_reason));
		return;
	}
	json_object_set_new(
	    evidence, "icmp",
	    json_pack("{s:i, s:i, s:o, s:o, s:i, s:i}", "copies", (json_int_t)t->icmp_copies,
		      "trials", (json_int_t)t->icmp_trials, "silent_port",
		      probe_addr_json(&t->icmp_x), "translated_ms",
		      t->icmp_translated == PROBE_YES ? json_real(t->icmp_translated_ms)
						      : json_null(),
		      "connections", (json_int_t)t->icmp_victims, "kept",
		      (json_int_t)t->icmp_victims_kept));
	if (t->icmp_translated_reason[0])
		json_object_set_new(reasons, "icmp_translated",
				    json_string(t->icmp_translated_reason));
	if (t->icmp_kept_reason[0])
		json_object_set_new(reasons, "icmp_keeps_connection",
				    json_string(t->icmp_kept_reason));
}

static void tcp_hold_json(const struct probe_tcp *t, json_t *tcp, json_t *evidence, json_t *reasons)
{
	bool given = t->hold != PROBE_HOLD_INCONCLUSIVE;

	json_object_set_new(tcp, "syn_hold", word_or_null(probe_hold_name(t->hold), given));
	json_object_set_new(tcp, "syn_hold_ms", given ? json_real(t->hold_ms) : json_null());
	if (t->hold_x.ss_family)
		json_object_set_new(
		    evidence, "syn_hold",
		    json_pack("{s:o, s:o}", "from", probe_addr_json(&t->hold_x), "ttl",
			      t->hold_ttl ? json_integer(t->hold_ttl) : json_null()));
	if (t->hold_reason[0])
		json_object_set_new(reasons, "syn_hold", json_string(t->hold_reason));
}

static json_t *seconds_or_null(double s)
{
	return s < 0 ? json_null() : json_real(s);
}

static void idle_json(const char *key, const struct probe_tcp_idle *t, json_t *tcp, json_t *reasons)
{
	static const char *const fates[] = {"-", "alive", "dead", "not known"};
	json_t *checks = json_array();

	if (!t->tested)
		return;
	for (unsigned k = 0; k < t->nchecks; k++)
		json_array_append_new(checks,
				      json_pack("{s:i, s:s}", "idle_s", (json_int_t)t->checks[k],
						"fate", fates[t->fates[k] & 3]));
	json_object_set_new(
	    tcp, key,
	    json_pack("{s:o, s:o, s:i, s:o}", "alive_s", seconds_or_null(t->alive_s), "dead_s",
		      seconds_or_null(t->dead_s), "max_s", (json_int_t)t->max_s, "checks", checks));
	if (t->reason[0])
		json_object_set_new(reasons, key, json_string(t->reason));
}

static void tcp_idle_json(const struct probe_tcp *t, json_t *tcp, json_t *reasons)
{
	idle_json("established_idle", &t->established, tcp, reasons);
	idle_json("transitory_idle", &t->transitory, tcp, reasons);
}

/* REQ-6: null where no answer had both addresses; the rewrite's pair. */
static void tcp_alg_json(const struct probe_tcp *t, json_t *tcp, json_t *evidence, json_t *reasons)
{
	json_object_set_new(tcp, "alg_rewrite", bool_or_null(t->alg));
	if (t->alg == PROBE_YES)
		json_object_set_new(evidence, "alg_rewrite",
				    json_pack("{s:o, s:o}", "mapped_address",
					      probe_addr_json(&t->alg_plain), "xor_mapped_address",
					      probe_addr_json(&t->alg_xor)));
	if (t->alg_reason[0])
		json_object_set_new(reasons, "alg_rewrite", json_string(t->alg_reason));
}

static void tcp_overload_json(const struct probe_tcp *t, json_t *tcp, json_t *evidence,
			      json_t *reasons)
{
	json_object_set_new(tcp, "port_overloading", bool_or_null(t->overloading));
	overload_json(&t->overload_here, &t->overload_peer, &t->overload_after, t->overload_reason,
		      evidence, reasons);
}

static void tcp_hairpin_json(const struct probe_tcp *t, json_t *tcp, json_t *evidence,
			     json_t *reasons)
{
	json_t *ev = json_pack(
	    "{s:o, s:o, s:i, s:[o, o], s:[o, o], s:o, s:o}", "source",
	    source_or_null(t->hairpinning, t->hairpin_source), "seen",
	    probe_addr_json(&t->hairpin_seen), "rounds", (json_int_t)t->hairpin_rounds, "local",
	    probe_addr_json(&t->hairpin_local[0]), probe_addr_json(&t->hairpin_local[1]), "mapped",
	    probe_addr_json(&t->hairpin_mapped[0]), probe_addr_json(&t->hairpin_mapped[1]),
	    "this_host", bool_or_null(t->hairpin_host), "this_host_source",
	    source_or_null(t->hairpin_host, t->hairpin_host_source));

	json_object_set_new(tcp, "hairpinning", bool_or_null(t->hairpinning));
	if (t->hairpin_peer_tested) {
		json_object_set_new(tcp, "hairpinning_peer", bool_or_null(t->hairpin_peer));
		json_object_set_new(ev, "between_hosts", bool_or_null(t->hairpin_peer));
		json_object_set_new(ev, "between_hosts_source",
				    source_or_null(t->hairpin_peer, t->hairpin_peer_source));
		json_object_set_new(ev, "between_hosts_seen",
				    probe_addr_json(&t->hairpin_peer_seen));
		json_object_set_new(ev, "between_hosts_rounds",
				    json_integer((json_int_t)t->hairpin_peer_rounds));
		if (t->hairpin_peer_reason[0])
			json_object_set_new(reasons, "hairpinning_peer",
					    json_string(t->hairpin_peer_reason));
	}
	json_object_set_new(evidence, "hairpinning", ev);
	if (t->hairpin_reason[0])
		json_object_set_new(reasons, "hairpinning", json_string(t->hairpin_reason));
}

static json_t *tcp_json(const struct probe_tcp *t)
{
	static const char *const roles[4] = {"PP", "PA", "AP", "AA"};
	json_t *tcp = json_object(), *reasons = json_object(), *evidence = json_object();

	json_object_set_new(tcp, "local", probe_addr_json(&t->local));
	json_object_set_new(tcp, "mapped", probe_addr_json(&t->mapped));
	if (t->mapping != PROBE_MAPPING_UNTESTED) {
		json_t *seen = json_object();

		json_object_set_new(tcp, "mapping", json_string(probe_mapping_name(t->mapping)));
		for (int role = 0; role < 4; role++)
			json_object_set_new(seen, roles[role],
					    probe_addr_json(&t->mapping_seen[role]));
		json_object_set_new(evidence, "mapping", seen);
		if (t->mapping_reason[0])
			json_object_set_new(reasons, "mapping", json_string(t->mapping_reason));
		tcp_alg_json(t, tcp, evidence, reasons);
	}
	if (t->port_pattern != PROBE_PORTS_UNTESTED) {
		json_object_set_new(
		    tcp, "port_allocation",
		    json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "pattern",
			      probe_ports_name(t->port_pattern), "delta",
			      t->port_pattern == PROBE_PORTS_SEQUENTIAL
				  ? json_integer(t->port_delta)
				  : json_null(),
			      "parity_preserved", bool_or_null(t->port_parity), "predictability",
			      json_real(t->port_predictability), "samples",
			      ports_json(t->port_samples, t->port_nsamples), "local_ports",
			      ports_json(t->port_locals, t->port_nsamples)));
		if (t->port_reason[0])
			json_object_set_new(reasons, "port_allocation",
					    json_string(t->port_reason));
	}
	if (t->filtering != PROBE_FILTERING_UNTESTED || t->filtering_reason[0])
		tcp_filtering_json(t, tcp, evidence, reasons);
	if (t->syn != PROBE_SYN_UNTESTED || t->syn_reason[0])
		tcp_syn_json(t, tcp, evidence, reasons);
	if (t->simopen_tested || t->simopen_reason[0])
		tcp_simopen_json(t, tcp, evidence, reasons);
	if (t->hairpin_tested)
		tcp_hairpin_json(t, tcp, evidence, reasons);
	if (t->overload_tested)
		tcp_overload_json(t, tcp, evidence, reasons);
	if (t->icmp_tested || t->icmp_reason[0])
		tcp_icmp_json(t, tcp, evidence, reasons);
	if (t->hold != PROBE_HOLD_UNTESTED)
		tcp_hold_json(t, tcp, evidence, reasons);
	if (t->established.tested || t->transitory.tested)
		tcp_idle_json(t, tcp, reasons);
	if (t->baseline_ttl)
		json_object_set_new(evidence, "baseline_ttl", json_integer(t->baseline_ttl));
	json_object_set_new(tcp, "duration_ms", json_real((double)t->duration_us / 1000.0));
	json_object_set_new(tcp, "evidence", evidence);
	json_object_set_new(tcp, "reasons", reasons);
	return tcp;
}

/* The second host: as given, the address used, and whether it answered. */
static json_t *peer_json(const struct probe_meta *m)
{
	char a[ADDR_STRLEN];

	return json_pack("{s:s?, s:s, s:b}", "given", m->peer_given, "address",
			 addr_format(m->peer, a, sizeof(a)), "reached", m->peer_reached);
}

int probe_report_json(FILE *out, const struct probe_result *r, const struct probe_meta *m)
{
	json_t *rec = json_object();
	int rc;

	json_object_set_new(rec, "schema", json_string("natlab.result/1"));
	json_object_set_new(rec, "tool",
			    json_pack("{s:s, s:s}", "name", "natprobe", "version", m->version));
	if (m->run_id)
		json_object_set_new(rec, "run_id", json_string(m->run_id));
	if (m->label)
		json_object_set_new(rec, "label", json_string(m->label));
	if (m->ntags) {
		json_t *tags = json_object();

		for (size_t i = 0; i < m->ntags; i++)
			json_object_set_new(tags, m->tag_name[i], json_string(m->tag_value[i]));
		json_object_set_new(rec, "tags", tags);
	}
	json_object_set_new(rec, "started", json_string(m->started));
	json_object_set_new(rec, "duration_ms", json_integer((json_int_t)(r->duration_us / 1000)));
	json_object_set_new(rec, "reflector",
			    json_pack("{s:o, s:o, s:s?}", "primary", probe_addr_json(&r->primary),
				      "alternate", probe_addr_json(&r->alternate), "given",
				      m->server_given));
	if (m->peer)
		json_object_set_new(rec, "peer", peer_json(m));
	json_object_set_new(rec, "local", probe_addr_json(&r->local));
	json_object_set_new(rec, "udp", udp_json(r));
	if (r->tcp_tested)
		json_object_set_new(rec, "tcp", tcp_json(&r->tcp));
	probe_report_depth_json(rec, r);
	json_object_set_new(rec, "packets",
			    json_pack("{s:i, s:i}", "sent", (json_int_t)r->sends, "answers",
				      (json_int_t)r->answers));
	/* One record per line: many runs make a JSON Lines file. */
	rc = json_dumpf(rec, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(rec);
	return rc;
}
