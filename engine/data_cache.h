#pragma once
// The data sets a long-lived worker keeps loaded across trials. A trial's splits depend only on
// its DataConfig and its seed (trials::load_splits), so those are the key; the most recent few
// stay, within a byte bound. Every trial gets its own copy of the tensors, so that nothing one
// trial does to its data (on the CPU, Dataset::to(cpu) is the same tensor) can reach the next:
// a trial in a warm worker sees exactly what load_splits would give a fresh process.
// Free of LibTorch headers (trials/data.h holds the tensors).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "trials/config.h"

namespace automl::trials {
struct Splits;
}

namespace automl::engine {

using SplitsLoader = std::function<trials::Splits(const trials::DataConfig&, std::uint64_t seed)>;

struct DataCacheLimits {
  std::size_t entries = 4;  // data sets kept (the default experiment uses 3 seeds)
  std::int64_t bytes = std::int64_t{2} << 30;  // of their tensors; the newest is always kept
};

class DataCache {
 public:
  // `load` is what a miss calls; trials::load_splits unless a test counts the loads.
  explicit DataCache(DataCacheLimits limits = {}, SplitsLoader load = {});
  ~DataCache();
  DataCache(const DataCache&) = delete;
  DataCache& operator=(const DataCache&) = delete;

  // What load_splits(data, seed) returns: a copy of the kept data set, loaded on a miss.
  trials::Splits get(const trials::DataConfig& data, std::uint64_t seed);
  // get() as a trials::TrialRuntime::load_data; valid while the cache lives.
  SplitsLoader loader();

  std::size_t size() const;
  std::int64_t bytes() const;

 private:
  struct Entry;
  void evict();

  DataCacheLimits limits_;
  SplitsLoader load_;
  std::list<std::unique_ptr<Entry>> entries_;  // most recently used first
};

}  // namespace automl::engine
