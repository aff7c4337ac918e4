// TorchScript models: a torch::jit::Module behind the Network interface (trials/torchscript.h).
#include "trials/torchscript.h"

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/error.h"

namespace automl::trials {
namespace {

namespace jit = torch::jit;
using TensorId = const c10::TensorImpl*;

std::string shape_text(const torch::Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.sizes(), ", "));
}

// What a LibTorch error says went wrong, in one line: TorchScript's messages open with the
// script's traceback and end with the exception it raised; c10::Error's carry a C++ backtrace.
std::string reason(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  std::istringstream lines(c10_error ? c10_error->what_without_backtrace() : error.what());
  std::string line, last;
  while (std::getline(lines, line))
    if (line.find_first_not_of(" \t") != std::string::npos) last = line;
  const auto begin = last.find_first_not_of(" \t");
  return begin == std::string::npos ? "unknown error" : last.substr(begin);
}

// At most `limit` names, then how many more.
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 8) {
  std::vector<std::string> shown(names.begin(), names.begin() + std::min(limit, names.size()));
  auto text = fmt::format("{}", fmt::join(shown, ", "));
  if (names.size() > limit) text += fmt::format(" and {} more", names.size() - limit);
  return text;
}

// Each once: a tied weight is one parameter in two places (Python lists it once too).
std::vector<torch::Tensor> trainable(const jit::Module& module, bool recurse = true) {
  std::vector<torch::Tensor> found;
  std::set<TensorId> seen;
  for (const auto& p : module.parameters(recurse))
    if (p.requires_grad() && seen.insert(p.unsafeGetTensorImpl()).second) found.push_back(p);
  return found;
}

// c10::optional in LibTorch 1.x, std::optional in 2.x: one type here.
std::optional<jit::Method> find_method(const jit::Module& module, const std::string& name) {
  auto found = module.find_method(name);
  if (!found) return std::nullopt;
  return *found;
}

jit::Module load_module(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw InputError(path, "no such file (model.torchscript)");
  jit::Module module;
  try {
    module = jit::load(path, torch::kCPU);  // CUDA tensors in the file come to the CPU first
  } catch (const std::exception& error) {
    throw InputError(path, fmt::format("is not a TorchScript file ({}); write one with "
                                       "torch.jit.script(net).save(path) (torch.save of a module "
                                       "or of a state_dict is not TorchScript)",
                                       reason(error)));
  }
  if (!module.find_method("forward"))
    throw InputError(path, "the TorchScript module has no forward method");
  return module;
}

// Registers the script's parameters, under the same names and as the same tensors, in `mirror`
// and its children: Network::parameters(), which the optimizers take, are then the script's own,
// and a move of the script (set_data, in place) moves them too. A tied weight is registered
// where it is met first only, so that the optimizers update it once per step.
void mirror_parameters(const jit::Module& source, torch::nn::Module& mirror,
                       std::set<TensorId>& seen) {
  for (const auto& p : source.named_parameters(/*recurse=*/false))
    if (seen.insert(p.value.unsafeGetTensorImpl()).second)
      mirror.register_parameter(p.name, p.value, p.value.requires_grad());
  for (const auto& child : source.named_children()) {
    auto sub = std::make_shared<torch::nn::Module>();
    mirror_parameters(child.value, *sub, seen);
    mirror.register_module(child.name, sub);
  }
}

// Checkpoints hold the script's parameters and buffers, nested by submodule as
// torch::nn::Module::save nests them, read from the script itself: a buffer the script
// reassigns is saved as it is now.
void write_state(const jit::Module& module, torch::serialize::OutputArchive& archive) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) archive.write(p.name, p.value);
  for (const auto& b : module.named_buffers(/*recurse=*/false))
    archive.write(b.name, b.value, /*is_buffer=*/true);
  for (const auto& child : module.named_children()) {
    torch::serialize::OutputArchive nested(archive.compilation_unit());
    write_state(child.value, nested);
    archive.write(child.name, nested);
  }
}

// Reads in place (InputArchive::read sets the tensor's data), so the optimizer's references to
// the parameters stay valid.
void read_state(const jit::Module& module, torch::serialize::InputArchive& archive) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    auto tensor = p.value;
    archive.read(p.name, tensor);
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    auto tensor = b.value;
    archive.read(b.name, tensor, /*is_buffer=*/true);
  }
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive nested;
    archive.read(child.name, nested);
    read_state(child.value, nested);
  }
}

class TorchScriptNetwork : public Network {
 public:
  TorchScriptNetwork(jit::Module module, const ModelConfig& config)
      : module_(std::move(module)),
        path_(config.torchscript),
        forward_(*module_.find_method("forward")),
        forward_layers_(find_method(module_, "forward_layers")) {
    std::set<TensorId> seen;
    mirror_parameters(module_, *this, seen);
    if (parameter_count(*this) == 0)
      throw InputError(path_,
                       "the module has no trainable parameters (none with requires_grad): there "
                       "is nothing to train");
    for (const auto& p : module_.named_parameters())
      if (p.value.requires_grad()) parameter_names_.emplace(p.value.unsafeGetTensorImpl(), p.name);
    if (config.layers.empty())
      plan_child_layers();
    else
      plan_named_layers(config.layers);
  }

  torch::Tensor forward(torch::Tensor x) override {
    auto output = forward_({std::move(x)});
    if (!output.isTensor())
      throw InputError(path_, fmt::format("forward returned a {} (expected a Tensor [N, outputs])",
                                          output.tagKind()));
    return output.toTensor();
  }

  std::vector<torch::Tensor> forward_layers(torch::Tensor x) override {
    const auto& layers = layer_wise_layers();
    auto tensors = tensor_list((*forward_layers_)({std::move(x)}));
    if (tensors.size() != layers.size())
      throw InputError(path_, fmt::format("forward_layers returned {} tensors for the {} layers "
                                          "({}); it must return one per layer, in that order, the "
                                          "last being forward(x)",
                                          tensors.size(), layers.size(), layer_names()));
    return tensors;
  }

  std::vector<Layer> layers() override { return layer_wise_layers(); }

  // One forward pass on `batch` in eval mode without gradients (no random numbers drawn, no
  // running statistics updated): the output must be [N, outputs]; with `layerwise`,
  // forward_layers must exist and give one tensor per layer, the last of the same shape.
  void check(const torch::Tensor& batch, std::int64_t outputs, bool layerwise,
             const std::string& task) {
    torch::NoGradGuard no_grad;
    const bool was_training = is_training();
    eval();
    const auto expected = fmt::format("[{}, {}]", batch.size(0), outputs);
    const auto output = guarded("forward", batch, [&] { return std::vector{forward(batch)}; });
    if (shape_text(output.front()) != expected)
      throw InputError(path_,
                       fmt::format("forward gives {} for a batch of {}, but the task needs "
                                   "{} ({})",
                                   shape_text(output.front()), shape_text(batch), expected, task));
    if (layerwise) {
      layer_wise_layers();  // says what is missing before anything runs
      const auto taps = guarded("forward_layers", batch, [&] { return forward_layers(batch); });
      if (shape_text(taps.back()) != expected)
        throw InputError(path_, fmt::format("the last tensor of forward_layers is {}, but it must "
                                            "be forward(x), {} ({})",
                                            shape_text(taps.back()), expected, task));
    }
    train(was_training);
  }

  void train(bool on = true) override {
    torch::nn::Module::train(on);
    module_.train(on);
  }
  // The script moves its own parameters and buffers (in place: the mirrored parameters follow).
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override {
    module_.to(device, dtype, non_blocking);
  }
  void to(torch::Dtype dtype, bool non_blocking = false) override {
    module_.to(dtype, non_blocking);
  }
  void to(torch::Device device, bool non_blocking = false) override {
    module_.to(device, non_blocking);
  }
  void save(torch::serialize::OutputArchive& archive) const override {
    write_state(module_, archive);
  }
  void load(torch::serialize::InputArchive& archive) override { read_state(module_, archive); }

 private:
  // Runs `call`, turning what LibTorch throws into an InputError naming the file.
  template <typename Call>
  std::vector<torch::Tensor> guarded(const char* method, const torch::Tensor& batch,
                                     const Call& call) {
    try {
      return call();
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& error) {
      throw InputError(path_, fmt::format("{} rejected a batch of shape {}: {}", method,
                                          shape_text(batch), reason(error)));
    }
  }

  std::vector<torch::Tensor> tensor_list(const c10::IValue& value) const {
    if (value.isTensorList()) return value.toTensorVector();
    const bool list = value.isList(), tuple = value.isTuple();
    std::vector<torch::Tensor> tensors;
    if (list || tuple) {
      const auto elements = list ? value.toListRef().vec() : value.toTupleRef().elements().vec();
      for (const auto& e : elements) {
        if (!e.isTensor()) break;
        tensors.push_back(e.toTensor());
      }
      if (tensors.size() == elements.size()) return tensors;
    }
    throw InputError(path_, fmt::format("forward_layers returned a {} (expected List[Tensor])",
                                        value.tagKind()));
  }

  // Layer-wise MI-SGD's groups, or an InputError saying why this module cannot have them.
  const std::vector<Layer>& layer_wise_layers() const {
    if (!forward_layers_)
      throw InputError(
          path_, fmt::format(
                     "the module defines no method forward_layers, which layer-wise MI-SGD needs "
                     "(policy.layerwise, lrrt.layerwise or methods.mi_sgd_layerwise): add "
                     "`@torch.jit.export def forward_layers(self, x) -> List[torch.Tensor]` to the "
                     "Python module, returning the post-activation output of each of its {} layers "
                     "({}) in that order, the last being forward(x), and script and save it again "
                     "(docs/trials.md, TorchScript models). Without it the model runs model-wise "
                     "MI-SGD only",
                     layers_.size(), layer_names()));
    if (!layer_problem_.empty()) throw InputError(path_, layer_problem_);
    return layers_;
  }

  std::string layer_names() const {
    std::vector<std::string> names;
    for (const auto& layer : layers_) names.push_back(layer.name);
    return name_list(names, 100);
  }

  std::string parameter_name(const torch::Tensor& p) const {
    return parameter_names_.at(p.unsafeGetTensorImpl());
  }

  // Default groups: one per direct child that holds trainable parameters, in definition order.
  void plan_child_layers() {
    std::map<TensorId, std::string> claimed;  // parameter -> the child that holds it
    for (const auto& child : module_.named_children()) {
      auto parameters = trainable(child.value);
      if (parameters.empty()) continue;
      for (const auto& p : parameters) {
        const auto [where, fresh] = claimed.emplace(p.unsafeGetTensorImpl(), child.name);
        if (!fresh && layer_problem_.empty())
          layer_problem_ = fmt::format(
              "the children '{}' and '{}' share the parameter {}: layer-wise MI-SGD needs each "
              "parameter in one layer (list layers that do not share one in model.layers)",
              where->second, child.name, parameter_name(p));
      }
      layers_.push_back({child.name, std::move(parameters)});
    }
    std::vector<std::string> own;
    for (const auto& p : trainable(module_, /*recurse=*/false)) own.push_back(parameter_name(p));
    if (!own.empty())
      layer_problem_ = fmt::format(
          "the parameters {} belong to the module itself, not to a child module: layer-wise "
          "MI-SGD gives each trainable child module its own LR, so move them into a submodule",
          name_list(own));
  }

  // Groups named in model.layers: submodules at any depth ("features.0"), each parameter in one.
  void plan_named_layers(const std::vector<std::string>& names) {
    std::map<std::string, jit::Module> modules;
    std::vector<std::string> known;
    for (const auto& m : module_.named_modules()) {
      if (m.name.empty()) continue;  // the module itself
      modules.emplace(m.name, m.value);
      known.push_back(m.name);
    }
    std::map<TensorId, std::string> claimed;  // parameter -> the layer that holds it
    for (const auto& name : names) {
      const auto found = modules.find(name);
      if (found == modules.end())
        throw InputError("model.layers", fmt::format("'{}' is not a submodule of {} (it has: {})",
                                                     name, path_, name_list(known, 30)));
      Layer layer{name, trainable(found->second)};
      if (layer.parameters.empty())
        throw InputError("model.layers",
                         fmt::format("'{}' of {} holds no trainable parameters", name, path_));
      for (const auto& p : layer.parameters) {
        const auto [where, fresh] = claimed.emplace(p.unsafeGetTensorImpl(), name);
        if (!fresh)
          throw InputError("model.layers",
                           fmt::format("'{}' and '{}' of {} share the parameter {}; a parameter "
                                       "belongs to one layer",
                                       where->second, name, path_, parameter_name(p)));
      }
      layers_.push_back(std::move(layer));
    }
    std::vector<std::string> left_out;
    for (const auto& [id, parameter] : parameter_names_)
      if (!claimed.count(id)) left_out.push_back(parameter);
    if (!left_out.empty())
      throw InputError("model.layers",
                       fmt::format("the layers listed leave the trainable parameters {} of {} "
                                   "out; every one must belong to a layer",
                                   name_list(left_out), path_));
  }

  jit::Module module_;
  std::string path_;
  jit::Method forward_;
  std::optional<jit::Method> forward_layers_;
  std::map<TensorId, std::string> parameter_names_;  // trainable ones, by full dotted name
  std::vector<Layer> layers_;
  std::string layer_problem_;  // why there can be no layer-wise groups, when there can be none
};

std::shared_ptr<TorchScriptNetwork> load_network(const ModelConfig& config) {
  return std::make_shared<TorchScriptNetwork>(load_module(config.torchscript), config);
}

}  // namespace

std::shared_ptr<Network> load_torchscript_network(const ModelConfig& config,
                                                  const InputShape& shape, std::int64_t outputs) {
  auto net = load_network(config);
  const auto zeros = shape.features > 0
                         ? torch::zeros({2, shape.features})
                         : torch::zeros({2, shape.channels, shape.height, shape.width});
  net->check(zeros, outputs, /*layerwise=*/false, fmt::format("{} outputs", outputs));
  return net;
}

void check_model(const TrialConfig& config, const Dataset& train) {
  if (config.model.torchscript.empty() || train.size() == 0) return;
  // Made on demand for image folders (the evaluation transform), else taken from the tensors.
  const auto first = torch::arange(std::min<std::int64_t>(8, train.size()), torch::kInt64);
  const auto batch = train.gather_inputs(first).cpu();
  const auto outputs = train.is_classification() ? train.num_classes : train.targets.size(1);
  const auto task = train.is_classification()
                        ? fmt::format("{} classes in {}", outputs, config.data.path)
                        : fmt::format("{} regression target(s) in {}", outputs, config.data.path);
  load_network(config.model)->check(batch, outputs, config.policy.layerwise, task);
}

void check_model(const TrialConfig& config) {
  if (config.model.torchscript.empty()) return;
  check_model(config, load_splits(config.data, config.seed).train);
}

}  // namespace automl::trials
