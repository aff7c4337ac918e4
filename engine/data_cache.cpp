#include "engine/data_cache.h"

#include <torch/torch.h>

#include <algorithm>

#include "trials/data.h"

namespace automl::engine {
namespace {

std::int64_t tensor_bytes(const torch::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0;
}

std::int64_t dataset_bytes(const trials::Dataset& d) {
  return tensor_bytes(d.inputs) + tensor_bytes(d.targets) + tensor_bytes(d.source_ids);
}

// `t`, copied when it is one of `source`'s tensors.
torch::Tensor own(const torch::Tensor& t, const trials::Splits& source) {
  if (!t.defined()) return t;
  for (const auto* d : {&source.train, &source.validation, &source.test})
    for (const auto* s : {&d->inputs, &d->targets, &d->source_ids})
      if (s->defined() && s->is_alias_of(t)) return t.clone();
  return t;
}

// The splits with none of the source's tensors in them; the sample source (image folders) is
// immutable and shared.
trials::Splits owned(trials::Splits splits, const trials::Splits& source) {
  for (auto* d : {&splits.train, &splits.validation, &splits.test}) {
    d->inputs = own(d->inputs, source);
    d->targets = own(d->targets, source);
    d->source_ids = own(d->source_ids, source);
  }
  return splits;
}

}  // namespace

struct DataCache::Entry {
  std::string key;
  trials::Splits splits;
  std::int64_t bytes = 0;
};

DataCache::DataCache(DataCacheLimits limits, SourceLoader load)
    : limits_(limits), load_(load ? std::move(load) : SourceLoader(trials::load_source)) {}

DataCache::~DataCache() = default;

trials::Splits DataCache::get(const trials::DataConfig& data, std::uint64_t seed) {
  const auto key = trials::source_key(data, seed);
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const auto& entry) { return entry->key == key; });
  if (it != entries_.end()) {
    entries_.splice(entries_.begin(), entries_, it);
  } else {
    auto entry = std::make_unique<Entry>();
    entry->key = key;
    entry->splits = load_(data, seed);  // throws InputError as load_source does: nothing kept
    const auto& s = entry->splits;
    entry->bytes = dataset_bytes(s.train) + dataset_bytes(s.validation) + dataset_bytes(s.test);
    entries_.push_front(std::move(entry));
    evict();
  }
  const auto& source = entries_.front()->splits;
  return owned(trials::split_source(source, data, seed), source);
}

SplitsLoader DataCache::loader() {
  return [this](const trials::DataConfig& data, std::uint64_t seed) { return get(data, seed); };
}

void DataCache::evict() {
  while (entries_.size() > 1 && (entries_.size() > limits_.entries || bytes() > limits_.bytes))
    entries_.pop_back();
}

std::size_t DataCache::size() const {
  return entries_.size();
}

std::int64_t DataCache::bytes() const {
  std::int64_t total = 0;
  for (const auto& entry : entries_) total += entry->bytes;
  return total;
}

}  // namespace automl::engine
