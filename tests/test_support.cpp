#include "test_support.h"

// mi/mi.h (for cuda_available) brings LibTorch, whose glog defines a CHECK macro: Catch's wins.
#include "mi/mi.h"
#undef CHECK
#include <zlib.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace automl::test {

TempDir::TempDir() {
  std::random_device random;
  path_ = std::filesystem::temp_directory_path() /
          ("automl-test-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (!file) throw std::runtime_error("cannot write " + path);
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& shape,
                                    const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> bytes = {0, 0, 0x08, static_cast<std::uint8_t>(shape.size())};
  for (auto size : shape)
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(static_cast<std::uint8_t>((size >> shift) & 0xff));
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

std::string automl_binary() {
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "automl").string();
}

std::string tiny_idx_dir() {
  static const TempDir dir;
  static const bool written = [] {
    for (const auto& [split, n] : {std::pair<std::string, std::uint32_t>{"train", 20},
                                   std::pair<std::string, std::uint32_t>{"t10k", 10}}) {
      std::vector<std::uint8_t> images(std::size_t{n} * 4), labels(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        labels[i] = static_cast<std::uint8_t>(i % 2);
        images[std::size_t{i} * 4] = static_cast<std::uint8_t>(200 * (i % 2));
      }
      write_gzip(dir.file(split + "-images-idx3-ubyte.gz"), idx_bytes({n, 2, 2}, images));
      write_gzip(dir.file(split + "-labels-idx1-ubyte.gz"), idx_bytes({n}, labels));
    }
    return true;
  }();
  (void)written;
  return dir.path().string();
}

std::string fashion_mnist_dir() {
  return AUTOML_FASHION_MNIST_DIR;
}

std::string diabetes_csv() {
  return std::string(AUTOML_SOURCE_DIR) + "/data/sklearn/diabetes.csv";
}

namespace {

// Whether AUTOML_TEST_PRETEND_MISSING lists `name`.
bool pretend_missing(const std::string& name) {
  const char* list = std::getenv("AUTOML_TEST_PRETEND_MISSING");
  std::stringstream names(list ? list : "");
  for (std::string item; std::getline(names, item, ',');)
    if (item == name) return true;
  return false;
}

Prerequisite prerequisite(const std::string& name, bool present, const std::string& missing) {
  return {present && !pretend_missing(name), missing};
}

// True when this process runs exactly one test case, as CTest runs each.
bool running_one_test_case() {
  const auto& config = *Catch::getCurrentContext().getConfig();
  return Catch::filterTests(Catch::getAllTestCasesSorted(config), config.testSpec(), config)
             .size() == 1;
}

}  // namespace

Prerequisite fashion_mnist() {
  return prerequisite("fashion-mnist",
                      std::filesystem::exists(fashion_mnist_dir() + "/train-images-idx3-ubyte.gz"),
                      "dataset-fashion-mnist is not installed (scripts/setup.sh installs it)");
}

Prerequisite diabetes() {
  return prerequisite("diabetes", std::filesystem::exists(diabetes_csv()),
                      diabetes_csv() + " is absent (scripts/extract-sklearn-data.sh makes it)");
}

Prerequisite chromium() {
  return prerequisite("chromium", std::system("command -v chromium > /dev/null 2>&1") == 0,
                      "chromium is absent (scripts/setup.sh installs it)");
}

Prerequisite cuda_device() {
  return prerequisite("cuda", mi::cuda_available(), "no CUDA device, or built without CUDA");
}

Prerequisite python_torch() {
  static const bool imports =
      std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0;
  return prerequisite("python-torch", imports,
                      "/usr/bin/python3 cannot import torch (scripts/setup.sh installs "
                      "python3-torch)");
}

Prerequisite python_torchvision() {
  static const bool imports =
      std::system("/usr/bin/python3 -c 'import torchvision, PIL, numpy' > /dev/null 2>&1") == 0;
  return prerequisite("python-torchvision", imports,
                      "/usr/bin/python3 cannot import torchvision, PIL and numpy (scripts/"
                      "setup.sh installs python3-torchvision and python3-pil)");
}

void run_python(const std::string& script) {
  const TempDir dir;
  write_text(dir.file("script.py"), script);
  const auto command = "/usr/bin/python3 " + dir.file("script.py") + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot start /usr/bin/python3");
  std::string output;
  char buffer[4096];
  while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  if (pclose(pipe) != 0)
    throw std::runtime_error("/usr/bin/python3 failed on\n" + script + "\n" + output);
}

void skip(const std::string& missing) {
  if (running_one_test_case()) {
    std::cout << "skipped: " << missing << std::endl;
    std::fflush(nullptr);
    std::_Exit(kSkipExitCode);  // no teardown: nothing has started yet
  }
  WARN("skipped (counted as passed in a run of several test cases): " << missing);
}

bool relative_close(double a, double b, double tolerance) {
  return std::abs(a - b) <= tolerance * std::max(std::abs(a), std::abs(b));
}

}  // namespace automl::test
