/*
 * Address parsing and printing: what users type, and the errors they see.
 * Host names are looked up in /etc/hosts only, never in DNS: the real one
 * for localhost, and one of our own in a private mount namespace.
 */
#define _GNU_SOURCE /* unshare */
#include <errno.h>
#include <nss.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <CUnit/CUnit.h>

#include "addr.h"
#include "testlib.h"

static void expect_ok(const char *text, enum addr_port_rule rule, const char *printed)
{
	struct sockaddr_storage ss;
	char err[128] = "", out[ADDR_STRLEN];

	CU_ASSERT_EQUAL(addr_parse(text, rule, 3478, &ss, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(addr_format((struct sockaddr *)&ss, out, sizeof(out)), printed);
}

static void expect_error(const char *text, enum addr_port_rule rule, const char *message)
{
	struct sockaddr_storage ss;
	char err[128] = "";

	CU_ASSERT_EQUAL(addr_parse(text, rule, 3478, &ss, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, message);
}

static const struct {
	const char *text;
	enum addr_port_rule rule;
	const char *printed;
} literals[] = {
    {"203.0.113.5:3478", ADDR_PORT_REQUIRED, "203.0.113.5:3478"},
    {"203.0.113.5", ADDR_PORT_OPTIONAL, "203.0.113.5:3478"},
    {"203.0.113.5:1", ADDR_PORT_OPTIONAL, "203.0.113.5:1"},
    {"198.51.100.1", ADDR_PORT_NONE, "198.51.100.1:0"},
    {"[2001:db8::1]:65535", ADDR_PORT_REQUIRED, "[2001:db8::1]:65535"},
    {"[2001:DB8:0:0::1]", ADDR_PORT_OPTIONAL, "[2001:db8::1]:3478"},
    {"2001:db8::1", ADDR_PORT_OPTIONAL, "[2001:db8::1]:3478"},
    {"::ffff:192.0.2.9", ADDR_PORT_NONE, "[::ffff:192.0.2.9]:0"},
};

static void test_parse_good(void)
{
	for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
		expect_ok(literals[i].text, literals[i].rule, literals[i].printed);
}

static void test_parse_errors(void)
{
	expect_error("203.0.113.5:70000", ADDR_PORT_REQUIRED,
		     "bad port '70000' in '203.0.113.5:70000'");
	expect_error("203.0.113.5:0", ADDR_PORT_REQUIRED, "bad port '0' in '203.0.113.5:0'");
	expect_error("203.0.113.5:", ADDR_PORT_OPTIONAL, "bad port '' in '203.0.113.5:'");
	expect_error("203.0.113.5:+80", ADDR_PORT_REQUIRED, "bad port '+80' in '203.0.113.5:+80'");
	expect_error("203.0.113.5:0x50", ADDR_PORT_REQUIRED,
		     "bad port '0x50' in '203.0.113.5:0x50'");
	expect_error("203.0.113.5:000080", ADDR_PORT_REQUIRED,
		     "bad port '000080' in '203.0.113.5:000080'");
	expect_error("203.0.113.5", ADDR_PORT_REQUIRED,
		     "missing port in '203.0.113.5' (want IP:PORT)");
	expect_error("203.0.113.5:80", ADDR_PORT_NONE,
		     "unexpected port '80' in '203.0.113.5:80' (want an IP address)");
	expect_error("203.0.113.256:80", ADDR_PORT_REQUIRED,
		     "bad IP address '203.0.113.256' in '203.0.113.256:80'");
	expect_error("reflector.example:80", ADDR_PORT_REQUIRED,
		     "bad IP address 'reflector.example' in 'reflector.example:80'");
	expect_error("[2001:db8::1", ADDR_PORT_OPTIONAL, "missing ']' in '[2001:db8::1'");
	expect_error("[2001:db8::1]x", ADDR_PORT_OPTIONAL,
		     "unexpected 'x' after ']' in '[2001:db8::1]x'");
	expect_error("[203.0.113.5]:80", ADDR_PORT_REQUIRED,
		     "bad IPv6 address '203.0.113.5' in '[203.0.113.5]:80'");
	expect_error("", ADDR_PORT_OPTIONAL, "empty address");
}

/* What addr_resolve made of text: the address printed, or "error: " and why. */
static void resolved(const char *text, enum addr_port_rule rule, int family, char *out, size_t len)
{
	struct sockaddr_storage ss;
	char err[200] = "", buf[ADDR_STRLEN];

	if (addr_resolve(text, rule, 3478, family, &ss, err, sizeof(err)))
		snprintf(out, len, "error: %s", err);
	else
		snprintf(out, len, "%s", addr_format((struct sockaddr *)&ss, buf, sizeof(buf)));
}

static void expect_result(const char *what, const char *got, const char *want)
{
	CU_ASSERT_STRING_EQUAL(got, want);
	if (strcmp(got, want))
		fprintf(stderr, "\n    %s: got \"%s\", want \"%s\"\n", what, got, want);
}

static void expect_resolved(const char *text, enum addr_port_rule rule, int family,
			    const char *want)
{
	char got[256];

	resolved(text, rule, family, got, sizeof(got));
	expect_result(text, got, want);
}

/*
 * Lookups in this process read /etc/hosts alone: a name missing from it (or
 * missing in a family, as localhost's IPv6 address often is) must not
 * become a DNS query from a test run.
 */
static void hosts_file_only(void)
{
	CU_ASSERT_EQUAL_FATAL(__nss_configure_lookup("hosts", "files"), 0);
}

/* Literals, right or wrong, come out as addr_parse has them, and are never looked up. */
static void test_resolve_literals(void)
{
	hosts_file_only();
	for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
		expect_resolved(literals[i].text, literals[i].rule, AF_UNSPEC, literals[i].printed);
	expect_resolved("203.0.113.5:80", ADDR_PORT_REQUIRED, AF_INET, "203.0.113.5:80");
	expect_resolved("[2001:db8::1]:80", ADDR_PORT_REQUIRED, AF_INET6, "[2001:db8::1]:80");
	expect_resolved("203.0.113.256:80", ADDR_PORT_REQUIRED, AF_UNSPEC,
			"error: bad IP address '203.0.113.256' in '203.0.113.256:80'");
	expect_resolved("[203.0.113.5]:80", ADDR_PORT_REQUIRED, AF_UNSPEC,
			"error: bad IPv6 address '203.0.113.5' in '[203.0.113.5]:80'");
	expect_resolved("2001:db8::zz", ADDR_PORT_OPTIONAL, AF_UNSPEC,
			"error: bad IP address '2001:db8::zz' in '2001:db8::zz'");
	/* getaddrinfo would take these (inet_aton's forms) as 127.0.0.1; addr_parse does not. */
	expect_resolved("127.1", ADDR_PORT_OPTIONAL, AF_UNSPEC,
			"error: bad IP address '127.1' in '127.1'");
	expect_resolved("0x7f000001", ADDR_PORT_OPTIONAL, AF_UNSPEC,
			"error: bad IP address '0x7f000001' in '0x7f000001'");
	expect_resolved(":80", ADDR_PORT_REQUIRED, AF_UNSPEC, "error: bad IP address '' in ':80'");
	expect_resolved("203.0.113.5", ADDR_PORT_OPTIONAL, AF_INET6,
			"error: '203.0.113.5' is an IPv4 address, not IPv6");
	expect_resolved("2001:db8::1", ADDR_PORT_OPTIONAL, AF_INET,
			"error: '2001:db8::1' is an IPv6 address, not IPv4");
	expect_resolved("203.0.113.5", ADDR_PORT_REQUIRED, AF_UNSPEC,
			"error: missing port in '203.0.113.5' (want HOST:PORT)");
	expect_resolved("", ADDR_PORT_OPTIONAL, AF_UNSPEC, "error: empty address");
	expect_resolved("203.0.113.5", ADDR_PORT_OPTIONAL, 12345,
			"error: bad address family 12345");
}

/* localhost, from the machine's own /etc/hosts. */
static void test_resolve_localhost(void)
{
	char got[256];

	hosts_file_only();
	expect_resolved("localhost", ADDR_PORT_OPTIONAL, AF_INET, "127.0.0.1:3478");
	expect_resolved("localhost:4000", ADDR_PORT_REQUIRED, AF_INET, "127.0.0.1:4000");
	expect_resolved("[localhost]:4000", ADDR_PORT_OPTIONAL, AF_INET, "127.0.0.1:4000");
	expect_resolved("localhost", ADDR_PORT_NONE, AF_INET, "127.0.0.1:0");
	resolved("localhost:4000", ADDR_PORT_OPTIONAL, AF_UNSPEC, got, sizeof(got));
	CU_ASSERT(!strcmp(got, "127.0.0.1:4000") || !strcmp(got, "[::1]:4000"));
	expect_resolved("localhost:70000", ADDR_PORT_OPTIONAL, AF_INET,
			"error: bad port '70000' in 'localhost:70000'");
	expect_resolved("localhost:0", ADDR_PORT_OPTIONAL, AF_INET,
			"error: bad port '0' in 'localhost:0'");
	expect_resolved("localhost", ADDR_PORT_REQUIRED, AF_INET,
			"error: missing port in 'localhost' (want HOST:PORT)");
	expect_resolved(
	    "localhost:80", ADDR_PORT_NONE, AF_INET,
	    "error: unexpected port '80' in 'localhost:80' (want a host name or address)");
	expect_resolved("[localhost", ADDR_PORT_OPTIONAL, AF_INET,
			"error: missing ']' in '[localhost'");
}

/*
 * The lab: a child in a mount namespace of its own, with our hosts file
 * over /etc/hosts. 203.0.113.256 is in it as a name, so a malformed
 * address that reached the resolver would resolve.
 */
static const char lab_hosts[] = "192.0.2.10 v4only.test\n"
				"2001:db8::10 v6only.test\n"
				"192.0.2.20 multi.test\n"
				"2001:db8::20 multi.test\n"
				"192.0.2.21 multi.test\n"
				"192.0.2.99 203.0.113.256\n";

struct lab_case {
	const char *text;
	enum addr_port_rule rule;
	int family;
};

static int enter_lab(const char *hosts, char *why, size_t len)
{
	/* Unprivileged, a user namespace brings the right to mount. */
	if (unshare(CLONE_NEWNS) && unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
		snprintf(why, len, "unshare: %s", strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL)) {
		snprintf(why, len, "mount %s on /etc/hosts: %s", hosts, strerror(errno));
		return -1;
	}
	return 0;
}

static void lab_resolve(const struct lab_case *c, char *out, size_t len)
{
	resolved(c->text, c->rule, c->family, out, len);
}

/* getaddrinfo's own first answer, to compare addr_resolve's with. */
static void lab_first(const struct lab_case *c, char *out, size_t len)
{
	struct addrinfo hints = {.ai_family = c->family, .ai_socktype = SOCK_DGRAM}, *res;
	char buf[ADDR_STRLEN];

	if (getaddrinfo(c->text, NULL, &hints, &res)) {
		snprintf(out, len, "error: getaddrinfo");
		return;
	}
	addr_set_port(res->ai_addr, 3478);
	snprintf(out, len, "%s", addr_format(res->ai_addr, buf, sizeof(buf)));
	freeaddrinfo(res);
}

/* fn's answer, from a child in the lab; "skip: why" when there is no lab. */
static void in_lab(const char *hosts, void (*fn)(const struct lab_case *, char *, size_t),
		   const struct lab_case *c, char *out, size_t len)
{
	int fds[2], status;
	ssize_t n = -1;
	pid_t pid;

	snprintf(out, len, "error: no answer from the lab");
	if (pipe(fds))
		return;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char answer[256] = "skip: ";

		close(fds[0]);
		if (enter_lab(hosts, answer + 6, sizeof(answer) - 6) == 0)
			fn(c, answer, sizeof(answer));
		n = write(fds[1], answer, strlen(answer));
		_exit(n < 0);
	}
	close(fds[1]);
	if (pid > 0) {
		n = read(fds[0], out, len - 1);
		waitpid(pid, &status, 0);
	}
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
}

static void test_resolve_lab(void)
{
	static const struct {
		struct lab_case c;
		const char *want;
	} cases[] = {
	    {{"v4only.test:5000", ADDR_PORT_REQUIRED, AF_UNSPEC}, "192.0.2.10:5000"},
	    {{"v4only.test", ADDR_PORT_OPTIONAL, AF_INET6},
	     "error: 'v4only.test' has no IPv6 address"},
	    {{"[v6only.test]:4000", ADDR_PORT_OPTIONAL, AF_UNSPEC}, "[2001:db8::10]:4000"},
	    {{"v6only.test", ADDR_PORT_NONE, AF_INET}, "error: 'v6only.test' has no IPv4 address"},
	    {{"multi.test", ADDR_PORT_OPTIONAL, AF_INET6}, "[2001:db8::20]:3478"},
	    {{"nosuch.test", ADDR_PORT_OPTIONAL, AF_INET},
	     "error: cannot resolve 'nosuch.test': Name or service not known"},
	    {{"203.0.113.256", ADDR_PORT_OPTIONAL, AF_UNSPEC},
	     "error: bad IP address '203.0.113.256' in '203.0.113.256'"},
	};
	static const struct lab_case several[] = {
	    {"multi.test", ADDR_PORT_OPTIONAL, AF_UNSPEC},
	    {"multi.test", ADDR_PORT_OPTIONAL, AF_INET},
	};
	char hosts[] = "/tmp/natlab-hosts-XXXXXX", got[256], first[256];
	int fd = mkstemp(hosts);

	hosts_file_only();
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, lab_hosts, strlen(lab_hosts)), (ssize_t)strlen(lab_hosts));
	close(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in_lab(hosts, lab_resolve, &cases[i].c, got, sizeof(got));
		if (!strncmp(got, "skip: ", 6)) {
			/* As for the lab suites: a developer may skip, CI may not. */
			fprintf(stderr, "\n    lookups in a lab skipped (%s)\n", got + 6);
			CU_ASSERT_STRING_NOT_EQUAL(getenv("CI") ? getenv("CI") : "", "true");
			break;
		}
		expect_result(cases[i].c.text, got, cases[i].want);
	}
	/* Several addresses: getaddrinfo's first, in the order this host's routes give. */
	for (size_t i = 0; i < sizeof(several) / sizeof(several[0]); i++) {
		in_lab(hosts, lab_resolve, &several[i], got, sizeof(got));
		in_lab(hosts, lab_first, &several[i], first, sizeof(first));
		if (strncmp(got, "skip: ", 6))
			expect_result(several[i].text, got, first);
	}
	unlink(hosts);
}

static void test_compare(void)
{
	struct sockaddr_storage a, b;
	char err[128];

	CU_ASSERT_EQUAL_FATAL(
	    addr_parse("203.0.113.5:1000", ADDR_PORT_REQUIRED, 0, &a, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(
	    addr_parse("203.0.113.5:1001", ADDR_PORT_REQUIRED, 0, &b, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(addr_same_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
	CU_ASSERT_FALSE(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	addr_set_port((struct sockaddr *)&b, 1000);
	CU_ASSERT_TRUE(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	CU_ASSERT_EQUAL_FATAL(
	    addr_parse("::ffff:203.0.113.5", ADDR_PORT_OPTIONAL, 1000, &b, err, sizeof(err)), 0);
	/* A mapped IPv6 address is another family, not the same endpoint. */
	CU_ASSERT_FALSE(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	CU_ASSERT_EQUAL(addr_len((struct sockaddr *)&a), sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(addr_len((struct sockaddr *)&b), sizeof(struct sockaddr_in6));
}

/* An interface's address and netmask, as getifaddrs gives them. */
static void test_network(void)
{
	struct sockaddr_storage a, net, mask, a6, net6, mask6;

	test_sockaddr("192.168.1.77:5000", &a);
	test_sockaddr("192.168.1.1", &net);
	test_sockaddr("255.255.255.0", &mask);
	CU_ASSERT_TRUE(addr_in_network((struct sockaddr *)&a, (struct sockaddr *)&net,
				       (struct sockaddr *)&mask));
	test_sockaddr("192.168.2.77:5000", &a);
	CU_ASSERT_FALSE(addr_in_network((struct sockaddr *)&a, (struct sockaddr *)&net,
					(struct sockaddr *)&mask));
	test_sockaddr("255.255.252.0", &mask); /* a /22 holds 192.168.0-3 */
	CU_ASSERT_TRUE(addr_in_network((struct sockaddr *)&a, (struct sockaddr *)&net,
				       (struct sockaddr *)&mask));
	test_sockaddr("[2001:db8:0:1::9]:5000", &a6);
	test_sockaddr("2001:db8:0:1::1", &net6);
	test_sockaddr("ffff:ffff:ffff:ffff::", &mask6);
	CU_ASSERT_TRUE(addr_in_network((struct sockaddr *)&a6, (struct sockaddr *)&net6,
				       (struct sockaddr *)&mask6));
	test_sockaddr("[2001:db8:0:2::9]:5000", &a6);
	CU_ASSERT_FALSE(addr_in_network((struct sockaddr *)&a6, (struct sockaddr *)&net6,
					(struct sockaddr *)&mask6));
	/* Across families: never. */
	CU_ASSERT_FALSE(addr_in_network((struct sockaddr *)&a, (struct sockaddr *)&net6,
					(struct sockaddr *)&mask6));
}

/* Realms at their edges: the first and last address of each range, and
 * the neighbours just outside. */
static void test_realm(void)
{
	static const struct {
		const char *ip;
		enum addr_realm want;
	} cases[] = {
	    {"10.0.0.0", ADDR_REALM_PRIVATE},
	    {"10.255.255.255", ADDR_REALM_PRIVATE},
	    {"9.255.255.255", ADDR_REALM_PUBLIC},
	    {"11.0.0.0", ADDR_REALM_PUBLIC},
	    {"172.16.0.0", ADDR_REALM_PRIVATE},
	    {"172.31.255.255", ADDR_REALM_PRIVATE},
	    {"172.15.255.255", ADDR_REALM_PUBLIC},
	    {"172.32.0.0", ADDR_REALM_PUBLIC},
	    {"192.168.0.1", ADDR_REALM_PRIVATE},
	    {"192.169.0.1", ADDR_REALM_PUBLIC},
	    {"100.64.0.0", ADDR_REALM_SHARED},
	    {"100.127.255.255", ADDR_REALM_SHARED},
	    {"100.63.255.255", ADDR_REALM_PUBLIC},
	    {"100.128.0.0", ADDR_REALM_PUBLIC},
	    {"169.254.1.1", ADDR_REALM_LINK_LOCAL},
	    {"127.0.0.1", ADDR_REALM_LOOPBACK},
	    {"203.0.113.10", ADDR_REALM_PUBLIC},
	    {"::ffff:10.1.2.3", ADDR_REALM_PRIVATE},
	    {"::ffff:100.64.1.1", ADDR_REALM_SHARED},
	    {"fd00::1", ADDR_REALM_PRIVATE},
	    {"fc00::1", ADDR_REALM_PRIVATE},
	    {"fe00::1", ADDR_REALM_PUBLIC},
	    {"fe80::1", ADDR_REALM_LINK_LOCAL},
	    {"febf::1", ADDR_REALM_LINK_LOCAL},
	    {"fec0::1", ADDR_REALM_PUBLIC},
	    {"::1", ADDR_REALM_LOOPBACK},
	    {"::2", ADDR_REALM_PUBLIC},
	    {"2001:db8::1", ADDR_REALM_PUBLIC},
	};
	struct sockaddr_storage ss;
	char err[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(
		    addr_parse(cases[i].ip, ADDR_PORT_NONE, 0, &ss, err, sizeof(err)), 0);
		if (addr_realm((struct sockaddr *)&ss) != cases[i].want)
			CU_FAIL(cases[i].ip);
	}
	CU_ASSERT_STRING_EQUAL(addr_realm_name(ADDR_REALM_SHARED), "shared");
}

int test_addr_register(void)
{
	static const struct test_case tests[] = {
	    {"parse good input", test_parse_good},
	    {"errors name the bad part", test_parse_errors},
	    {"compare", test_compare},
	    {"an address in an interface's network", test_network},
	    {"realms: private, shared, link-local, loopback, public", test_realm},
	    {"resolve: literals as parsed, never looked up", test_resolve_literals},
	    {"resolve: localhost, ports and their errors", test_resolve_localhost},
	    {"resolve: families and several addresses (own hosts file)", test_resolve_lab},
	};

	return TEST_SUITE("address helpers", tests);
}
