#pragma once
// Inputs made on demand: a data set whose samples are decoded and transformed when batches are
// drawn (image folders, trials/data_image.h) instead of being held in one tensor. A Dataset with
// a source (trials/data.h) hands its batches out through a BatchStream.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace automl::trials {

// The batches of one pass over some samples, in order, made ahead of the consumer by the
// source's threads.
class BatchStream {
 public:
  virtual ~BatchStream() = default;
  // The next batch, on the CPU: inputs [B, C, H, W] float32, targets [B] int64; false after the
  // last. Rethrows what failed while making the batch's samples (an InputError naming the file).
  virtual bool next(torch::Tensor& inputs, torch::Tensor& targets) = 0;
};

struct StreamOptions {
  std::int64_t batch_size = 256;
  bool augment = false;     // the training transform (random, by `seed`), else evaluation's
  std::uint64_t seed = 0;   // the pass's seed: a sample's transform depends on it and the sample
  bool pin_memory = false;  // page-locked batches, for asynchronous copies to a GPU
  // A sample that cannot be made (a corrupt file, with data.skip_corrupt) is dropped from its
  // batch; with false it stays, as zeros (the mean, once normalised), so that the batch keeps
  // its length and its rows line up with the samples asked for.
  bool drop_skipped = true;
};

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // The shape of one sample's input, [C, H, W].
  virtual std::vector<std::int64_t> sample_shape() const = 0;
  // The samples `ids` (the source's own numbering) in this order, `options.batch_size` at a time.
  virtual std::unique_ptr<BatchStream> stream(std::vector<std::int64_t> ids,
                                              const StreamOptions& options) const = 0;
};

}  // namespace automl::trials
