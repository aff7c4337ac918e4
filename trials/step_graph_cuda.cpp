// StepGraph on a CUDA LibTorch (built only when AUTOML_WITH_CUDA).
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>

#include <optional>

#include "trials/step_graph.h"

namespace automl::trials {

struct StepGraph::Impl {
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  torch::Tensor inputs, targets;
  std::vector<double> lrs;
  std::optional<c10::cuda::CUDAStream> stream;  // captures and eager steps; never the legacy one

  c10::cuda::CUDAStream side_stream(const torch::Device& device) {
    if (!stream) stream = c10::cuda::getStreamFromPool(false, device.index());
    return *stream;
  }
};

StepGraph::StepGraph() : impl_(std::make_unique<Impl>()) {}
StepGraph::~StepGraph() = default;

bool StepGraph::available() {
  return true;
}

bool StepGraph::ready_for(const std::vector<double>& lrs) const {
  return impl_->graph && impl_->lrs == lrs;
}

void StepGraph::capture(const Step& step, const torch::Tensor& inputs, const torch::Tensor& targets,
                        const std::vector<double>& lrs) {
  impl_->graph.reset();  // frees the previous capture's memory pool first
  impl_->inputs = inputs.clone();
  impl_->targets = targets.clone();
  impl_->lrs = lrs;
  torch::cuda::synchronize();
  {
    c10::cuda::CUDAStreamGuard side(impl_->side_stream(inputs.device()));
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    graph->capture_begin();
    step(impl_->inputs, impl_->targets);
    graph->capture_end();
    impl_->graph = std::move(graph);
  }
  torch::cuda::synchronize();
}

void StepGraph::eager(const Step& step, const torch::Tensor& inputs, const torch::Tensor& targets) {
  torch::cuda::synchronize();
  {
    c10::cuda::CUDAStreamGuard side(impl_->side_stream(inputs.device()));
    step(inputs, targets);
  }
  torch::cuda::synchronize();
}

void StepGraph::replay(const torch::Tensor& inputs, const torch::Tensor& targets) {
  impl_->inputs.copy_(inputs, /*non_blocking=*/true);
  impl_->targets.copy_(targets, /*non_blocking=*/true);
  impl_->graph->replay();
}

}  // namespace automl::trials
