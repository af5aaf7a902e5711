/*
 * Addresses as users type them and as natlab prints them: "IP", "IP:PORT",
 * "[IPv6]:PORT", and host names in their place (addr_resolve). Parsers of
 * user input say what was wrong and where.
 */
#ifndef NATLAB_ADDR_H
#define NATLAB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Long enough for "[ffff:...:255.255.255.255]:65535". */
#define ADDR_STRLEN 56

enum addr_port_rule {
	ADDR_PORT_NONE,     /* "IP" only */
	ADDR_PORT_OPTIONAL, /* "IP" takes the default port */
	ADDR_PORT_REQUIRED, /* "IP:PORT" only */
};

/*
 * Parse text into out. On failure returns -1 and writes a message naming the
 * offending part into err, e.g. "bad port '70000' in '203.0.113.5:70000'".
 */
int addr_parse(const char *text, enum addr_port_rule rule, uint16_t default_port,
	       struct sockaddr_storage *out, char *err, size_t err_len);

/*
 * Like addr_parse, but HOST may also be a host name, looked up with
 * getaddrinfo (numeric forms are taken as addr_parse takes them, with no lookup).
 * family: AF_UNSPEC (the first address getaddrinfo gives), AF_INET or AF_INET6.
 * "name", "name:port", "[name]:port" as the rule allows. On failure -1 and err says what and why,
 * e.g. "cannot resolve 'stun.example.net': Name or service not known"
 * or "'stun.example.net' has no IPv6 address".
 *
 * Anything that looks like an address (digits and dots, a colon) is never
 * looked up, even when it is malformed. The port is checked before the
 * lookup. A name with several addresses gives the first in getaddrinfo's
 * RFC 6724 order; the lookup blocks for as long as the resolver takes.
 */
int addr_resolve(const char *text, enum addr_port_rule rule, uint16_t default_port, int family,
		 struct sockaddr_storage *out, char *err, size_t err_len);

/* "203.0.113.5:3478", "[2001:db8::1]:3478"; "?" for an unknown family. */
const char *addr_format(const struct sockaddr *sa, char *buf, size_t len);
/* The address alone: "203.0.113.5", "2001:db8::1". */
const char *addr_format_ip(const struct sockaddr *sa, char *buf, size_t len);

uint16_t addr_port(const struct sockaddr *sa);
void addr_set_port(struct sockaddr *sa, uint16_t port);
socklen_t addr_len(const struct sockaddr *sa);
bool addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
/* Is a's address in the network of address net with netmask mask (as
 * getifaddrs gives them)? False across families. */
bool addr_in_network(const struct sockaddr *a, const struct sockaddr *net,
		     const struct sockaddr *mask);
bool addr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* Where an address is meant to be reachable from. */
enum addr_realm {
	ADDR_REALM_PUBLIC,
	ADDR_REALM_PRIVATE,    /* RFC 1918; IPv6 unique local fc00::/7 (RFC 4193) */
	ADDR_REALM_SHARED,     /* 100.64.0.0/10, a carrier-grade NAT's realm (RFC 6598) */
	ADDR_REALM_LINK_LOCAL, /* 169.254.0.0/16, fe80::/10 */
	ADDR_REALM_LOOPBACK,   /* 127.0.0.0/8, ::1 */
};
/* IPv4-mapped IPv6 addresses are judged as IPv4; an unknown family is
 * PUBLIC (nothing says otherwise). */
enum addr_realm addr_realm(const struct sockaddr *sa);
const char *addr_realm_name(enum addr_realm r);
/*
 * The local address a UDP socket bound to the wildcard address, port port,
 * sends to `toward` with: the route's source (asks the kernel with a
 * connected socket; sends nothing). -1 when there is no route.
 */
int addr_route_source(const struct sockaddr *toward, uint16_t port, struct sockaddr_storage *out);

#endif
