// The model zoo: each model is built from its name and options in the experiment YAML.
#include <fmt/format.h>
#include <torch/torch.h>

#include <functional>
#include <map>
#include <set>

#include "common/error.h"
#include "common/text.h"
#include "trials/data.h"
#include "trials/network.h"
#include "trials/torchscript.h"

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

// Networks whose forward pass can record the post-activation output of every trainable layer
// ("taps", in the order of layers()). run(x, nullptr) is the plain forward pass.
class TapNetwork : public Network {
 public:
  torch::Tensor forward(torch::Tensor x) override { return run(x, nullptr); }
  std::vector<torch::Tensor> forward_layers(torch::Tensor x) override {
    std::vector<torch::Tensor> taps;
    taps.push_back(run(x, &taps));
    // run() records every layer but the last; the output closes the list.
    return taps;
  }
  std::vector<Layer> layers() override { return layers_; }

 protected:
  virtual torch::Tensor run(torch::Tensor x, std::vector<torch::Tensor>* taps) = 0;
  static torch::Tensor tap(torch::Tensor t, std::vector<torch::Tensor>* taps) {
    if (taps) taps->push_back(t);
    return t;
  }
  // Registers the layer `name` made of `modules` (a conv or linear and its BatchNorm).
  void add_layer(const std::string& name, const std::vector<nn::Module*>& modules) {
    Layer layer{name, {}};
    for (auto* m : modules)
      for (const auto& p : m->parameters()) layer.parameters.push_back(p);
    layers_.push_back(std::move(layer));
  }

 private:
  std::vector<Layer> layers_;
};

nn::Conv2dOptions conv_options(std::int64_t in, std::int64_t out, std::int64_t kernel,
                               std::int64_t stride = 1, std::int64_t padding = -1,
                               bool bias = true) {
  return nn::Conv2dOptions(in, out, kernel)
      .stride(stride)
      .padding(padding < 0 ? kernel / 2 : padding)
      .bias(bias);
}

// All-CNN-C (Springenberg et al. 2015): strided 3x3 convolutions instead of max pooling, 1x1
// convolutions and global average pooling instead of fully connected layers. The paper's CIFAR-10
// run puts dropout 0.5 after each "pool" (the stride-2 convolutions).
class AllCnnC : public TapNetwork {
 public:
  AllCnnC(const Options& o, const InputShape& s, std::int64_t outputs)
      : input_dropout_(register_module("input_dropout", nn::Dropout(o["input_dropout"]))),
        dropout_(register_module("dropout", nn::Dropout(o["dropout"]))) {
    const auto a = o.integer("width1"), b = o.integer("width2");
    const std::vector<nn::Conv2dOptions> specs = {
        conv_options(s.channels, a, 3), conv_options(a, a, 3), conv_options(a, a, 3, 2),
        conv_options(a, b, 3),          conv_options(b, b, 3), conv_options(b, b, 3, 2),
        conv_options(b, b, 3, 1, 0),    conv_options(b, b, 1), conv_options(b, outputs, 1)};
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const auto name = fmt::format("conv{}", i + 1);
      convs_.push_back(register_module(name, nn::Conv2d(specs[i])));
      add_layer(name, {convs_.back().get()});
    }
  }

 protected:
  torch::Tensor run(torch::Tensor x, std::vector<torch::Tensor>* taps) override {
    x = input_dropout_(x);
    for (std::size_t i = 0; i + 1 < convs_.size(); ++i) {
      x = tap(torch::relu(convs_[i](x)), taps);
      if (i == 2 || i == 5) x = dropout_(x);  // after the strided "pooling" convolutions
    }
    return torch::adaptive_avg_pool2d(torch::relu(convs_.back()(x)), {1, 1}).flatten(1);
  }

 private:
  nn::Dropout input_dropout_, dropout_;
  std::vector<nn::Conv2d> convs_;
};

// VGG-16 for CIFAR (Li et al. 2017's variant, 15.0M parameters): 13 3x3 convolutions with
// BatchNorm and ReLU in five blocks with max pooling, then 512 -> hidden -> outputs.
class Vgg16 : public TapNetwork {
 public:
  Vgg16(const Options& o, const InputShape& s, std::int64_t outputs)
      : dropout_(register_module("dropout", nn::Dropout(o["dropout"]))) {
    const std::vector<std::vector<std::int64_t>> blocks = {
        {64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
    std::int64_t in = s.channels;
    int index = 0;
    for (const auto& block : blocks) {
      for (auto width : block) {
        const auto name = fmt::format("conv{}", ++index);
        convs_.push_back(register_module(name, nn::Conv2d(conv_options(in, width, 3, 1, 1, true))));
        norms_.push_back(register_module(name + "_bn", nn::BatchNorm2d(width)));
        add_layer(name, {convs_.back().get(), norms_.back().get()});
        in = width;
      }
      block_ends_.push_back(convs_.size());
    }
    const auto hidden = o.integer("hidden");
    if (hidden > 0) {
      fcs_.push_back(register_module("fc1", nn::Linear(in, hidden)));
      add_layer("fc1", {fcs_.back().get()});
      in = hidden;
    }
    fcs_.push_back(register_module(fmt::format("fc{}", fcs_.size() + 1), nn::Linear(in, outputs)));
    add_layer(fmt::format("fc{}", fcs_.size()), {fcs_.back().get()});
  }

 protected:
  torch::Tensor run(torch::Tensor x, std::vector<torch::Tensor>* taps) override {
    std::size_t block = 0;
    for (std::size_t i = 0; i < convs_.size(); ++i) {
      x = tap(torch::relu(norms_[i](convs_[i](x))), taps);
      if (i + 1 == block_ends_[block]) {
        x = torch::max_pool2d(x, 2);
        ++block;
      }
    }
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);  // identity on 32x32 inputs
    for (std::size_t i = 0; i + 1 < fcs_.size(); ++i)
      x = dropout_(tap(torch::relu(fcs_[i](x)), taps));
    return fcs_.back()(x);
  }

 private:
  nn::Dropout dropout_;
  std::vector<nn::Conv2d> convs_;
  std::vector<nn::BatchNorm2d> norms_;
  std::vector<nn::Linear> fcs_;
  std::vector<std::size_t> block_ends_;
};

// Wide ResNet (Zagoruyko & Komodakis 2016), pre-activation basic blocks. WRN-d-k: (d-4)/6
// blocks per group, widths 16k, 32k, 64k. A block's BatchNorms join the convolution they feed.
class WideResNet : public TapNetwork {
 public:
  WideResNet(const Options& o, const InputShape& s, std::int64_t outputs)
      : dropout_(register_module("dropout", nn::Dropout(o["dropout"]))) {
    const auto depth = o.integer("depth"), k = o.integer("width");
    if (depth < 10 || (depth - 4) % 6 != 0)
      throw InputError("model.options.depth",
                       fmt::format("{} is not a WRN depth (expected 6n + 4, n >= 1)", depth));
    if (k < 1) throw InputError("model.options.width", "expected a width factor >= 1");
    stem_ = register_module("conv1", nn::Conv2d(conv_options(s.channels, 16, 3, 1, 1, false)));
    add_layer("conv1", {stem_.get()});
    std::int64_t in = 16;
    const std::int64_t per_group = (depth - 4) / 6;
    for (int group = 0; group < 3; ++group) {
      const std::int64_t width = (16 << group) * k;
      for (std::int64_t b = 0; b < per_group; ++b) {
        const auto name = fmt::format("block{}_{}", group + 1, b + 1);
        Block block;
        block.stride = (b == 0 && group > 0) ? 2 : 1;
        block.bn1 = register_module(name + "_bn1", nn::BatchNorm2d(in));
        block.conv1 = register_module(
            name + "_conv1", nn::Conv2d(conv_options(in, width, 3, block.stride, 1, false)));
        block.bn2 = register_module(name + "_bn2", nn::BatchNorm2d(width));
        block.conv2 = register_module(name + "_conv2",
                                      nn::Conv2d(conv_options(width, width, 3, 1, 1, false)));
        add_layer(name + "_conv1", {block.bn1.get(), block.conv1.get()});
        add_layer(name + "_conv2", {block.bn2.get(), block.conv2.get()});
        if (in != width || block.stride != 1) {
          block.shortcut = register_module(
              name + "_shortcut", nn::Conv2d(conv_options(in, width, 1, block.stride, 0, false)));
          add_layer(name + "_shortcut", {block.shortcut.get()});
        }
        blocks_.push_back(block);
        in = width;
      }
    }
    bn_ = register_module("bn", nn::BatchNorm2d(in));
    fc_ = register_module("fc", nn::Linear(in, outputs));
    add_layer("fc", {bn_.get(), fc_.get()});
  }

 protected:
  torch::Tensor run(torch::Tensor x, std::vector<torch::Tensor>* taps) override {
    x = tap(stem_(x), taps);
    for (auto& b : blocks_) {
      const auto activated = torch::relu(b.bn1(x));
      auto y = tap(torch::relu(b.bn2(b.conv1(activated))), taps);
      y = b.conv2(dropout_(y));
      const auto shortcut = b.shortcut ? b.shortcut(activated) : x;
      x = tap(y + shortcut, taps);  // conv2's output is the block's
      if (b.shortcut) tap(shortcut, taps);
    }
    x = torch::adaptive_avg_pool2d(torch::relu(bn_(x)), {1, 1}).flatten(1);
    return fc_(x);
  }

 private:
  struct Block {
    nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
    nn::Conv2d conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};
    std::int64_t stride = 1;
  };
  nn::Dropout dropout_;
  nn::Conv2d stem_{nullptr};
  std::vector<Block> blocks_;
  nn::BatchNorm2d bn_{nullptr};
  nn::Linear fc_{nullptr};
};
// ResNet-50 (He et al. 2016) as torchvision builds it (v1.5: stride in the 3x3 convolution of
// the bottleneck). option small_input = 1 swaps the ImageNet stem (7x7/2 + max pool) for a 3x3/1
// convolution, for 32x32 images.
class ResNet50 : public TapNetwork {
 public:
  ResNet50(const Options& o, const InputShape& s, std::int64_t outputs)
      : small_input_(o["small_input"] != 0) {
    stem_ = register_module(
        "conv1", nn::Conv2d(small_input_ ? conv_options(s.channels, 64, 3, 1, 1, false)
                                         : conv_options(s.channels, 64, 7, 2, 3, false)));
    stem_bn_ = register_module("bn1", nn::BatchNorm2d(64));
    add_layer("conv1", {stem_.get(), stem_bn_.get()});
    std::int64_t in = 64;
    const std::int64_t counts[] = {3, 4, 6, 3};
    for (int stage = 0; stage < 4; ++stage) {
      const std::int64_t planes = 64 << stage, out = planes * 4;
      for (std::int64_t b = 0; b < counts[stage]; ++b) {
        const auto name = fmt::format("layer{}_{}", stage + 1, b);
        const std::int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
        Bottleneck k;
        k.conv1 =
            register_module(name + "_conv1", nn::Conv2d(conv_options(in, planes, 1, 1, 0, false)));
        k.bn1 = register_module(name + "_bn1", nn::BatchNorm2d(planes));
        k.conv2 = register_module(name + "_conv2",
                                  nn::Conv2d(conv_options(planes, planes, 3, stride, 1, false)));
        k.bn2 = register_module(name + "_bn2", nn::BatchNorm2d(planes));
        k.conv3 =
            register_module(name + "_conv3", nn::Conv2d(conv_options(planes, out, 1, 1, 0, false)));
        k.bn3 = register_module(name + "_bn3", nn::BatchNorm2d(out));
        add_layer(name + "_conv1", {k.conv1.get(), k.bn1.get()});
        add_layer(name + "_conv2", {k.conv2.get(), k.bn2.get()});
        add_layer(name + "_conv3", {k.conv3.get(), k.bn3.get()});
        if (stride != 1 || in != out) {
          k.down = register_module(name + "_down",
                                   nn::Conv2d(conv_options(in, out, 1, stride, 0, false)));
          k.down_bn = register_module(name + "_down_bn", nn::BatchNorm2d(out));
          add_layer(name + "_down", {k.down.get(), k.down_bn.get()});
        }
        blocks_.push_back(k);
        in = out;
      }
    }
    fc_ = register_module("fc", nn::Linear(in, outputs));
    add_layer("fc", {fc_.get()});
  }

 protected:
  torch::Tensor run(torch::Tensor x, std::vector<torch::Tensor>* taps) override {
    x = tap(torch::relu(stem_bn_(stem_(x))), taps);
    if (!small_input_) x = torch::max_pool2d(x, 3, 2, 1);
    for (auto& k : blocks_) {
      auto y = tap(torch::relu(k.bn1(k.conv1(x))), taps);
      y = tap(torch::relu(k.bn2(k.conv2(y))), taps);
      const auto shortcut = k.down ? k.down_bn(k.down(x)) : x;
      x = tap(torch::relu(k.bn3(k.conv3(y)) + shortcut), taps);  // conv3's output is the block's
      if (k.down) tap(shortcut, taps);
    }
    return fc_(torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1));
  }

 private:
  struct Bottleneck {
    nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, down{nullptr};
    nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, down_bn{nullptr};
  };
  bool small_input_;
  nn::Conv2d stem_{nullptr};
  nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<Bottleneck> blocks_;
  nn::Linear fc_{nullptr};
};

// Fully connected ReLU network for tables (the paper's regression model is 64-32-2): hidden
// layers hidden1..hidden4 (0 = absent), then the outputs; relu_output = 1 puts a ReLU on the
// outputs too, as the paper's "all neurons used ReLU" reads (off by default: standardised targets
// are negative half the time).
class Mlp : public TapNetwork {
 public:
  Mlp(const Options& o, const InputShape& s, std::int64_t outputs)
      : relu_output_(o["relu_output"] != 0) {
    std::int64_t in = s.features > 0 ? s.features : s.channels * s.height * s.width;
    std::vector<std::int64_t> widths;
    for (const char* key : {"hidden1", "hidden2", "hidden3", "hidden4"})
      if (o.integer(key) > 0) widths.push_back(o.integer(key));
    widths.push_back(outputs);
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const auto name = fmt::format("fc{}", i + 1);
      fcs_.push_back(register_module(name, nn::Linear(in, widths[i])));
      add_layer(name, {fcs_.back().get()});
      in = widths[i];
    }
  }

 protected:
  torch::Tensor run(torch::Tensor x, std::vector<torch::Tensor>* taps) override {
    x = x.flatten(1);
    for (std::size_t i = 0; i + 1 < fcs_.size(); ++i) x = tap(torch::relu(fcs_[i](x)), taps);
    x = fcs_.back()(x);
    return relu_output_ ? torch::relu(x) : x;
  }

 private:
  bool relu_output_;
  std::vector<nn::Linear> fcs_;
};

using Build =
    std::function<std::shared_ptr<Network>(const ModelConfig&, const InputShape&, std::int64_t)>;

// A model of the zoo: its options with their defaults, and how to build it.
struct Entry {
  std::map<std::string, double> defaults;
  Build build;
};

template <typename Model>
Entry entry(const std::map<std::string, double>& defaults) {
  return {defaults, [defaults](const ModelConfig& c, const InputShape& s, std::int64_t outputs) {
            return std::make_shared<Model>(Options(c, defaults), s, outputs);
          }};
}

const std::map<std::string, Entry>& zoo() {
  static const std::map<std::string, Entry> table = {
      {"lenet", entry<LeNet>({{"conv1", 6}, {"conv2", 16}, {"hidden", 120}, {"dropout", 0.5}})},
      {"allcnn",
       entry<AllCnnC>({{"width1", 96}, {"width2", 192}, {"dropout", 0.5}, {"input_dropout", 0.0}})},
      {"vgg16", entry<Vgg16>({{"hidden", 512}, {"dropout", 0.5}})},
      {"wrn", entry<WideResNet>({{"depth", 28}, {"width", 10}, {"dropout", 0.0}})},
      {"resnet50", entry<ResNet50>({{"small_input", 0}})},
      {"mlp",
       entry<Mlp>(
           {{"hidden1", 64}, {"hidden2", 32}, {"hidden3", 0}, {"hidden4", 0}, {"relu_output", 0}})},
  };
  return table;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, model] : zoo()) names.push_back(name);
  return names;
}

std::vector<std::string> model_option_names(const std::string& name) {
  std::vector<std::string> keys;
  const auto found = zoo().find(name);
  if (found != zoo().end())
    for (const auto& [key, value] : found->second.defaults) keys.push_back(key);
  return keys;
}

std::shared_ptr<Network> make_network_for(const ModelConfig& config, const Dataset& train) {
  InputShape shape;
  const auto dims = train.sample_shape();
  if (train.is_image())
    shape = {dims[0], dims[1], dims[2], 0};
  else
    shape.features = dims[0];
  const auto outputs = train.is_classification() ? train.num_classes : train.targets.size(1);
  return make_network(config, shape, outputs);
}

std::shared_ptr<Network> make_network(const ModelConfig& config, const InputShape& shape,
                                      std::int64_t outputs) {
  if (!config.torchscript.empty()) return load_torchscript_network(config, shape, outputs);
  const auto found = zoo().find(config.name);
  if (found == zoo().end())
    throw InputError("model.name", fmt::format("unknown model '{}' (expected one of: {})",
                                               config.name, fmt::join(model_names(), ", ")));
  return found->second.build(config, shape, outputs);
}

std::int64_t parameter_count(torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& p : module.parameters())
    if (p.requires_grad()) count += p.numel();
  return count;
}

}  // namespace automl::trials
