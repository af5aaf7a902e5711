/*
 * natemu's impairments, which these kernels' missing netem would otherwise
 * give: loss, duplication, delay and reordering. Pure: a plan per packet from
 * a seeded generator, and a queue that releases packets in due order, first
 * in first out among equals, so that delay alone never reorders.
 */
#ifndef NATLAB_NATEMU_IMPAIR_H
#define NATLAB_NATEMU_IMPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "natemu/packet.h"

struct impair_cfg {
	unsigned loss_pct, dup_pct, reorder_pct;
	unsigned delay_ms, reorder_ms; /* every packet; the reordered ones, on top */
};

enum impair_event { IMPAIR_LOST = 1, IMPAIR_DUPLICATED = 2, IMPAIR_REORDERED = 4 };

/* The due times of the copies of one packet (0, 1 or 2 of them), and which
 * impairments struck it (a mask of impair_event). */
size_t impair_plan(const struct impair_cfg *cfg, uint64_t *rng, uint64_t now, uint64_t due[2],
		   unsigned *events);

/* Packets wait in fixed slots; only the small (due, slot) entries move. */
struct impair_entry {
	uint64_t due;
	uint32_t slot;
};

struct impair_queue {
	struct impair_entry *order; /* by due, first in first out among equals */
	uint8_t (*pkt)[PACKET_MAX];
	size_t *len;
	uint32_t *free_slots;
	size_t n, nfree, cap;
};

int impair_init(struct impair_queue *q, size_t cap);
void impair_fini(struct impair_queue *q);
/* -1 when the queue is full (the packet is dropped and counted by the caller). */
int impair_push(struct impair_queue *q, uint64_t due, const uint8_t *pkt, size_t len);
/* The earliest packet and its length if it is due at now, else NULL. */
const uint8_t *impair_due(const struct impair_queue *q, uint64_t now, size_t *len);
void impair_pop(struct impair_queue *q);
/* Milliseconds until the earliest packet is due, or -1 when the queue is empty. */
int impair_wait(const struct impair_queue *q, uint64_t now);

#endif
