// Tensor files (data.format: tensors) against files written at test time by Python's torch.save
// (Debian's python3-torch, /usr/bin/python3): values read back exactly as Python wrote them (the
// raw bytes numpy wrote beside each file are the truth), every malformed file refused naming it,
// the experiment keys checked at load, and a trial learns from such files.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>

#include "common/error.h"
#include "experiments/experiment.h"
#include "test_support.h"
#include "trials/data.h"
#include "trials/trial.h"

using automl::test::TempDir;
using automl::trials::load_tensor_dataset;
using automl::trials::read_tensor_file;
using Catch::Contains;

namespace {

// Runs `body` with /usr/bin/python3 after `import torch`, with `d` the directory (ending in '/')
// and the generator seeded.
void python_writes(const TempDir& dir, const std::string& body) {
  automl::test::run_python("import torch\nd = '" + dir.path().string() +
                           "/'\ntorch.manual_seed(0)\n"
                           "def raw(t, name):\n"
                           "    open(d + name, 'wb').write(t.contiguous().numpy().tobytes())\n" +
                           body);
}

using automl::test::read_raw;

template <typename T>
std::vector<T> values_of(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

std::vector<std::int64_t> shape_of(const torch::Tensor& t) {
  return t.sizes().vec();
}

using automl::test::error_of;

}  // namespace

TEST_CASE("Tensor files read back exactly what torch.save wrote", "[data][tensors]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  TempDir dir;
  python_writes(dir, R"(
x = torch.randn(6, 3, 4, 5)
y = torch.tensor([0, 1, 2, 2, 1, 0], dtype=torch.uint8)
torch.save({'x': x, 'y': y}, d + 'images.pt')
raw(x, 'images.x'); raw(y, 'images.y')
x = torch.randn(5, 3, dtype=torch.float64)
y = torch.tensor([1, 0, 1, 0, 1])
torch.save({'y': y, 'x': x}, d + 'table.pt')  # the keys in the other order
raw(x.float(), 'table.x'); raw(y, 'table.y')
x = torch.randn(4, 8).t()  # not contiguous: strides (1, 8)
y = torch.randn(8)
torch.save({'x': x, 'y': y}, d + 'regression.pt')
raw(x, 'regression.x'); raw(y, 'regression.y')
x = torch.randn(8, 4)
y = torch.randn(8, 2, dtype=torch.float64)
torch.save({'x': x, 'y': y}, d + 'targets.pt')
raw(y.float(), 'targets.y')
x = torch.randint(0, 256, (4, 1, 3, 3), dtype=torch.uint8)
y = torch.tensor([3, 0, 1, 2], dtype=torch.int32)
torch.save({'x': x, 'y': y}, d + 'bytes.pt')
raw(x, 'bytes.x')
)");

  const auto images = read_tensor_file(dir.file("images.pt"), false);
  CHECK(shape_of(images.inputs) == std::vector<std::int64_t>{6, 3, 4, 5});
  CHECK(images.inputs.scalar_type() == torch::kFloat32);
  CHECK(values_of<float>(images.inputs) == read_raw<float>(dir.file("images.x")));
  CHECK(images.targets.scalar_type() == torch::kInt64);
  CHECK(values_of<std::int64_t>(images.targets) == std::vector<std::int64_t>{0, 1, 2, 2, 1, 0});
  CHECK(images.is_image());

  const auto table = read_tensor_file(dir.file("table.pt"), false);
  CHECK(shape_of(table.inputs) == std::vector<std::int64_t>{5, 3});
  CHECK(values_of<float>(table.inputs) == read_raw<float>(dir.file("table.x")));  // float64 -> 32
  CHECK(values_of<std::int64_t>(table.targets) == read_raw<std::int64_t>(dir.file("table.y")));

  const auto regression = read_tensor_file(dir.file("regression.pt"), true);
  CHECK(shape_of(regression.inputs) == std::vector<std::int64_t>{8, 4});
  CHECK(values_of<float>(regression.inputs) == read_raw<float>(dir.file("regression.x")));
  CHECK(shape_of(regression.targets) == std::vector<std::int64_t>{8, 1});  // [N] -> [N, 1]
  CHECK(values_of<float>(regression.targets) == read_raw<float>(dir.file("regression.y")));

  const auto targets = read_tensor_file(dir.file("targets.pt"), true);
  CHECK(shape_of(targets.targets) == std::vector<std::int64_t>{8, 2});
  CHECK(values_of<float>(targets.targets) == read_raw<float>(dir.file("targets.y")));

  // uint8 inputs are images in 0..255, scaled to [0, 1] as the IDX and CIFAR readers scale them.
  const auto bytes = read_tensor_file(dir.file("bytes.pt"), false);
  std::vector<float> scaled;
  for (auto b : read_raw<std::uint8_t>(dir.file("bytes.x")))
    scaled.push_back(static_cast<float>(b) / 255.0f);
  CHECK(values_of<float>(bytes.inputs) == scaled);
  CHECK(values_of<std::int64_t>(bytes.targets) == std::vector<std::int64_t>{3, 0, 1, 2});
}

TEST_CASE("A tensors directory gives the splits, classes and standardised regression targets",
          "[data][tensors]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  TempDir classes, targets;
  python_writes(classes, R"(
torch.save({'x': torch.rand(30, 1, 4, 4), 'y': torch.arange(30) % 3}, d + 'train.pt')
torch.save({'x': torch.rand(12, 1, 4, 4), 'y': torch.arange(12) % 2}, d + 'test.pt')
)");
  python_writes(targets, R"(
y = 5 + 2 * torch.randn(40, 2)
torch.save({'x': torch.randn(40, 3), 'y': y}, d + 'train.pt')
torch.save({'x': torch.randn(10, 3), 'y': torch.randn(10, 2)}, d + 'test.pt')
raw(y.mean(0).double(), 'mean'); raw(y.std(0, unbiased=False).double(), 'std')
)");

  const auto raw = load_tensor_dataset(classes.path().string(), false);
  CHECK(raw.train.num_classes == 3);
  CHECK(raw.test.num_classes == 3);  // the test set's classes are the training set's
  CHECK(raw.train.size() == 30);
  CHECK(raw.test.size() == 12);

  automl::trials::DataConfig c;
  c.format = "tensors";
  c.path = classes.path().string();
  c.train_subset = 20;
  c.validation_fraction = 0.25;
  const auto splits = automl::trials::load_splits(c, 1);
  CHECK(splits.train.size() == 15);
  CHECK(splits.validation.size() == 5);
  CHECK(splits.test.size() == 12);
  CHECK_FALSE(c.is_regression());

  c.path = targets.path().string();
  c.train_subset = 0;
  c.validation_fraction = 0;
  c.task = "regression";
  REQUIRE(c.is_regression());
  const auto regression = automl::trials::load_splits(c, 1);
  CHECK(regression.train.num_classes == 0);
  const auto mean = read_raw<double>(targets.file("mean"));
  const auto std = read_raw<double>(targets.file("std"));
  REQUIRE(regression.train.target_offset.size() == 2);
  for (std::size_t t = 0; t < 2; ++t) {
    CHECK(regression.train.target_offset[t] == Approx(mean[t]).epsilon(1e-5));
    CHECK(regression.train.target_scale[t] == Approx(std[t]).epsilon(1e-5));
  }
  CHECK(regression.train.targets.mean().item<double>() == Approx(0).margin(1e-5));
}

TEST_CASE("Tensor files with other content or keys are refused naming the file",
          "[data][tensors]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  TempDir dir;
  python_writes(dir, R"(
x, y = torch.randn(4, 2), torch.tensor([0, 1, 0, 1])
torch.save({'inputs': x, 'labels': y}, d + 'keys.pt')
torch.save({'x': x}, d + 'one_key.pt')
torch.save({'x': x, 'y': y, 'names': torch.zeros(2)}, d + 'extra_key.pt')
torch.save([x, y], d + 'list.pt')
torch.save(x, d + 'tensor.pt')
torch.save({'x': [1.0, 2.0], 'y': y}, d + 'x_list.pt')
torch.save({'x': x, 'y': 3}, d + 'y_int.pt')
torch.save({'x': x, 'y': y}, d + 'legacy.pt', _use_new_zipfile_serialization=False)
torch.save({'x': x, 'y': y}, d + 'good.pt')
torch.save({'x': x.to_sparse(), 'y': y}, d + 'sparse.pt')
data = open(d + 'good.pt', 'rb').read()
open(d + 'truncated.pt', 'wb').write(data[:len(data) // 2])
open(d + 'text.pt', 'w').write('x,y\n1,2\n')
)");
  const auto read = [&](const std::string& name) {
    return error_of([&] { read_tensor_file(dir.file(name), false); });
  };
  CHECK_THAT(read("keys.pt"), Contains(dir.file("keys.pt")) &&
                                  Contains("has the keys inputs, labels") &&
                                  Contains("expected exactly 'x' (inputs) and 'y' (targets)"));
  // LibTorch 1.13's unpickler has no SETITEM (Python's opcode for a one-key dict): still an
  // error that names the file and what was expected.
  CHECK_THAT(read("one_key.pt"),
             Contains(dir.file("one_key.pt")) && Contains("{\"x\": X, \"y\": Y}"));
  CHECK_THAT(read("extra_key.pt"),
             Contains(dir.file("extra_key.pt")) && Contains("has the keys x, y, names"));
  CHECK_THAT(read("list.pt"), Contains(dir.file("list.pt")) && Contains("holds a list"));
  CHECK_THAT(read("tensor.pt"), Contains(dir.file("tensor.pt")) && Contains("holds a tensor"));
  CHECK_THAT(read("x_list.pt"),
             Contains(dir.file("x_list.pt")) && Contains("'x' is a list, not a tensor"));
  CHECK_THAT(read("y_int.pt"),
             Contains(dir.file("y_int.pt")) && Contains("'y' is a int, not a tensor"));
  CHECK_THAT(read("legacy.pt"), Contains(dir.file("legacy.pt")) && Contains("not a zip archive") &&
                                    Contains("_use_new_zipfile_serialization=False"));
  // LibTorch 1.13 cannot unpickle a sparse tensor at all; a later one that can is told to save
  // a dense one.
  CHECK_THAT(read("sparse.pt"), Contains(dir.file("sparse.pt")) &&
                                    (Contains("cannot be read as") || Contains("sparse")));
  CHECK_THAT(read("truncated.pt"),
             Contains(dir.file("truncated.pt")) && Contains("cannot be read as"));
  CHECK_THAT(read("text.pt"), Contains(dir.file("text.pt")) && Contains("not a zip archive"));
  CHECK_THAT(read("absent.pt"), Contains(dir.file("absent.pt")) && Contains("no such tensor file"));
  CHECK(read("good.pt").empty());
}

TEST_CASE("Tensor files with wrong dtypes, shapes or lengths are refused naming the file",
          "[data][tensors]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  TempDir dir;
  python_writes(dir, R"(
x = torch.randn(4, 2)
torch.save({'x': x, 'y': torch.tensor([0, 1, 0])}, d + 'lengths.pt')
torch.save({'x': x, 'y': torch.tensor([0.0, 1.0, 0.0, 1.0])}, d + 'float_labels.pt')
torch.save({'x': x, 'y': torch.tensor([[0, 1], [1, 0], [0, 1], [1, 0]])}, d + 'label_matrix.pt')
torch.save({'x': x, 'y': torch.tensor([True, False, True, False])}, d + 'bool_labels.pt')
torch.save({'x': x, 'y': torch.tensor([0, -1, 0, 1])}, d + 'negative.pt')
torch.save({'x': torch.arange(8).reshape(4, 2), 'y': torch.tensor([0, 1, 0, 1])}, d + 'int_x.pt')
torch.save({'x': torch.randn(4, 5, 5), 'y': torch.tensor([0, 1, 0, 1])}, d + 'no_channel.pt')
torch.save({'x': torch.randn(4), 'y': torch.tensor([0, 1, 0, 1])}, d + 'vector_x.pt')
nan = x.clone(); nan[2, 1] = float('nan')
torch.save({'x': nan, 'y': torch.tensor([0, 1, 0, 1])}, d + 'nan.pt')
torch.save({'x': x, 'y': torch.randn(4, 2, 2)}, d + 'target_cube.pt')
torch.save({'x': x, 'y': torch.tensor([0.5, float('inf'), 0.0, 1.0])}, d + 'inf_target.pt')
torch.save({'x': torch.zeros(0, 2), 'y': torch.zeros(0, dtype=torch.long)}, d + 'empty.pt')
)");
  const auto read = [&](const std::string& name, bool regression) {
    return error_of([&] { read_tensor_file(dir.file(name), regression); });
  };
  CHECK_THAT(read("lengths.pt", false), Contains(dir.file("lengths.pt")) &&
                                            Contains("'x' [4, 2] and 'y' [3]") &&
                                            Contains("same number of samples"));
  CHECK_THAT(read("float_labels.pt", false),
             Contains(dir.file("float_labels.pt")) &&
                 Contains("'y' is float32, but data.task is classification") &&
                 Contains("set data.task: regression"));
  CHECK_THAT(read("float_labels.pt", true), Catch::Equals(""));  // as regression targets: fine
  CHECK_THAT(read("lengths.pt", true),
             Contains(dir.file("lengths.pt")) && Contains("same number of samples"));
  CHECK_THAT(read("negative.pt", true), Contains("'y' is int64, but data.task is regression") &&
                                            Contains("set data.task: classification"));
  CHECK_THAT(read("label_matrix.pt", false),
             Contains(dir.file("label_matrix.pt")) &&
                 Contains("'y' has the shape [4, 2]; expected class labels [N]"));
  CHECK_THAT(read("bool_labels.pt", false), Contains("'y' is bool"));
  CHECK_THAT(read("negative.pt", false),
             Contains(dir.file("negative.pt")) && Contains("label -1 (sample 1) is negative"));
  CHECK_THAT(read("int_x.pt", false),
             Contains(dir.file("int_x.pt")) && Contains("'x' is int64; expected a floating"));
  CHECK_THAT(read("no_channel.pt", false), Contains(dir.file("no_channel.pt")) &&
                                               Contains("[4, 5, 5]") && Contains("X.unsqueeze(1)"));
  CHECK_THAT(read("vector_x.pt", false), Contains("'x' has the shape [4]; expected [N, F]"));
  CHECK_THAT(read("nan.pt", false),
             Contains(dir.file("nan.pt")) && Contains("'x' of sample 2 holds NaN or infinity"));
  CHECK_THAT(read("target_cube.pt", true),
             Contains("'y' has the shape [4, 2, 2]; expected regression targets [N] or [N, T]"));
  CHECK_THAT(read("inf_target.pt", true), Contains("'y' of sample 1 holds NaN or infinity"));
  CHECK_THAT(read("empty.pt", false), Contains(dir.file("empty.pt")) && Contains("no samples"));
}

TEST_CASE("A tensors directory's labels and test file must fit its training file",
          "[data][tensors]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  TempDir dir;
  // One data set per folder: (train.pt's x and y, test.pt's x and y); None = no file.
  python_writes(dir, R"(
import os
def write(name, train, test):
    os.makedirs(d + name)
    for split, xy in [('train', train), ('test', test)]:
        if xy: torch.save({'x': xy[0], 'y': xy[1]}, d + name + '/' + split + '.pt')
t = torch.tensor
write('gap', (torch.randn(6, 2), t([1, 2, 3, 1, 2, 3])), (torch.randn(2, 2), t([1, 2])))
write('stray', (torch.randn(6, 2), t([0, 1, 0, 1, 0, 10**12])), (torch.randn(2, 2), t([0, 1])))
write('beyond', (torch.randn(6, 2), t([0, 1, 2, 0, 1, 2])), (torch.randn(3, 2), t([0, 3, 1])))
write('shape', (torch.randn(6, 1, 4, 4), t([0, 1, 0, 1, 0, 1])),
      (torch.randn(2, 1, 5, 5), t([0, 1])))
write('targets', (torch.randn(6, 2), torch.randn(6, 2)), (torch.randn(2, 2), torch.randn(2)))
write('one_class', (torch.randn(6, 2), torch.zeros(6, dtype=torch.long)),
      (torch.randn(2, 2), torch.zeros(2, dtype=torch.long)))
write('missing', (torch.randn(6, 2), t([0, 1, 0, 1, 0, 1])), None)
)");
  const auto load = [&](const std::string& name, bool regression) {
    return error_of([&] { load_tensor_dataset(dir.file(name), regression); });
  };
  const auto file = [&](const std::string& name) { return dir.file(name); };
  CHECK_THAT(load("gap", false), Contains(file("gap/train.pt")) &&
                                     Contains("label 3 (sample 2) is not a class index") &&
                                     Contains("class 0 has none"));
  // A stray label far beyond the samples is named without counting up to it.
  CHECK_THAT(load("stray", false), Contains(file("stray/train.pt")) &&
                                       Contains("label 1000000000000 (sample 5)") &&
                                       Contains("class 2 has none"));
  CHECK_THAT(load("beyond", false),
             Contains(file("beyond/test.pt")) &&
                 Contains("label 3 (sample 1) is not one of the 3 classes (0..2) of") &&
                 Contains(file("beyond/train.pt")));
  CHECK_THAT(load("shape", false), Contains(file("shape/test.pt")) &&
                                       Contains("'x' has the shape [2, 1, 5, 5]") &&
                                       Contains("are [N, 1, 4, 4]"));
  CHECK_THAT(load("targets", true), Contains(file("targets/test.pt")) &&
                                        Contains("'y' holds 1 targets per sample") &&
                                        Contains("holds 2"));
  CHECK_THAT(load("one_class", false),
             Contains(file("one_class/train.pt")) && Contains("a single class"));
  CHECK_THAT(load("missing", false),
             Contains(file("missing/test.pt")) && Contains("no such tensor file"));
  CHECK_THAT(error_of([&] { load_tensor_dataset(file("nowhere"), false); }),
             Contains("nowhere") && Contains("no such data directory"));
}

TEST_CASE("Experiment files: data.format tensors and data.task are checked at load",
          "[tensors][experiments]") {
  TempDir full, half;
  automl::test::write_text(full.file("train.pt"), "");  // only their presence is checked here
  automl::test::write_text(full.file("test.pt"), "");
  automl::test::write_text(half.file("train.pt"), "");
  const auto experiment = [](const std::string& data) {
    return automl::experiments::parse_experiment("name: t\ndata:\n" + data, "t.yaml");
  };
  const auto path = [](const TempDir& dir) { return "  path: " + dir.path().string() + "\n"; };

  const auto classification = experiment("  format: tensors\n" + path(full));
  CHECK(classification.trial.data.task == "classification");
  CHECK_FALSE(classification.trial.data.is_regression());
  const auto regression = experiment("  format: tensors\n  task: regression\n" + path(full));
  CHECK(regression.trial.data.is_regression());

  CHECK_THROWS_WITH(experiment("  format: tensors\n" + path(half)),
                    Contains("t.yaml:4: data.path") && Contains("holds no test.pt") &&
                        Contains("torch.save({\"x\": X, \"y\": Y}, path)"));
  CHECK_THROWS_WITH(
      experiment("  format: tensors\n  path: /no/such/dir\n"),
      Contains("t.yaml:4: data.path") && Contains("does not exist") && Contains("train.pt"));
  CHECK_THROWS_WITH(experiment("  format: tensors\n  task: ranking\n" + path(full)),
                    Contains("t.yaml:4: data.task") &&
                        Contains("'ranking' is not one of: classification, regression"));
  CHECK_THROWS_WITH(experiment("  format: idx\n  task: regression\n  path: " +
                               automl::test::tiny_idx_dir() + "\n"),
                    Contains("t.yaml:4: data.task") && Contains("only tensors data take a task"));
  // A stored experiment is read again without its data (the report): the task still decides.
  automl::experiments::LoadOptions no_data;
  no_data.check_data = false;
  CHECK(automl::experiments::parse_experiment(
            "name: t\ndata: {format: tensors, task: regression, path: /elsewhere}\n", "t.yaml",
            no_data)
            .trial.data.is_regression());
}

TEST_CASE("A trial learns from tensor files: classification and regression", "[tensors][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  TempDir blobs, linear;
  // Three Gaussian blobs in 8 dimensions; and two linear targets of 6 features plus noise, with
  // the MAE of always predicting the training mean (what a model that learnt nothing scores).
  python_writes(blobs, R"(
centres = 3 * torch.randn(3, 8)
for name, n in [('train', 600), ('test', 300)]:
    y = torch.arange(n) % 3
    torch.save({'x': centres[y] + torch.randn(n, 8), 'y': y}, d + name + '.pt')
)");
  python_writes(linear, R"(
w = torch.randn(6, 2, dtype=torch.float64)
data = {}
for name, n in [('train', 600), ('test', 200)]:
    x = torch.randn(n, 6, dtype=torch.float64)
    data[name] = (x, x @ w + 0.05 * torch.randn(n, 2, dtype=torch.float64))
    torch.save({'x': data[name][0], 'y': data[name][1]}, d + name + '.pt')
guess = (data['test'][1] - data['train'][1].mean(0)).abs().mean()
open(d + 'guess', 'w').write(str(guess.item()))
)");
  automl::trials::set_threads(1);  // CTest runs test processes side by side
  automl::trials::TrialConfig c;
  c.data.format = "tensors";
  c.data.path = blobs.path().string();
  c.model.name = "mlp";
  c.optimizer.lr = 0.05;
  c.epochs = 4;
  c.batch_size = 32;
  c.seed = 2;
  c.mi.samples = 200;
  std::vector<automl::trials::EpochRecord> records;
  const auto sink = [&](const automl::trials::EpochRecord& r) { records.push_back(r); };
  auto summary = automl::trials::run_trial(c, sink);
  REQUIRE(summary.status == automl::TrialStatus::done);
  REQUIRE(records.size() >= 4);
  CHECK(records.back().test_accuracy > 0.9);  // chance is 1/3
  CHECK(records.back().ity > 0.5);            // of ln 3 = 1.1 nats

  c.data.path = linear.path().string();
  c.data.task = "regression";
  c.optimizer.lr = 0.01;
  c.epochs = 6;
  records.clear();
  summary = automl::trials::run_trial(c, sink);
  REQUIRE(summary.status == automl::TrialStatus::done);
  std::ifstream guess_file(linear.file("guess"));
  double guess = 0;
  guess_file >> guess;
  REQUIRE(guess > 0);
  CHECK(records.back().test_mae < 0.3 * guess);  // in the targets' own units
  CHECK(records.back().test_mae < records.front().test_mae);
}
