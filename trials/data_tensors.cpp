// Tensor files (data.format: tensors): train.pt and test.pt written by Python's
// torch.save({"x": X, "y": Y}, path), read with LibTorch's own unpickler (torch::pickle_load) so
// that the format is PyTorch's, not ours. Everything a user can get wrong (keys, dtypes, shapes,
// lengths, labels) is an InputError naming the file and what was expected.
#include "trials/data_tensors.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "trials/data.h"

namespace automl::trials {

std::vector<std::string> data_tasks() {
  return {"classification", "regression"};
}

namespace {

constexpr const char* kExpected = "a dict {\"x\": X, \"y\": Y} of tensors saved by torch.save";

std::vector<char> read_bytes(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw InputError(path, "no such tensor file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path, "cannot read the tensor file");
  std::vector<char> bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    throw InputError(path, "cannot read the tensor file");
  return bytes;
}

// LibTorch's messages end in a C++ stack trace; the first line says what went wrong.
std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

torch::IValue unpickle(const std::string& path) {
  const auto bytes = read_bytes(path);
  // torch.save writes a zip archive (PyTorch >= 1.6); the legacy format, a bare pickle stream,
  // is Python's alone: LibTorch has no reader for it.
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K')
    throw InputError(path, fmt::format("is not a zip archive: expected {} (PyTorch's default "
                                       "format since 1.6; a file saved with "
                                       "_use_new_zipfile_serialization=False must be saved again "
                                       "without it)",
                                       kExpected));
  try {
    // LibTorch's public reader of torch.save files, stable from 1.13 to 2.x. It copies the
    // bytes once more, so loading peaks at about three times the file's size.
    return torch::pickle_load(bytes);
  } catch (const c10::Error& error) {
    throw InputError(path, fmt::format("cannot be read as {}: {}", kExpected,
                                       first_line(error.what_without_backtrace())));
  } catch (const std::exception& error) {
    throw InputError(path,
                     fmt::format("cannot be read as {}: {}", kExpected, first_line(error.what())));
  }
}

// What Python calls a value of this kind, for messages.
std::string python_kind(const torch::IValue& value) {
  if (value.isTensor()) return "tensor";
  if (value.isGenericDict()) return "dict";
  if (value.isList()) return "list";
  if (value.isTuple()) return "tuple";
  if (value.isString()) return "str";
  if (value.isInt()) return "int";
  if (value.isDouble()) return "float";
  if (value.isBool()) return "bool";
  if (value.isNone()) return "None";
  return value.tagKind();
}

std::string python_dtype(torch::ScalarType type) {
  switch (type) {
    case torch::kUInt8:
      return "uint8";
    case torch::kInt8:
      return "int8";
    case torch::kInt16:
      return "int16";
    case torch::kInt32:
      return "int32";
    case torch::kInt64:
      return "int64";
    case torch::kFloat16:
      return "float16";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat32:
      return "float32";
    case torch::kFloat64:
      return "float64";
    case torch::kBool:
      return "bool";
    default:
      return c10::toString(type);
  }
}

std::string shape_of(const torch::Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.sizes(), ", "));
}

bool is_integer(const torch::Tensor& t) {
  return c10::isIntegralType(t.scalar_type(), /*includeBool=*/false);
}

// The tensors under "x" and "y"; any other content is refused.
std::pair<torch::Tensor, torch::Tensor> x_and_y(const torch::IValue& value,
                                                const std::string& path) {
  if (!value.isGenericDict())
    throw InputError(path, fmt::format("holds a {}; expected {}", python_kind(value), kExpected));
  std::vector<std::string> keys;
  torch::Tensor x, y;
  for (const auto& entry : value.toGenericDict()) {
    const auto key = entry.key().isString() ? entry.key().toStringRef()
                                            : fmt::format("<{}>", python_kind(entry.key()));
    keys.push_back(key);
    if (key != "x" && key != "y") continue;
    if (!entry.value().isTensor())
      throw InputError(path, fmt::format("'{}' is a {}, not a tensor; expected {}", key,
                                         python_kind(entry.value()), kExpected));
    (key == "x" ? x : y) = entry.value().toTensor();
  }
  if (!x.defined() || !y.defined() || keys.size() != 2)
    throw InputError(path, fmt::format("has the keys {}; expected exactly 'x' (inputs) and 'y' "
                                       "(targets): {}",
                                       fmt::join(keys, ", "), kExpected));
  for (const auto& [name, t] : {std::pair{"x", x}, std::pair{"y", y}})
    if (t.layout() != torch::kStrided || t.is_quantized())
      throw InputError(path, fmt::format("'{}' is a sparse or quantized tensor; save a dense one "
                                         "({}.to_dense() / {}.dequantize())",
                                         name, name, name));
  return {x.detach().cpu(), y.detach().cpu()};
}

void check_finite(const torch::Tensor& t, const std::string& name, const std::string& path) {
  const auto bad = torch::isfinite(t).logical_not().flatten(1).any(1).nonzero();
  if (bad.size(0) > 0)
    throw InputError(path, fmt::format("'{}' of sample {} holds NaN or infinity", name,
                                       bad[0][0].item<std::int64_t>()));
}

// Inputs as float32: floating tensors as stored; uint8 ones are images, scaled to [0, 1] like
// the IDX and CIFAR readers'.
torch::Tensor inputs_of(const torch::Tensor& x, const std::string& path) {
  if (x.dim() == 3)
    throw InputError(path, fmt::format("'x' has the shape {}; expected [N, F] (a table) or "
                                       "[N, C, H, W] (images): a stack of one-channel images "
                                       "needs its channel dimension, X.unsqueeze(1)",
                                       shape_of(x)));
  if (x.dim() != 2 && x.dim() != 4)
    throw InputError(path, fmt::format("'x' has the shape {}; expected [N, F] (a table) or "
                                       "[N, C, H, W] (images)",
                                       shape_of(x)));
  if (x.scalar_type() == torch::kUInt8) return unit_float(x).contiguous();
  if (!c10::isFloatingType(x.scalar_type()))
    throw InputError(path, fmt::format("'x' is {}; expected a floating tensor (or uint8 images, "
                                       "scaled to [0, 1])",
                                       python_dtype(x.scalar_type())));
  auto inputs = x.to(torch::kFloat32).contiguous();
  check_finite(inputs, "x", path);
  return inputs;
}

torch::Tensor targets_of(const torch::Tensor& y, bool regression, const std::string& path) {
  const auto dtype = python_dtype(y.scalar_type());
  if (regression) {
    if (!c10::isFloatingType(y.scalar_type()))
      throw InputError(path, fmt::format("'y' is {}, but data.task is regression: regression "
                                         "targets are floating (integer 'y' holds class labels: "
                                         "set data.task: classification)",
                                         dtype));
    if (y.dim() != 1 && y.dim() != 2)
      throw InputError(path, fmt::format("'y' has the shape {}; expected regression targets "
                                         "[N] or [N, T]",
                                         shape_of(y)));
    auto targets = y.to(torch::kFloat32).reshape({y.size(0), -1}).contiguous();
    check_finite(targets, "y", path);
    return targets;
  }
  if (!is_integer(y))
    throw InputError(path, fmt::format("'y' is {}, but data.task is classification: class labels "
                                       "are integers 0..C-1 (floating 'y' holds regression "
                                       "targets: set data.task: regression)",
                                       dtype));
  if (y.dim() != 1)
    throw InputError(path,
                     fmt::format("'y' has the shape {}; expected class labels [N]", shape_of(y)));
  auto labels = y.to(torch::kInt64).contiguous();
  if (labels.numel() > 0 && labels.min().item<std::int64_t>() < 0) {
    const auto i = labels.lt(0).nonzero()[0][0].item<std::int64_t>();
    throw InputError(path, fmt::format("label {} (sample {}) is negative: labels number the "
                                       "classes 0..C-1",
                                       labels[i].item<std::int64_t>(), i));
  }
  return labels;
}

std::int64_t first_index_of(const torch::Tensor& labels, std::int64_t label) {
  return labels.eq(label).nonzero()[0][0].item<std::int64_t>();
}

// The training labels number the classes 0..C-1, each with a sample (as IDX labels must): a
// stray label would otherwise make a network with outputs nothing trains.
std::int64_t class_count(const Dataset& train, const std::string& path) {
  const auto& labels = train.targets;
  // The distinct labels, ascending: the first one that differs from its position names the
  // first class without a sample (never a bincount as large as a stray label).
  const auto classes = std::get<0>(torch::unique_consecutive(std::get<0>(labels.sort())));
  const auto largest = classes[-1].item<std::int64_t>();
  const auto gaps = classes.ne(torch::arange(classes.size(0), torch::kInt64)).nonzero();
  if (gaps.size(0) > 0)
    throw InputError(path, fmt::format("label {} (sample {}) is not a class index: labels must "
                                       "number the classes 0..C-1, each with a sample, but "
                                       "class {} has none",
                                       largest, first_index_of(labels, largest),
                                       gaps[0][0].item<std::int64_t>()));
  if (largest < 1)
    throw InputError(path, "'y' holds a single class (0); classification needs at least two");
  return largest + 1;
}

// The test set must fit the network the training set builds: the same input shape, the same
// targets per sample, and only the training set's classes.
void check_test_fits(const Dataset& train, const Dataset& test, const std::string& train_path,
                     const std::string& test_path) {
  if (test.inputs.sizes().slice(1) != train.inputs.sizes().slice(1))
    throw InputError(test_path, fmt::format("'x' has the shape {}, but the samples of {} are "
                                            "[N, {}]",
                                            shape_of(test.inputs), train_path,
                                            fmt::join(train.inputs.sizes().slice(1), ", ")));
  if (train.is_classification()) {
    const auto largest = test.targets.max().item<std::int64_t>();
    if (largest >= train.num_classes)
      throw InputError(
          test_path, fmt::format("label {} (sample {}) is not one of the {} classes (0..{}) of "
                                 "{}",
                                 largest, first_index_of(test.targets, largest), train.num_classes,
                                 train.num_classes - 1, train_path));
  } else if (test.targets.size(1) != train.targets.size(1)) {
    throw InputError(test_path,
                     fmt::format("'y' holds {} targets per sample, but {} holds {}",
                                 test.targets.size(1), train_path, train.targets.size(1)));
  }
}

}  // namespace

Dataset read_tensor_file(const std::string& path, bool regression) {
  const auto [x, y] = x_and_y(unpickle(path), path);
  if (x.dim() == 0 || y.dim() == 0 || x.size(0) != y.size(0))
    throw InputError(path, fmt::format("'x' {} and 'y' {} must hold the same number of samples "
                                       "(their first dimension)",
                                       shape_of(x), shape_of(y)));
  if (x.size(0) == 0) throw InputError(path, "holds no samples");
  Dataset set;
  set.inputs = inputs_of(x, path);
  set.targets = targets_of(y, regression, path);
  return set;
}

Splits load_tensor_dataset(const std::string& directory, bool regression) {
  if (!std::filesystem::is_directory(directory))
    throw InputError(directory, fmt::format("no such data directory (data.format tensors expects "
                                            "a directory holding {} and {})",
                                            kTensorTrainFile, kTensorTestFile));
  const auto train_path = (std::filesystem::path(directory) / kTensorTrainFile).string();
  const auto test_path = (std::filesystem::path(directory) / kTensorTestFile).string();
  Splits splits;
  splits.train = read_tensor_file(train_path, regression);
  splits.test = read_tensor_file(test_path, regression);
  if (!regression) {
    splits.train.num_classes = class_count(splits.train, train_path);
    splits.test.num_classes = splits.train.num_classes;
  }
  check_test_fits(splits.train, splits.test, train_path, test_path);
  return splits;
}

}  // namespace automl::trials
