#include "addr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

/* A DNS name is at most 253 characters, 254 with its final dot (RFC 1035 3.1). */
#define ADDR_HOST_MAX 256

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_len, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Decimal 1..65535, nothing else: no sign, no spaces, no hex. */
static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool parse_ip(const char *s, bool v6_only, struct sockaddr_storage *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	if (!v6_only && inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

/* Split text into host and port strings: "[v6]:p", "[v6]", "v4:p", "v4", "v6". */
static int split(const char *text, char *host, size_t host_len, const char **port, char *err,
		 size_t err_len)
{
	const char *colon, *end;
	size_t n;

	*port = NULL;
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end)
			return fail(err, err_len, "missing ']' in '%s'", text);
		if (end[1] == ':')
			*port = end + 2;
		else if (end[1] != '\0')
			return fail(err, err_len, "unexpected '%s' after ']' in '%s'", end + 1,
				    text);
		text++;
		n = (size_t)(end - text);
	} else {
		colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* two colons: a bare IPv6 address, no port */
		if (colon)
			*port = colon + 1;
		n = colon ? (size_t)(colon - text) : strlen(text);
	}
	if (n >= host_len)
		return fail(err, err_len, "address too long in '%s'", text);
	memcpy(host, text, n);
	host[n] = '\0';
	return 0;
}

/*
 * The port part against the rule. What the user is told to type differs:
 * addr_parse takes IP addresses, addr_resolve host names too.
 */
static int take_port(const char *text, const char *port_text, enum addr_port_rule rule, bool names,
		     uint16_t *port, char *err, size_t err_len)
{
	if (port_text && rule == ADDR_PORT_NONE)
		return fail(err, err_len, "unexpected port '%s' in '%s' (want %s)", port_text, text,
			    names ? "a host name or address" : "an IP address");
	if (!port_text && rule == ADDR_PORT_REQUIRED)
		return fail(err, err_len, "missing port in '%s' (want %s:PORT)", text,
			    names ? "HOST" : "IP");
	if (port_text && !parse_port(port_text, port))
		return fail(err, err_len, "bad port '%s' in '%s'", port_text, text);
	return 0;
}

static int bad_ip(const char *text, const char *host, char *err, size_t err_len)
{
	return fail(err, err_len, "bad %s address '%s' in '%s'", text[0] == '[' ? "IPv6" : "IP",
		    host, text);
}

int addr_parse(const char *text, enum addr_port_rule rule, uint16_t default_port,
	       struct sockaddr_storage *out, char *err, size_t err_len)
{
	char host[ADDR_STRLEN];
	const char *port_text;
	uint16_t port = default_port;

	if (!text || !*text)
		return fail(err, err_len, "empty address");
	if (split(text, host, sizeof(host), &port_text, err, err_len))
		return -1;
	/* Brackets are for IPv6 only (RFC 3986 3.2.2). */
	if (!parse_ip(host, text[0] == '[', out))
		return bad_ip(text, host, err, err_len);
	if (take_port(text, port_text, rule, false, &port, err, err_len))
		return -1;
	addr_set_port((struct sockaddr *)out, rule == ADDR_PORT_NONE ? 0 : port);
	return 0;
}

/*
 * Whether host is meant as an address rather than a name, right or wrong:
 * only digits and dots (no top-level domain is all-numeric, RFC 3696 2),
 * any colon (names have none), or a form inet_aton takes ("127.1",
 * "0x7f000001"), which getaddrinfo would read as an address unasked. These
 * never go to the resolver: a mistyped "203.0.113.256" is reported as a bad
 * address, not sent to DNS as a name.
 */
static bool looks_numeric(const char *host)
{
	struct in_addr ignored;

	if (strspn(host, "0123456789.") == strlen(host) || strchr(host, ':'))
		return true;
	return inet_aton(host, &ignored) != 0;
}

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/*
 * The first address getaddrinfo gives for host. No AI_ADDRCONFIG: it hides
 * a family unless a non-loopback address of it is configured, so in a lab
 * namespace with addresses on lo alone, or on a host that is not yet up,
 * even "localhost" would not resolve. Without it, a name's IPv6 address may
 * come back on a host without IPv6, but getaddrinfo sorts the answers by
 * RFC 6724, whose rule 1 puts destinations this host has no source address
 * for last, so the first address is one it can use when there is one.
 */
static int lookup(const char *host, int family, struct sockaddr_storage *out, char *err,
		  size_t err_len)
{
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM}, *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc == 0) {
		memset(out, 0, sizeof(*out));
		memcpy(out, res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
		return 0;
	}
	/*
	 * A name with addresses of the other family only fails as if it did
	 * not exist (EAI_NONAME from /etc/hosts, EAI_NODATA from DNS): ask
	 * again for any family, to tell the user which it is. A DNS server out
	 * of reach (EAI_AGAIN) after /etc/hosts had the other family only is
	 * the same case as far as the user can act on it.
	 */
	if (family != AF_UNSPEC && rc != EAI_FAIL && rc != EAI_SYSTEM &&
	    lookup(host, AF_UNSPEC, out, err, err_len) == 0)
		return fail(err, err_len, "'%s' has no %s address", host, family_name(family));
	return fail(err, err_len, "cannot resolve '%s': %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
}

int addr_resolve(const char *text, enum addr_port_rule rule, uint16_t default_port, int family,
		 struct sockaddr_storage *out, char *err, size_t err_len)
{
	char host[ADDR_HOST_MAX];
	const char *port_text;
	uint16_t port = default_port;
	bool numeric;

	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
		return fail(err, err_len, "bad address family %d", family);
	if (!text || !*text)
		return fail(err, err_len, "empty address");
	if (split(text, host, sizeof(host), &port_text, err, err_len))
		return -1;
	numeric = looks_numeric(host);
	/* Brackets around an address are for IPv6 only; around a name they only delimit it. */
	if (numeric && !parse_ip(host, text[0] == '[', out))
		return bad_ip(text, host, err, err_len);
	/* The port first: a typing error is reported without waiting for DNS. */
	if (take_port(text, port_text, rule, true, &port, err, err_len))
		return -1;
	if (!numeric && lookup(host, family, out, err, err_len))
		return -1;
	if (family != AF_UNSPEC && out->ss_family != family)
		return fail(err, err_len, "'%s' is an %s address, not %s", host,
			    family_name(out->ss_family), family_name(family));
	addr_set_port((struct sockaddr *)out, rule == ADDR_PORT_NONE ? 0 : port);
	return 0;
}

const char *addr_format_ip(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *ip;

	if (sa->sa_family == AF_INET)
		ip = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		ip = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		ip = NULL;
	if (!ip || !inet_ntop(sa->sa_family, ip, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[ADDR_STRLEN];

	addr_format_ip(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, addr_port(sa));
	else if (sa->sa_family == AF_INET)
		snprintf(buf, len, "%s:%u", ip, addr_port(sa));
	else
		snprintf(buf, len, "?");
	return buf;
}

uint16_t addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

void addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
}

socklen_t addr_len(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

bool addr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->sin_addr,
			      &((const struct sockaddr_in *)(const void *)b)->sin_addr, 4) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
	return false;
}

/* The address bytes of an IPv4 or IPv6 socket address, and how many. */
static const uint8_t *ip_bytes(const struct sockaddr *a, size_t *n)
{
	*n = a->sa_family == AF_INET ? 4 : a->sa_family == AF_INET6 ? 16 : 0;
	if (a->sa_family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)(const void *)a)->sin_addr;
	if (a->sa_family == AF_INET6)
		return (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;
	return NULL;
}

bool addr_in_network(const struct sockaddr *a, const struct sockaddr *net,
		     const struct sockaddr *mask)
{
	size_t n, nn, nm;
	const uint8_t *x = ip_bytes(a, &n), *y = ip_bytes(net, &nn), *m;

	if (!x || net->sa_family != a->sa_family || mask->sa_family != a->sa_family)
		return false;
	m = ip_bytes(mask, &nm);
	for (size_t i = 0; i < n; i++)
		if ((x[i] & m[i]) != (y[i] & m[i]))
			return false;
	return nn == n && nm == n;
}

bool addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	return addr_same_ip(a, b) && addr_port(a) == addr_port(b);
}

static enum addr_realm realm_v4(const uint8_t *b)
{
	if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168))
		return ADDR_REALM_PRIVATE;
	if (b[0] == 100 && (b[1] & 0xC0) == 64)
		return ADDR_REALM_SHARED;
	if (b[0] == 169 && b[1] == 254)
		return ADDR_REALM_LINK_LOCAL;
	return b[0] == 127 ? ADDR_REALM_LOOPBACK : ADDR_REALM_PUBLIC;
}

enum addr_realm addr_realm(const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	static const uint8_t loop6[16] = {[15] = 1};
	size_t n;
	const uint8_t *b = ip_bytes(sa, &n);

	if (!b)
		return ADDR_REALM_PUBLIC;
	if (n == 4)
		return realm_v4(b);
	if (!memcmp(b, v4mapped, sizeof(v4mapped)))
		return realm_v4(b + 12);
	if ((b[0] & 0xFE) == 0xFC)
		return ADDR_REALM_PRIVATE;
	if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80)
		return ADDR_REALM_LINK_LOCAL;
	return memcmp(b, loop6, 16) ? ADDR_REALM_PUBLIC : ADDR_REALM_LOOPBACK;
}

const char *addr_realm_name(enum addr_realm r)
{
	static const char *const names[] = {"public", "private", "shared", "link-local",
					    "loopback"};

	return (unsigned)r < 5 ? names[r] : "public";
}

int addr_route_source(const struct sockaddr *toward, uint16_t port, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);
	int fd = socket(toward->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	if (connect(fd, toward, addr_len(toward)) == 0 &&
	    getsockname(fd, (struct sockaddr *)out, &len) == 0) {
		addr_set_port((struct sockaddr *)out, port);
		rc = 0;
	}
	close(fd);
	return rc;
}
