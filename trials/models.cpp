// The model zoo: each model is built from its name and options in the experiment YAML.
#include <fmt/format.h>
#include <torch/torch.h>

#include <functional>
#include <map>
#include <set>

#include "common/error.h"
#include "common/text.h"
#include "trials/network.h"

namespace automl::trials {
namespace {

namespace nn = torch::nn;

// Reads model options with defaults, rejecting keys the model does not know.
class Options {
 public:
  Options(const ModelConfig& config, std::map<std::string, double> defaults)
      : values_(std::move(defaults)) {
    std::vector<std::string> known;
    for (const auto& [key, value] : values_) known.push_back(key);
    for (const auto& [key, value] : config.options) {
      if (!values_.count(key)) {
        const auto hint = nearest(key, known);
        throw InputError(
            fmt::format("model.options.{}", key),
            fmt::format("unknown option for model '{}'{}", config.name,
                        hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
      }
      values_[key] = value;
    }
  }
  double operator[](const std::string& key) const { return values_.at(key); }
  std::int64_t integer(const std::string& key) const {
    return static_cast<std::int64_t>(values_.at(key));
  }

 private:
  std::map<std::string, double> values_;
};

// LeNet-5 style model of the paper's MNIST experiment: two conv+pool blocks, then two fully
// connected layers with dropout between them.
class LeNet : public Network {
 public:
  LeNet(const Options& o, const InputShape& shape, std::int64_t outputs)
      : conv1_(register_module(
            "conv1",
            nn::Conv2d(nn::Conv2dOptions(shape.channels, o.integer("conv1"), 5).padding(2)))),
        conv2_(register_module("conv2", nn::Conv2d(o.integer("conv1"), o.integer("conv2"), 5))),
        fc1_(register_module("fc1", nn::Linear(flat_size(o, shape), o.integer("hidden")))),
        fc2_(register_module("fc2", nn::Linear(o.integer("hidden"), outputs))),
        dropout_(register_module("dropout", nn::Dropout(o["dropout"]))) {}

  torch::Tensor forward(torch::Tensor x) override { return forward_layers(x).back(); }

  std::vector<torch::Tensor> forward_layers(torch::Tensor x) override {
    auto a1 = torch::relu(conv1_(x));
    auto a2 = torch::relu(conv2_(torch::max_pool2d(a1, 2)));
    auto a3 = torch::relu(fc1_(torch::max_pool2d(a2, 2).flatten(1)));
    auto logits = fc2_(dropout_(a3));
    return {a1, a2, a3, logits};
  }

  std::vector<Layer> layers() override {
    return {{"conv1", conv1_->parameters()},
            {"conv2", conv2_->parameters()},
            {"fc1", fc1_->parameters()},
            {"fc2", fc2_->parameters()}};
  }

 private:
  static std::int64_t flat_size(const Options& o, const InputShape& s) {
    const auto h = ((s.height / 2) - 4) / 2, w = ((s.width / 2) - 4) / 2;
    return o.integer("conv2") * h * w;
  }
  nn::Conv2d conv1_, conv2_;
  nn::Linear fc1_, fc2_;
  nn::Dropout dropout_;
};

using Factory =
    std::function<std::shared_ptr<Network>(const ModelConfig&, const InputShape&, std::int64_t)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"lenet",
       [](const ModelConfig& c, const InputShape& s, std::int64_t outputs) {
         Options o(c, {{"conv1", 6}, {"conv2", 16}, {"hidden", 120}, {"dropout", 0.5}});
         return std::make_shared<LeNet>(o, s, outputs);
       }},
  };
  return table;
}

}  // namespace

std::shared_ptr<Network> make_network(const ModelConfig& config, const InputShape& shape,
                                      std::int64_t outputs) {
  const auto& table = factories();
  const auto found = table.find(config.name);
  if (found == table.end()) {
    std::vector<std::string> names;
    for (const auto& [name, factory] : table) names.push_back(name);
    throw InputError("model.name", fmt::format("unknown model '{}' (expected one of: {})",
                                               config.name, fmt::join(names, ", ")));
  }
  return found->second(config, shape, outputs);
}

std::int64_t parameter_count(torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& p : module.parameters())
    if (p.requires_grad()) count += p.numel();
  return count;
}

}  // namespace automl::trials
