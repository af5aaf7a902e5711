/*
 * natreflector's per-source rate limit (RFC 5780 section 9, RFC 5128 section
 * 6: a public reflector must not be a tool for flooding). A token bucket per
 * source address, kept as one number, its "theoretical arrival time" (the
 * generic cell rate algorithm): a request is allowed when that time minus the
 * burst allowance is not in the future.
 *
 * State is a fixed table, sized at creation and never grown: a flood of
 * distinct (or spoofed) sources costs no memory, it only evicts the least
 * recently indebted entries, which at worst gives a source a fresh burst.
 * No allocation after refl_limiter_new; no clock reads (the caller passes now).
 */
#ifndef NATLAB_REFLECTOR_LIMITER_H
#define NATLAB_REFLECTOR_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct refl_limiter refl_limiter_t;

/*
 * rate: requests per second allowed per source address, 0 for no limit;
 * burst: how many may come at once (at least 1). slots: table entries,
 * rounded up to a power of two. seed: hashing secret, so that a sender
 * cannot choose sources that collide. NULL when out of memory.
 */
refl_limiter_t *refl_limiter_new(uint32_t rate, uint32_t burst, size_t slots, uint64_t seed);
void refl_limiter_free(refl_limiter_t *l);

/* Charge one request from src's address (its port is ignored) at now_ns.
 * Safe from several threads at once (natreflector's workers share a table). */
bool refl_limiter_allow(refl_limiter_t *l, const struct sockaddr *src, uint64_t now_ns);

/* The table's fixed size in bytes, for the log line at start. */
size_t refl_limiter_bytes(const refl_limiter_t *l);

#endif
