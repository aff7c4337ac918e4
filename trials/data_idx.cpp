// IDX data sets as tensors (trials/idx.h reads the format). The reader checks what a corrupt or
// hostile file could make it do: header sizes against the file's size before allocating, and
// labels against the classes, before a trial builds a network from them.
#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>

#include "common/error.h"
#include "trials/data.h"
#include "trials/idx.h"

namespace automl::trials {

torch::Tensor read_idx(const std::string& path) {
  IdxReader reader(path);
  reader.check_size();
  auto data = torch::empty(reader.header().shape, torch::kUInt8);
  reader.read_data(data.data_ptr<std::uint8_t>());
  return data;
}

namespace {

struct LabelledImages {
  std::string labels_path;
  torch::Tensor images, labels;  // uint8 [N, rows, cols], int64 [N]
};

LabelledImages read_pair(const std::string& directory, const std::string& prefix) {
  auto find = [&](const std::string& name) {
    auto path = find_idx_file(directory, name);
    if (path.empty()) throw InputError(directory, fmt::format("missing {0}.gz (or {0})", name));
    return path;
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
  return {labels_path, images, labels.to(torch::kInt64)};
}

std::int64_t first_index_of(const torch::Tensor& labels, std::int64_t label) {
  return labels.eq(label).nonzero()[0][0].item<std::int64_t>();
}

// The number of classes of the training labels. Labels number the classes 0..C-1 and every
// class has a training sample: a stray label (200 in a 10-class file) would otherwise make a
// 201-class network whose extra outputs nothing trains.
std::int64_t class_count(const LabelledImages& train) {
  if (train.labels.numel() == 0) throw InputError(train.labels_path, "holds no samples");
  const auto counts = torch::bincount(train.labels);
  const auto classes = counts.size(0);
  const auto empty = counts.eq(0).nonzero();
  if (empty.size(0) > 0)
    throw InputError(train.labels_path,
                     fmt::format("label {} (sample {}) is not a class index: labels must number "
                                 "the classes 0..C-1, each with a sample, but class {} has none",
                                 classes - 1, first_index_of(train.labels, classes - 1),
                                 empty[0][0].item<std::int64_t>()));
  return classes;
}

// Test labels must be classes of the training set (a network has no output for any other).
void check_test_labels(const LabelledImages& test, std::int64_t classes) {
  if (test.labels.numel() == 0) return;
  const auto largest = test.labels.max().item<std::int64_t>();
  if (largest >= classes)
    throw InputError(
        test.labels_path,
        fmt::format("label {} (sample {}) is not one of the {} classes (0..{}) of "
                    "the training labels",
                    largest, first_index_of(test.labels, largest), classes, classes - 1));
}

Dataset as_dataset(const LabelledImages& pair, std::int64_t classes, Pixels pixels) {
  Dataset set;
  set.inputs = pair.images.unsqueeze(1);
  if (pixels == Pixels::unit_float) set.inputs = unit_float(set.inputs);
  set.targets = pair.labels;
  set.num_classes = classes;
  return set;
}

}  // namespace

Splits load_idx_dataset(const std::string& directory, Pixels pixels) {
  if (!std::filesystem::is_directory(directory))
    throw InputError(directory, "no such data directory");
  const auto train = read_pair(directory, "train");
  const auto test = read_pair(directory, "t10k");
  const auto classes = class_count(train);
  check_test_labels(test, classes);
  Splits splits;
  splits.train = as_dataset(train, classes, pixels);
  splits.test = as_dataset(test, classes, pixels);
  return splits;
}

}  // namespace automl::trials
