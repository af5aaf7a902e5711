/*
 * Length-checked reading and writing of network byte order.
 *
 * Everything that reads the wire goes through a cursor: a pointer and the
 * number of bytes left. A read that would pass the end fails and leaves the
 * cursor where it was, so a parser never touches a byte it was not given
 * (after tcpdump's extract.h).
 */
#ifndef NATLAB_WIRE_H
#define NATLAB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wire_cursor {
	const uint8_t *p;
	size_t left;
};

static inline struct wire_cursor wire_cursor(const uint8_t *p, size_t len)
{
	struct wire_cursor c = {p, len};
	return c;
}

/* The next n bytes, or NULL when fewer are left. */
static inline const uint8_t *wire_take(struct wire_cursor *c, size_t n)
{
	const uint8_t *start = c->p;

	if (n > c->left)
		return NULL;
	c->p += n;
	c->left -= n;
	return start;
}

static inline bool wire_u16(struct wire_cursor *c, uint16_t *v)
{
	const uint8_t *b = wire_take(c, 2);

	if (!b)
		return false;
	*v = (uint16_t)(b[0] << 8 | b[1]);
	return true;
}

static inline bool wire_u32(struct wire_cursor *c, uint32_t *v)
{
	const uint8_t *b = wire_take(c, 4);

	if (!b)
		return false;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return true;
}

/* Writers for buffers whose size the caller has already checked. */
static inline void wire_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void wire_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static inline uint16_t wire_get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t wire_get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

#endif
