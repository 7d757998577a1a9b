/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>

#include <ndk/status.h>

struct status_name {
	ndk_status status;
	const char *name;
};

#define S(x)                                                                                       \
	{                                                                                          \
		NDK_##x, #x                                                                        \
	}
static const struct status_name status_names[] = {
	S(STATUS_SUCCESS),
	S(STATUS_PENDING),
	S(STATUS_DEVICE_BUSY),
	S(STATUS_UNSUCCESSFUL),
	S(STATUS_NOT_IMPLEMENTED),
	S(STATUS_ACCESS_VIOLATION),
	S(STATUS_INVALID_HANDLE),
	S(STATUS_INVALID_PARAMETER),
	S(STATUS_NO_MEMORY),
	S(STATUS_ACCESS_DENIED),
	S(STATUS_BUFFER_TOO_SMALL),
	S(STATUS_OBJECT_NAME_NOT_FOUND),
	S(STATUS_REVISION_MISMATCH),
	S(STATUS_INSUFFICIENT_RESOURCES),
	S(STATUS_IO_TIMEOUT),
	S(STATUS_NOT_SUPPORTED),
	S(STATUS_CANCELLED),
	S(STATUS_INVALID_DEVICE_STATE),
	S(STATUS_INVALID_DEVICE_REQUEST),
	S(STATUS_ADDRESS_ALREADY_EXISTS),
	S(STATUS_CONNECTION_DISCONNECTED),
	S(STATUS_CONNECTION_REFUSED),
	S(STATUS_CONNECTION_INVALID),
	S(STATUS_HOST_UNREACHABLE),
	S(STATUS_DEVICE_REMOVED),
	S(STATUS_IMPLEMENTATION_LIMIT),
};
#undef S

const char *
ndk_status_str(ndk_status status)
{
	static _Thread_local char unknown[24];
	size_t i;

	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (status_names[i].status == status)
			return status_names[i].name;
	}
	snprintf(unknown, sizeof(unknown), "STATUS_0x%08X", status);
	return unknown;
}
