/*
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * An MR table entry's sequence count and variant (daemon/seqcount.h,
 * daemon/mrt.h; read in daemon/access.c: resolve). One writer (the
 * engine that owns the entry) makes NWRITES changes: each makes the count
 * odd, changes the fields one at a time, makes it even. A change either
 * makes the entry VALID under a new variant and a new mapping (register,
 * fast register) or INVALID (invalidate). Readers on other engines hold a
 * token (index and variant: here, a variant) and resolve it: wait for an
 * even count, copy the fields one by one, check the count again (retry if
 * it moved), then accept only a VALID copy of their variant.
 *
 * Checked: an accepted copy is never torn (its two mapping words come from
 * one change) and is exactly what the writer published at the count the
 * reader began at: so a token the entry no longer carries (stale, after
 * an invalidate or a fast register under another variant) is never
 * accepted by a read that began after the change, and one that began
 * before either saw the old state whole or retried.
 *
 * In the code the fences make the count's odd store visible before the
 * fields change (W0) and the fields before the even store (W1); the reader
 * acquires the count before the copy (R0) and fences before the re-check
 * (R1). spin's interleavings are sequentially consistent: those orders.
 *
 * -DBROKEN: the reader does not check the count again; -DBROKEN_WRITER:
 * the writer changes the fields before it makes the count odd. spin must
 * find a torn or stale acceptance in each (scripts/model-check).
 */
#ifndef NWRITES
#define NWRITES 3
#endif

byte seq;
byte state; /* 0 INVALID, 1 VALID */
byte variant;
byte w1, w2; /* a mapping two words wide, written one at a time */
/* ghost: what each even count published (index seq / 2) */
byte h_state[NWRITES + 1];
byte h_variant[NWRITES + 1];
byte h_w[NWRITES + 1];

proctype writer()
{
	byte k = 0;

	do
	:: k < NWRITES ->
		k++;
#ifndef BROKEN_WRITER
		seq++; /* odd: readers of this change will retry */
#endif
		if
		:: state = 1; variant = (variant + 1) % 4 /* VALID, a new variant */
		:: state = 0 /* INVALID: the token dies, the variant stays */
		fi;
		w1 = k;
		w2 = k;
		h_state[k] = state;
		h_variant[k] = variant;
		h_w[k] = k;
#ifdef BROKEN_WRITER
		seq++;
#endif
		seq++ /* even: published */
	:: else -> break
	od
}

proctype reader(byte token)
{
	byte s0, cs, cv, c1, c2;

retry:
	atomic { (seq % 2 == 0) -> s0 = seq };
	cs = state;
	cv = variant;
	c1 = w1;
	c2 = w2;
#ifndef BROKEN
	if
	:: seq != s0 -> goto retry
	:: else -> skip
	fi;
#endif
	if
	:: cs == 1 && cv == token ->
		assert(c1 == c2);
		assert(h_state[s0 / 2] == 1 && h_variant[s0 / 2] == token && h_w[s0 / 2] == c1)
	:: else -> skip
	fi
}

init
{
	/* the entry starts VALID under variant 0, mapping 0 */
	atomic {
		state = 1;
		h_state[0] = 1;
		run writer();
		run reader(0); /* the first token: stale after the first change */
		run reader(1)  /* a later one (or, after INVALID, stale too) */
	}
}
