/* SPDX-License-Identifier: BSD-3-Clause */
/* The attach hello, as ndkd decodes the first datagram of a connection. */
#include <stdint.h>
#include <string.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ndk_abi_hello h;
	char why[128];
	size_t i;

	if (hello_decode(data, size, &h, why, sizeof(why)) == NDK_STATUS_SUCCESS) {
		/* what is accepted is safe to log and to put in telemetry */
		for (i = 0; i < sizeof(h.name) && h.name[i] != '\0'; i++) {
			if (h.name[i] < 0x20 || h.name[i] > 0x7e || h.name[i] == '"' ||
			    h.name[i] == '\\')
				__builtin_trap();
		}
		if (i == sizeof(h.name))
			__builtin_trap(); /* no terminating NUL */
	} else if (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL) {
		__builtin_trap(); /* a refusal says why */
	}
	return 0;
}
