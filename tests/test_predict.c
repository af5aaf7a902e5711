/*
 * The prediction for two probes behind one public address (probe/predict.c,
 * predict_one_address): one NAT, or nested NATs behind one outer NAT. The
 * pairs behind two NATs are proven cell by cell on the simulated network
 * (test_punch.c); these rules rest on hairpinning and on whether the two
 * hosts share a network, which the labs show (tests/punch.sh: masq same,
 * cgn-homes, cgn-homes-hairpin).
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "probe/predict.h"
#include "testlib.h"

static enum predict_expect one(enum predict_technique t, bool private_first, bool lan,
			       enum probe_bool hairpin)
{
	return predict_one_address(t, private_first, lan, hairpin).expect;
}

static void test_one_address(void)
{
	/* The relay never needs the NAT. */
	CU_ASSERT_EQUAL(one(PREDICT_RELAY, false, false, PROBE_NO), PREDICT_WORKS);
	/* Own endpoints on one network: the private technique works, whatever
	 * the NAT does; the public one does not use them. */
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, true, true, PROBE_NO), PREDICT_WORKS);
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, false, true, PROBE_NO), PREDICT_DEPENDS);
	/* Hairpinning seen: the public endpoints reach each other. */
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, false, false, PROBE_YES), PREDICT_WORKS);
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, true, false, PROBE_YES), PREDICT_WORKS);
	/* None seen, or not known: a nested NAT's filter may have hidden it,
	 * so never "fails". */
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, false, false, PROBE_NO), PREDICT_DEPENDS);
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, true, false, PROBE_UNKNOWN),
			PREDICT_DEPENDS);
	CU_ASSERT_EQUAL(one(PREDICT_CONNECTION_REVERSAL, false, true, PROBE_YES), PREDICT_DEPENDS);
	/* Every answer says why. */
	CU_ASSERT_PTR_NOT_NULL(
	    predict_one_address(PREDICT_UDP_HOLE_PUNCHING, false, false, PROBE_NO).reason);
}

/* The other probe's four class bytes: known values read as sent; a value
 * past the last this build knows reads as inconclusive, and the rules then
 * say "depends" where the sent behaviour would have judged. */
static void test_from_wire(void)
{
	const uint8_t ok[4] = {PROBE_MAPPING_APD, PROBE_FILTERING_APD, PROBE_PORTS_RANDOM, 0};
	const uint8_t odd[4] = {PROBE_MAPPING_INCONCLUSIVE + 1, 200, 255, 7};
	struct predict_side a = predict_side_from_wire(ok), b = predict_side_from_wire(odd);
	struct predict_side ei = {PROBE_MAPPING_EI, PROBE_FILTERING_APD, PROBE_PORTS_PRESERVING, 0};

	CU_ASSERT_EQUAL(a.mapping, PROBE_MAPPING_APD);
	CU_ASSERT_EQUAL(a.filtering, PROBE_FILTERING_APD);
	CU_ASSERT_EQUAL(a.ports, PROBE_PORTS_RANDOM);
	CU_ASSERT_EQUAL(predict_technique(PREDICT_UDP_HOLE_PUNCHING, &ei, &a).expect,
			PREDICT_FAILS);
	CU_ASSERT_EQUAL(b.mapping, PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(b.filtering, PROBE_FILTERING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(b.ports, PROBE_PORTS_INCONCLUSIVE);
	CU_ASSERT_EQUAL(b.delta, 7u);
	CU_ASSERT_EQUAL(predict_technique(PREDICT_UDP_HOLE_PUNCHING, &ei, &b).expect,
			PREDICT_DEPENDS);
}

/* A NAT side for the TCP rules: Linux's masquerade as measured (EI
 * mapping, APD filtering, RST to an unsolicited SYN, SYNs may cross, ICMP
 * errors end nothing), changed by the caller. */
static struct predict_tcp_side masq(void)
{
	return (struct predict_tcp_side){
	    {PROBE_MAPPING_EI, PROBE_FILTERING_APD, PROBE_PORTS_PRESERVING, 0},
	    PROBE_SYN_RST,
	    PROBE_YES,
	    PROBE_YES};
}

static enum predict_expect tcp(struct predict_tcp_side a, struct predict_tcp_side b, bool low)
{
	enum predict_expect e =
	    predict_tcp_technique(PREDICT_TCP_SIMULTANEOUS_OPEN, &a, &b, low).expect;

	/* The rules are symmetric. */
	CU_ASSERT_EQUAL(e,
			predict_tcp_technique(PREDICT_TCP_SIMULTANEOUS_OPEN, &b, &a, low).expect);
	return e;
}

/* Rule 7 cell by cell: the two masquerades (measured: works with the
 * opening TTL, a race without); NATs that drop unsolicited SYNs; dependent
 * mappings behind port-dependent filters; a NAT that does not let SYNs
 * cross; one that ends connections on ICMP errors; no NAT; not known. */
static void test_tcp_rules(void)
{
	struct predict_tcp_side a = masq(), b = masq(), none = masq();

	CU_ASSERT_EQUAL(tcp(a, b, true), PREDICT_WORKS);
	CU_ASSERT_EQUAL(tcp(a, b, false), PREDICT_DEPENDS);
	a.syn = b.syn = PROBE_SYN_DROP;
	CU_ASSERT_EQUAL(tcp(a, b, false), PREDICT_WORKS);
	a.syn = PROBE_SYN_ICMP;
	CU_ASSERT_EQUAL(tcp(a, b, false), PREDICT_DEPENDS);
	CU_ASSERT_EQUAL(tcp(a, b, true), PREDICT_WORKS);
	a = b = masq();
	a.base.mapping = b.base.mapping = PROBE_MAPPING_APD;
	CU_ASSERT_EQUAL(tcp(a, b, true), PREDICT_FAILS);
	b.base.mapping = PROBE_MAPPING_EI;
	CU_ASSERT_EQUAL(tcp(a, b, true), PREDICT_FAILS); /* b's filter is port-dependent */
	b.base.filtering = PROBE_FILTERING_EI;
	CU_ASSERT_EQUAL(tcp(a, b, true), PREDICT_WORKS);
	a = b = masq();
	b.simopen = PROBE_NO;
	CU_ASSERT_EQUAL(tcp(a, b, true), PREDICT_DEPENDS);
	b = masq();
	b.icmp_kept = PROBE_NO;
	CU_ASSERT_EQUAL(tcp(a, b, true), PREDICT_DEPENDS);
	b.icmp_kept = PROBE_UNKNOWN; /* not measured: not assumed either way */
	CU_ASSERT_EQUAL(tcp(a, b, true), PREDICT_DEPENDS);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(predict_tcp_technique(PREDICT_TCP_SIMULTANEOUS_OPEN, &a, &b, true).reason,
		   "not known"));
	b.syn = a.syn = PROBE_SYN_DROP; /* nothing draws a time exceeded that matters */
	CU_ASSERT_EQUAL(tcp(a, b, false), PREDICT_WORKS);
	/* No NAT: its SYN answers and simultaneous open do not count. */
	none.base = (struct predict_side){PROBE_MAPPING_NONE, PROBE_FILTERING_EI,
					  PROBE_PORTS_PRESERVING, 0};
	none.syn = PROBE_SYN_UNTESTED;
	none.simopen = none.icmp_kept = PROBE_UNKNOWN;
	CU_ASSERT_EQUAL(tcp(none, none, false), PREDICT_WORKS);
	CU_ASSERT_EQUAL(tcp(none, masq(), true), PREDICT_WORKS);
	CU_ASSERT_EQUAL(tcp(none, masq(), false), PREDICT_DEPENDS);
	a = masq();
	a.syn = PROBE_SYN_UNTESTED;
	CU_ASSERT_EQUAL(tcp(a, masq(), true), PREDICT_DEPENDS);
	a = masq();
	a.simopen = PROBE_UNKNOWN;
	CU_ASSERT_EQUAL(tcp(a, masq(), true), PREDICT_DEPENDS);
	/* Reversal over TCP: a side whose NAT takes an unsolicited SYN. */
	a = b = masq();
	CU_ASSERT_EQUAL(predict_tcp_technique(PREDICT_CONNECTION_REVERSAL, &a, &b, true).expect,
			PREDICT_FAILS);
	b.base.filtering = PROBE_FILTERING_EI;
	CU_ASSERT_EQUAL(predict_tcp_technique(PREDICT_CONNECTION_REVERSAL, &a, &b, false).expect,
			PREDICT_WORKS);
	/* The relay over TCP is the relay. */
	CU_ASSERT_EQUAL(predict_tcp_technique(PREDICT_RELAY, &a, &b, true).expect, PREDICT_WORKS);
}

/* NATLAB-TCP-CLASS's eight bytes both ways; a value this build does not
 * know reads as inconclusive, and the rule then says depends. */
static void test_tcp_wire(void)
{
	struct predict_tcp_side a = masq(), back;
	uint8_t wire[PREDICT_TCP_WIRE_LEN];

	a.base.ports = PROBE_PORTS_SEQUENTIAL;
	a.base.delta = 2;
	predict_tcp_side_to_wire(&a, wire);
	back = predict_tcp_side_from_wire(wire);
	CU_ASSERT_TRUE(back.base.mapping == a.base.mapping &&
		       back.base.filtering == a.base.filtering && back.base.ports == a.base.ports &&
		       back.base.delta == 2 && back.syn == a.syn && back.simopen == a.simopen &&
		       back.icmp_kept == a.icmp_kept);
	wire[4] = 200;
	back = predict_tcp_side_from_wire(wire);
	CU_ASSERT_EQUAL(back.syn, PROBE_SYN_INCONCLUSIVE);
	CU_ASSERT_EQUAL(tcp(back, masq(), true), PREDICT_DEPENDS);
	wire[4] = (uint8_t)PROBE_SYN_RST;
	wire[5] = 9;
	CU_ASSERT_EQUAL(predict_tcp_side_from_wire(wire).simopen, PROBE_UNKNOWN);
}

/* The port-mapping technique (probe/predictpm.c), each lab's side. */
static const struct predict_portmap pm_upnp = {true, true, true, 1, false, 1, 40000};
static const struct predict_portmap pm_none = {true, false, false, 1, false, 0, 0};
/* upnp-cgn-naive: granted at its 100.64 address, behind a CGN. */
static const struct predict_portmap pm_naive = {true, true, false, 2, true, 1, 40000};
/* A STUN-taught gateway behind a full-cone CGN: the public address, the
 * depth unknown (the methods disagreed), the CGN's hop seen. */
static const struct predict_portmap pm_stun_cgn = {true, true, true, -1, true, 2, 40000};
static const struct predict_portmap pm_unknown = {0};

static void test_port_mapping(void)
{
	CU_ASSERT_EQUAL(predict_port_mapping(&pm_upnp, &pm_none).expect, PREDICT_WORKS);
	CU_ASSERT_EQUAL(predict_port_mapping(&pm_none, &pm_upnp).expect, PREDICT_WORKS);
	CU_ASSERT_EQUAL(predict_port_mapping(&pm_none, &pm_none).expect, PREDICT_FAILS);
	CU_ASSERT_EQUAL(predict_port_mapping(&pm_naive, &pm_none).expect, PREDICT_FAILS);
	CU_ASSERT_PTR_NOT_NULL(strstr(predict_port_mapping(&pm_naive, &pm_none).reason, "CGN"));
	CU_ASSERT_EQUAL(predict_port_mapping(&pm_stun_cgn, &pm_none).expect, PREDICT_FAILS);
	CU_ASSERT_EQUAL(predict_port_mapping(&pm_naive, &pm_upnp).expect, PREDICT_WORKS);
	/* A side that did not say: only a usable other side decides. */
	CU_ASSERT_EQUAL(predict_port_mapping(&pm_unknown, &pm_none).expect, PREDICT_DEPENDS);
	CU_ASSERT_EQUAL(predict_port_mapping(&pm_unknown, &pm_upnp).expect, PREDICT_WORKS);
	/* Who waits: the usable side, then a granted one, else nobody. */
	CU_ASSERT_EQUAL(predict_portmap_passive(&pm_upnp, &pm_none), 0);
	CU_ASSERT_EQUAL(predict_portmap_passive(&pm_none, &pm_upnp), 1);
	CU_ASSERT_EQUAL(predict_portmap_passive(&pm_naive, &pm_upnp), 1);
	CU_ASSERT_EQUAL(predict_portmap_passive(&pm_naive, &pm_none), 0);
	CU_ASSERT_EQUAL(predict_portmap_passive(&pm_none, &pm_none), -1);
	CU_ASSERT_EQUAL(predict_portmap_passive(&pm_upnp, &pm_upnp), 0);
}

/* NATLAB-PORTMAP both ways; nothing to send to is not granted. */
static void test_portmap_wire(void)
{
	const struct predict_portmap *all[] = {&pm_upnp, &pm_none, &pm_naive, &pm_stun_cgn};
	uint8_t w[PREDICT_PORTMAP_WIRE_LEN];
	struct predict_portmap p;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		predict_portmap_to_wire(all[i], w);
		p = predict_portmap_from_wire(w);
		CU_ASSERT(p.known == all[i]->known && p.granted == all[i]->granted &&
			  p.public_ext == all[i]->public_ext && p.depth == all[i]->depth &&
			  p.cgn == all[i]->cgn && p.proto == all[i]->proto &&
			  p.port == all[i]->port);
	}
	predict_portmap_to_wire(&pm_upnp, w);
	w[4] = w[5] = 0; /* port 0 */
	CU_ASSERT_FALSE(predict_portmap_from_wire(w).granted);
	predict_portmap_to_wire(&pm_upnp, w);
	w[0] = 9; /* no such protocol */
	CU_ASSERT_FALSE(predict_portmap_from_wire(w).granted);
	memset(w, 0, sizeof(w));
	CU_ASSERT_FALSE(predict_portmap_from_wire(w).known);
}

int test_predict_register(void)
{
	static const struct test_case tests[] = {
	    {"behind one public address: hairpinning and one network", test_one_address},
	    {"the other side's class bytes, unknown values inconclusive", test_from_wire},
	    {"TCP simultaneous open: every rule, both orders", test_tcp_rules},
	    {"NATLAB-TCP-CLASS both ways, unknown values inconclusive", test_tcp_wire},
	    {"port mapping: works, fails, depends; who waits", test_port_mapping},
	    {"NATLAB-PORTMAP both ways", test_portmap_wire},
	};

	return TEST_SUITE("traversal predictions behind one address", tests);
}
