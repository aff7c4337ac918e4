#pragma once
// Helpers shared by the tests: temporary directories and files written in real formats.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace automl::test {

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

// True when the Debian Fashion-MNIST package is installed (training tests need it).
bool have_fashion_mnist();
std::string fashion_mnist_dir();

// |a - b| <= tolerance * max(|a|, |b|)
bool relative_close(double a, double b, double tolerance);

}  // namespace automl::test
