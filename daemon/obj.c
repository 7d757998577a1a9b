/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client's object table: PDs, MRs, CQs, QPs and listeners by handle (the
 * index). Handles are reused through a free list; a stale or forged handle
 * finds no object of the type asked for. Owned by the client's engine.
 */
#include "ndkd.h"

uint32_t
obj_new(struct client *c, uint8_t type, void *ptr)
{
	uint32_t h;

	if (c->obj_free != 0) {
		h = c->obj_free;
		c->obj_free = c->objs[h].next_free;
	} else if (c->obj_hw < c->obj_cap) {
		h = c->obj_hw++;
	} else {
		return 0;
	}
	c->objs[h] = (struct obj){ .type = type, .ptr = ptr };
	return h;
}

void
obj_delete(struct client *c, uint32_t h)
{
	c->objs[h] = (struct obj){ .type = OBJ_NONE, .next_free = c->obj_free };
	c->obj_free = h;
}
