/*
 * The whole result, checked before it is written (result.h): verdicts that
 * cannot both be true, and the exit status rule. Pure: a result in, a
 * result or a list of names out.
 *
 * Each test decides from its own packets; two tests can still disagree,
 * for instance when the host changed internal endpoint between them or a
 * NAT changed its mind. The packets taken together then justify neither
 * verdict, so both become inconclusive and the contradiction is kept for
 * people to look into: a wrong verdict is the worst outcome natlab has.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/result.h"

/* ---- making a verdict inconclusive, one setter per verdict ---- */

static void reason(char *dst, const char *why)
{
	snprintf(dst, PROBE_REASON_LEN, "contradiction: %s", why);
}

static void open_nat(struct probe_result *r, const char *why)
{
	r->nat = PROBE_UNKNOWN;
	reason(r->nat_reason, why);
}

static void open_mapping(struct probe_result *r, const char *why)
{
	r->mapping = PROBE_MAPPING_INCONCLUSIVE;
	reason(r->mapping_reason, why);
}

static void open_ports(struct probe_result *r, const char *why)
{
	r->port_pattern = PROBE_PORTS_INCONCLUSIVE;
	reason(r->port_reason, why);
}

static void open_dest(struct probe_result *r, const char *why)
{
	r->dest_pattern = PROBE_DEST_INCONCLUSIVE;
	reason(r->dest_reason, why);
}

static void open_pooling(struct probe_result *r, const char *why)
{
	r->pooling = PROBE_POOLING_INCONCLUSIVE;
	r->pooling_by_design = false;
	reason(r->pooling_reason, why);
}

static void open_overloading(struct probe_result *r, const char *why)
{
	r->overloading = PROBE_UNKNOWN;
	reason(r->overload_reason, why);
}

static void open_hairpinning(struct probe_result *r, const char *why)
{
	r->hairpinning = PROBE_UNKNOWN;
	r->hairpin_source[0] = '\0';
	reason(r->hairpin_reason, why);
}

/* ---- the contradictions ---- */

static bool dependent_mapping(const struct probe_result *r)
{
	return r->mapping == PROBE_MAPPING_EI || r->mapping == PROBE_MAPPING_AD ||
	       r->mapping == PROBE_MAPPING_APD;
}

static bool pool_decided(const struct probe_result *r)
{
	return r->pooling == PROBE_POOLING_ARBITRARY || r->pooling == PROBE_POOLING_PAIRED;
}

static bool no_nat_yet_mapped(const struct probe_result *r)
{
	return r->nat == PROBE_NO && dependent_mapping(r);
}

static bool nat_yet_unmapped(const struct probe_result *r)
{
	return r->nat == PROBE_YES && r->mapping == PROBE_MAPPING_NONE;
}

static bool no_nat_yet_pooled(const struct probe_result *r)
{
	return r->nat == PROBE_NO && pool_decided(r);
}

/* The host's own address among the public addresses a pool gave. */
static bool own_address_pooled(const struct probe_result *r)
{
	if (r->nat != PROBE_YES || !pool_decided(r) || !r->local.ss_family)
		return false;
	for (unsigned i = 0; i < r->npool; i++)
		if (addr_same_ip((const struct sockaddr *)&r->pool[i],
				 (const struct sockaddr *)&r->local))
			return true;
	return false;
}

static bool no_nat_yet_ports_moved(const struct probe_result *r)
{
	return r->nat == PROBE_NO &&
	       (r->port_pattern == PROBE_PORTS_SEQUENTIAL || r->port_pattern == PROBE_PORTS_RANDOM);
}

static bool no_nat_yet_overloaded(const struct probe_result *r)
{
	return r->nat == PROBE_NO && r->overloading == PROBE_YES;
}

static bool no_nat_yet_hairpinned(const struct probe_result *r)
{
	return r->nat == PROBE_NO && r->hairpinning == PROBE_YES;
}

/* RFC 4787 4.1: one mapping for every destination, yet one socket got
 * several public ports toward the four endpoints; or the reverse. */
static bool ei_yet_ports_per_destination(const struct probe_result *r)
{
	return r->mapping == PROBE_MAPPING_EI &&
	       (r->dest_pattern == PROBE_DEST_SEQUENTIAL || r->dest_pattern == PROBE_DEST_RANDOM);
}

static bool dependent_yet_one_port(const struct probe_result *r)
{
	return (r->mapping == PROBE_MAPPING_AD || r->mapping == PROBE_MAPPING_APD) &&
	       r->dest_pattern == PROBE_DEST_SAME;
}

struct rule {
	bool (*holds)(const struct probe_result *r);
	void (*open_a)(struct probe_result *r, const char *why);
	void (*open_b)(struct probe_result *r, const char *why);
	const char *what;
};

static const struct rule rules[] = {
    {no_nat_yet_mapped, open_nat, open_mapping,
     "nat no (mapped = local), yet the mapping test saw its socket mapped"},
    {nat_yet_unmapped, open_nat, open_mapping,
     "nat yes, yet the mapping test's socket kept its own address toward every endpoint"},
    {no_nat_yet_pooled, open_nat, open_pooling,
     "nat no, yet several public addresses: a pool of the host's own addresses"},
    {own_address_pooled, open_nat, open_pooling,
     "nat yes, yet the host's own address is among the public addresses"},
    {no_nat_yet_ports_moved, open_nat, open_ports,
     "nat no, yet fresh sockets were given other public ports than their own"},
    {no_nat_yet_overloaded, open_nat, open_overloading,
     "nat no, yet two hosts' endpoints were given one public endpoint"},
    {no_nat_yet_hairpinned, open_nat, open_hairpinning,
     "nat no, yet a packet came back through a NAT's public endpoint"},
    {ei_yet_ports_per_destination, open_mapping, open_dest,
     "endpoint-independent mapping, yet one socket got another public port per endpoint"},
    {dependent_yet_one_port, open_mapping, open_dest,
     "a dependent mapping, yet one socket kept one public port toward all four endpoints"},
};

void probe_result_reconcile(struct probe_result *r)
{
	enum { NRULES = sizeof(rules) / sizeof(rules[0]) };
	bool holds[NRULES];

	/* Every rule judges the verdicts as the tests gave them: unsettling one
	 * pair must not hide another contradiction with the same verdict. */
	for (size_t i = 0; i < NRULES; i++)
		holds[i] = rules[i].holds(r);
	for (size_t i = 0; i < NRULES; i++) {
		if (!holds[i])
			continue;
		rules[i].open_a(r, rules[i].what);
		rules[i].open_b(r, rules[i].what);
		if (r->ncontradictions < PROBE_MAX_CONTRADICTIONS)
			snprintf(r->contradiction[r->ncontradictions++], PROBE_REASON_LEN, "%s",
				 rules[i].what);
	}
}

/* ---- the exit status rule ---- */

size_t probe_result_open(const struct probe_result *r, const char **names, size_t max)
{
	/* Hairpinning, pooling, overloading and lifetimes are a NAT's. */
	bool applies = r->nat != PROBE_NO;
	const struct {
		bool open;
		const char *name;
	} verdicts[] = {
	    {r->nat == PROBE_UNKNOWN && r->nat_reason[0], "nat"},
	    {r->mapping == PROBE_MAPPING_INCONCLUSIVE, "mapping"},
	    {r->filtering == PROBE_FILTERING_INCONCLUSIVE, "filtering"},
	    {r->port_pattern == PROBE_PORTS_INCONCLUSIVE, "port_allocation"},
	    {r->pooling == PROBE_POOLING_INCONCLUSIVE && applies && !r->pooling_by_design,
	     "pooling"},
	    {r->hairpin_tested && r->hairpinning == PROBE_UNKNOWN && applies, "hairpinning"},
	    {r->overload_tested && r->overloading == PROBE_UNKNOWN && applies, "port_overloading"},
	    {r->lifetime_tested && applies &&
		 (!r->lifetime_outbound.known || !r->lifetime_bidirectional.known),
	     "binding_lifetime"},
	    {r->keepalive_tested && r->keepalive.hop < 0 && applies && !r->keepalive_no_nat,
	     "keepalive.hop"},
	    {r->tcp.mapping == PROBE_MAPPING_INCONCLUSIVE, "tcp.mapping"},
	    {r->tcp.port_pattern == PROBE_PORTS_INCONCLUSIVE, "tcp.port_allocation"},
	    {r->tcp.filtering == PROBE_FILTERING_INCONCLUSIVE, "tcp.filtering"},
	    {r->tcp.syn == PROBE_SYN_INCONCLUSIVE, "tcp.unsolicited_syn"},
	    {r->tcp.syn_mapped == PROBE_SYN_INCONCLUSIVE, "tcp.unsolicited_syn_mapped"},
	    {r->tcp.simopen_tested && r->tcp.simopen == PROBE_UNKNOWN, "tcp.simultaneous_open"},
	    /* Without a session (no simultaneous-open or filtering verdict) TCP
	     * hairpinning can only be seen, never ruled out: not counted. */
	    {r->tcp.hairpin_tested && r->tcp.hairpinning == PROBE_UNKNOWN &&
		 r->tcp.mapping != PROBE_MAPPING_NONE &&
		 (r->tcp.simopen_tested || r->tcp.filtering != PROBE_FILTERING_UNTESTED),
	     "tcp.hairpinning"},
	    {r->tcp.overload_tested && r->tcp.overloading == PROBE_UNKNOWN &&
		 r->tcp.mapping != PROBE_MAPPING_NONE,
	     "tcp.port_overloading"},
	    {r->tcp.icmp_tested && r->tcp.icmp_translated == PROBE_UNKNOWN, "tcp.icmp_translated"},
	    {r->tcp.icmp_tested && r->tcp.icmp_kept == PROBE_UNKNOWN, "tcp.icmp_keeps_connection"},
	    {r->tcp.hold == PROBE_HOLD_INCONCLUSIVE, "tcp.syn_hold"},
	    {r->tcp.established.tested && r->tcp.established.alive_s < 0 &&
		 r->tcp.established.dead_s < 0,
	     "tcp.established_idle"},
	    {r->tcp.transitory.tested && r->tcp.transitory.alive_s < 0 &&
		 r->tcp.transitory.dead_s < 0,
	     "tcp.transitory_idle"},
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		if (verdicts[i].open) {
			if (n < max)
				names[n] = verdicts[i].name;
			n++;
		}
	return n;
}
