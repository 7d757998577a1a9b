/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The close of objects ndkd holds a handle for (PDs, CQs, listeners), in
 * one place: NDK closes an object after its successors (a PD after its MRs
 * and QPs, a CQ after its QPs), so close waits for the holds to go; then
 * the destroy request goes out, or, with the control ring full, the object
 * is parked and progress posts it later; when ndkd answers, the object is
 * freed and the app's close completion is its last callback.
 */
#include "ndk_priv.h"

void
lobj_init(struct lobj *o, struct adapter *ad, uint8_t destroy_op, void (*release)(struct lobj *),
	  void (*resume)(struct lobj *))
{
	o->ad = ad;
	o->destroy_op = destroy_op;
	o->release = release;
	o->resume = resume != NULL ? resume : lobj_try_close;
}

void
lobj_hold(struct lobj *o)
{
	o->holds++;
}

void
lobj_put(struct lobj *o)
{
	o->holds--;
	lobj_try_close(o);
}

/* Off the parked list: o is about to be freed (a listener may still have a GET parked). */
static void
unpark(struct lobj *o)
{
	struct lobj **pp;

	for (pp = &o->ad->parked_objs; *pp != NULL; pp = &(*pp)->park_next) {
		if (*pp == o) {
			*pp = o->park_next;
			break;
		}
	}
	o->parked = false;
}

static void
destroyed(struct adapter *ad, const struct req_slot *req, ndk_status status, const uint64_t *out)
{
	struct lobj *o = req->obj;
	ndk_fn_close_completion cb = o->close_cb;
	void *ctx = o->close_ctx;

	(void)status;
	(void)out;
	if (o->parked)
		unpark(o);
	/* Whatever ndkd said, the object is gone: this is its last callback. */
	o->release(o);
	if (cb != NULL)
		CALLBACK(ad, cb(ctx));
}

void
lobj_park(struct lobj *o)
{
	if (o->parked)
		return;
	o->parked = true;
	o->park_next = o->ad->parked_objs;
	o->ad->parked_objs = o;
}

void
lobj_try_close(struct lobj *o)
{
	struct ndk_abi_sqe sqe = { .opcode = o->destroy_op, .handle = o->handle };
	ndk_status st;

	if (!o->closing || o->destroy_posted || o->holds != 0)
		return;
	st = post_ctrl(o->ad, &sqe, 0, destroyed, NULL, NULL, o, 0);
	if (st == NDK_STATUS_PENDING) {
		o->destroy_posted = true;
	} else if (st == NDK_STATUS_DEVICE_REMOVED) {
		/*
		 * ndkd is gone and took the object with it. The close completes
		 * at the next progress: callbacks never run inside another call.
		 */
		o->destroy_posted = true;
		o->orphaned = true;
		lobj_park(o);
	} else {
		lobj_park(o); /* ring full */
	}
}

ndk_status
lobj_close(struct lobj *o, ndk_fn_close_completion cb, void *ctx)
{
	if (o->closing)
		return NDK_STATUS_INVALID_DEVICE_STATE;
	o->closing = true;
	o->close_cb = cb;
	o->close_ctx = ctx;
	lobj_try_close(o);
	if (o->orphaned) {
		/* nothing to wait for: done now, and no callback (SUCCESS) */
		unpark(o);
		o->release(o);
		return NDK_STATUS_SUCCESS;
	}
	return NDK_STATUS_PENDING;
}

void
lobj_abandon(struct lobj *o)
{
	ndk_fn_close_completion cb = o->close_cb;

	/* a close that returned PENDING gets its one callback, whatever happened since */
	if (o->closing && cb != NULL) {
		o->close_cb = NULL;
		CALLBACK(o->ad, cb(o->close_ctx));
	}
}

void
lobj_resume_parked(struct adapter *ad)
{
	struct lobj *list = ad->parked_objs;

	ad->parked_objs = NULL;
	while (list != NULL) {
		struct lobj *o = list;
		struct req_slot req = { .obj = o };

		list = o->park_next;
		o->parked = false;
		if (o->orphaned)
			destroyed(ad, &req, NDK_STATUS_DEVICE_REMOVED, NULL);
		else
			o->resume(o); /* may park it again */
	}
}

/* No extension interfaces are defined yet, for any object. */
ndk_status
no_extension(struct ndk_object_header *obj, const struct ndk_guid *id, struct ndk_version version,
	     struct ndk_extension_interface *ext)
{
	(void)obj;
	(void)id;
	(void)version;
	if (ext != NULL)
		ext->dispatch = NULL;
	return NDK_STATUS_NOT_SUPPORTED;
}
