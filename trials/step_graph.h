#pragma once
// One training step (zero_grad, forward, loss, backward, optimizer step, metric sums) captured as
// a CUDA graph and replayed for every full batch. A LeNet step on a fast GPU is a few hundred
// microseconds of arithmetic behind ~100 kernel launches: the launches, not the GPU, set the
// pace, and a graph launches them all at once.
//
// What a graph needs from the step, and the trial loop guarantees:
// - everything it reads or writes lives at fixed addresses: inputs and targets are copied into
//   static buffers, metric sums accumulate in place, parameters and optimizer state are updated
//   in place (plain SGD; optimizers that keep per-step counters on the host, like Adam's bias
//   correction, cannot be replayed and run eagerly);
// - the optimizer state exists before capture (one eager step first), and the LR is baked into
//   the graph, so a changed LR (at an epoch boundary) means a new capture.
#include <torch/types.h>

#include <functional>
#include <memory>
#include <vector>

namespace automl::trials {

class StepGraph {
 public:
  using Step = std::function<void(const torch::Tensor& inputs, const torch::Tensor& targets)>;

  StepGraph();
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // Whether this build can capture graphs (a CUDA LibTorch).
  static bool available();

  // True when a graph was captured for exactly these LRs.
  bool ready_for(const std::vector<double>& lrs) const;
  // Captures `step` on static copies shaped like `inputs`/`targets` (on the GPU), for `lrs`.
  // Nothing runs: call replay() for the batch at hand.
  void capture(const Step& step, const torch::Tensor& inputs, const torch::Tensor& targets,
               const std::vector<double>& lrs);
  // Copies the batch into the static buffers and replays the captured step.
  void replay(const torch::Tensor& inputs, const torch::Tensor& targets);
  // Runs `step` eagerly on the stream captures use (a real step that also warms up that stream's
  // library handles before a capture), then waits for it.
  void eager(const Step& step, const torch::Tensor& inputs, const torch::Tensor& targets);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace automl::trials
