/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Status codes. Values and meanings are NTSTATUS's, as NDKPI uses them, so
 * code written against NDK reads the same here.
 */
#ifndef NDK_STATUS_H
#define NDK_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t ndk_status;

#define NDK_STATUS_SUCCESS		   ((ndk_status)0x00000000u)
#define NDK_STATUS_PENDING		   ((ndk_status)0x00000103u)
#define NDK_STATUS_DEVICE_BUSY		   ((ndk_status)0x80000011u)
#define NDK_STATUS_UNSUCCESSFUL		   ((ndk_status)0xC0000001u)
#define NDK_STATUS_NOT_IMPLEMENTED	   ((ndk_status)0xC0000002u)
#define NDK_STATUS_ACCESS_VIOLATION	   ((ndk_status)0xC0000005u)
#define NDK_STATUS_INVALID_HANDLE	   ((ndk_status)0xC0000008u)
#define NDK_STATUS_INVALID_DEVICE_REQUEST  ((ndk_status)0xC0000010u)
#define NDK_STATUS_INVALID_PARAMETER	   ((ndk_status)0xC000000Du)
#define NDK_STATUS_NO_MEMORY		   ((ndk_status)0xC0000017u)
#define NDK_STATUS_ACCESS_DENIED	   ((ndk_status)0xC0000022u)
#define NDK_STATUS_BUFFER_TOO_SMALL	   ((ndk_status)0xC0000023u)
#define NDK_STATUS_OBJECT_NAME_NOT_FOUND   ((ndk_status)0xC0000034u)
#define NDK_STATUS_REVISION_MISMATCH	   ((ndk_status)0xC0000059u)
#define NDK_STATUS_INSUFFICIENT_RESOURCES  ((ndk_status)0xC000009Au)
#define NDK_STATUS_IO_TIMEOUT		   ((ndk_status)0xC00000B5u)
#define NDK_STATUS_NOT_SUPPORTED	   ((ndk_status)0xC00000BBu)
#define NDK_STATUS_CANCELLED		   ((ndk_status)0xC0000120u)
#define NDK_STATUS_INVALID_DEVICE_STATE	   ((ndk_status)0xC0000184u)
#define NDK_STATUS_ADDRESS_ALREADY_EXISTS  ((ndk_status)0xC000020Au)
#define NDK_STATUS_CONNECTION_DISCONNECTED ((ndk_status)0xC000020Cu)
#define NDK_STATUS_CONNECTION_REFUSED	   ((ndk_status)0xC0000236u)
#define NDK_STATUS_CONNECTION_INVALID	   ((ndk_status)0xC000023Au)
#define NDK_STATUS_HOST_UNREACHABLE	   ((ndk_status)0xC000023Du)
#define NDK_STATUS_DEVICE_REMOVED	   ((ndk_status)0xC00002B6u)
#define NDK_STATUS_IMPLEMENTATION_LIMIT	   ((ndk_status)0xC000042Bu)

/*
 * True for SUCCESS only: the call is done and did what was asked. PENDING
 * is not ok yet (the result comes to the callback), nor is any error.
 */
static inline int
ndk_status_ok(ndk_status s)
{
	return s == NDK_STATUS_SUCCESS;
}

/* NT_SUCCESS: true for success and informational codes, PENDING included. */
static inline int
ndk_nt_success(ndk_status s)
{
	return (int32_t)s >= 0;
}

/*
 * ndk_status_str() - the NTSTATUS name of a status ("STATUS_PENDING"), or
 * "STATUS_0x<hex>" (in a thread-local buffer) for codes it does not know.
 * Never NULL. Thread-safe.
 */
const char *ndk_status_str(ndk_status status);

#ifdef __cplusplus
}
#endif

#endif /* NDK_STATUS_H */
