// SPDX-License-Identifier: BSD-3-Clause
// The only C++ in ndkd: Google Benchmark behind the C calls of shim.h.
#include <benchmark/benchmark.h>

#include "shim.h"

struct nb_state {
	benchmark::State *st;
};

extern "C" void
nb_register(const char *name, nb_fn fn, const int64_t *args, int n_args)
{
	auto *b = benchmark::RegisterBenchmark(name, [fn](benchmark::State &st) {
		nb_state s{ &st };
		fn(&s);
	});
	// Wall-clock time: the client waits on another core, so CPU time would lie.
	b->UseRealTime();
	for (int i = 0; i < n_args; i++)
		b->Arg(args[i]);
}

extern "C" bool
nb_keep_running(struct nb_state *s)
{
	return s->st->KeepRunning();
}

extern "C" int64_t
nb_arg(struct nb_state *s)
{
	return s->st->range(0);
}

extern "C" int64_t
nb_iterations(struct nb_state *s)
{
	return static_cast<int64_t>(s->st->iterations());
}

extern "C" void
nb_set_items(struct nb_state *s, int64_t items)
{
	s->st->SetItemsProcessed(items);
}

extern "C" void
nb_set_bytes(struct nb_state *s, int64_t bytes)
{
	s->st->SetBytesProcessed(bytes);
}

extern "C" void
nb_counter(struct nb_state *s, const char *name, double value)
{
	s->st->counters[name] = benchmark::Counter(value);
}

extern "C" void
nb_skip(struct nb_state *s, const char *why)
{
	s->st->SkipWithError(why);
}

extern "C" void
nb_pause(struct nb_state *s)
{
	s->st->PauseTiming();
}

extern "C" void
nb_resume(struct nb_state *s)
{
	s->st->ResumeTiming();
}

extern "C" int
nb_main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 2;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
