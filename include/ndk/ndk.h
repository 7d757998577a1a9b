/* SPDX-License-Identifier: BSD-3-Clause */
/* libndk: NDK-style RDMA objects served by ndkd. Include this one header. */
#ifndef NDK_NDK_H
#define NDK_NDK_H

#include <ndk/status.h>
#include <ndk/flags.h>
#include <ndk/object.h>
#include <ndk/adapter.h>
#include <ndk/pd.h>
#include <ndk/mr.h>
#include <ndk/mw.h>
#include <ndk/cq.h>
#include <ndk/qp.h>
#include <ndk/srq.h>
#include <ndk/connector.h>

#endif /* NDK_NDK_H */
