#include "natemu/impair.h"

#include <stdlib.h>
#include <string.h>

/* xorshift64: the same seed gives the same impairments. */
static unsigned roll(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return (unsigned)(*rng % 100);
}

size_t impair_plan(const struct impair_cfg *cfg, uint64_t *rng, uint64_t now, uint64_t due[2],
		   unsigned *events)
{
	size_t copies = 1;

	*events = 0;
	if (cfg->loss_pct && roll(rng) < cfg->loss_pct) {
		*events |= IMPAIR_LOST;
		return 0;
	}
	if (cfg->dup_pct && roll(rng) < cfg->dup_pct) {
		*events |= IMPAIR_DUPLICATED;
		copies = 2;
	}
	for (size_t c = 0; c < copies; c++) {
		due[c] = now + cfg->delay_ms;
		if (cfg->reorder_pct && roll(rng) < cfg->reorder_pct) {
			*events |= IMPAIR_REORDERED;
			due[c] += cfg->reorder_ms;
		}
	}
	return copies;
}

int impair_init(struct impair_queue *q, size_t cap)
{
	*q = (struct impair_queue){.cap = cap};
	q->order = calloc(cap, sizeof(*q->order));
	q->pkt = calloc(cap, sizeof(*q->pkt));
	q->len = calloc(cap, sizeof(*q->len));
	q->free_slots = calloc(cap, sizeof(*q->free_slots));
	if (!q->order || !q->pkt || !q->len || !q->free_slots) {
		impair_fini(q);
		return -1;
	}
	for (size_t i = 0; i < cap; i++)
		q->free_slots[i] = (uint32_t)(cap - 1 - i);
	q->nfree = cap;
	return 0;
}

void impair_fini(struct impair_queue *q)
{
	free(q->order);
	free(q->pkt);
	free(q->len);
	free(q->free_slots);
	*q = (struct impair_queue){0};
}

int impair_push(struct impair_queue *q, uint64_t due, const uint8_t *pkt, size_t len)
{
	size_t at = q->n;
	uint32_t slot;

	if (q->nfree == 0 || len > PACKET_MAX)
		return -1;
	slot = q->free_slots[--q->nfree];
	memcpy(q->pkt[slot], pkt, len);
	q->len[slot] = len;
	/* After every packet due no later: usually the end, as delays are equal. */
	while (at > 0 && q->order[at - 1].due > due)
		at--;
	memmove(&q->order[at + 1], &q->order[at], (q->n - at) * sizeof(q->order[0]));
	q->order[at] = (struct impair_entry){due, slot};
	q->n++;
	return 0;
}

const uint8_t *impair_due(const struct impair_queue *q, uint64_t now, size_t *len)
{
	if (!q->n || q->order[0].due > now)
		return NULL;
	*len = q->len[q->order[0].slot];
	return q->pkt[q->order[0].slot];
}

void impair_pop(struct impair_queue *q)
{
	if (!q->n)
		return;
	q->free_slots[q->nfree++] = q->order[0].slot;
	q->n--;
	memmove(&q->order[0], &q->order[1], q->n * sizeof(q->order[0]));
}

int impair_wait(const struct impair_queue *q, uint64_t now)
{
	if (!q->n)
		return -1;
	return q->order[0].due <= now ? 0 : (int)(q->order[0].due - now);
}
