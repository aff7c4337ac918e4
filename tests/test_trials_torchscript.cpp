// TorchScript models (model.torchscript, trials/torchscript.h) on modules scripted by Python
// (/usr/bin/python3 with Debian's torch) at test time: the Python LeNet of bench/script_lenet.py
// given the native LeNet's initial weights trains to the same records as the native one, with
// every optimizer and LR policy; layer-wise MI-SGD with and without forward_layers; the checks
// at load; checkpoint and resume; the experiment file's model.torchscript.
#include <sys/wait.h>
#include <torch/script.h>
#include <torch/torch.h>
#undef CHECK
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"
#include "experiments/experiment.h"
#include "test_support.h"
#include "trials/config_json.h"
#include "trials/data.h"
#include "trials/network.h"
#include "trials/torchscript.h"
#include "trials/trial.h"

using automl::InputError;
using automl::trials::EpochRecord;
using automl::trials::TrialConfig;
using Catch::Contains;

namespace {

const std::string kSource = AUTOML_SOURCE_DIR;

// bench/script_lenet.py run by /usr/bin/python3: the Python LeNet, scripted, at `path`.
void script_lenet(const std::string& path, const std::string& flags = "") {
  automl::test::run_python(fmt::format(R"(import shlex, sys
sys.path.insert(0, "{}/bench")
import script_lenet
sys.argv = ["script_lenet.py", "{}"] + shlex.split("{}")
script_lenet.main()
)",
                                       kSource, path, flags));
}

// Scripts `Net()` of `definition` (Python, with torch, nn, F and List imported) into `path`.
void script_module(const std::string& path, const std::string& definition) {
  automl::test::run_python(
      "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
      "from typing import List\n\n" +
      definition + "\n\ntorch.manual_seed(0)\ntorch.jit.script(Net()).save(\"" + path + "\")\n");
}

TrialConfig fashion_lenet(std::int64_t train = 300) {
  TrialConfig c;
  c.data.path = automl::test::fashion_mnist_dir();
  c.data.train_subset = train;
  c.data.test_subset = 200;
  c.model.name = "lenet";
  c.optimizer.lr = 0.05;
  c.optimizer.momentum = 0.9;
  c.optimizer.nesterov = true;
  c.epochs = 1;
  c.batch_size = 32;
  c.seed = 3;
  c.mi.samples = 200;
  return c;
}

// The Python LeNet holding the native LeNet's initial weights for `config` (a trial draws them
// right after torch::manual_seed(config.seed)), copied parameter by parameter: the names and
// shapes must match, layer by layer. Returns the file written.
std::string lenet_with_native_weights(const TrialConfig& config, const automl::test::TempDir& dir,
                                      const std::string& flags = "") {
  const auto scripted = dir.file("python_lenet.pt"), out = dir.file("lenet_native_weights.pt");
  script_lenet(scripted, flags);
  torch::manual_seed(config.seed);
  const auto native = automl::trials::make_network(config.model, {1, 28, 28, 0}, 10);
  const auto weights = native->named_parameters();
  auto module = torch::jit::load(scripted);
  std::size_t copied = 0;
  torch::NoGradGuard no_grad;
  for (const auto& p : module.named_parameters()) {
    const auto* w = weights.find(p.name);
    REQUIRE(w != nullptr);
    REQUIRE(w->sizes() == p.value.sizes());
    p.value.copy_(*w);
    ++copied;
  }
  REQUIRE(copied == weights.size());
  module.save(out);
  return out;
}

std::vector<EpochRecord> run(const TrialConfig& c, const automl::trials::TrialRuntime& r = {}) {
  automl::trials::set_threads(1);  // CTest runs test processes side by side
  std::vector<EpochRecord> records;
  automl::trials::run_trial(
      c, [&](const EpochRecord& e) { records.push_back(e); }, r);
  return records;
}

// Records of the same computation by two networks: equal up to float rounding (the scripted
// graph may order a few float operations differently from the C++ modules).
void check_same_records(const std::vector<EpochRecord>& a, const std::vector<EpochRecord>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("epoch " << a[i].epoch);
    CHECK(a[i].epoch == b[i].epoch);
    CHECK(a[i].train_loss == Approx(b[i].train_loss).epsilon(1e-5));
    CHECK(a[i].train_accuracy == Approx(b[i].train_accuracy).epsilon(1e-6));
    CHECK(a[i].test_loss == Approx(b[i].test_loss).epsilon(1e-5));
    CHECK(a[i].test_accuracy == Approx(b[i].test_accuracy).epsilon(1e-6));
    CHECK(a[i].ity == Approx(b[i].ity).epsilon(1e-4));
    REQUIRE(a[i].groups.size() == b[i].groups.size());
    for (std::size_t g = 0; g < a[i].groups.size(); ++g) {
      CHECK(a[i].groups[g].name == b[i].groups[g].name);
      CHECK(a[i].groups[g].lr == Approx(b[i].groups[g].lr).epsilon(1e-9));
      CHECK(a[i].groups[g].ity == Approx(b[i].groups[g].ity).epsilon(1e-4));
    }
  }
}

// Every field of the records, bit for bit (resume on the CPU).
void check_identical_records(const std::vector<EpochRecord>& a, const std::vector<EpochRecord>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("epoch " << a[i].epoch);
    CHECK(a[i].epoch == b[i].epoch);
    CHECK(a[i].train_loss == b[i].train_loss);
    CHECK(a[i].test_loss == b[i].test_loss);
    CHECK(a[i].test_accuracy == b[i].test_accuracy);
    CHECK(a[i].ity == b[i].ity);
    REQUIRE(a[i].groups.size() == b[i].groups.size());
    for (std::size_t g = 0; g < a[i].groups.size(); ++g) {
      CHECK(a[i].groups[g].lr == b[i].groups[g].lr);
      CHECK(a[i].groups[g].ity == b[i].groups[g].ity);
    }
  }
}

// The message of the InputError `call` throws ("" when it throws none).
template <typename Call>
std::string input_error(const Call& call) {
  try {
    call();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// A tiny IDX data set of 2x2 images and 2 classes (tests/test_support.h).
TrialConfig tiny(const std::string& model) {
  TrialConfig c;
  c.data.path = automl::test::tiny_idx_dir();
  c.model.torchscript = model;
  c.model.name = "torchscript";
  c.epochs = 1;
  c.batch_size = 4;
  c.mi.samples = 10;
  return c;
}

}  // namespace

TEST_CASE("A TorchScript LeNet from the native LeNet's weights gives the native losses",
          "[torchscript]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  auto native = fashion_lenet(800);
  native.batch_size = 8;
  native.mi.enabled = false;
  auto scripted = native;
  scripted.model.torchscript = lenet_with_native_weights(native, dir);
  const auto expected = run(native), got = run(scripted);
  REQUIRE(got.size() == 1);
  // One epoch of 100 steps: learning has begun (chance is ln 10 = 2.30), it has not finished.
  CHECK(got[0].train_loss < 2.1);
  CHECK(got[0].test_accuracy > 0.3);
  CHECK(got[0].train_loss > 0.5);
  check_same_records(got, expected);
}

TEST_CASE("A TorchScript LeNet trains like the native one with every optimizer and LR policy",
          "[torchscript]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  auto base = fashion_lenet(200);
  base.epochs = 3;
  const auto weights = lenet_with_native_weights(base, dir);
  // Each optimizer once, each policy once (the MI policy layer-wise: forward_layers).
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"sgd", "step"}, {"adam", "constant"}, {"rmsprop", "poly"}, {"lars", "mi"}};
  for (const auto& [optimizer, policy] : pairs) {
    INFO(optimizer << " with policy " << policy);
    auto native = base;
    native.optimizer.name = optimizer;
    native.optimizer.lr = optimizer == "sgd" || optimizer == "lars" ? 0.05 : 0.002;
    native.policy.name = policy;
    native.policy.step_size = 1;
    native.policy.layerwise = policy == "mi";
    native.mi.layer_features = "channel_mean";
    auto scripted = native;
    scripted.model.torchscript = weights;
    check_same_records(run(scripted), run(native));
  }
}

TEST_CASE("Layer-wise MI-SGD with forward_layers: one group per child, the native LeNet's ITYs",
          "[torchscript]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  auto native = fashion_lenet();
  native.epochs = 2;
  native.policy.name = "mi";
  native.policy.layerwise = true;
  auto scripted = native;
  scripted.model.torchscript = lenet_with_native_weights(native, dir);
  const auto got = run(scripted);
  REQUIRE(got.size() == 3);  // epoch 0 (ITY_0), 1, 2
  std::vector<std::string> groups;
  for (const auto& g : got[1].groups) groups.push_back(g.name);
  CHECK(groups == std::vector<std::string>{"conv1", "conv2", "fc1", "fc2"});
  check_same_records(got, run(native));
}

TEST_CASE(
    "Without forward_layers: model-wise MI-SGD runs, layer-wise is refused saying what to add",
    "[torchscript]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  const auto model = dir.file("no_layers.pt");
  script_lenet(model, "--no-forward-layers");
  auto config = fashion_lenet(100);
  config.model.torchscript = model;
  config.policy.name = "mi";
  const auto model_wise = run(config);
  REQUIRE(model_wise.size() == 2);
  CHECK(model_wise[1].groups.size() == 1);
  CHECK(std::isfinite(model_wise[1].ity));

  config.policy.layerwise = true;
  for (const auto& message : {input_error([&] { run(config); }),
                              input_error([&] { automl::trials::check_model(config); })}) {
    CHECK_THAT(message, Contains(model) && Contains("forward_layers") &&
                            Contains("@torch.jit.export") && Contains("conv1, conv2, fc1, fc2"));
  }
}

TEST_CASE("A TorchScript network's parameters are the script's, and follow it when it moves",
          "[torchscript]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  automl::test::TempDir dir;
  const auto model = dir.file("lenet.pt");
  script_lenet(model);
  automl::trials::ModelConfig config;
  config.torchscript = model;
  const auto net = automl::trials::make_network(config, {1, 28, 28, 0}, 10);
  CHECK(automl::trials::parameter_count(*net) == 51902);  // as the native LeNet's
  const auto before = net->named_parameters();
  CHECK(before.keys() == std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight",
                                                  "conv2.bias", "fc1.weight", "fc1.bias",
                                                  "fc2.weight", "fc2.bias"});
  // A move replaces every tensor's data in place (as a move to a GPU does): the tensors the
  // optimizer holds, the network's parameters, see the script's new data.
  net->to(torch::kFloat64);
  for (const auto& p : net->parameters()) CHECK(p.dtype() == torch::kFloat64);
  const auto out = net->forward(torch::zeros({3, 1, 28, 28}, torch::kFloat64));
  CHECK(out.dtype() == torch::kFloat64);
  CHECK(out.sizes() == std::vector<std::int64_t>{3, 10});
  // A gradient step through the network's parameters changes what the script computes.
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.5));
  net->eval();
  const auto x = torch::rand({3, 1, 28, 28}, torch::kFloat64);
  const auto first = net->forward(x).detach().clone();
  sgd.zero_grad();
  net->forward(x).pow(2).sum().backward();
  sgd.step();
  CHECK_FALSE(torch::allclose(net->forward(x), first));
  // train()/eval() reach the script: dropout is active in training only.
  net->train();
  CHECK_FALSE(torch::equal(net->forward(x), net->forward(x)));
  net->eval();
  CHECK(torch::equal(net->forward(x), net->forward(x)));
}

TEST_CASE("A TorchScript model is checked against the data at load: errors name the file",
          "[torchscript]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  automl::test::TempDir dir;
  // tiny_idx_dir(): 2x2 images, 2 classes.
  const auto three = dir.file("three_outputs.pt"), none = dir.file("no_parameters.pt"),
             frozen = dir.file("frozen.pt"), wide = dir.file("expects_5_features.pt"),
             pair = dir.file("returns_a_tuple.pt"), state = dir.file("state_dict.pt"),
             text = dir.file("notes.pt");
  script_module(three, R"(class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
    def forward(self, x):
        return self.fc(x.flatten(1)))");
  script_module(none, R"(class Net(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :2])");
  script_module(frozen, R"(class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.fc.requires_grad_(False)
    def forward(self, x):
        return self.fc(x.flatten(1)))");
  script_module(wide, R"(class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 2)
    def forward(self, x):
        return self.fc(x.flatten(1)))");
  script_module(pair, R"(class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
    def forward(self, x):
        y = self.fc(x.flatten(1))
        return y, y)");
  automl::test::run_python("import torch\ntorch.save(torch.nn.Linear(4, 2).state_dict(), \"" +
                           state + "\")\n");
  automl::test::write_text(text, "not a model\n");

  const auto check = [](const std::string& model) {
    return input_error([&] { automl::trials::check_model(tiny(model)); });
  };
  CHECK_THAT(check(three),
             Contains(three) && Contains("[8, 3]") && Contains("[8, 2]") && Contains("2 classes"));
  CHECK_THAT(check(none), Contains(none) && Contains("no trainable parameters"));
  CHECK_THAT(check(frozen), Contains(frozen) && Contains("no trainable parameters"));
  CHECK_THAT(check(wide), Contains(wide) &&
                              Contains("forward rejected a batch of shape [8, 1, 2, 2]") &&
                              Contains("mat1 and mat2"));
  CHECK_THAT(check(pair), Contains(pair) && Contains("forward returned a Tuple"));
  for (const auto& not_script : {state, text})
    CHECK_THAT(check(not_script), Contains(not_script) && Contains("is not a TorchScript file") &&
                                      Contains("torch.jit.script(net).save(path)"));
  CHECK_THAT(check(dir.file("absent.pt")), Contains("absent.pt") && Contains("no such file"));
  // The trial itself refuses the same way (workers build the network without check_model).
  CHECK_THAT(input_error([&] { run(tiny(three)); }), Contains(three) && Contains("[2, 3]"));
  CHECK_THAT(input_error([&] { run(tiny(text)); }), Contains("is not a TorchScript file"));
}

TEST_CASE("model.layers: the submodules named are the groups, in that order, each parameter in one",
          "[torchscript]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  automl::test::TempDir dir;
  const auto model = dir.file("nested.pt");
  script_module(model, R"(class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5), nn.ReLU())
        self.head = nn.Linear(5, 2)
    def forward(self, x):
        return self.head(self.features(x.flatten(1)))
    @torch.jit.export
    def forward_layers(self, x) -> List[torch.Tensor]:
        a = torch.relu(self.features[0](x.flatten(1)))
        b = torch.relu(self.features[2](a))
        return [a, b, self.head(b)])");
  auto config = tiny(model);
  config.policy.name = "mi";
  config.policy.layerwise = true;
  config.mi.samples = 8;
  config.model.layers = {"features.0", "features.2", "head"};
  const auto records = run(config);
  REQUIRE(records.size() == 2);
  std::vector<std::string> groups;
  for (const auto& g : records[1].groups) groups.push_back(g.name);
  CHECK(groups == config.model.layers);

  // The default groups are the trainable children: features and head, 2 for 3 outputs.
  config.model.layers.clear();
  CHECK_THAT(input_error([&] { automl::trials::check_model(config); }),
             Contains("forward_layers returned 3 tensors for the 2 layers (features, head)"));
  const auto refused = [&](std::vector<std::string> layers) {
    config.model.layers = std::move(layers);
    return input_error([&] { automl::trials::check_model(config); });
  };
  CHECK_THAT(refused({"features.9", "head"}), Contains("model.layers") &&
                                                  Contains("'features.9' is not a submodule") &&
                                                  Contains(model) && Contains("features.0"));
  CHECK_THAT(refused({"features", "features.0", "head"}),
             Contains("'features' and 'features.0'") && Contains("features.0.weight"));
  CHECK_THAT(refused({"features.0", "head"}), Contains("features.2.weight") && Contains("out"));
  CHECK_THAT(refused({"features.1", "head"}),
             Contains("'features.1'") && Contains("holds no trainable parameters"));

  // A tied weight is one parameter: counted and trained once, and in one layer only.
  const auto tied = dir.file("tied.pt");
  script_module(tied, R"(class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight
    def forward(self, x):
        return self.b(self.a(x.flatten(1)))[:, :2]
    @torch.jit.export
    def forward_layers(self, x) -> List[torch.Tensor]:
        a = self.a(x.flatten(1))
        return [a, self.b(a)[:, :2]])");
  automl::trials::ModelConfig model_config;
  model_config.torchscript = tied;
  const auto net = automl::trials::make_network(model_config, {1, 2, 2, 0}, 2);
  CHECK(automl::trials::parameter_count(*net) == 16 + 4 + 4);
  CHECK(net->parameters().size() == 3);  // what the optimizer steps: the tied weight once
  auto tied_config = tiny(tied);
  tied_config.policy.name = "mi";
  tied_config.mi.samples = 8;
  CHECK(run(tied_config).size() == 2);
  tied_config.policy.layerwise = true;
  CHECK_THAT(input_error([&] { run(tied_config); }),
             Contains("'a' and 'b' share the parameter a.weight"));
}

TEST_CASE("TorchScript checkpoint and resume: 2 epochs + 1 equal 3 straight, buffers included",
          "[torchscript]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  // BatchNorm: running statistics are buffers that evaluation uses and training updates.
  const auto model = dir.file("bn.pt");
  script_module(model, R"(class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 4, 5, stride=2), nn.BatchNorm2d(4))
        self.fc = nn.Linear(4 * 12 * 12, 10)
        self.dropout = nn.Dropout(0.3)
    def forward(self, x):
        return self.forward_layers(x)[-1]
    @torch.jit.export
    def forward_layers(self, x) -> List[torch.Tensor]:
        a = torch.relu(self.conv(x))
        return [a, self.fc(self.dropout(a.flatten(1)))])");
  auto config = fashion_lenet(200);
  config.model.torchscript = model;
  config.optimizer.name = "adam";
  config.optimizer.lr = 0.003;
  config.policy.name = "mi";
  config.policy.layerwise = true;
  config.epochs = 3;
  const auto straight = run(config);

  automl::trials::TrialRuntime runtime;
  runtime.checkpoint_path = dir.file("trial.ckpt");
  auto first = config;
  first.epochs = 2;
  auto part = run(first, runtime);
  const auto rest = run(config, runtime);
  REQUIRE(rest.size() == 1);
  part.insert(part.end(), rest.begin(), rest.end());
  check_identical_records(part, straight);
}

TEST_CASE("model.torchscript in an experiment file: resolved against the file, round-trips",
          "[torchscript][experiments]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  automl::test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "models");
  const auto model = dir.file("models/tiny.pt");
  script_module(model, R"(class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
    def forward(self, x):
        return self.fc(x.flatten(1)))");
  const auto file = dir.file("e.yaml");
  const auto yaml = [&](const std::string& model_lines) {
    return fmt::format("name: e\ndata: {{path: {}}}\nmodel:\n{}\n", automl::test::tiny_idx_dir(),
                       model_lines);
  };
  namespace ex = automl::experiments;
  const auto e = ex::parse_experiment(yaml("  torchscript: models/tiny.pt\n  layers: [fc]"), file);
  CHECK(e.trial.model.torchscript == std::filesystem::weakly_canonical(model).string());
  CHECK(e.trial.model.layers == std::vector<std::string>{"fc"});
  // Stored with every trial as JSON, read back by the workers.
  const nlohmann::json json = e.trial;
  const auto back = json.get<TrialConfig>();
  CHECK(back.model.torchscript == e.trial.model.torchscript);
  CHECK(back.model.layers == e.trial.model.layers);

  const auto refused = [&](const std::string& model_lines) {
    return input_error([&] { ex::parse_experiment(yaml(model_lines), file); });
  };
  CHECK_THAT(refused("  torchscript: models/absent.pt"),
             Contains("e.yaml:4") && Contains("model.torchscript") && Contains("absent.pt") &&
                 Contains("relative to the experiment file"));
  CHECK_THAT(refused("  torchscript: models/tiny.pt\n  name: lenet"),
             Contains("model.name") && Contains("no name or options"));
  CHECK_THAT(refused("  name: lenet\n  layers: [fc]"),
             Contains("model.layers") && Contains("only a torchscript model"));
  CHECK_THAT(refused("  torchscript: models/tiny.pt\n  layers: [fc, fc]"),
             Contains("model.layers") && Contains("twice"));

  // engine::check_data runs the model on the data: 3 outputs for 2 classes.
  CHECK_THAT(input_error([&] { automl::engine::check_data(e); }),
             Contains("e.yaml") && Contains("model") && Contains("tiny.pt") && Contains("[8, 3]") &&
                 Contains("[8, 2]"));
}

namespace {

int run_automl(const std::string& arguments, std::string* output) {
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  const auto binary = (self.parent_path().parent_path() / "automl").string();
  FILE* pipe = popen((binary + " " + arguments + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (const std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) output->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("automl run refuses a TorchScript model that does not fit the data, with exit 1",
          "[torchscript][cli]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  automl::test::TempDir dir;
  const auto model = dir.file("lenet.pt"), db = dir.file("e.db");
  script_lenet(model, "--no-forward-layers");
  // LeNet wants 28x28 images; these are 2x2. Then layer-wise for a module without
  // forward_layers, on data it fits.
  automl::test::write_text(dir.file("e.yaml"),
                           fmt::format("name: e\ndatabase: {}\ndata: {{path: {}}}\n"
                                       "model: {{torchscript: lenet.pt}}\nepochs: 1\n",
                                       db, automl::test::tiny_idx_dir()));
  std::string output;
  CHECK(run_automl("run " + dir.file("e.yaml"), &output) == 1);
  CHECK_THAT(output, Contains("e.yaml") && Contains(model) &&
                         Contains("forward rejected a batch of shape [8, 1, 2, 2]"));
  CHECK_FALSE(std::filesystem::exists(db));
  if (!automl::test::fashion_mnist().present) return;
  automl::test::write_text(
      dir.file("f.yaml"),
      fmt::format("name: f\ndatabase: {}\ndata: {{path: {}, train_subset: 100}}\n"
                  "model: {{torchscript: lenet.pt}}\nepochs: 1\n"
                  "methods: {{mi_sgd_layerwise: true}}\n",
                  db, automl::test::fashion_mnist_dir()));
  output.clear();
  CHECK(run_automl("run " + dir.file("f.yaml") + " --dry-run", &output) == 1);
  CHECK_THAT(output, Contains("f.yaml") && Contains("forward_layers"));
  CHECK_FALSE(std::filesystem::exists(db));
}

TEST_CASE("A TorchScript LeNet trains on a GPU like on the CPU", "[torchscript][cuda]") {
  AUTOML_SKIP_WITHOUT(automl::test::cuda_device());
  AUTOML_SKIP_WITHOUT(automl::test::python_torch());
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  auto cpu = fashion_lenet();
  cpu.epochs = 2;
  cpu.policy.name = "mi";
  cpu.policy.layerwise = true;
  cpu.model.torchscript = lenet_with_native_weights(cpu, dir);
  auto gpu = cpu;
  gpu.device = "cuda";
  automl::trials::TrialRuntime runtime;
  runtime.checkpoint_path = dir.file("gpu.ckpt");
  const auto on_gpu = run(gpu, runtime), on_cpu = run(cpu);
  REQUIRE(on_gpu.size() == on_cpu.size());
  // cuDNN's kernels round differently: the same training, not the same bits.
  for (std::size_t i = 1; i < on_gpu.size(); ++i) {
    CHECK(on_gpu[i].train_loss == Approx(on_cpu[i].train_loss).epsilon(0.02));
    CHECK(on_gpu[i].groups.size() == 4);
  }
  // Resume on the GPU from the checkpoint: nothing left to run, the summary at once.
  CHECK(run(gpu, runtime).empty());
}
