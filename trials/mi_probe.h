#pragma once
// The per-epoch MI measurement of SPEC.md 1-2: a fixed subset of the training set, the bound
// I(T;Y) is divided by, and I(T;Y) of the model (or of every trainable layer) on that subset.
#include <torch/types.h>

#include <vector>

#include "trials/config.h"
#include "trials/data.h"
#include "trials/network.h"

namespace automl::trials {

class MiProbe {
 public:
  // Draws the subset from `train` by `seed` (stratified when config.stratified) and computes the
  // bound `bound_name` (ksg_xy | entropy | auto) names. Throws InputError on a bad choice.
  // The subset is kept on `device`, where the network runs.
  MiProbe(const MiConfig& config, const std::string& bound_name, const Dataset& train,
          std::uint64_t seed, const torch::Device& device);
  double bound() const { return bound_; }
  // I(T;Y) in nats, in eval mode and without gradients: one value per layer of net.layers() when
  // `per_layer`, else one for the model. The last layer's T is the model-level T (softmax
  // probabilities for classification, the predictions for regression). NaN for a layer whose
  // outputs are not all finite.
  std::vector<double> measure(Network& net, bool per_layer, int batch_size) const;

 private:
  double estimate(const torch::Tensor& t) const;

  MiConfig config_;
  bool classification_;
  torch::Tensor inputs_, labels_, y_;
  double bound_ = 0;
  std::uint64_t seed_;
};

}  // namespace automl::trials
