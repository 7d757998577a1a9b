/* SPDX-License-Identifier: BSD-3-Clause */
/* The QP table without a daemon: qpns, tags, stale and forged numbers, a full table. */
#include "qpt.h"
#include "testlib.h"

static void
test_alloc_read_free(void)
{
	struct qpt t;
	struct qpt_entry e;
	uint32_t qpn, again;

	CHECK(qpt_create(&t, 8) == 0, "created");
	CHECK(qpt_free_count(&t) == 7, "index 0 is never handed out");
	qpn = qpt_alloc(&t, 3, 4, 1, NULL);
	CHECK(qpn != 0 && (qpn >> 8) != 0, "a qpn");
	CHECK(qpt_read(&t, qpn, &e) && e.state == QP_INIT && e.client_id == 3 && e.pd == 4 &&
		      e.engine == 1,
	      "reads back as created");
	qpt_set(&t, qpn, QP_RTS, 0x777);
	CHECK(qpt_read(&t, qpn, &e) && e.state == QP_RTS && e.peer_qpn == 0x777, "state and peer");
	CHECK(!qpt_read(&t, qpn ^ 1, &e), "another tag names nothing");
	CHECK(!qpt_read(&t, 0x42, &e), "index 0");
	CHECK(!qpt_read(&t, 8u << 8, &e), "index past the table");
	CHECK(!qpt_read(&t, UINT32_MAX, &e), "all ones");
	qpt_free(&t, qpn);
	CHECK(!qpt_read(&t, qpn, &e), "a freed qpn is stale at once");
	CHECK(qpt_free_count(&t) == 7, "back in the pool");
	/* the pool is FIFO: cycle through every index until this one comes back */
	do {
		again = qpt_alloc(&t, 3, 4, 1, NULL);
		qpt_free(&t, again);
	} while ((again >> 8) != (qpn >> 8));
	CHECK(again != qpn, "the same entry comes back under a new tag");
	CHECK(!qpt_read(&t, qpn, &e), "the old qpn still names nothing");
	qpt_destroy(&t);
}

static void
test_full(void)
{
	struct qpt t;
	uint32_t qpns[4], i;

	CHECK(qpt_create(&t, 4) == 0, "created");
	for (i = 0; i < 3; i++)
		qpns[i] = qpt_alloc(&t, 1, 1, 0, NULL);
	CHECK(qpns[0] && qpns[1] && qpns[2], "three entries");
	CHECK(qpt_alloc(&t, 1, 1, 0, NULL) == 0, "a full table says so");
	qpt_free(&t, qpns[1]);
	CHECK(qpt_alloc(&t, 1, 1, 0, NULL) != 0, "room after a free");
	qpt_destroy(&t);
	CHECK(qpt_create(&t, 1) != 0 && qpt_create(&t, (1u << 24) + 1) != 0, "sizes refused");
}

int
main(void)
{
	RUN(test_alloc_read_free);
	RUN(test_full);
	return t_done();
}
