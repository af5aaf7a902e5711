/*
 * The per-source rate limit: a burst, then the rate; each address on its
 * own, its port ignored; a full table still admits new sources; workers
 * charging one source at once share its burst exactly.
 */
#include <pthread.h>

#include <CUnit/CUnit.h>

#include "addr.h"
#include "reflector/limiter.h"
#include "testlib.h"

#define SEC 1000000000ull

static struct sockaddr_storage at(const char *text)
{
	struct sockaddr_storage ss;
	char err[128];

	CU_ASSERT_EQUAL(addr_parse(text, ADDR_PORT_REQUIRED, 0, &ss, err, sizeof(err)), 0);
	return ss;
}

static unsigned allowed(refl_limiter_t *l, const char *src, unsigned tries, uint64_t now)
{
	struct sockaddr_storage ss = at(src);
	unsigned n = 0;

	for (unsigned i = 0; i < tries; i++)
		n += refl_limiter_allow(l, (struct sockaddr *)&ss, now);
	return n;
}

static void test_burst_then_rate(void)
{
	refl_limiter_t *l = refl_limiter_new(10, 5, 64, 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.7:1000", 20, 5 * SEC), 5);
	/* 10/s: one more every 100 ms, and credit does not pile up past the burst. */
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.7:1000", 20, 5 * SEC + SEC / 10), 1);
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.7:1000", 20, 5 * SEC + SEC / 10 + SEC / 20), 0);
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.7:1000", 20, 6 * SEC + SEC / 10), 5);
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.7:1000", 20, 100 * SEC), 5);
	refl_limiter_free(l);
}

static void test_per_address_not_port(void)
{
	refl_limiter_t *l = refl_limiter_new(1, 3, 64, 2);

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.7:1000", 2, SEC), 2);
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.7:2000", 5, SEC), 1); /* same address */
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.8:1000", 5, SEC), 3);
	/* An IPv6 address whose first bytes spell the IPv4 one is another source. */
	CU_ASSERT_EQUAL(allowed(l, "[c633:6407::]:1000", 5, SEC), 3);
	CU_ASSERT_EQUAL(allowed(l, "[2001:db8::1]:1", 5, SEC), 3);
	refl_limiter_free(l);
}

static void test_no_limit(void)
{
	refl_limiter_t *l = refl_limiter_new(0, 1, 64, 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(allowed(l, "198.51.100.7:1000", 1000, SEC), 1000);
	CU_ASSERT_EQUAL(refl_limiter_bytes(l), 0);
	refl_limiter_free(l);
}

/* 10,000 sources through 16 entries: memory stays put, each new source is
 * admitted, and a source that comes back finds its debt or a fresh burst,
 * never a refusal it did not earn. */
static void test_full_table(void)
{
	refl_limiter_t *l = refl_limiter_new(1, 2, 16, 4);
	size_t bytes = refl_limiter_bytes(l);
	unsigned admitted = 0;
	char src[32];

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT(bytes > 0 && bytes <= 16 * 64);
	for (unsigned i = 0; i < 10000; i++) {
		snprintf(src, sizeof(src), "10.%u.%u.%u:5", i >> 16, (i >> 8) & 255, i & 255);
		admitted += allowed(l, src, 1, SEC + i);
	}
	CU_ASSERT_EQUAL(admitted, 10000);
	CU_ASSERT_EQUAL(refl_limiter_bytes(l), bytes);
	/* A source still in the table is still limited. */
	CU_ASSERT_EQUAL(allowed(l, "10.0.39.15:5", 5, SEC + 10000), 1);
	refl_limiter_free(l);
}

/* natreflector's workers share the table: two threads charging the same
 * source at the same instant, round after round (a new source each round,
 * both released by a barrier), get exactly its burst between them. */
#define ROUNDS 3000
#define BURST  4

struct racer {
	refl_limiter_t *l;
	pthread_barrier_t *start;
	unsigned allowed;
	bool bad_address; /* CUnit's asserts are not for threads: checked after */
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct sockaddr_storage ss;
	char src[32], err[128];

	for (unsigned i = 0; i < ROUNDS; i++) {
		snprintf(src, sizeof(src), "10.1.%u.%u:%u", i >> 8, i & 255, 1000 + i);
		r->bad_address |=
		    addr_parse(src, ADDR_PORT_REQUIRED, 0, &ss, err, sizeof(err)) != 0;
		pthread_barrier_wait(r->start);
		for (unsigned k = 0; k < BURST; k++)
			r->allowed += refl_limiter_allow(r->l, (struct sockaddr *)&ss, SEC);
	}
	return NULL;
}

static void test_workers_share(void)
{
	refl_limiter_t *l = refl_limiter_new(1, BURST, 2 * ROUNDS * 4, 5);
	pthread_barrier_t start;
	struct racer r[2] = {{l, &start, 0, false}, {l, &start, 0, false}};
	pthread_t other;

	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL_FATAL(pthread_barrier_init(&start, NULL, 2), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&other, NULL, race, &r[1]), 0);
	race(&r[0]);
	pthread_join(other, NULL);
	CU_ASSERT_FALSE(r[0].bad_address || r[1].bad_address);
	CU_ASSERT_EQUAL(r[0].allowed + r[1].allowed, ROUNDS * BURST);
	pthread_barrier_destroy(&start);
	refl_limiter_free(l);
}

int test_limiter_register(void)
{
	static const struct test_case tests[] = {
	    {"burst, then the rate", test_burst_then_rate},
	    {"per address, not per port", test_per_address_not_port},
	    {"rate 0: no limit", test_no_limit},
	    {"a full table stays bounded", test_full_table},
	    {"two workers share one source's burst", test_workers_share},
	};

	return TEST_SUITE("reflector rate limit", tests);
}
