#pragma once
// What "0 threads = automatic" means, in one place: LibTorch's intra-op pool (trials), the KSG
// neighbour searches (mi) and the threads the engine hands each worker all resolve it here.
namespace automl::mi {

// `threads` if > 0, else the machine's cores shared among `sharers` processes (at least 1).
int resolve_threads(int threads, int sharers = 1);

}  // namespace automl::mi
