#pragma once
// The networks a trial trains. Every network exposes its trainable layers (conv/linear, each
// with the parameters that belong to it) and their post-activation outputs, which layer-wise
// MI-SGD needs: one parameter group and one I(T;Y) history per layer.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "trials/config.h"

namespace automl::trials {

struct Layer {
  std::string name;
  // A BatchNorm's parameters join the conv it belongs with: the one before it in post-activation
  // networks (VGG, ResNet), the one it feeds in pre-activation WRN blocks.
  std::vector<torch::Tensor> parameters;
};

class Network : public torch::nn::Module {
 public:
  // Logits (classification) or predictions (regression), [N, outputs].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // The post-activation output of every trainable layer, in order; the last is forward(x).
  virtual std::vector<torch::Tensor> forward_layers(torch::Tensor x) = 0;
  // The trainable layers in the order forward_layers reports them.
  virtual std::vector<Layer> layers() = 0;
};

struct InputShape {
  std::int64_t channels = 1, height = 28, width = 28;  // images
  std::int64_t features = 0;                           // tables (then images are unused)
};

// Builds the network named in `config` for inputs of `shape` and `outputs` outputs, or loads
// config.torchscript when it is set (trials/torchscript.h).
// Throws InputError("model.<key>") on an unknown name or option.
std::shared_ptr<Network> make_network(const ModelConfig& config, const InputShape& shape,
                                      std::int64_t outputs);

struct Dataset;  // trials/data.h

// make_network for inputs shaped like `train`'s samples and its classes (or regression targets).
std::shared_ptr<Network> make_network_for(const ModelConfig& config, const Dataset& train);

// Number of trainable scalars.
std::int64_t parameter_count(torch::nn::Module& module);

}  // namespace automl::trials
