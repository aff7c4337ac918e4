#pragma once
// Data sets as tensors: readers for the real on-disk formats, splits and augmentation.
#include <torch/types.h>

#include <string>
#include <vector>

#include "trials/config.h"

namespace automl::trials {

struct Dataset {
  torch::Tensor inputs;   // float32: images [N, C, H, W] in [0, 1] (or normalised); tables [N, F]
  torch::Tensor targets;  // int64 class labels [N], or float32 regression targets [N, T]
  std::int64_t num_classes = 0;  // 0 for regression
  // Regression: the standardisation of the targets (fit on the training split), so that errors
  // can be reported in the data's own units: original = targets * target_scale + target_offset.
  std::vector<double> target_scale, target_offset;

  std::int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
  bool is_classification() const { return num_classes > 0; }
  bool is_image() const { return inputs.defined() && inputs.dim() == 4; }
  Dataset subset(const torch::Tensor& indices) const;
  Dataset to(const torch::Device& device) const;
};

struct Splits {
  Dataset train, validation, test;
};

// An IDX file (MNIST format), gzip-compressed or not: uint8 tensor of the stored shape.
// Throws InputError naming the file on a missing file, wrong magic, or truncated data.
torch::Tensor read_idx(const std::string& path);

// MNIST / Fashion-MNIST directory with the four standard IDX(.gz) files.
Splits load_idx_dataset(const std::string& directory);

// CIFAR binary format (https://www.cs.toronto.edu/~kriz/cifar.html), one file: records of
// <label byte>[<fine label byte>] + 3072 bytes (1024 R, 1024 G, 1024 B, row-major 32x32).
// `label_bytes` is 1 for CIFAR-10 and 2 for CIFAR-100 (coarse, fine: the fine label is used).
// Returns [0,1] images [N, 3, 32, 32] and int64 labels. Throws InputError naming the file on a
// size that is not a whole number of records or a label out of range.
Dataset read_cifar_file(const std::string& path, int label_bytes, std::int64_t num_classes);

// A CIFAR-10 directory (data_batch_1..5.bin, test_batch.bin) or CIFAR-100 directory
// (train.bin, test.bin), as the binary tarballs unpack.
Splits load_cifar10(const std::string& directory);
Splits load_cifar100(const std::string& directory);

// A CSV table with a header: feature and target columns by name (features default to every
// column that is not a target; targets default to the last column). The test split is
// `test_fraction` of the rows, drawn by seed. Unstandardised: load_splits standardises.
// Throws InputError naming the file and the column on unknown names.
Splits load_csv_dataset(const DataConfig& config, std::uint64_t seed);

// Random crop from a zero-padded image (padding 4 on each side) and horizontal flip with
// probability 1/2, per image, drawn from LibTorch's default generator (the trial seeds it each
// epoch). Runs on the batch's device, without host synchronisation.
torch::Tensor augment_batch(const torch::Tensor& images, std::int64_t padding = 4);

// Builds the train/validation/test splits a trial asks for: subsets and validation split drawn
// by seed; normalisation (images: per channel, when asked; tables: always, features and targets)
// fit on the training split only.
Splits load_splits(const DataConfig& config, std::uint64_t seed);

}  // namespace automl::trials
