#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "common/error.h"
#include "mi/mi.h"
#include "trials/config_json.h"
#include "trials/data.h"
#include "trials/data_image.h"
#include "trials/random.h"

namespace automl::trials {

torch::Tensor unit_float(const torch::Tensor& bytes) {
  return bytes.to(torch::kFloat32).div_(255.0);
}

Dataset Dataset::subset(const torch::Tensor& indices) const {
  Dataset out = *this;
  if (inputs.defined()) out.inputs = inputs.index_select(0, indices.to(inputs.device()));
  if (source_ids.defined()) out.source_ids = source_ids.index_select(0, indices.cpu());
  out.targets = targets.index_select(0, indices.to(targets.device()));
  return out;
}

Dataset Dataset::to(const torch::Device& device) const {
  Dataset out = *this;
  if (inputs.defined()) out.inputs = inputs.to(device);
  if (targets.defined()) out.targets = targets.to(device);
  return out;
}

namespace {

// Sorted indices as an int64 tensor.
torch::Tensor index_tensor(std::vector<std::int64_t> part) {
  std::sort(part.begin(), part.end());
  return torch::tensor(part, torch::kInt64);
}

}  // namespace

std::vector<std::string> data_formats() {
  return {"idx", "cifar10", "cifar100", "csv", "tensors", "image_folder"};
}

namespace {

Splits load_raw(const DataConfig& config, std::uint64_t seed) {
  if (config.format == "idx") return load_idx_dataset(config.path, Pixels::bytes);
  if (config.format == "cifar10") return load_cifar10(config.path, Pixels::bytes);
  if (config.format == "cifar100") return load_cifar100(config.path, Pixels::bytes);
  if (config.format == "csv") return load_csv_dataset(config, seed);
  if (config.format == "tensors") return load_tensor_dataset(config.path, config.is_regression());
  if (config.format == "image_folder") return load_image_folder(config);
  throw InputError("data.format", fmt::format("unknown data format '{}' (expected {})",
                                              config.format, fmt::join(data_formats(), ", ")));
}

// The first `n` of a seeded permutation of `population` indices, in ascending order.
torch::Tensor draw(std::int64_t population, std::int64_t n, std::uint64_t seed) {
  auto order = seeded_permutation(population, seed);
  order.resize(static_cast<std::size_t>(n));
  return index_tensor(std::move(order));
}

// (x - mean) / std with mean and std over `dims` of the training inputs; a constant column or
// channel keeps std 1 so that it maps to 0 instead of NaN.
std::pair<torch::Tensor, torch::Tensor> fit_standardisation(const torch::Tensor& x,
                                                            const std::vector<std::int64_t>& dims) {
  const auto mean = x.mean(dims, /*keepdim=*/true);
  auto std = x.std(dims, /*unbiased=*/false, /*keepdim=*/true);
  std = torch::where(std.gt(1e-12), std, torch::ones_like(std));
  return {mean, std};
}

void standardise(Splits& s, torch::Tensor Dataset::*field, const std::vector<std::int64_t>& dims) {
  if ((s.train.*field).size(0) == 0) return;
  const auto [mean, std] = fit_standardisation(s.train.*field, dims);
  for (Dataset* d : {&s.train, &s.validation, &s.test})
    if ((d->*field).defined()) d->*field = ((d->*field) - mean) / std;
  if (field == &Dataset::targets) {
    const auto mean64 = mean.flatten().to(torch::kDouble), std64 = std.flatten().to(torch::kDouble);
    std::vector<double> offset(mean64.data_ptr<double>(),
                               mean64.data_ptr<double>() + mean64.numel());
    std::vector<double> scale(std64.data_ptr<double>(), std64.data_ptr<double>() + std64.numel());
    for (Dataset* d : {&s.train, &s.validation, &s.test}) {
      d->target_offset = offset;
      d->target_scale = scale;
    }
  }
}

}  // namespace

Splits load_splits(const DataConfig& config, std::uint64_t seed) {
  return split_source(load_source(config, seed), config, seed);
}

Splits load_source(const DataConfig& config, std::uint64_t seed) {
  return load_raw(config, seed);
}

std::string source_key(const DataConfig& config, std::uint64_t seed) {
  // These loaders read the files at `path` alone (tensor files: and the task); CSV tables and
  // image folders read more of the configuration (CSV: the seed too), so all of it is the key.
  if (config.format == "idx" || config.format == "cifar10" || config.format == "cifar100" ||
      config.format == "tensors")
    return fmt::format("{}\n{}\n{}", config.format, config.path, config.is_regression());
  TrialConfig whole;
  whole.data = config;
  return nlohmann::json(whole).at("data").dump() + "\n" + std::to_string(seed);
}

Splits split_source(const Splits& source, const DataConfig& config, std::uint64_t seed) {
  // Subsets are new tensors; a split taken whole (the test set without test_subset) shares the
  // source's tensors unless normalisation replaces them.
  Splits splits = source;
  const std::int64_t train_total = splits.train.size();
  if (config.train_subset < 0 || config.train_subset > train_total)
    throw InputError("data.train_subset", fmt::format("{} is not in [0, {}] (0 = all)",
                                                      config.train_subset, train_total));
  if (config.test_subset < 0 || config.test_subset > splits.test.size())
    throw InputError("data.test_subset", fmt::format("{} is not in [0, {}] (0 = all)",
                                                     config.test_subset, splits.test.size()));
  if (config.validation_fraction < 0 || config.validation_fraction >= 1)
    throw InputError("data.validation_fraction",
                     fmt::format("{} is not in [0, 1)", config.validation_fraction));

  // One permutation of the training set, by seed: the first part is the validation split, the
  // rest (up to train_subset samples) the training split.
  const std::int64_t used = config.train_subset ? config.train_subset : train_total;
  const auto validation_size = static_cast<std::int64_t>(config.validation_fraction * used);
  const auto order = seeded_permutation(train_total, seed);
  auto pick = [&](std::int64_t begin, std::int64_t end) {
    return index_tensor(std::vector<std::int64_t>(order.begin() + begin, order.begin() + end));
  };
  const Dataset full_train = splits.train;
  if (validation_size > 0) splits.validation = full_train.subset(pick(0, validation_size));
  splits.train = full_train.subset(pick(validation_size, used));
  if (config.test_subset)
    splits.test = splits.test.subset(draw(splits.test.size(), config.test_subset, seed + 1));

  for (auto* d : {&splits.train, &splits.validation, &splits.test})
    if (d->inputs.defined() && d->inputs.scalar_type() == torch::kUInt8)
      d->inputs = unit_float(d->inputs);
  // Image folders normalise with data.mean/std as they decode (trials/data_image.h).
  if (config.format == "image_folder") finish_image_folder(splits, config);
  if (splits.train.is_image() && config.normalize && !splits.train.source)
    standardise(splits, &Dataset::inputs, {0, 2, 3});
  if (!splits.train.is_image()) standardise(splits, &Dataset::inputs, {0});  // tables: always
  // Regression targets always (tables or images): errors are reported back in their own units.
  if (!splits.train.is_classification()) standardise(splits, &Dataset::targets, {0});
  return splits;
}

torch::Tensor augment_batch(const torch::Tensor& images, std::int64_t padding) {
  const auto n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto padded = torch::constant_pad_nd(images, {padding, padding, padding, padding}, 0);
  const auto options = torch::TensorOptions().dtype(torch::kInt64).device(images.device());
  const auto top = torch::randint(0, 2 * padding + 1, {n, 1}, options);
  const auto left = torch::randint(0, 2 * padding + 1, {n, 1}, options);
  const auto flip = torch::randint(0, 2, {n, 1}, options).to(torch::kBool);
  const auto rows = top + torch::arange(h, options).unsqueeze(0);  // [n, h]
  auto cols = torch::arange(w, options).unsqueeze(0).expand({n, w});
  cols = left + torch::where(flip, (w - 1) - cols, cols);  // [n, w]
  const auto by_rows = padded.gather(2, rows.view({n, 1, h, 1}).expand({n, c, h, w + 2 * padding}));
  return by_rows.gather(3, cols.view({n, 1, 1, w}).expand({n, c, h, w}));
}

}  // namespace automl::trials
