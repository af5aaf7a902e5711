/* natemu's impairments: what each one does to a stream of packets, and what delay must not do. */
#include <string.h>

#include <CUnit/CUnit.h>

#include "natemu/impair.h"
#include "testlib.h"

/* Push n one-byte packets numbered 0..n-1 through a plan; the order they come out in. */
static size_t run(const struct impair_cfg *cfg, size_t n, uint8_t *order, unsigned *events_seen)
{
	struct impair_queue q;
	uint64_t rng = 7, due[2];
	size_t out = 0, len;
	const uint8_t *pkt;
	unsigned events;

	CU_ASSERT_EQUAL_FATAL(impair_init(&q, 512), 0);
	*events_seen = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)i;
		size_t copies = impair_plan(cfg, &rng, 1000 + i, due, &events);

		*events_seen |= events;
		for (size_t c = 0; c < copies; c++)
			CU_ASSERT_EQUAL(impair_push(&q, due[c], &b, 1), 0);
	}
	for (uint64_t now = 0; now < 100000 && q.n; now++) {
		while ((pkt = impair_due(&q, now, &len))) {
			CU_ASSERT_EQUAL(len, 1);
			order[out++] = pkt[0];
			impair_pop(&q);
		}
	}
	impair_fini(&q);
	return out;
}

static bool in_order(const uint8_t *order, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (order[i] < order[i - 1])
			return false;
	return true;
}

static void test_delay_keeps_order(void)
{
	struct impair_cfg cfg = {.delay_ms = 50};
	uint8_t order[256];
	unsigned events;

	CU_ASSERT_EQUAL(run(&cfg, 200, order, &events), 200);
	CU_ASSERT_TRUE(in_order(order, 200));
	CU_ASSERT_EQUAL(events, 0);

	/* Equal due times come out first in, first out. */
	struct impair_queue q;
	const uint8_t *pkt;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(impair_init(&q, 8), 0);
	for (uint8_t b = 0; b < 8; b++)
		CU_ASSERT_EQUAL(impair_push(&q, 5, &b, 1), 0);
	CU_ASSERT_EQUAL(impair_push(&q, 5, order, 1), -1); /* full */
	CU_ASSERT_EQUAL(impair_wait(&q, 2), 3);
	CU_ASSERT_PTR_NULL(impair_due(&q, 4, &len));
	for (uint8_t b = 0; b < 8; b++) {
		pkt = impair_due(&q, 5, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(pkt);
		CU_ASSERT_EQUAL(pkt[0], b);
		impair_pop(&q);
	}
	CU_ASSERT_EQUAL(impair_wait(&q, 5), -1);
	impair_fini(&q);
}

static void test_reorder(void)
{
	struct impair_cfg cfg = {.delay_ms = 10, .reorder_pct = 30, .reorder_ms = 40};
	uint8_t order[256], seen[200] = {0};
	unsigned events;
	size_t n = run(&cfg, 200, order, &events);

	CU_ASSERT_EQUAL(n, 200);
	CU_ASSERT_FALSE(in_order(order, n));
	CU_ASSERT_TRUE(events & IMPAIR_REORDERED);
	for (size_t i = 0; i < n; i++)
		seen[order[i]]++;
	for (size_t i = 0; i < 200; i++)
		CU_ASSERT_EQUAL(seen[i], 1);
}

static void test_loss_and_duplication(void)
{
	struct impair_cfg lose_all = {.loss_pct = 100}, lose_some = {.loss_pct = 20};
	struct impair_cfg dup_all = {.dup_pct = 100};
	uint8_t order[512];
	unsigned events;
	size_t n;

	CU_ASSERT_EQUAL(run(&lose_all, 100, order, &events), 0);
	CU_ASSERT_EQUAL(events, IMPAIR_LOST);
	n = run(&lose_some, 200, order, &events);
	CU_ASSERT_TRUE(n > 120 && n < 200); /* about 160 */
	CU_ASSERT_EQUAL(run(&dup_all, 100, order, &events), 200);
	CU_ASSERT_TRUE(in_order(order, 200));
	CU_ASSERT_EQUAL(order[0], order[1]);
}

int test_impair_register(void)
{
	static const struct test_case tests[] = {
	    {"delay alone never reorders", test_delay_keeps_order},
	    {"reordering: all arrive, not in order", test_reorder},
	    {"loss and duplication", test_loss_and_duplication},
	};

	return TEST_SUITE("natemu impairments", tests);
}
