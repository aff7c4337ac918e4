// CIFAR-10/100 binary format readers and the CSV table reader for regression.
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "mi/mi.h"
#include "trials/data.h"
#include "trials/random.h"

namespace automl::trials {
namespace {

constexpr std::int64_t kImageBytes = std::int64_t{3} * 32 * 32;

std::string require_file(const std::string& directory, const std::string& name) {
  if (!std::filesystem::is_directory(directory))
    throw InputError(directory, "no such data directory");
  auto path = (std::filesystem::path(directory) / name).string();
  if (!std::filesystem::exists(path)) throw InputError(directory, fmt::format("missing {}", name));
  return path;
}

Dataset concatenate(const std::vector<Dataset>& parts) {
  std::vector<torch::Tensor> inputs, targets;
  for (const auto& p : parts) {
    inputs.push_back(p.inputs);
    targets.push_back(p.targets);
  }
  Dataset out;
  out.inputs = torch::cat(inputs);
  out.targets = torch::cat(targets);
  out.num_classes = parts.front().num_classes;
  return out;
}

}  // namespace

Dataset read_cifar_file(const std::string& path, int label_bytes, std::int64_t num_classes,
                        Pixels pixels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::int64_t record = label_bytes + kImageBytes;
  const auto size = static_cast<std::int64_t>(bytes.size());
  if (size == 0 || size % record != 0)
    throw InputError(path, fmt::format("{} bytes is not a whole number of {}-byte CIFAR records "
                                       "({} label byte(s) + 3072 pixel bytes)",
                                       size, record, label_bytes));
  const std::int64_t n = size / record;
  const auto raw = torch::from_blob(bytes.data(), {n, record}, torch::kUInt8);
  const auto labels = raw.select(1, label_bytes - 1).to(torch::kInt64);
  const auto bad = labels.ge(num_classes).nonzero();
  if (bad.numel() > 0) {
    const auto i = bad[0][0].item<std::int64_t>();
    throw InputError(path, fmt::format("record {} (byte offset {}): label {} is not below {}", i,
                                       i * record, labels[i].item<std::int64_t>(), num_classes));
  }
  Dataset set;
  set.inputs = raw.slice(1, label_bytes).reshape({n, 3, 32, 32}).clone();  // `bytes` goes away
  if (pixels == Pixels::unit_float) set.inputs = unit_float(set.inputs);
  set.targets = labels;
  set.num_classes = num_classes;
  return set;
}

Splits load_cifar10(const std::string& directory, Pixels pixels) {
  std::vector<Dataset> train;
  for (int b = 1; b <= 5; ++b)
    train.push_back(read_cifar_file(require_file(directory, fmt::format("data_batch_{}.bin", b)), 1,
                                    10, pixels));
  Splits splits;
  splits.train = concatenate(train);
  splits.test = read_cifar_file(require_file(directory, "test_batch.bin"), 1, 10, pixels);
  return splits;
}

Splits load_cifar100(const std::string& directory, Pixels pixels) {
  Splits splits;
  splits.train = read_cifar_file(require_file(directory, "train.bin"), 2, 100, pixels);
  splits.test = read_cifar_file(require_file(directory, "test.bin"), 2, 100, pixels);
  return splits;
}

Splits load_csv_dataset(const DataConfig& config, std::uint64_t seed) {
  const auto table = mi::read_csv_table(config.path);
  if (table.header.empty())
    throw InputError(location(config.path, 1),
                     "expected a header row naming the columns (features and targets are chosen "
                     "by name)");
  auto column = [&](const std::string& name, const char* field) {
    const auto found = std::find(table.header.begin(), table.header.end(), name);
    if (found == table.header.end())
      throw InputError(
          location(config.path, 1) + fmt::format(": data.{}", field),
          fmt::format("no column named '{}' (columns: {})", name, fmt::join(table.header, ", ")));
    return static_cast<std::int64_t>(found - table.header.begin());
  };
  std::vector<std::int64_t> targets, features;
  for (const auto& name : config.target_columns) targets.push_back(column(name, "targets"));
  if (targets.empty()) targets.push_back(table.cols - 1);
  for (const auto& name : config.feature_columns) features.push_back(column(name, "features"));
  if (features.empty())
    for (std::int64_t c = 0; c < table.cols; ++c)
      if (std::find(targets.begin(), targets.end(), c) == targets.end()) features.push_back(c);
  if (features.empty())
    throw InputError(config.path, "no feature columns left besides the target columns");

  const auto all = mi::table_tensor(table).to(torch::kFloat32);
  Dataset rows;
  rows.inputs = all.index_select(1, torch::tensor(features, torch::kInt64)).contiguous();
  rows.targets = all.index_select(1, torch::tensor(targets, torch::kInt64)).contiguous();

  // The test rows: a seeded fraction, at least one, leaving at least one for training.
  const auto n = table.rows;
  if (n < 2) throw InputError(config.path, "needs at least 2 data rows (train and test)");
  const auto test_rows = std::clamp<std::int64_t>(
      std::llround(config.test_fraction * static_cast<double>(n)), 1, n - 1);
  auto order = seeded_permutation(n, seed ^ 0x7e57da7aULL);
  std::vector<std::int64_t> test(order.begin(), order.begin() + test_rows);
  std::vector<std::int64_t> train(order.begin() + test_rows, order.end());
  std::sort(test.begin(), test.end());
  std::sort(train.begin(), train.end());
  Splits splits;
  splits.train = rows.subset(torch::tensor(train, torch::kInt64));
  splits.test = rows.subset(torch::tensor(test, torch::kInt64));
  return splits;
}

}  // namespace automl::trials
