// The test runner. CTest runs test cases side by side (ctest -j), so each process keeps LibTorch
// to one intra-op thread: oversubscribed OpenMP pools spin and slow every test down ~10x. The
// placements the engines of a test process measure are remembered in a directory of its own
// (AUTOML_CACHE_DIR), never in the user's, so no test finds what another measured.
#define CATCH_CONFIG_RUNNER
#include <ATen/Parallel.h>
#undef CHECK
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

int main(int argc, char* argv[]) {
  at::set_num_threads(1);
  std::string cache =
      (std::filesystem::temp_directory_path() / "automl-test-cache.XXXXXX").string();
  const bool own_cache = std::getenv("AUTOML_CACHE_DIR") == nullptr && mkdtemp(cache.data());
  if (own_cache) setenv("AUTOML_CACHE_DIR", cache.c_str(), 1);
  const int status = Catch::Session().run(argc, argv);
  if (own_cache) std::filesystem::remove_all(cache);
  return status;
}
