/*
 * The registry of natprobe's tests: one module per file, listed here in the
 * order they are reported (zmap's probe-module registry is the model). A
 * test's finish() may read the verdicts of the tests listed before it.
 */
#ifndef NATLAB_PROBE_TESTS_H
#define NATLAB_PROBE_TESTS_H

#include <stddef.h>

#include "probe/engine.h"

extern const struct probe_test probe_test_nat, probe_test_mapping, probe_test_filtering,
    probe_test_hairpin, probe_test_ports, probe_test_overload, probe_test_lifetime,
    probe_test_tcp_mapping, probe_test_tcp_ports, probe_test_tcp_filtering, probe_test_tcp_syn,
    probe_test_tcp_simopen, probe_test_tcp_hairpin, probe_test_tcp_icmp, probe_test_tcp_syn_hold,
    probe_test_tcp_lifetime, probe_test_tcp_overload, probe_test_depth, probe_test_keepalive,
    probe_test_portmap;

extern const struct probe_test *const probe_tests[];
extern const size_t probe_ntests;

/* The test called name, or NULL. */
const struct probe_test *probe_test_find(const char *name);

#endif
