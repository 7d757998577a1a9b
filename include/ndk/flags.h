/* SPDX-License-Identifier: BSD-3-Clause */
/* Flag values, exactly as ndkpi.h defines them. */
#ifndef NDK_FLAGS_H
#define NDK_FLAGS_H

/* Memory region access (NdkRegisterMr). */
#define NDK_MR_FLAG_ALLOW_LOCAL_READ   0x00000000u
#define NDK_MR_FLAG_ALLOW_LOCAL_WRITE  0x00000001u
#define NDK_MR_FLAG_ALLOW_REMOTE_READ  0x00000002u
#define NDK_MR_FLAG_ALLOW_REMOTE_WRITE 0x00000005u /* 0x4 | LOCAL_WRITE */
#define NDK_MR_FLAG_RDMA_READ_SINK     0x00000008u

/* Work request flags. */
#define NDK_OP_FLAG_SILENT_SUCCESS	       0x00000001u
#define NDK_OP_FLAG_READ_FENCE		       0x00000002u
#define NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT     0x00000004u
#define NDK_OP_FLAG_ALLOW_REMOTE_READ	       0x00000008u
#define NDK_OP_FLAG_ALLOW_LOCAL_WRITE	       0x00000010u
#define NDK_OP_FLAG_ALLOW_REMOTE_WRITE	       0x00000030u /* 0x20 | LOCAL_WRITE */
#define NDK_OP_FLAG_INLINE		       0x00000040u
#define NDK_OP_FLAG_RDMA_READ_SINK	       0x00000080u
#define NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE 0x00000100u /* ndkpi.h value, not the doc page's */
#define NDK_OP_FLAG_DEFER		       0x00000200u

#endif /* NDK_FLAGS_H */
