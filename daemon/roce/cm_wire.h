/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The InfiniBand connection manager on the wire: the 256-byte MAD (IBTA
 * Vol. 1 ch. 13.4: a 24-byte common header, then the class's data) that
 * carries CM messages (ch. 12.6: REQ, MRA, REJ, REP, RTU, DREQ, DREP) to
 * QP1, and the header librdmacm (rdma_cm) puts at the front of a REQ's
 * private data to say which IP addresses and port it connects. Encoding
 * and decoding only, as roce/wire.h does for frames: no state here.
 *
 * Field offsets below are bytes from the start of the CM data (MAD byte
 * 24); a field narrower than its bytes takes their most significant bits
 * first, as the IBTA tables lay them out.
 */
#ifndef NDKD_ROCE_CM_WIRE_H
#define NDKD_ROCE_CM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAD_LEN		 256
#define MAD_HDR_LEN	 24
#define CM_DATA_LEN	 (MAD_LEN - MAD_HDR_LEN)
#define MAD_BASE_VERSION 1
#define MAD_CLASS_CM	 0x07
#define MAD_CM_VERSION	 2
#define MAD_METHOD_SEND	 0x03
#define GSI_QPN		 1
#define GSI_QKEY	 0x80010000u
#define CM_MAX_ARI	 72
#define RDMA_CM_HDR_LEN	 36 /* struct cma_hdr */
#define RDMA_CM_PS_TCP	 0x0106
#define RDMA_CM_PS_UDP	 0x0111
#define RDMA_CM_PS_IB	 0x013f
#define RDMA_CM_SID_BASE 0x0000000001000000ull /* RDMA_IB_IP_PS_MASK's prefix */
#define RDMA_CM_SID_MASK 0xffffffffff000000ull

/* CM attribute IDs (Table 104). */
enum cm_attr {
	CM_REQ = 0x0010,
	CM_MRA = 0x0011,
	CM_REJ = 0x0012,
	CM_REP = 0x0013,
	CM_RTU = 0x0014,
	CM_DREQ = 0x0015,
	CM_DREP = 0x0016,
};

/* REJ reasons (Table 109) ndkd sends or acts on. */
enum cm_rej_reason {
	CM_REJ_NO_QP = 1,
	CM_REJ_NO_RESOURCES = 3,
	CM_REJ_TIMEOUT = 4,
	CM_REJ_UNSUPPORTED = 5,
	CM_REJ_INVALID_COMM_ID = 6,
	CM_REJ_INVALID_SERVICE_ID = 8,
	CM_REJ_INVALID_TRANSPORT_TYPE = 9,
	CM_REJ_STALE_CONN = 10,
	CM_REJ_INVALID_GID = 12,
	CM_REJ_INVALID_MTU = 26,
	CM_REJ_INSUFFICIENT_RESP_RES = 27,
	CM_REJ_CONSUMER_DEFINED = 28,
	CM_REJ_INVALID_CLASS_VERSION = 31,
};

/* MRA and REJ: which message they answer (2 bits). */
#define CM_MSG_REQ   0
#define CM_MSG_REP   1
#define CM_MSG_OTHER 2

/* A path of a REQ (primary or alternate). */
struct cm_path {
	uint16_t local_lid, remote_lid;
	uint8_t local_gid[16], remote_gid[16];
	uint32_t flow_label; /* 20 bits */
	uint8_t packet_rate; /* 6 bits */
	uint8_t traffic_class;
	uint8_t hop_limit;
	uint8_t sl; /* 4 bits */
	bool subnet_local;
	uint8_t ack_timeout; /* 5 bits */
};

/*
 * One CM message, decoded or to encode; numbers in host order. Which
 * fields mean something depends on attr; the rest are 0.
 */
struct cm_msg {
	uint16_t attr; /* enum cm_attr */
	uint64_t tid;  /* the MAD's transaction ID */
	uint32_t local_comm_id, remote_comm_id;
	/* REQ */
	uint64_t service_id;
	uint64_t local_ca_guid; /* REQ, REP */
	uint32_t local_qkey;	/* REQ, REP */
	uint32_t local_qpn;	/* REQ, REP (24 bits) */
	uint32_t local_eecn, remote_eecn;
	uint32_t starting_psn;			      /* REQ, REP (24 bits) */
	uint8_t responder_resources, initiator_depth; /* REQ, REP */
	uint8_t remote_cm_timeout, local_cm_timeout;  /* 5 bits each */
	uint8_t transport_type;			      /* 2 bits: 0 RC */
	bool e2e_flow_control;			      /* REQ, REP */
	uint8_t retry_count;			      /* 3 bits */
	uint16_t pkey;
	uint8_t path_mtu; /* 4 bits: IB MTU enum, 3 = 1024 */
	bool rdc_exists;
	uint8_t rnr_retry_count; /* REQ, REP (3 bits) */
	uint8_t max_cm_retries;	 /* 4 bits */
	bool srq;		 /* REQ, REP */
	uint8_t ext_transport;	 /* 3 bits */
	struct cm_path primary, alternate;
	bool sap_supported;
	/* REP */
	uint8_t target_ack_delay; /* 5 bits */
	uint8_t failover_accepted;
	/* REJ, MRA: the message answered (CM_MSG_*) */
	uint8_t msg;
	uint16_t reason; /* REJ */
	uint8_t ari_len; /* REJ: additional reject information, up to 72 */
	uint8_t ari[CM_MAX_ARI];
	uint8_t service_timeout; /* MRA (5 bits) */
	uint32_t remote_qpn;	 /* DREQ (24 bits) */
	/* every message: its private data, the whole fixed-size field */
	uint8_t private_data[224];
};

enum cm_verdict {
	CM_OK = 0,
	CM_SHORT,     /* not a whole MAD */
	CM_NOT_CM,    /* another class, version or method: not the CM's */
	CM_BAD_ATTR,  /* an attribute ndkd does not take (LAP, APR, SIDR ...) */
	CM_BAD_FIELD, /* a field out of its range (ARI length) */
	CM_VERDICTS,
};

/* The private data a message of attr carries: 92 (REQ) ... 224 bytes; 0 for others. */
size_t cm_private_len(uint16_t attr);
/* "REQ" ... "DREP", or "?". */
const char *cm_attr_str(uint16_t attr);
const char *cm_verdict_str(enum cm_verdict v);

/* m as a 256-byte MAD in mad. False for an attribute it cannot encode. */
bool cm_encode(const struct cm_msg *m, uint8_t mad[MAD_LEN]);
/* What len bytes of MAD say: CM_OK and *m filled, or why not. */
enum cm_verdict cm_decode(const uint8_t *mad, size_t len, struct cm_msg *m);

/*
 * rdma_cm's private-data header (struct cma_hdr: version 0, IP version in
 * the high nibble, the source port, source and destination addresses, IPv4
 * in the last 4 bytes of 16), then the application's own data.
 */
struct rdma_cm_hdr {
	uint8_t ip_version; /* 4 or 6 */
	uint16_t src_port;
	uint8_t src_ip[16], dst_ip[16]; /* IPv4: in bytes 12..15, the rest 0 */
};

void rdma_cm_hdr_encode(const struct rdma_cm_hdr *h, uint8_t out[RDMA_CM_HDR_LEN]);
/* False when in is not a version 0 header for IPv4 or IPv6. */
bool rdma_cm_hdr_decode(const uint8_t in[RDMA_CM_HDR_LEN], struct rdma_cm_hdr *h);
/* The service ID rdma_cm gives port in port space ps (RDMA_CM_PS_TCP ...). */
uint64_t rdma_cm_service_id(uint16_t ps, uint16_t port);

#endif /* NDKD_ROCE_CM_WIRE_H */
