#include "engine/data_cache.h"

#include <nlohmann/json.hpp>

#include "trials/config_json.h"
#include "trials/data.h"

namespace automl::engine {
namespace {

// The DataConfig's stored form (every field, trials/config_json.h) and the seed.
std::string key_of(const trials::DataConfig& data, std::uint64_t seed) {
  trials::TrialConfig config;
  config.data = data;
  return nlohmann::json(config).at("data").dump() + "#" + std::to_string(seed);
}

std::int64_t tensor_bytes(const torch::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0;
}

std::int64_t dataset_bytes(const trials::Dataset& d) {
  return tensor_bytes(d.inputs) + tensor_bytes(d.targets) + tensor_bytes(d.source_ids);
}

torch::Tensor copy_of(const torch::Tensor& t) {
  return t.defined() ? t.clone() : t;
}

// A deep copy of the tensors; the sample source (image folders) is immutable and shared.
trials::Dataset copy_of(const trials::Dataset& d) {
  trials::Dataset out = d;
  out.inputs = copy_of(d.inputs);
  out.targets = copy_of(d.targets);
  out.source_ids = copy_of(d.source_ids);
  return out;
}

trials::Splits copy_of(const trials::Splits& s) {
  return {copy_of(s.train), copy_of(s.validation), copy_of(s.test)};
}

}  // namespace

struct DataCache::Entry {
  std::string key;
  trials::Splits splits;
  std::int64_t bytes = 0;
};

DataCache::DataCache(DataCacheLimits limits, SplitsLoader load)
    : limits_(limits), load_(load ? std::move(load) : SplitsLoader(trials::load_splits)) {}

DataCache::~DataCache() = default;

trials::Splits DataCache::get(const trials::DataConfig& data, std::uint64_t seed) {
  const auto key = key_of(data, seed);
  for (auto it = entries_.begin(); it != entries_.end(); ++it)
    if ((*it)->key == key) {
      entries_.splice(entries_.begin(), entries_, it);
      return copy_of(entries_.front()->splits);
    }
  auto entry = std::make_unique<Entry>();
  entry->key = key;
  entry->splits = load_(data, seed);  // throws InputError as load_splits does: nothing is kept
  const auto& s = entry->splits;
  entry->bytes = dataset_bytes(s.train) + dataset_bytes(s.validation) + dataset_bytes(s.test);
  entries_.push_front(std::move(entry));
  evict();
  return copy_of(entries_.front()->splits);
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
