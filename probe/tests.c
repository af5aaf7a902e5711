#include "tests.h"

#include <string.h>

const struct probe_test *const probe_tests[] = {
    &probe_test_nat,           &probe_test_portmap,      &probe_test_depth,
    &probe_test_keepalive,     &probe_test_mapping,      &probe_test_filtering,
    &probe_test_hairpin,       &probe_test_ports,        &probe_test_overload,
    &probe_test_lifetime,      &probe_test_tcp_mapping,  &probe_test_tcp_ports,
    &probe_test_tcp_filtering, &probe_test_tcp_syn,      &probe_test_tcp_simopen,
    &probe_test_tcp_hairpin,   &probe_test_tcp_icmp,     &probe_test_tcp_syn_hold,
    &probe_test_tcp_lifetime,  &probe_test_tcp_overload,
};
const size_t probe_ntests = sizeof(probe_tests) / sizeof(probe_tests[0]);

const struct probe_test *probe_test_find(const char *name)
{
	for (size_t i = 0; i < probe_ntests; i++)
		if (!strcmp(probe_tests[i]->name, name))
			return probe_tests[i];
	return NULL;
}
