#include "engine/placement.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "trials/config_json.h"
#include "trials/lr_sweep.h"
#include "trials/trial.h"

extern char** environ;

namespace automl::engine {
namespace {

constexpr int kMostGpuSlots = 8;
constexpr double kTie = 0.97;        // within 3% of a faster layout: as fast
constexpr double kFalloff = 0.8;     // below 80% of the best: stop measuring
constexpr int kMostSteps = 1 << 20;  // the child stops by time long before

std::vector<int> slot_counts(int most) {
  std::vector<int> counts;
  for (int slots = 1; slots <= most; slots *= 2) counts.push_back(slots);
  if (counts.back() != most) counts.push_back(most);
  return counts;
}

// One measuring child: its pid and the two ends of its pipes the engine holds.
struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;  // the child's stdout
  FILE* in = nullptr;   // the child's stdin
};

Child spawn_child(const std::vector<std::string>& args, bool on_gpu) {
  int to_child[2], from_child[2];
  // Close-on-exec: a later child must not hold this one's stdin open (it would never end).
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0)
    throw std::runtime_error("placement: cannot create pipes");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]})
    posix_spawn_file_actions_addclose(&actions, fd);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::string(*e).rfind("CUDA_VISIBLE_DEVICES=", 0) != 0) env.emplace_back(*e);
  if (on_gpu) env.emplace_back("CUDA_VISIBLE_DEVICES=0");
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  Child child;
  const int error = posix_spawn(&child.pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  if (error != 0) {
    close(to_child[1]);
    close(from_child[0]);
    throw std::runtime_error(fmt::format("placement: cannot start {}", args.front()));
  }
  child.in = fdopen(to_child[1], "w");
  child.out = fdopen(from_child[0], "r");
  return child;
}

// The next line the child printed, empty at its end.
std::string read_line(FILE* out) {
  std::string line;
  for (int c = std::fgetc(out); c != EOF && c != '\n'; c = std::fgetc(out))
    line += static_cast<char>(c);
  return line;
}

// Ends the children (those still running are killed) and says how each ended.
std::vector<int> reap(std::vector<Child>& children, bool kill_them) {
  std::vector<int> statuses;
  for (auto& child : children) {
    if (child.in) std::fclose(child.in);
    if (kill_them) ::kill(child.pid, SIGKILL);
    int status = 0;
    waitpid(child.pid, &status, 0);
    if (child.out) std::fclose(child.out);
    statuses.push_back(status);
  }
  return statuses;
}

// Ignores a signal for as long as it lives.
class IgnoredSignal {
 public:
  explicit IgnoredSignal(int signal) : signal_(signal), before_(std::signal(signal, SIG_IGN)) {}
  IgnoredSignal(const IgnoredSignal&) = delete;
  IgnoredSignal& operator=(const IgnoredSignal&) = delete;
  ~IgnoredSignal() { std::signal(signal_, before_); }

 private:
  int signal_;
  void (*before_)(int);
};

// The measuring children of one probe, started together (they load side by side) before the
// first layout is measured, and kept for the next.
class ProbePool {
 public:
  ProbePool(std::vector<std::string> args, bool on_gpu, int most_slots)
      : args_(std::move(args)), on_gpu_(on_gpu), most_slots_(most_slots) {}
  ProbePool(const ProbePool&) = delete;
  ProbePool& operator=(const ProbePool&) = delete;
  ~ProbePool() { reap(children_, false); }

  // Sum of the images/s of the first `layout.slots` children, training together.
  double measure(const Layout& layout, double seconds) {
    // A child that died since it got ready is an error below, not the engine's death by SIGPIPE.
    const IgnoredSignal no_sigpipe(SIGPIPE);
    try {
      grow(std::max(layout.slots, most_slots_));
      for (int k = 0; k < layout.slots; ++k) {
        const auto request = fmt::format("measure {} {}\n", layout.threads, seconds);
        if (std::fputs(request.c_str(), children_[k].in) < 0 || std::fflush(children_[k].in) != 0)
          throw std::runtime_error("a child ended before it was asked to measure");
      }
      double total = 0;
      for (int k = 0; k < layout.slots; ++k) total += read_rate(children_[k]);
      return total;
    } catch (const std::exception& e) {
      reap(children_, true);
      children_.clear();
      throw std::runtime_error(fmt::format(
          "measuring {} concurrent trial(s) for the placement failed: {} (its output is above)",
          layout.slots, e.what()));
    }
  }

 private:
  // Starts children until there are `count`, and waits until the new ones are ready.
  void grow(int count) {
    const auto first_new = children_.size();
    while (static_cast<int>(children_.size()) < count)
      children_.push_back(spawn_child(args_, on_gpu_));
    for (auto k = first_new; k < children_.size(); ++k)
      if (read_line(children_[k].out) != "ready")
        throw std::runtime_error("a child did not get ready");
  }

  static double read_rate(const Child& child) {
    const auto line = read_line(child.out);
    const std::string key = "images_per_second ";
    if (line.rfind(key, 0) != 0) throw std::runtime_error("a child reported no throughput");
    return std::stod(line.substr(key.size()));
  }

  std::vector<std::string> args_;
  bool on_gpu_;
  int most_slots_;
  std::vector<Child> children_;
};

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// The first "model name" of /proc/cpuinfo ("" where there is none).
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "";
}

constexpr int kMemoryFormat = 1;
constexpr std::size_t kMostRemembered = 200;  // the oldest go first

}  // namespace

std::vector<Layout> candidate_layouts(int cores, int devices, bool on_gpu) {
  cores = std::max(1, cores);
  devices = std::max(1, devices);
  std::vector<Layout> layouts;
  for (int slots : slot_counts(on_gpu ? kMostGpuSlots : cores))
    layouts.push_back({slots, std::max(1, cores / (devices * slots))});
  return layouts;
}

PlacementChoice choose_placement(const std::vector<Layout>& candidates, bool on_gpu,
                                 const LayoutProbe& probe) {
  if (candidates.empty()) throw std::logic_error("choose_placement: no candidate layouts");
  PlacementChoice placement;
  placement.on_gpu = on_gpu;
  double chosen = 0, best = 0;
  for (const auto& layout : candidates) {
    const double rate = probe(layout);
    placement.measured.push_back({layout, rate});
    // Candidates come in growing slot counts: more slots must be clearly faster to win.
    if (placement.measured.size() == 1 || rate * kTie > chosen) {
      placement.layout = layout;
      chosen = rate;
    }
    best = std::max(best, rate);
    if (rate < kFalloff * best) break;
  }
  return placement;
}

std::optional<PlacementChoice> fixed_placement(const experiments::ExperimentConfig& e, int gpus,
                                               int cores) {
  const bool on_gpu = e.devices.kind != "cpu" && gpus > 0;
  const int slots = on_gpu ? e.devices.slots_per_gpu : e.devices.cpu_slots;
  const int devices = on_gpu ? gpus : 1;
  if (slots == experiments::DevicesConfig::kAuto && e.threads <= 0) return std::nullopt;
  PlacementChoice placement;
  placement.on_gpu = on_gpu;
  if (slots == experiments::DevicesConfig::kAuto)  // threads given: as many slots as they fill
    placement.layout.slots = std::max(1, cores / (devices * e.threads));
  else
    placement.layout.slots = slots;
  placement.layout.threads =
      e.threads > 0 ? e.threads : std::max(1, cores / (devices * placement.layout.slots));
  return placement;
}

nlohmann::json placement_json(const PlacementChoice& p) {
  nlohmann::json measured = nlohmann::json::array();
  for (const auto& m : p.measured)
    measured.push_back({{"slots", m.layout.slots},
                        {"threads", m.layout.threads},
                        {"images_per_second", m.images_per_second}});
  nlohmann::json j = {{"on_gpu", p.on_gpu},
                      {"slots", p.layout.slots},
                      {"threads", p.layout.threads},
                      {"measured", measured}};
  if (!p.measured_at.empty()) j["measured_at"] = p.measured_at;
  return j;
}

PlacementChoice placement_from_json(const nlohmann::json& j) {
  PlacementChoice p;
  p.on_gpu = j.at("on_gpu").get<bool>();
  p.layout = {j.at("slots").get<int>(), j.at("threads").get<int>()};
  for (const auto& m : j.at("measured"))
    p.measured.push_back({{m.at("slots").get<int>(), m.at("threads").get<int>()},
                          m.at("images_per_second").get<double>()});
  p.measured_at = j.value("measured_at", "");
  return p;
}

std::string describe_placement(const PlacementChoice& p, int devices) {
  std::string text = fmt::format("{} slot(s) per {} x {} thread(s)", p.layout.slots,
                                 p.on_gpu ? "GPU" : "CPU", p.layout.threads);
  if (p.on_gpu && devices > 1) text += fmt::format(" on {} GPUs", devices);
  if (p.measured.empty()) return text + " (as the experiment sets)";
  std::string measured;
  for (const auto& m : p.measured)
    measured += fmt::format("{}{}x{} {:.0f}", measured.empty() ? "" : ", ", m.layout.slots,
                            m.layout.threads, m.images_per_second);
  text += fmt::format(", measured images/s per device: {}", measured);
  if (!p.measured_at.empty()) text += fmt::format(" (remembered from {})", p.measured_at);
  return text;
}

LayoutProbe process_probe(const std::string& executable, const trials::TrialConfig& trial,
                          bool on_gpu, double seconds, int most_slots) {
  auto config = trial;
  config.device = on_gpu ? "cuda:0" : "cpu";
  // One file per probe, removed with the last copy of the probe (children read it at start).
  struct ConfigFile {
    std::filesystem::path path;
    ~ConfigFile() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  };
  static int probes = 0;
  auto file = std::make_shared<ConfigFile>();
  file->path = std::filesystem::temp_directory_path() /
               fmt::format("automl-placement-{}-{}.json", getpid(), ++probes);
  {
    std::ofstream out(file->path);
    out << nlohmann::json(config).dump();
    if (!out)
      throw std::runtime_error(fmt::format("placement: cannot write {}", file->path.string()));
  }
  auto pool = std::make_shared<ProbePool>(
      std::vector<std::string>{executable, "throughput", "--config", file->path.string()}, on_gpu,
      most_slots);
  return [file, pool, seconds](const Layout& layout) { return pool->measure(layout, seconds); };
}

namespace {

// A warm-up before each measurement: the first steps at a new thread count start its threads.
constexpr double kWarmUpSeconds = 0.2;
constexpr std::int64_t kLeastSteps = 3;

// The child's loop over the engine's requests, one training step at a time.
class ThroughputChild {
 public:
  explicit ThroughputChild(int batch_size) : batch_size_(batch_size) {}

  // Called after every step; false ends the training (no request left).
  bool on_step() {
    const auto now = Clock::now();
    switch (phase_) {
      case Phase::waiting:
        return next_request();
      case Phase::warming:
        if (seconds_since(phase_start_, now) >= kWarmUpSeconds) start(Phase::timing, now);
        return true;
      case Phase::timing:
        ++steps_;
        if (steps_ < kLeastSteps || seconds_since(phase_start_, now) < seconds_) return true;
        std::cout << fmt::format("images_per_second {}", static_cast<double>(steps_ * batch_size_) /
                                                             seconds_since(phase_start_, now))
                  << std::endl;
        return next_request();
    }
    return false;
  }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { waiting, warming, timing };

  static double seconds_since(Clock::time_point start, Clock::time_point now) {
    return std::chrono::duration<double>(now - start).count();
  }

  void start(Phase phase, Clock::time_point now) {
    phase_ = phase;
    phase_start_ = now;
    steps_ = 0;
  }

  bool next_request() {
    std::string line;
    if (!std::getline(std::cin, line)) return false;
    std::istringstream request(line);
    std::string word;
    int threads = 0;
    if (!(request >> word >> threads >> seconds_) || word != "measure" || threads < 1)
      throw std::runtime_error("throughput: expected \"measure THREADS SECONDS\", got: " + line);
    trials::set_threads(threads);
    start(Phase::warming, Clock::now());
    return true;
  }

  int batch_size_;
  Phase phase_ = Phase::waiting;
  Clock::time_point phase_start_;
  std::int64_t steps_ = 0;
  double seconds_ = 0;
};

}  // namespace

int measure_throughput(const std::string& config_file) {
  std::ifstream in(config_file);
  const auto config =
      trials::read_trial_config(std::string(std::istreambuf_iterator<char>(in), {}));
  ThroughputChild child(config.batch_size);
  const std::vector<double> lrs(kMostSteps, config.optimizer.lr);
  trials::run_lr_steps(config, lrs, [&](int step, double, double) {
    if (step == 0) std::cout << "ready" << std::endl;  // data loaded, the first step taken
    return child.on_step();
  });
  return 0;
}

nlohmann::json placement_key(const trials::TrialConfig& trial, bool on_gpu, int gpus, int cores,
                             const std::string& libtorch) {
  nlohmann::json speed = trial;
  // Removed by name, so that a field added later keys the memory until it is known not to matter.
  for (const char* key : {"seed", "epochs", "policy", "mi", "evaluate_test", "device"})
    speed.erase(key);
  speed["optimizer"].erase("lr");
  for (const char* key : {"train_subset", "test_subset", "validation_fraction", "test_fraction"})
    speed["data"].erase(key);
  return {{"format", kMemoryFormat},
          {"machine",
           {{"cpu", cpu_model()},
            {"cores", cores},
            {"gpus", on_gpu ? gpus : 0},
            {"libtorch", libtorch}}},
          {"trial", speed}};
}

std::filesystem::path PlacementMemory::default_file() {
  const auto from = [](const char* variable) -> std::filesystem::path {
    const char* value = std::getenv(variable);
    return value != nullptr && *value != '\0' ? value : "";
  };
  if (auto dir = from("AUTOML_CACHE_DIR"); !dir.empty()) return dir / "placements.json";
  if (auto dir = from("XDG_CACHE_HOME"); !dir.empty()) return dir / "automl" / "placements.json";
  if (auto dir = from("HOME"); !dir.empty()) return dir / ".cache" / "automl" / "placements.json";
  return {};
}

nlohmann::json PlacementMemory::read() const {
  std::ifstream in(file_);
  if (!in) return {{"format", kMemoryFormat}, {"placements", nlohmann::json::array()}};
  try {
    auto memory = nlohmann::json::parse(in);
    if (memory.at("format").get<int>() != kMemoryFormat || !memory.at("placements").is_array())
      throw std::runtime_error(
          fmt::format("format {} is not {}", memory.at("format").dump(), kMemoryFormat));
    return memory;
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: not a placement memory ({}); it will be replaced",
                                         file_.string(), e.what()));
  }
}

std::optional<PlacementChoice> PlacementMemory::recall(const nlohmann::json& key) const {
  if (file_.empty()) return std::nullopt;
  const auto memory = read();
  for (const auto& entry : memory.at("placements"))
    if (entry.at("key") == key) {
      auto placement = placement_from_json(entry.at("placement"));
      placement.measured_at = entry.at("measured_at").get<std::string>();
      return placement;
    }
  return std::nullopt;
}

void PlacementMemory::remember(const nlohmann::json& key, const PlacementChoice& placement) const {
  if (file_.empty()) return;
  nlohmann::json memory;
  try {
    memory = read();
  } catch (const std::runtime_error&) {  // replaced, as recall said
    memory = {{"format", kMemoryFormat}, {"placements", nlohmann::json::array()}};
  }
  auto& entries = memory["placements"];
  for (auto it = entries.begin(); it != entries.end();)
    it = it->at("key") == key ? entries.erase(it) : it + 1;
  entries.push_back(
      {{"key", key}, {"placement", placement_json(placement)}, {"measured_at", utc_now()}});
  while (entries.size() > kMostRemembered) entries.erase(entries.begin());
  std::filesystem::create_directories(file_.parent_path());
  const auto temporary = file_.string() + fmt::format(".{}.tmp", getpid());
  {
    std::ofstream out(temporary);
    out << memory.dump(1) << "\n";
    out.close();
    if (!out) {
      std::filesystem::remove(temporary);
      throw std::runtime_error(fmt::format("placement memory: cannot write {}", temporary));
    }
  }
  std::filesystem::rename(temporary, file_);
}

}  // namespace automl::engine
