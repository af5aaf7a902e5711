/*
 * The requirement table and its judges. Each judge reads only verdicts a
 * test reached: null, "inconclusive" or an absent key leave the
 * requirement untested, with the reason; no NAT leaves NAT requirements
 * untested too (there is nothing to judge).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/compliance.h"

/* The why of a mark, unless nobody reads it (why NULL: a survey's count). */
static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* A verdict that was reached: not absent, null or inconclusive. */
static bool reached(const struct nr_row *row, enum nr_key k, char *why, size_t len)
{
	const char *v = row->value[k];

	if (!v[0])
		say(why, len, "not in the record (%s untested)", nr_keys[k].title);
	else if (!strcmp(v, "null") || !strcmp(v, "inconclusive"))
		say(why, len, "%s not reached%s%s", nr_keys[k].title,
		    row->evidence[k][0] ? ": " : "", row->evidence[k]);
	else if (!strcmp(row->value[NR_NAT], "false"))
		say(why, len, "no NAT");
	else
		return true;
	return false;
}

/* Pass when the value is one of pass (|-separated), fail otherwise. */
static enum nr_mark among(const struct nr_row *row, enum nr_key k, const char *pass, char *why,
			  size_t len)
{
	char want[96], have[NR_VALUE_LEN + 2];

	if (!reached(row, k, why, len))
		return NR_UNTESTED;
	snprintf(want, sizeof(want), "|%s|", pass);
	snprintf(have, sizeof(have), "|%s|", row->value[k]);
	say(why, len, "%s: %s", nr_keys[k].title, row->value[k]);
	return strstr(want, have) ? NR_PASS : NR_FAIL;
}

static enum nr_mark udp_pooling(const struct nr_row *r, char *why, size_t len)
{
	/* One address is no pool: paired or arbitrary are the only words to judge. */
	if (reached(r, NR_POOLING, why, len) && strcmp(r->value[NR_POOLING], "paired") &&
	    strcmp(r->value[NR_POOLING], "arbitrary")) {
		say(why, len, "pooling: %s", r->value[NR_POOLING]);
		return NR_UNTESTED;
	}
	return among(r, NR_POOLING, "paired", why, len);
}

/* REQ-5: not under two minutes. Alive after 120 s passes; dead at or before
 * it fails; a bound that decides neither leaves it untested. */
static enum nr_mark udp_lifetime(const struct nr_row *r, char *why, size_t len)
{
	double alive = r->alive_s[0], dead = r->dead_s[0];

	if (!reached(r, NR_LIFETIME, why, len) && alive < 0)
		return NR_UNTESTED;
	if (!strcmp(r->value[NR_NAT], "false"))
		return NR_UNTESTED;
	if (alive >= 120) {
		say(why, len, "outbound-only mapping alive after %.1f s idle", alive);
		return NR_PASS;
	}
	if (dead >= 0 && dead <= 120) {
		say(why, len, "outbound-only mapping dead after %.1f s idle", dead);
		return NR_FAIL;
	}
	say(why, len, "the longest trial (%.1f s) was under two minutes", alive);
	return NR_UNTESTED;
}

static enum nr_mark udp_hairpin_source(const struct nr_row *r, char *why, size_t len)
{
	if (reached(r, NR_HAIRPINNING, why, len) && strcmp(r->value[NR_HAIRPINNING], "true")) {
		say(why, len, "no hairpinning to judge");
		return NR_UNTESTED;
	}
	return among(r, NR_HAIRPIN_SOURCE, "external", why, len);
}

/* REQ-4: no answer to an unsolicited SYN for 6 s. A SYN passed to the host
 * was permitted, and a drop keeps the MUST; a RST answers it; an ICMP error
 * keeps it only when it came 6 s or more after the SYN. */
static enum nr_mark tcp_syn(const struct nr_row *r, char *why, size_t len)
{
	const char *hold = r->value[NR_TCP_SYN_HOLD];

	/* The hold test (opt-in), where it ran: the NAT's own answer to a SYN at
	 * a mapping within 6 s fails; held, with our SYN through after, passes
	 * unless the unused port's answer fails it below. */
	if ((!strcmp(hold, "rst") || !strcmp(hold, "icmp")) && r->hold_ms >= 0 &&
	    r->hold_ms < 6000) {
		say(why, len, "a SYN to a mapping: the NAT's %s after %.0f ms", hold, r->hold_ms);
		return NR_FAIL;
	}
	if (!reached(r, NR_TCP_SYN, why, len) || strcmp(r->value[NR_TCP_SYN], "icmp"))
		return among(r, NR_TCP_SYN, "drop|pass", why, len);
	if (r->syn_ms < 0) {
		say(why, len, "an ICMP error, but the record does not say after how long");
		return NR_UNTESTED;
	}
	say(why, len, "an ICMP error after %.0f ms", r->syn_ms);
	return r->syn_ms >= 6000 ? NR_PASS : NR_FAIL;
}

/* REQ-5 (tcp-lifetime, opt-in): an idle established connection kept
 * 2 h 4 min, a half-closed one 4 min. Either dead sooner fails; both alive
 * past their floors passes; anything less judges nothing. */
static enum nr_mark tcp_idle(const struct nr_row *r, char *why, size_t len)
{
	if (!strcmp(r->value[NR_NAT], "false")) {
		say(why, len, "no NAT");
		return NR_UNTESTED;
	}
	if (r->idle_dead_s >= 0 && r->idle_dead_s <= 7440) {
		say(why, len, "an established connection dropped after %.0f s idle",
		    r->idle_dead_s);
		return NR_FAIL;
	}
	if (r->transitory_dead_s >= 0 && r->transitory_dead_s <= 240) {
		say(why, len, "a half-closed connection dropped after %.0f s idle",
		    r->transitory_dead_s);
		return NR_FAIL;
	}
	if (r->idle_alive_s >= 7440 && r->transitory_alive_s >= 240) {
		say(why, len, "alive after %.0f s idle established, %.0f s half-closed",
		    r->idle_alive_s, r->transitory_alive_s);
		return NR_PASS;
	}
	if (r->idle_alive_s >= 0 || r->transitory_alive_s >= 0)
		say(why, len,
		    "alive as long as measured, short of 2 h 4 min established and 4 min "
		    "half-closed (--tcp-lifetime=7440)");
	else
		say(why, len, "not in the record (natprobe --tcp-lifetime=7440 measures it)");
	return NR_UNTESTED;
}

/* REQ-6: a rewrite of the reflector's plain MAPPED-ADDRESS in a TCP answer
 * is an ALG at work on the reflector's port, so a fail. None seen passes
 * nothing: ALGs bound to other ports (SIP's, H.323's) cannot be seen. */
static enum nr_mark tcp_alg(const struct nr_row *r, char *why, size_t len)
{
	if (!strcmp(r->value[NR_TCP_ALG], "true")) {
		say(why, len, "the reflector's MAPPED-ADDRESS arrived rewritten over TCP: an ALG");
		return NR_FAIL;
	}
	if (!strcmp(r->value[NR_TCP_ALG], "false"))
		say(why, len,
		    "no rewrite of the reflector's TCP answers; ALGs on other ports cannot be "
		    "seen");
	else
		say(why, len, "not in the record (natprobe's tcp-mapping measures it)");
	return NR_UNTESTED;
}

/* A judge, or a key and the values that pass (|-separated), or neither:
 * no natprobe test measures it. */
const struct nr_requirement nr_requirements[] = {
    {"4787", "REQ-1", "MUST", "endpoint-independent mapping", NR_MAPPING, "endpoint-independent",
     NULL},
    {"4787", "REQ-2", "RECOMMENDED", "paired address pooling", NR_POOLING, NULL, udp_pooling},
    {"4787", "REQ-3", "MUST NOT", "port overloading", NR_OVERLOADING, "false", NULL},
    {"4787", "REQ-4", "RECOMMENDED", "port parity kept", NR_PARITY, "true", NULL},
    {"4787", "REQ-5", "MUST", "mapping timer of at least two minutes", NR_LIFETIME, NULL,
     udp_lifetime},
    {"4787", "REQ-6", "MUST", "outbound traffic refreshes a mapping", NR_NKEYS, NULL, NULL},
    {"4787", "REQ-7", "MUST", "inside and outside address conflicts handled", NR_NKEYS, NULL, NULL},
    {"4787", "REQ-8", "RECOMMENDED", "endpoint-independent or address-dependent filtering",
     NR_FILTERING, "endpoint-independent|address-dependent", NULL},
    {"4787", "REQ-9", "MUST", "hairpinning", NR_HAIRPINNING, "true", NULL},
    {"4787", "REQ-9a", "MUST", "hairpinned packets carry the external source", NR_HAIRPIN_SOURCE,
     NULL, udp_hairpin_source},
    {"4787", "REQ-10", "SHOULD", "UDP ALGs off", NR_NKEYS, NULL, NULL},
    {"4787", "REQ-11", "MUST", "deterministic behaviour", NR_NKEYS, NULL, NULL},
    {"4787", "REQ-12", "MUST", "ICMP never ends a mapping", NR_NKEYS, NULL, NULL},
    {"4787", "REQ-13", "MUST", "ICMP 'fragmentation needed' for DF packets", NR_NKEYS, NULL, NULL},
    {"4787", "REQ-14", "MUST", "fragments received out of order", NR_NKEYS, NULL, NULL},
    {"5382", "REQ-1", "MUST", "endpoint-independent mapping for TCP", NR_TCP_MAPPING,
     "endpoint-independent", NULL},
    {"5382", "REQ-2", "MUST", "every valid TCP sequence, simultaneous open too", NR_TCP_SIMOPEN,
     "true", NULL},
    {"5382", "REQ-3", "RECOMMENDED", "endpoint-independent or address-dependent filtering for TCP",
     NR_TCP_FILTERING, "endpoint-independent|address-dependent", NULL},
    {"5382", "REQ-4", "MUST", "no answer to an unsolicited SYN for 6 s", NR_TCP_SYN, NULL, tcp_syn},
    {"5382", "REQ-5", "MUST", "idle timeouts: established 2 h 4 min, transitory 4 min", NR_NKEYS,
     NULL, tcp_idle},
    {"5382", "REQ-6", "RECOMMENDED", "TCP ALGs (but FTP's) off by default", NR_TCP_ALG, NULL,
     tcp_alg},
    {"5382", "REQ-7", "MUST NOT", "port overloading for TCP", NR_TCP_OVERLOADING, "false", NULL},
    {"5382", "REQ-8", "MUST", "hairpinning for TCP", NR_TCP_HAIRPINNING, "true", NULL},
    {"5382", "REQ-9", "SHOULD", "ICMP destination unreachable translated", NR_TCP_ICMP, "true",
     NULL},
    {"5382", "REQ-10", "MUST", "ICMP never ends a mapping or connection", NR_TCP_ICMP_KEPT, "true",
     NULL},
};
const size_t nr_nrequirements = sizeof(nr_requirements) / sizeof(nr_requirements[0]);

const char *nr_mark_name(enum nr_mark m)
{
	static const char *const names[NR_NMARKS] = {"untested", "pass", "fail"};

	return m < NR_NMARKS ? names[m] : "?";
}

enum nr_mark nr_judge(size_t i, const struct nr_row *row, char *why, size_t len)
{
	if (why && len)
		why[0] = '\0';
	if (i >= nr_nrequirements)
		return NR_UNTESTED;
	if (nr_requirements[i].judge)
		return nr_requirements[i].judge(row, why, len);
	if (nr_requirements[i].pass)
		return among(row, nr_requirements[i].key, nr_requirements[i].pass, why, len);
	say(why, len, "no natprobe test measures it");
	return NR_UNTESTED;
}
