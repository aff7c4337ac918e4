#pragma once
// Helpers shared by the tests: temporary directories and files written in real formats.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/error.h"

namespace automl::test {

// A file of raw values as numpy's tobytes() wrote them (native byte order, C order).
template <typename T>
std::vector<T> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

// The message of the `Error` (by default an InputError) that `load` throws ("" when it throws
// none; any other exception propagates and fails the test).
template <typename Error = InputError, typename Load>
std::string error_of(Load&& load) {
  try {
    load();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// A fresh empty directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void write_text(const std::string& path, const std::string& text);
void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes);
// gzip-compresses `bytes` into `path` (as the .gz IDX files are shipped).
void write_gzip(const std::string& path, const std::vector<std::uint8_t>& bytes);

// The bytes of an IDX file of unsigned bytes with the given shape and data.
std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& shape,
                                    const std::vector<std::uint8_t>& data);

// A directory holding a tiny IDX data set (train: 20 images, t10k: 10 images, 2x2 pixels, 2
// classes), written once per test process.
std::string tiny_idx_dir();

std::string fashion_mnist_dir();

// The automl executable of this build (build/tests/automl_tests -> build/automl).
std::string automl_binary();
// scripts/extract-sklearn-data.sh's diabetes table (the regression tests' data).
std::string diabetes_csv();

// Something a test needs that a machine may lack, and what to do about it when it is missing.
// AUTOML_TEST_PRETEND_MISSING=<name>[,<name>...] (fashion-mnist, diabetes, chromium, cuda,
// python-torch, python-torchvision) makes those count as missing, to try the skip path on a
// machine that has them.
struct Prerequisite {
  bool present = false;
  std::string missing;  // what is absent and how to get it
};
Prerequisite fashion_mnist();  // the Debian dataset-fashion-mnist package
Prerequisite diabetes();       // diabetes_csv()
Prerequisite chromium();       // for the HTML report's screenshot
Prerequisite cuda_device();    // a GPU, and a build with CUDA
Prerequisite python_torch();   // /usr/bin/python3 that imports torch (Debian's python3-torch)
// /usr/bin/python3 that imports torchvision, PIL and numpy (python3-torchvision, python3-pil).
Prerequisite python_torchvision();

// Runs `script` with /usr/bin/python3 (the interpreter with Debian's torch; python3 on PATH may
// lack it), so that tests get their files from an independent writer. Throws
// std::runtime_error with the script's output when it fails.
void run_python(const std::string& script);

// Ends the running test case as skipped. Catch2 v2 has no SKIP: when the process runs this test
// case alone (as CTest runs each), it exits with kSkipExitCode, which tests/CMakeLists.txt makes
// CTest report as "Not Run (Skipped)"; in a run of several test cases it warns and the caller
// returns, so that the others still run. Use AUTOML_SKIP_WITHOUT, which does the return.
constexpr int kSkipExitCode = 77;
void skip(const std::string& missing);

#define AUTOML_SKIP_WITHOUT(prerequisite)                               \
  do {                                                                  \
    const ::automl::test::Prerequisite automl_needed_ = (prerequisite); \
    if (!automl_needed_.present) {                                      \
      ::automl::test::skip(automl_needed_.missing);                     \
      return;                                                           \
    }                                                                   \
  } while (false)

// |a - b| <= tolerance * max(|a|, |b|)
bool relative_close(double a, double b, double tolerance);

}  // namespace automl::test
