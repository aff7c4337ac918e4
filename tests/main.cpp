// The test runner. CTest runs test cases side by side (ctest -j), so each process keeps LibTorch
// to one intra-op thread: oversubscribed OpenMP pools spin and slow every test down ~10x.
#define CATCH_CONFIG_RUNNER
#include <ATen/Parallel.h>
#undef CHECK
#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  at::set_num_threads(1);
  return Catch::Session().run(argc, argv);
}
