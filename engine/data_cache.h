#pragma once
// The data sets a long-lived worker keeps loaded across trials. What costs is decoding the files
// (trials::load_source); a trial's splits are drawn from the decoded source for each trial
// (trials::split_source: subsets by seed, normalisation), so that the seeds and subsets of one
// data set share one decoded copy. The most recent few sources stay, within a byte bound. Every
// trial gets tensors of its own (a split that shares the source's tensors is copied), so that
// nothing one trial does to its data can reach the next: a trial in a warm worker sees exactly
// what load_splits would give a fresh process. Free of LibTorch headers (trials/data.h).
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
// What a miss calls: trials::load_source, unless a test counts the loads.
using SourceLoader = SplitsLoader;

struct DataCacheLimits {
  std::size_t entries = 4;                     // decoded sources kept
  std::int64_t bytes = std::int64_t{2} << 30;  // of their tensors; the newest is always kept
};

class DataCache {
 public:
  explicit DataCache(DataCacheLimits limits = {}, SourceLoader load = {});
  ~DataCache();
  DataCache(const DataCache&) = delete;
  DataCache& operator=(const DataCache&) = delete;

  // What load_splits(data, seed) returns, from the kept source (loaded on a miss).
  trials::Splits get(const trials::DataConfig& data, std::uint64_t seed);
  // get() as a trials::TrialRuntime::load_data; valid while the cache lives.
  SplitsLoader loader();

  std::size_t size() const;
  std::int64_t bytes() const;

 private:
  struct Entry;
  void evict();

  DataCacheLimits limits_;
  SourceLoader load_;
  std::list<std::unique_ptr<Entry>> entries_;  // most recently used first
};

}  // namespace automl::engine
