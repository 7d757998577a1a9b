/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every NDK object shares: the object header, the generic callback
 * types and the generic verbs (close, query_extension). Mirrors ndkpi.h.
 */
#ifndef NDK_OBJECT_H
#define NDK_OBJECT_H

#include <stdint.h>

#include <ndk/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ndk_version {
	uint16_t major;
	uint16_t minor;
};

/* The NDKPI version this library implements. */
#define NDK_VERSION_MAJOR 1
#define NDK_VERSION_MINOR 2

/* NDK_OBJECT_TYPE values. */
#define NDK_OBJECT_TYPE_UNDEFINED	0
#define NDK_OBJECT_TYPE_ADAPTER		1
#define NDK_OBJECT_TYPE_QP		2
#define NDK_OBJECT_TYPE_CQ		3
#define NDK_OBJECT_TYPE_MR		4
#define NDK_OBJECT_TYPE_MW		5
#define NDK_OBJECT_TYPE_PD		6
#define NDK_OBJECT_TYPE_SHARED_ENDPOINT 7
#define NDK_OBJECT_TYPE_CONNECTOR	8
#define NDK_OBJECT_TYPE_LISTENER	9
#define NDK_OBJECT_TYPE_SRQ		10

/*
 * Every object begins with this header and is followed by a const dispatch
 * pointer. reserved is the consumer's (NDK's NdkReserved block): the library
 * never reads or writes it.
 */
struct ndk_object_header {
	struct ndk_version version;
	uint32_t object_type;
	void *reserved[4];
};

/* NDK_FN_CLOSE_COMPLETION: the last callback an object ever gets. */
typedef void (*ndk_fn_close_completion)(void *context);

/* NDK_FN_REQUEST_COMPLETION: called once for every request that returned PENDING. */
typedef void (*ndk_fn_request_completion)(void *context, ndk_status status);

/*
 * NDK_FN_CREATE_COMPLETION: called once for every create that returned
 * PENDING; object is the new object when status is SUCCESS.
 */
typedef void (*ndk_fn_create_completion)(void *context, ndk_status status,
					 struct ndk_object_header *object);

/*
 * NDK_FN_CLOSE_OBJECT: SUCCESS (closed, no callback), PENDING (close_completion
 * follows, and is the object's last callback) or an error (nothing closed).
 * The object must not be touched once close has been called.
 */
typedef ndk_status (*ndk_fn_close_object)(struct ndk_object_header *object,
					  ndk_fn_close_completion close_completion, void *context);

struct ndk_guid {
	uint32_t data1;
	uint16_t data2;
	uint16_t data3;
	uint8_t data4[8];
};

struct ndk_extension_interface {
	const void *dispatch;
};

/*
 * NDK_FN_QUERY_EXTENSION_INTERFACE: fills *ext with the dispatch table of the
 * extension named by id at version, or returns NOT_SUPPORTED.
 */
typedef ndk_status (*ndk_fn_query_extension)(struct ndk_object_header *object,
					     const struct ndk_guid *id, struct ndk_version version,
					     struct ndk_extension_interface *ext);

#ifdef __cplusplus
}
#endif

#endif /* NDK_OBJECT_H */
