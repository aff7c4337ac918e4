#pragma once
// PlacementChoice: how many trials run at once on each device (slots) and with how many LibTorch
// threads each. Small models train more images per second in several one-thread processes than
// in one process with every core (LeNet at batch 64 on 2 cores: 2 x 8,700 against 4,540); big
// ones the other way round. With `devices.cpu_slots: auto` (or `slots_per_gpu: auto`) the engine
// measures the experiment's own base trial at a few layouts and keeps the fastest; the choice is
// stored as the experiment's `place` decision, so a resumed run places alike. Free of LibTorch.
#include <functional>
#include <nlohmann/json.hpp>
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

// The real probe: `layout.slots` processes of `executable throughput` (hidden command) train
// `trial` together for `seconds` after every one has loaded its data and taken a first step;
// returns the sum of their images/s. On a GPU each process sees GPU 0 only.
LayoutProbe process_probe(const std::string& executable, const trials::TrialConfig& trial,
                          bool on_gpu, double seconds);

// The child's side (`automl throughput --config FILE --threads N --seconds S`): loads the data,
// trains one step, prints "ready", waits for a line on stdin, trains for `seconds` and prints
// "images_per_second X". Returns the exit status.
int measure_throughput(const std::string& config_file, int threads, double seconds);

}  // namespace automl::engine
