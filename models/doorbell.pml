/*
 * SPDX-License-Identifier: BSD-3-Clause
 *
 * The sleep/doorbell protocol of adaptive polling (daemon/engine.c:
 * engine_sleep, engine_bell_ring; lib/ndk_priv.h: bell_ring;
 * docs/ring-protocol.md). One engine, NCLIENTS clients that each publish
 * NREQ requests and wait for each to be served. The engine sleeps with no
 * timeout here: a lost wake-up is then a state where every process waits,
 * which spin reports as an invalid end state.
 *
 * How it maps to the code:
 *   pub[c]      how many requests a client has published: the stamp of
 *               its next entry (its store-release; ring.h, stamped rings)
 *   taken[c]    the engine's consumer index (the entry whose stamp it reads)
 *   asleep      kengine's ASLEEP bit (ndkd stores it in every client's copy
 *               and in its bell before it fences; one word here)
 *   bell        bytes on the doorbell / the bell's eventfd count: what
 *               epoll_wait waits for
 * Both sides fence between their store and their load (seq_cst fences),
 * so the interleavings spin explores (sequentially consistent) are all
 * the orders the hardware can produce here.
 *
 * -DBROKEN: the engine announces that it sleeps after its last look at
 * the rings, with no look after (a plausible bug); spin must find the lost
 * wake-up. -DBROKEN_CLIENT: a client reads kengine before its publish is
 * visible (the fence left out, as a store buffer would reorder them); spin
 * must find that too. scripts/model-check runs all three.
 */
#ifndef NCLIENTS
#define NCLIENTS 2
#endif
#ifndef NREQ
#define NREQ 3
#endif

byte pub[NCLIENTS];
byte taken[NCLIENTS];
bool asleep;
byte bell;
byte done;

/* One pass: serve one request of every client that has one. */
inline pass(found)
{
	found = false;
	i = 0;
	do
	:: i < NCLIENTS ->
		if
		:: pub[i] != taken[i] -> taken[i]++; found = true
		:: else -> skip
		fi;
		i++
	:: else -> break
	od
}

active proctype engine()
{
	byte i;
	bool found;

	do
	:: done == NCLIENTS -> break
	:: else ->
		pass(found);
		if
		:: found -> skip
		:: else ->
#ifdef BROKEN
			asleep = true;
#else
			asleep = true;
			/* fence, then one more pass before sleeping */
			pass(found);
			if
			:: found -> skip
			:: else ->
#endif
				/*
				 * epoll_wait: until rung; then drain. A valid place
				 * to end (all served, asleep); a client left
				 * waiting for its result is not.
				 */
end_sleep:			atomic { bell > 0 -> bell = 0 };
#ifndef BROKEN
			fi;
#endif
			asleep = false
		fi
	od
}

proctype client(byte me)
{
	byte k = 0;

	do
	:: k < NREQ ->
		k++;
#ifdef BROKEN_CLIENT
		/* reads kengine before its publish is visible (no fence) */
		if
		:: asleep -> atomic { if :: bell < 255 -> bell++ :: else -> skip fi }
		:: else -> skip
		fi;
		pub[me]++;
#else
		pub[me]++;
		/* fence, then read kengine; ring if the engine sleeps */
		if
		:: asleep -> atomic { if :: bell < 255 -> bell++ :: else -> skip fi }
		:: else -> skip
		fi;
#endif
		/* wait for its result */
		taken[me] == k
	:: else -> break
	od;
	atomic { done++ }
}

init
{
	byte c = 0;

	atomic {
		do
		:: c < NCLIENTS -> run client(c); c++
		:: else -> break
		od
	}
}
