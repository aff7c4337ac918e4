#include "engine/placement.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
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
  if (pipe(to_child) != 0 || pipe(from_child) != 0)
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

double run_children(const std::vector<std::string>& args, int count, bool on_gpu) {
  std::vector<Child> children;
  try {
    for (int k = 0; k < count; ++k) children.push_back(spawn_child(args, on_gpu));
    for (auto& child : children)
      if (read_line(child.out) != "ready") throw std::runtime_error("a child did not get ready");
    for (auto& child : children) {
      std::fputs("go\n", child.in);
      std::fflush(child.in);
    }
    double total = 0;
    for (auto& child : children) {
      const auto line = read_line(child.out);
      const std::string key = "images_per_second ";
      if (line.rfind(key, 0) != 0) throw std::runtime_error("a child reported no throughput");
      total += std::stod(line.substr(key.size()));
    }
    for (const int status : reap(children, false))
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("a child failed");
    return total;
  } catch (const std::exception& e) {
    reap(children, true);
    throw std::runtime_error(fmt::format(
        "measuring {} concurrent trial(s) for the placement failed: {} (its output is above)",
        count, e.what()));
  }
}

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
  return {{"on_gpu", p.on_gpu},
          {"slots", p.layout.slots},
          {"threads", p.layout.threads},
          {"measured", measured}};
}

PlacementChoice placement_from_json(const nlohmann::json& j) {
  PlacementChoice p;
  p.on_gpu = j.at("on_gpu").get<bool>();
  p.layout = {j.at("slots").get<int>(), j.at("threads").get<int>()};
  for (const auto& m : j.at("measured"))
    p.measured.push_back({{m.at("slots").get<int>(), m.at("threads").get<int>()},
                          m.at("images_per_second").get<double>()});
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
  return text + fmt::format(", measured images/s per device: {}", measured);
}

LayoutProbe process_probe(const std::string& executable, const trials::TrialConfig& trial,
                          bool on_gpu, double seconds) {
  return [=](const Layout& layout) {
    auto config = trial;
    config.device = on_gpu ? "cuda:0" : "cpu";
    const auto file =
        std::filesystem::temp_directory_path() / fmt::format("automl-placement-{}.json", getpid());
    {
      std::ofstream out(file);
      out << nlohmann::json(config).dump();
      if (!out) throw std::runtime_error(fmt::format("placement: cannot write {}", file.string()));
    }
    try {
      const double rate =
          run_children({executable, "throughput", "--config", file.string(), "--threads",
                        std::to_string(layout.threads), "--seconds", fmt::format("{}", seconds)},
                       layout.slots, on_gpu);
      std::filesystem::remove(file);
      return rate;
    } catch (...) {
      std::filesystem::remove(file);
      throw;
    }
  };
}

int measure_throughput(const std::string& config_file, int threads, double seconds) {
  std::ifstream in(config_file);
  const auto config = nlohmann::json::parse(in).get<trials::TrialConfig>();
  trials::set_threads(threads);
  using Clock = std::chrono::steady_clock;
  Clock::time_point start;
  std::int64_t steps = 0;
  const std::vector<double> lrs(kMostSteps, config.optimizer.lr);
  trials::run_lr_steps(config, lrs, [&](int step, double, double) {
    if (step == 0) {  // data loaded, the first (slowest) step taken: wait for the others
      std::cout << "ready" << std::endl;
      std::string go;
      std::getline(std::cin, go);
      start = Clock::now();
      return true;
    }
    ++steps;
    return std::chrono::duration<double>(Clock::now() - start).count() < seconds;
  });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << fmt::format("images_per_second {}", steps * config.batch_size / elapsed)
            << std::endl;
  return 0;
}

}  // namespace automl::engine
