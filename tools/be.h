/* SPDX-License-Identifier: BSD-3-Clause */
/* Big-endian fields of the messages the tools' peers send (rping's, perftest's). */
#ifndef NDK_TOOLS_BE_H
#define NDK_TOOLS_BE_H

#include <stdint.h>

static inline void
put_be(uint8_t *b, uint64_t v, int n)
{
	while (n-- > 0) {
		b[n] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t
get_be(const uint8_t *b, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *b++;
	return v;
}

#endif /* NDK_TOOLS_BE_H */
