#pragma once
// PlacementChoice: how many trials run at once on each device (slots) and with how many LibTorch
// threads each. Small models train more images per second in several one-thread processes than
// in one process with every core (LeNet at batch 64 on 2 cores: 2 x 8,700 against 4,540); big
// ones the other way round. With `devices.cpu_slots: auto` (or `slots_per_gpu: auto`) the engine
// measures the experiment's own base trial at a few layouts and keeps the fastest; the choice is
// stored as the experiment's `place` decision, so a resumed run places alike. A measurement is
// also remembered on the machine (PlacementMemory), so that the next experiment of the same model
// and batch on the same hardware does not measure again. Free of LibTorch.
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/experiment.h"
#include "trials/config.h"

namespace automl::engine {

struct Layout {
  int slots = 1;    // per device: concurrent trials on the CPU, or on each GPU
  int threads = 1;  // LibTorch threads per trial
  bool operator==(const Layout& other) const {
    return slots == other.slots && threads == other.threads;
  }
};

struct LayoutMeasurement {
  Layout layout;
  double images_per_second = 0;  // all the layout's slots together, on one device
};

struct PlacementChoice {
  bool on_gpu = false;
  Layout layout;
  std::vector<LayoutMeasurement> measured;  // empty when the experiment fixed its layout
  std::string measured_at;  // UTC time of the measurement, when it was remembered from one
};

// Where a placement comes from when the experiment leaves it to the engine.
struct PlacementOptions {
  std::string executable;  // the automl binary whose hidden `throughput` command measures
  std::filesystem::path memory_file;  // this machine's remembered placements; empty: none
  bool remeasure = false;             // measure even when one is remembered (and remember it)
  double probe_seconds = 1;           // each layout trains this long, after a warm-up
};

// The layouts worth measuring with `cores` cores shared by `devices` devices: 1, 2, 4, ...
// slots per device (and `cores` itself on the CPU), the cores split evenly among all slots.
// On the CPU (devices = 1) at most one slot per core; a GPU takes up to 8 slots.
std::vector<Layout> candidate_layouts(int cores, int devices, bool on_gpu);

// Aggregate images/s of a layout on one device.
using LayoutProbe = std::function<double(const Layout&)>;

// Measures `candidates` in order and keeps the fastest; a layout within 3% of a faster one with
// fewer slots loses to it (fewer slots finish each trial sooner). Stops early once a layout falls
// below 80% of the best so far: more slots only add contention from there.
PlacementChoice choose_placement(const std::vector<Layout>& candidates, bool on_gpu,
                                 const LayoutProbe& probe);

// The experiment's own layout when it fixes one (slots given; threads from `threads`, else the
// cores shared among the slots), nullopt when its slots are `auto` on the device it runs on.
std::optional<PlacementChoice> fixed_placement(const experiments::ExperimentConfig& experiment,
                                               int gpus, int cores);

nlohmann::json placement_json(const PlacementChoice& placement);
PlacementChoice placement_from_json(const nlohmann::json& j);
std::string describe_placement(const PlacementChoice& placement, int devices);

// The real probe: the first `layout.slots` processes of `executable throughput` (hidden command)
// train `trial` together with `layout.threads` threads each for `seconds` after a warm-up, once
// every one has loaded its data and taken a first step; returns the sum of their images/s. The
// processes (`most_slots` of them, started together at the first measurement, more if a layout
// asks) live as long as the probe, so each starts (LibTorch, data) once for all layouts. On a
// GPU each process sees GPU 0 only.
LayoutProbe process_probe(const std::string& executable, const trials::TrialConfig& trial,
                          bool on_gpu, double seconds, int most_slots = 1);

// The child's side (`automl throughput --config FILE`): loads the data, trains one step, prints
// "ready", then for each line "measure THREADS SECONDS" on stdin trains with THREADS threads for
// a warm-up and then at least SECONDS (and 3 steps), and prints "images_per_second X"; ends at
// the end of stdin. Returns the exit status.
int measure_throughput(const std::string& config_file);

// What decides which layout is fastest, as the key of a remembered placement: this machine (CPU
// model, cores, GPUs, `libtorch` version) and the base trial without what does not change its
// speed (seeds, LRs, epochs, schedules, MI, subset sizes).
nlohmann::json placement_key(const trials::TrialConfig& trial, bool on_gpu, int gpus, int cores,
                             const std::string& libtorch);

// Placements measured on this machine, in a JSON file of the user's cache directory (written
// whole, by rename, so a crash or a second engine never leaves it half-written). An unreadable
// file is reported by `recall` (std::runtime_error naming it) and replaced by `remember`, which
// throws std::runtime_error when it cannot write the file.
class PlacementMemory {
 public:
  explicit PlacementMemory(std::filesystem::path file) : file_(std::move(file)) {}
  // $AUTOML_CACHE_DIR/placements.json, else $XDG_CACHE_HOME/automl/..., else ~/.cache/automl/...;
  // empty when none of them is set.
  static std::filesystem::path default_file();
  std::optional<PlacementChoice> recall(const nlohmann::json& key) const;
  void remember(const nlohmann::json& key, const PlacementChoice& placement) const;

 private:
  nlohmann::json read() const;
  std::filesystem::path file_;
};

}  // namespace automl::engine
