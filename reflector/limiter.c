/*
 * The per-source rate limit. See limiter.h.
 *
 * The table is 4-way set associative: a source hashes to one set of four
 * entries; a new source takes the entry whose arrival time is earliest, the
 * one that has been idle (or in credit) longest.
 *
 * natreflector's workers (--workers) share one table, so a source's rate is
 * one rate whichever worker its datagrams reach: each set has its own spin
 * lock, held for the few dozen instructions of one lookup. Two workers meet
 * on a lock only when two sources of the same set arrive at the same moment.
 */
#include "limiter.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#define WAYS 4

struct entry {
	uint8_t key[16]; /* the address; IPv4 in the first 4 bytes */
	uint8_t family;  /* 0: unused */
	uint64_t tat;    /* theoretical arrival time, ns */
};

struct set {
	atomic_flag lock; /* calloc's zero bytes are its clear state */
	struct entry way[WAYS];
};

struct refl_limiter {
	uint64_t interval;  /* ns between requests at the steady rate */
	uint64_t tolerance; /* how far ahead of now tat may run: (burst - 1) intervals */
	uint64_t seed;
	size_t nsets; /* a power of two */
	struct set *sets;
};

refl_limiter_t *refl_limiter_new(uint32_t rate, uint32_t burst, size_t slots, uint64_t seed)
{
	struct refl_limiter *l = calloc(1, sizeof(*l));
	size_t nsets = 1;

	if (!l)
		return NULL;
	while (nsets * WAYS < slots && nsets < ((size_t)1 << 24))
		nsets <<= 1;
	l->interval = rate ? 1000000000ull / rate : 0;
	l->tolerance = l->interval * (burst ? burst - 1 : 0);
	l->seed = seed;
	l->nsets = nsets;
	l->sets = rate ? calloc(nsets, sizeof(struct set)) : NULL;
	if (rate && !l->sets) {
		free(l);
		return NULL;
	}
	return l;
}

void refl_limiter_free(refl_limiter_t *l)
{
	if (l)
		free(l->sets);
	free(l);
}

size_t refl_limiter_bytes(const refl_limiter_t *l)
{
	return l->sets ? l->nsets * sizeof(struct set) : 0;
}

/* A keyed mix of the address (splitmix64's finaliser): not a MAC, but a
 * sender who does not know the seed cannot aim at one set. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void key_of(const struct sockaddr *sa, uint8_t key[16], uint8_t *family)
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		*family = 6;
	} else {
		memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		*family = 4;
	}
}

static struct set *set_of(struct refl_limiter *l, const uint8_t key[16], uint8_t family)
{
	uint64_t a, b;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return l->sets + (mix(a ^ mix(b ^ l->seed) ^ family) & (l->nsets - 1));
}

/* The source's entry in its (locked) set, or a fresh one in place of the
 * entry idle longest. */
static struct entry *lookup(struct set *s, const uint8_t key[16], uint8_t family)
{
	struct entry *set = s->way, *victim = set;

	for (int i = 0; i < WAYS; i++) {
		if (set[i].family == family && !memcmp(set[i].key, key, 16))
			return &set[i];
		if (set[i].tat < victim->tat)
			victim = &set[i];
	}
	memcpy(victim->key, key, 16);
	victim->family = family;
	victim->tat = 0;
	return victim;
}

bool refl_limiter_allow(refl_limiter_t *l, const struct sockaddr *src, uint64_t now_ns)
{
	uint8_t key[16], family;
	struct entry *e;
	struct set *set;
	bool allow;

	if (!l->sets)
		return true;
	key_of(src, key, &family);
	set = set_of(l, key, family);
	while (atomic_flag_test_and_set_explicit(&set->lock, memory_order_acquire))
		;
	e = lookup(set, key, family);
	if (e->tat < now_ns)
		e->tat = now_ns;
	allow = e->tat - now_ns <= l->tolerance;
	if (allow)
		e->tat += l->interval;
	atomic_flag_clear_explicit(&set->lock, memory_order_release);
	return allow;
}
