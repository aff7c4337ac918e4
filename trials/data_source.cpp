// The Dataset members that serve both held inputs and inputs made on demand by a SampleSource.
#include <torch/torch.h>

#include "trials/data.h"

namespace automl::trials {

std::vector<std::int64_t> Dataset::sample_shape() const {
  if (source) return source->sample_shape();
  const auto sizes = inputs.sizes().slice(1);
  return {sizes.begin(), sizes.end()};
}

std::unique_ptr<BatchStream> Dataset::stream(const std::vector<std::int64_t>& order,
                                             const StreamOptions& options) const {
  if (!source) throw std::logic_error("Dataset::stream: the inputs are held, not made");
  const auto ids = source_ids.contiguous();
  const auto* id = ids.data_ptr<std::int64_t>();
  std::vector<std::int64_t> picked;
  picked.reserve(order.size());
  for (const auto position : order) picked.push_back(id[position]);
  return source->stream(std::move(picked), options);
}

torch::Tensor Dataset::gather_inputs(const torch::Tensor& indices) const {
  if (!source) return inputs.index_select(0, indices.to(inputs.device()));
  const auto positions = indices.cpu().to(torch::kInt64).contiguous();
  const std::vector<std::int64_t> order(positions.data_ptr<std::int64_t>(),
                                        positions.data_ptr<std::int64_t>() + positions.numel());
  StreamOptions options;
  options.batch_size = std::max<std::int64_t>(1, positions.numel());
  options.drop_skipped = false;  // row k stays sample indices[k]
  auto batches = stream(order, options);
  torch::Tensor gathered, labels;
  if (!batches->next(gathered, labels)) {
    const auto shape = sample_shape();
    return torch::zeros({0, shape[0], shape[1], shape[2]});
  }
  return gathered;
}

}  // namespace automl::trials
