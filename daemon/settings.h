/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd's settings table, shared by the command line (opts.c) and the
 * config file (config.c): each setting has a flag and a [section] key.
 */
#ifndef NDKD_SETTINGS_H
#define NDKD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "ndkd.h"

enum kind {
	K_U32,	     /* decimal in [min, max] */
	K_POW2,	     /* decimal power of two in [min, max] */
	K_MB,	     /* MiB in [min, max], stored as bytes in a uint64_t */
	K_OCTAL,     /* octal in [min, max] */
	K_SOCKET,    /* absolute path that fits sockaddr_un */
	K_PREFIX,    /* plain name */
	K_LCORES,    /* an EAL -l list */
	K_PROVIDER,  /* soft, verbs, mlx5, auto */
	K_HUGE,	     /* auto, yes, no */
	K_POLL,	     /* always, adaptive */
	K_UIDS,	     /* user names or numbers */
	K_GIDS,	     /* group names or numbers */
	K_PORT_UIDS, /* user names or numbers: who may listen on privileged ports */
	K_LOGLEVEL,  /* emerg..debug or 1..8 */
	K_PORT,	     /* DPDK devargs of a port: a new port */
	K_ADDR,	     /* A.B.C.D/LEN: the address of the port named last */
	K_XDP,	     /* steer | all: the XDP program of the af_xdp port named last */
	K_FAULT,     /* drop=N,dup=N,reorder=N,icrc=N: per 1000 frames sent */
};

/* One setting: its command-line flag and its [section] key in ndkd.conf. */
struct setting {
	const char *flag;
	const char *section;
	const char *key;
	enum kind kind;
	unsigned long min, max;
	size_t off; /* its field in struct ndkd_opts */
};

extern const struct setting settings[];
extern const size_t n_settings;

/*
 * Parse v for setting s into o. On error, -1 with a message in err that
 * names the value and what was expected (the caller adds where it came
 * from). copy: v does not outlive this call, keep a copy.
 */
int setting_apply(struct ndkd_opts *o, const struct setting *s, const char *v, bool copy, char *err,
		  size_t errlen);
/* printf into err; returns -1. */
int bad(char *err, size_t errlen, const char *fmt, ...);

#endif /* NDKD_SETTINGS_H */
