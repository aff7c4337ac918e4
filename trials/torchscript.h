#pragma once
// TorchScript models (model.torchscript): a network written in Python, saved with
// `torch.jit.script(net).save(path)` and trained here like a built-in model. docs/trials.md,
// "TorchScript models", gives the contract with a Python example:
//   - forward(x) -> Tensor [N, outputs] (class logits, or the regression predictions);
//   - layer-wise MI-SGD: one parameter group per trainable child module (or per submodule named
//     in model.layers), and a method forward_layers(x) -> List[Tensor] that returns each
//     group's post-activation output in that order, the last being forward(x).
#include <cstdint>
#include <memory>

#include "trials/config.h"
#include "trials/data.h"
#include "trials/network.h"

namespace automl::trials {

// Loads config.torchscript for inputs of `shape` and checks, with one forward pass on a batch of
// zeros, that its output is [N, outputs]. Throws InputError naming the file when it is not
// TorchScript, has no trainable parameters, names unknown or overlapping model.layers, rejects
// the input or answers with another shape. Layer-wise use (layers(), forward_layers()) of a
// module without forward_layers throws InputError saying what to add.
std::shared_ptr<Network> load_torchscript_network(const ModelConfig& config,
                                                  const InputShape& shape, std::int64_t outputs);

// The check an experiment makes at load, before anything is written: for a TorchScript model,
// one forward pass on the first samples of `train` gives the task's output shape (the number of
// classes, or of regression targets), and with config.policy.layerwise, forward_layers exists and
// gives one tensor per layer, the last of the output's shape. Throws InputError naming the file.
// Built-in models are checked when they are built (their options) and pass here.
void check_model(const TrialConfig& config, const Dataset& train);
// The same, loading the training split from config.data first.
void check_model(const TrialConfig& config);

}  // namespace automl::trials
