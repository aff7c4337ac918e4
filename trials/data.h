#pragma once
// Data sets as tensors: readers for the real on-disk formats, splits and augmentation.
#include <torch/types.h>

#include <string>
#include <vector>

#include "trials/config.h"
#include "trials/sample_source.h"

namespace automl::trials {

struct Dataset {
  torch::Tensor inputs;   // float32: images [N, C, H, W] in [0, 1] (or normalised); tables [N, F]
  torch::Tensor targets;  // int64 class labels [N], or float32 regression targets [N, T]
  std::int64_t num_classes = 0;  // 0 for regression
  // Regression: the standardisation of the targets (fit on the training split), so that errors
  // can be reported in the data's own units: original = targets * target_scale + target_offset.
  std::vector<double> target_scale, target_offset;
  // Inputs made on demand (image folders, trials/data_image.h): `inputs` stays undefined and
  // sample i is the source's sample source_ids[i] (int64 [N], on the CPU).
  std::shared_ptr<const SampleSource> source;
  torch::Tensor source_ids;

  std::int64_t size() const {
    return source ? source_ids.size(0) : inputs.defined() ? inputs.size(0) : 0;
  }
  bool is_classification() const { return num_classes > 0; }
  bool is_image() const { return source || (inputs.defined() && inputs.dim() == 4); }
  Dataset subset(const torch::Tensor& indices) const;
  Dataset to(const torch::Device& device) const;
  // One sample's input shape: [C, H, W] for images, [F] for tables (trials/data_source.cpp).
  std::vector<std::int64_t> sample_shape() const;
  // The inputs of the samples at `indices` [K]: held ones selected, or made by the source with
  // the evaluation transform.
  torch::Tensor gather_inputs(const torch::Tensor& indices) const;
  // The source's batches of the samples at `order` (positions in this set), in that order.
  std::unique_ptr<BatchStream> stream(const std::vector<std::int64_t>& order,
                                      const StreamOptions& options) const;
};

struct Splits {
  Dataset train, validation, test;
};

// How the image readers below hand out pixels: as float32 in [0, 1] (x / 255), or as the stored
// uint8 bytes, a quarter of the memory, which split_source scales as it would have (the same
// float32 values) once it has drawn the trial's subsets.
enum class Pixels { unit_float, bytes };
// uint8 pixels as float32 in [0, 1]: the one place where x / 255 is done.
torch::Tensor unit_float(const torch::Tensor& bytes);

// An IDX file (MNIST format), gzip-compressed or not: uint8 tensor of the stored shape.
// Throws InputError naming the file on a missing file, wrong magic, or truncated data.
torch::Tensor read_idx(const std::string& path);

// MNIST / Fashion-MNIST directory with the four standard IDX(.gz) files.
Splits load_idx_dataset(const std::string& directory, Pixels pixels = Pixels::unit_float);

// CIFAR binary format (https://www.cs.toronto.edu/~kriz/cifar.html), one file: records of
// <label byte>[<fine label byte>] + 3072 bytes (1024 R, 1024 G, 1024 B, row-major 32x32).
// `label_bytes` is 1 for CIFAR-10 and 2 for CIFAR-100 (coarse, fine: the fine label is used).
// Returns [0,1] images [N, 3, 32, 32] and int64 labels. Throws InputError naming the file on a
// size that is not a whole number of records or a label out of range.
Dataset read_cifar_file(const std::string& path, int label_bytes, std::int64_t num_classes,
                        Pixels pixels = Pixels::unit_float);

// A CIFAR-10 directory (data_batch_1..5.bin, test_batch.bin) or CIFAR-100 directory
// (train.bin, test.bin), as the binary tarballs unpack.
Splits load_cifar10(const std::string& directory, Pixels pixels = Pixels::unit_float);
Splits load_cifar100(const std::string& directory, Pixels pixels = Pixels::unit_float);

// A CSV table with a header: feature and target columns by name (features default to every
// column that is not a target; targets default to the last column). The test split is
// `test_fraction` of the rows, drawn by seed. Unstandardised: load_splits standardises.
// Throws InputError naming the file and the column on unknown names.
Splits load_csv_dataset(const DataConfig& config, std::uint64_t seed);

// Tensor files (trials/data_tensors.cpp): one file written by Python's
// torch.save({"x": X, "y": Y}, path), read with torch::pickle_load. x: float [N, F] or
// [N, C, H, W] (uint8 images are scaled to [0, 1]), as float32; y: integer class labels [N]
// (int64), or with `regression` floating targets [N] or [N, T] (float32 [N, T]). Throws
// InputError naming the file on any other content, key, dtype or shape, or on NaN/infinity.
Dataset read_tensor_file(const std::string& path, bool regression);

// A directory holding train.pt and test.pt (trials/data_tensors.h) read as above; training
// labels must number the classes 0..C-1, each with a sample; the test file must have the
// training file's sample shape, targets per sample and classes.
Splits load_tensor_dataset(const std::string& directory, bool regression);

// Random crop from a zero-padded image (padding 4 on each side) and horizontal flip with
// probability 1/2, per image, drawn from LibTorch's default generator (the trial seeds it each
// epoch). Runs on the batch's device, without host synchronisation.
torch::Tensor augment_batch(const torch::Tensor& images, std::int64_t padding = 4);

// Builds the train/validation/test splits a trial asks for: subsets and validation split drawn
// by seed; normalisation (images: per channel, when asked; tables: always, features and targets)
// fit on the training split only.
Splits load_splits(const DataConfig& config, std::uint64_t seed);

// load_splits in two steps, for a process that runs many trials on the same files (the engine's
// workers, engine/data_cache.h): load_source decodes the files (every sample, before subsets
// and normalisation, IDX and CIFAR images as Pixels::bytes; `seed` matters only where the files
// themselves are split by it, CSV tables); split_source draws the trial's splits from a loaded
// source, which it never modifies (a split it takes whole shares the source's tensors: copy them
// before handing them out). load_splits(c, s) == split_source(load_source(c, s), c, s).
Splits load_source(const DataConfig& config, std::uint64_t seed);
Splits split_source(const Splits& source, const DataConfig& config, std::uint64_t seed);
// Configurations (and seeds) with equal keys have equal sources: what a cache of sources is
// keyed by. The fields only split_source reads (subsets, validation, normalisation,
// augmentation) are left out where the format's loader ignores them, so that the seeds and
// subsets of one data set share its source.
std::string source_key(const DataConfig& config, std::uint64_t seed);

}  // namespace automl::trials
