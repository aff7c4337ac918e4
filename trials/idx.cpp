#include "trials/idx.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace automl::trials {
namespace {

// Deflate stores at most about 1032 bytes per compressed byte; with room for the gzip framing,
// no .gz file holds more than this many times its own size.
constexpr std::int64_t kMaxGzipRatio = 1100;

std::uint32_t big_endian(const unsigned char* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

void read_exact(gzFile file, void* buffer, std::size_t bytes, const std::string& path,
                const char* what) {
  std::size_t done = 0;
  while (done < bytes) {
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(bytes - done, 1u << 30));
    const int got = gzread(file, static_cast<char*>(buffer) + done, chunk);
    if (got < 0) throw InputError(path, fmt::format("unreadable while reading {}", what));
    if (got == 0)
      throw InputError(path,
                       fmt::format("truncated: {} ends after {} of {} bytes", what, done, bytes));
    done += static_cast<std::size_t>(got);
  }
}

std::string shape_text(const IdxHeader& header) {
  return fmt::format("{}", fmt::join(header.shape, " x "));
}

// The file's first and last four bytes: the gzip magic, and the gzip trailer's ISIZE (the
// uncompressed size modulo 2^32, little-endian) when it is one.
struct FileEnds {
  bool gzip = false;
  std::uint32_t isize = 0;
};

FileEnds file_ends(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<unsigned char, 4> head{}, tail{};
  in.read(reinterpret_cast<char*>(head.data()), 2);
  in.seekg(-4, std::ios::end);
  in.read(reinterpret_cast<char*>(tail.data()), 4);
  FileEnds ends;
  ends.gzip = head[0] == 0x1f && head[1] == 0x8b && in;
  ends.isize = std::uint32_t{tail[0]} | (std::uint32_t{tail[1]} << 8) |
               (std::uint32_t{tail[2]} << 16) | (std::uint32_t{tail[3]} << 24);
  return ends;
}

// The decompressed size of a gzip file, by decompressing it (every member of it).
std::int64_t gzip_content_bytes(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw InputError(path, "cannot open");
  std::vector<char> buffer(1 << 20);
  std::int64_t total = 0;
  for (int got; (got = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0;)
    total += got;
  const bool failed = gzread(file, buffer.data(), 1) < 0;
  gzclose(file);
  if (failed) throw InputError(path, "unreadable: not a valid gzip file");
  return total;
}

// The bytes the file holds once decompressed. A single-member gzip file records that size (mod
// 2^32) in its trailer: when it agrees with the header the file is not decompressed twice.
std::int64_t content_bytes(const std::string& path, const IdxHeader& header) {
  const auto on_disk = static_cast<std::int64_t>(std::filesystem::file_size(path));
  const FileEnds ends = file_ends(path);
  if (!ends.gzip) return on_disk;
  if (header.bytes() > on_disk * kMaxGzipRatio) return -1;  // no gzip file of this size can
  if (static_cast<std::uint32_t>(header.bytes()) == ends.isize) return header.bytes();
  return gzip_content_bytes(path);
}

}  // namespace

std::int64_t IdxHeader::elements() const {
  std::int64_t product = 1;
  for (auto size : shape) product *= size;
  return product;
}

std::int64_t IdxHeader::bytes() const {
  return 4 + 4 * static_cast<std::int64_t>(shape.size()) + elements();
}

std::string find_idx_file(const std::string& directory, const std::string& name) {
  for (const auto& candidate : {name + ".gz", name}) {
    auto path = (std::filesystem::path(directory) / candidate).string();
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

IdxReader::IdxReader(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path)) throw InputError(path, "no such file");
  file_.reset(gzopen(path.c_str(), "rb"));
  if (!file_) throw InputError(path, "cannot open");
  unsigned char magic[4];
  read_exact(file_.get(), magic, 4, path, "the IDX header");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] < 1 || magic[3] > 4)
    throw InputError(path, fmt::format("wrong magic {:02x}{:02x}{:02x}{:02x}: expected an IDX "
                                       "file of unsigned bytes (00 00 08 01..04)",
                                       magic[0], magic[1], magic[2], magic[3]));
  // Four sizes below 2^32 could overflow a 64-bit product (taken in double here, exactly
  // enough): refuse what no disk holds before anything multiplies them.
  constexpr double kMaxElements = 281474976710656.0;  // 2^48
  double elements = 1;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    read_exact(file_.get(), b, 4, path, "the IDX dimensions");
    header_.shape.push_back(big_endian(b));
    elements *= static_cast<double>(header_.shape.back());
  }
  if (elements > kMaxElements)
    throw InputError(path, fmt::format("corrupt header: sizes {} announce more data than any "
                                       "file holds",
                                       shape_text(header_)));
}

void IdxReader::Close::operator()(gzFile_s* file) const {
  gzclose(file);
}

void IdxReader::check_size() const {
  const std::int64_t held = content_bytes(path_, header_);
  if (held == header_.bytes()) return;
  const std::int64_t header_bytes = header_.bytes() - header_.elements();
  if (held < 0)
    throw InputError(path_, fmt::format("truncated or corrupt header: sizes {} announce {} bytes, "
                                        "more than a gzip file of {} bytes can hold",
                                        shape_text(header_), header_.elements(),
                                        std::filesystem::file_size(path_)));
  if (held > header_.bytes())
    throw InputError(path_,
                     fmt::format("trailing bytes after the data the header announces "
                                 "(sizes {}: {} bytes, the file holds {})",
                                 shape_text(header_), header_.elements(), held - header_bytes));
  throw InputError(path_,
                   fmt::format("truncated: the IDX data ends after {} of {} bytes (sizes "
                               "{})",
                               held - header_bytes, header_.elements(), shape_text(header_)));
}

void IdxReader::read_data(std::uint8_t* out) {
  read_exact(file_.get(), out, static_cast<std::size_t>(header_.elements()), path_, "the IDX data");
  unsigned char extra;
  if (gzread(file_.get(), &extra, 1) > 0)
    throw InputError(path_, "trailing bytes after the data the header announces");
}

IdxHeader read_idx_header(const std::string& path) {
  return IdxReader(path).header();
}

}  // namespace automl::trials
