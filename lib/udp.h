/*
 * The UDP and TCP sockets a probe measures with: one internal endpoint each.
 */
#ifndef NATLAB_UDP_H
#define NATLAB_UDP_H

#include <stdint.h>
#include <sys/socket.h>

/*
 * A non-blocking UDP socket on local port port (0: any), bound to the source
 * address of the route toward `toward`, not to the wildcard. A wildcard
 * socket takes its source address per destination: on a host with several
 * addresses (multihomed, or IPv6 with several prefixes) its packets to two
 * destinations can leave from two addresses, two internal endpoints, and a
 * test comparing the answers of two destinations would compare two
 * endpoints. Bound, every packet it sends carries one address or is not
 * sent. Its address in local; the descriptor, or -1 with errno set.
 */
int udp_socket_toward(const struct sockaddr *toward, uint16_t port, struct sockaddr_storage *local);

/*
 * The same for TCP, unconnected and not listening, with SO_REUSEADDR and
 * SO_REUSEPORT: a listener and connections to several endpoints can then
 * share one local port (RFC 5382's tests, and TCP hole punching, need it;
 * REUSEADDR alone refuses a port that has a listener).
 */
int tcp_socket_toward(const struct sockaddr *toward, uint16_t port, struct sockaddr_storage *local);

/*
 * For a program that holds many sockets at once (birthday punching's hard
 * side, a load generator's clients): the soft limit on open files raised to
 * want, or as far as the hard limit allows. The soft limit after (0 when it
 * cannot be read), for a message when sockets still run out.
 */
unsigned long long open_files_raise(unsigned long long want);

#endif
