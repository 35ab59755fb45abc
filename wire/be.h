/* Big-endian integers in byte buffers: the byte order of every Peregrine
 * management message (directory, switchd and RAS protocols), of the
 * directory's store keys, and of a MAC address read as a 48-bit number. */
#ifndef PEREGRINE_WIRE_BE_H
#define PEREGRINE_WIRE_BE_H

#include "wire/types.h"

WIRE_INLINE void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

WIRE_INLINE void wire_put32(uint8_t *p, uint32_t v)
{
	wire_put16(p, (uint16_t)(v >> 16));
	wire_put16(p + 2, (uint16_t)v);
}

WIRE_INLINE void wire_put64(uint8_t *p, uint64_t v)
{
	wire_put32(p, (uint32_t)(v >> 32));
	wire_put32(p + 4, (uint32_t)v);
}

/* The low 48 bits of v: a MAC address from its number. */
WIRE_INLINE void wire_put48(uint8_t *p, uint64_t v)
{
	wire_put16(p, (uint16_t)(v >> 32));
	wire_put32(p + 2, (uint32_t)v);
}

WIRE_INLINE uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

WIRE_INLINE uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)wire_get16(p) << 16 | wire_get16(p + 2);
}

WIRE_INLINE uint64_t wire_get64(const uint8_t *p)
{
	return (uint64_t)wire_get32(p) << 32 | wire_get32(p + 4);
}

/* A MAC address as a number (hash keys, ordering, ranges). */
WIRE_INLINE uint64_t wire_get48(const uint8_t *p)
{
	return (uint64_t)wire_get16(p) << 32 | wire_get32(p + 2);
}

#endif
