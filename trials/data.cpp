#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "common/error.h"
#include "trials/data.h"
#include "trials/random.h"

namespace automl::trials {

Dataset Dataset::subset(const torch::Tensor& indices) const {
  Dataset out = *this;
  out.inputs = inputs.index_select(0, indices.to(inputs.device()));
  out.targets = targets.index_select(0, indices.to(targets.device()));
  return out;
}

Dataset Dataset::to(const torch::Device& device) const {
  Dataset out = *this;
  out.inputs = inputs.to(device);
  out.targets = targets.to(device);
  return out;
}

namespace {

Splits load_raw(const DataConfig& config, std::uint64_t seed) {
  if (config.format == "idx") return load_idx_dataset(config.path);
  throw InputError("data.format",
                   fmt::format("unknown data format '{}' (expected idx)", config.format));
}

// The first `n` of a seeded permutation of `population` indices, in ascending order.
torch::Tensor draw(std::int64_t population, std::int64_t n, std::uint64_t seed) {
  auto order = seeded_permutation(population, seed);
  order.resize(static_cast<std::size_t>(n));
  std::sort(order.begin(), order.end());
  return torch::tensor(order, torch::kInt64);
}

}  // namespace

Splits load_splits(const DataConfig& config, std::uint64_t seed) {
  Splits splits = load_raw(config, seed);
  const std::int64_t train_total = splits.train.size();
  if (config.train_subset < 0 || config.train_subset > train_total)
    throw InputError("data.train_subset", fmt::format("{} is not in [0, {}] (0 = all)",
                                                      config.train_subset, train_total));
  if (config.test_subset < 0 || config.test_subset > splits.test.size())
    throw InputError("data.test_subset", fmt::format("{} is not in [0, {}] (0 = all)",
                                                     config.test_subset, splits.test.size()));

  // One permutation of the training set, by seed: the first part is the validation split, the
  // rest (up to train_subset samples) the training split.
  const std::int64_t used = config.train_subset ? config.train_subset : train_total;
  const auto validation_size = static_cast<std::int64_t>(config.validation_fraction * used);
  auto order = seeded_permutation(train_total, seed);
  auto pick = [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t> part(order.begin() + begin, order.begin() + end);
    std::sort(part.begin(), part.end());
    return torch::tensor(part, torch::kInt64);
  };
  const Dataset full_train = splits.train;
  if (validation_size > 0) splits.validation = full_train.subset(pick(0, validation_size));
  splits.train = full_train.subset(pick(validation_size, used));
  if (config.test_subset)
    splits.test = splits.test.subset(draw(splits.test.size(), config.test_subset, seed + 1));
  return splits;
}

}  // namespace automl::trials
