/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef NDKD_TELEMETRY_H
#define NDKD_TELEMETRY_H

struct server;

/* Register /ndkd/status, /ndkd/clients and /ndkd/client,<id>. Call after EAL init. */
void telemetry_init(struct server *s);

#endif /* NDKD_TELEMETRY_H */
