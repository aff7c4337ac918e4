#pragma once
// A persistent pool of worker threads for the CPU engines' parallel sections. Starting and
// joining a std::thread costs ~40 us on the development machine, and one KSG estimate at
// n = 1000 has two or three parallel sections of ~0.1-0.3 ms each: the threads are kept.
#include <functional>

namespace automl::mi::detail {

// Runs work(0) on the calling thread and work(1) .. work(workers - 1) on pool threads, and
// returns once all have returned. Returns false without running anything when the pool is in
// use by another section (concurrent callers, nesting) or this process is a fork of the one
// that started it; the caller then starts threads of its own. work must not throw.
bool run_on_pool(int workers, const std::function<void(int)>& work);

}  // namespace automl::mi::detail
