/*
 * natlab's own tests, the I/O: TCP SYNs crafted with libnet from any of the
 * reflector's addresses, and a libpcap capture of what comes back (SYN-ACK,
 * RST, ICMP), parsed by capture.c. Opened while still root (raw sockets and
 * capture need CAP_NET_RAW), before --user drops it. IPv4.
 */
#ifndef NATLAB_REFLECTOR_PROBES_H
#define NATLAB_REFLECTOR_PROBES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "reflector/capture.h"

typedef struct refl_probes refl_probes_t;

/* NULL after writing why into err. */
refl_probes_t *refl_probes_open(char *err, size_t err_len);
void refl_probes_close(refl_probes_t *p);
/* A descriptor that is readable when frames have been captured. */
int refl_probes_fd(const refl_probes_t *p);
/* A SYN from `from` to `to` (both IPv4) with sequence number seq; 0 or -1. */
int refl_probes_send_syn(refl_probes_t *p, const struct sockaddr *from, const struct sockaddr *to,
			 uint32_t seq);
/* An ICMP error (type, code: destination unreachable or time exceeded)
 * from `from` to `to` (IPv4 addresses; ports ignored), quoting `quote`
 * (refl_icmp_quote); 0 or -1. */
int refl_probes_send_icmp(refl_probes_t *p, const struct sockaddr *from, const struct sockaddr *to,
			  uint8_t type, uint8_t code, const uint8_t *quote, size_t quote_len);
/* Every frame captured so far, parsed, to fn; the count of frames read. */
int refl_probes_read(refl_probes_t *p, void (*fn)(void *ctx, const struct refl_captured *c),
		     void *ctx);

#endif
