#pragma once
// Data sets as tensors: readers for the real on-disk formats, splits and augmentation.
#include <torch/types.h>

#include <string>

#include "trials/config.h"

namespace automl::trials {

struct Dataset {
  torch::Tensor inputs;   // float32: images [N, C, H, W] in [0, 1] (or normalised); tables [N, F]
  torch::Tensor targets;  // int64 class labels [N], or float32 regression targets [N, T]
  std::int64_t num_classes = 0;  // 0 for regression

  std::int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
  bool is_classification() const { return num_classes > 0; }
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

// Builds the train/validation/test splits a trial asks for: subsets and validation split drawn
// by seed, normalisation fit on the training split only.
Splits load_splits(const DataConfig& config, std::uint64_t seed);

}  // namespace automl::trials
