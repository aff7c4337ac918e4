#pragma once
// IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/), free of LibTorch so that the
// experiment loader can read their headers: a big-endian magic 00 00 08 DD (unsigned bytes, DD
// dimensions), DD big-endian uint32 sizes, then the data. gzip-compressed and plain files alike.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct gzFile_s;

namespace automl::trials {

struct IdxHeader {
  std::vector<std::int64_t> shape;
  std::int64_t elements() const;  // the product of shape: the data's size in bytes
  std::int64_t bytes() const;     // header and data: what the (decompressed) file must hold
};

// `name`.gz or else `name` in `directory`, the way the data sets ship; "" when neither exists.
std::string find_idx_file(const std::string& directory, const std::string& name);

// Reads one IDX file in two steps, so that a caller allocates only after the header has been
// checked against the file. Every error is an InputError naming the file.
class IdxReader {
 public:
  // Opens `path` and reads its header: a missing file, a wrong magic or a truncated header
  // throws.
  explicit IdxReader(const std::string& path);

  const IdxHeader& header() const { return header_; }
  // Throws unless the header's sizes match what the file holds (decompressed, for .gz files),
  // so that a corrupt header never asks for an allocation the file cannot fill.
  void check_size() const;
  // Reads the header().elements() data bytes into `out` and checks that nothing follows them.
  void read_data(std::uint8_t* out);

 private:
  struct Close {
    void operator()(gzFile_s* file) const;
  };
  std::string path_;
  std::unique_ptr<gzFile_s, Close> file_;
  IdxHeader header_;
};

// The header of `path` alone (IdxReader(path).header()).
IdxHeader read_idx_header(const std::string& path);

}  // namespace automl::trials
