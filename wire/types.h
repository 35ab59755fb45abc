/* Integer types and byte order for code shared by user space and eBPF.
 *
 * The wire headers are included by `clang -target bpf` programs, where libc's
 * <stdint.h> cannot be used (it pulls in the host's 32/64-bit stubs), so the
 * fixed-width types come from the compiler's own macros there. */
#ifndef PEREGRINE_WIRE_TYPES_H
#define PEREGRINE_WIRE_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __bpf__
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __INT32_TYPE__ int32_t;
#else
#include <stdint.h>
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WIRE_HTONS(x) ((uint16_t)__builtin_bswap16((uint16_t)(x)))
#define WIRE_HTONL(x) ((uint32_t)__builtin_bswap32((uint32_t)(x)))
#else
#define WIRE_HTONS(x) ((uint16_t)(x))
#define WIRE_HTONL(x) ((uint32_t)(x))
#endif
#define WIRE_NTOHS(x) WIRE_HTONS(x)
#define WIRE_NTOHL(x) WIRE_HTONL(x)

/* Every wire function is a static inline on a byte buffer so that the eBPF
 * programs compile it in place; __always_inline keeps the verifier's view
 * simple. */
#define WIRE_INLINE static inline __attribute__((always_inline))

#endif
