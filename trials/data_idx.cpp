// IDX reader (http://yann.lecun.com/exdb/mnist/ format): big-endian magic 0x0000TTDD where TT is
// the element type (0x08 = uint8) and DD the number of dimensions, then DD big-endian uint32
// sizes, then the data. zlib reads .gz and plain files alike.
#include <fmt/format.h>
#include <torch/torch.h>
#include <zlib.h>

#include <filesystem>
#include <memory>

#include "common/error.h"
#include "trials/data.h"

namespace automl::trials {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

void read_exact(gzFile file, void* buffer, std::size_t bytes, const std::string& path,
                const char* what) {
  std::size_t done = 0;
  while (done < bytes) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(bytes - done, 1u << 30));
    const int got = gzread(file, static_cast<char*>(buffer) + done, chunk);
    if (got < 0) throw InputError(path, fmt::format("unreadable while reading {}", what));
    if (got == 0)
      throw InputError(path,
                       fmt::format("truncated: {} ends after {} of {} bytes", what, done, bytes));
    done += static_cast<std::size_t>(got);
  }
}

std::uint32_t big_endian(const unsigned char* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  if (!std::filesystem::exists(path)) throw InputError(path, "no such file");
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) throw InputError(path, "cannot open");

  unsigned char magic[4];
  read_exact(file.get(), magic, 4, path, "the IDX header");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] < 1 || magic[3] > 4)
    throw InputError(path, fmt::format("wrong magic {:02x}{:02x}{:02x}{:02x}: expected an IDX "
                                       "file of unsigned bytes (00 00 08 01..04)",
                                       magic[0], magic[1], magic[2], magic[3]));

  std::vector<std::int64_t> shape(magic[3]);
  std::int64_t elements = 1;
  for (auto& size : shape) {
    unsigned char b[4];
    read_exact(file.get(), b, 4, path, "the IDX dimensions");
    size = big_endian(b);
    elements *= size;
  }
  auto data = torch::empty(shape, torch::kUInt8);
  read_exact(file.get(), data.data_ptr<std::uint8_t>(), static_cast<std::size_t>(elements), path,
             "the IDX data");
  unsigned char extra;
  if (gzread(file.get(), &extra, 1) > 0)
    throw InputError(path, "trailing bytes after the data the header announces");
  return data;
}

namespace {

Dataset load_idx_pair(const std::string& directory, const std::string& prefix) {
  auto find = [&](const std::string& name) {
    for (const auto& candidate : {name + ".gz", name}) {
      auto path = (std::filesystem::path(directory) / candidate).string();
      if (std::filesystem::exists(path)) return path;
    }
    throw InputError(directory, fmt::format("missing {0}.gz (or {0})", name));
  };
  const auto images_path = find(prefix + "-images-idx3-ubyte");
  const auto labels_path = find(prefix + "-labels-idx1-ubyte");
  const auto images = read_idx(images_path);
  const auto labels = read_idx(labels_path);
  if (images.dim() != 3) throw InputError(images_path, "expected 3 dimensions [N, rows, cols]");
  if (labels.dim() != 1) throw InputError(labels_path, "expected 1 dimension [N]");
  if (images.size(0) != labels.size(0))
    throw InputError(labels_path, fmt::format("{} labels for {} images in {}", labels.size(0),
                                              images.size(0), images_path));
  Dataset set;
  set.inputs = images.unsqueeze(1).to(torch::kFloat32).div_(255.0);
  set.targets = labels.to(torch::kInt64);
  set.num_classes = set.targets.numel() ? set.targets.max().item<std::int64_t>() + 1 : 0;
  return set;
}

}  // namespace

Splits load_idx_dataset(const std::string& directory) {
  if (!std::filesystem::is_directory(directory))
    throw InputError(directory, "no such data directory");
  Splits splits;
  splits.train = load_idx_pair(directory, "train");
  splits.test = load_idx_pair(directory, "t10k");
  splits.test.num_classes = splits.train.num_classes =
      std::max(splits.train.num_classes, splits.test.num_classes);
  return splits;
}

}  // namespace automl::trials
