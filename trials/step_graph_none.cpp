// StepGraph without CUDA: never available; the trial loop then runs every step eagerly.
#include <stdexcept>

#include "trials/step_graph.h"

namespace automl::trials {

struct StepGraph::Impl {};

StepGraph::StepGraph() = default;
StepGraph::~StepGraph() = default;

bool StepGraph::available() {
  return false;
}

bool StepGraph::ready_for(const std::vector<double>&) const {
  return false;
}

void StepGraph::capture(const Step&, const torch::Tensor&, const torch::Tensor&,
                        const std::vector<double>&) {
  throw std::logic_error("CUDA graphs need a CUDA build of LibTorch");
}

void StepGraph::replay(const torch::Tensor&, const torch::Tensor&) {
  throw std::logic_error("CUDA graphs need a CUDA build of LibTorch");
}

}  // namespace automl::trials

namespace automl::trials {

void StepGraph::eager(const Step& step, const torch::Tensor& inputs, const torch::Tensor& targets) {
  step(inputs, targets);
}

}  // namespace automl::trials
