// Placement: the layouts measured, the choice among measurements (a fake probe, CPU and GPU),
// `auto` in the YAML, a stored choice reused, and the real probe on Fashion-MNIST.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/placement.h"
#include "experiments/experiment.h"
#include "test_support.h"
#include "trials/config.h"

using namespace automl;
using namespace automl::engine;

namespace {

std::vector<std::pair<int, int>> pairs(const std::vector<Layout>& layouts) {
  std::vector<std::pair<int, int>> out;
  for (const auto& l : layouts) out.emplace_back(l.slots, l.threads);
  return out;
}

// A probe that answers from a table of images/s by slot count and records what it measured.
struct TableProbe {
  explicit TableProbe(std::map<int, double> rates) : rate(std::move(rates)) {}
  std::map<int, double> rate;
  std::vector<int> asked;
  LayoutProbe probe() {
    return [this](const Layout& l) {
      asked.push_back(l.slots);
      return rate.at(l.slots);
    };
  }
};

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("Placement measures 1, 2, 4, ... slots with the cores split among them",
          "[engine][placement]") {
  using P = std::vector<std::pair<int, int>>;
  CHECK(pairs(candidate_layouts(2, 1, false)) == P{{1, 2}, {2, 1}});
  CHECK(pairs(candidate_layouts(16, 1, false)) == P{{1, 16}, {2, 8}, {4, 4}, {8, 2}, {16, 1}});
  CHECK(pairs(candidate_layouts(6, 1, false)) == P{{1, 6}, {2, 3}, {4, 1}, {6, 1}});
  CHECK(pairs(candidate_layouts(1, 1, false)) == P{{1, 1}});
  // GPUs: up to 8 slots each, the host's cores shared by every slot of every GPU.
  CHECK(pairs(candidate_layouts(16, 1, true)) == P{{1, 16}, {2, 8}, {4, 4}, {8, 2}});
  CHECK(pairs(candidate_layouts(16, 2, true)) == P{{1, 8}, {2, 4}, {4, 2}, {8, 1}});
}

TEST_CASE("Placement keeps the fastest layout, fewer slots on a near tie", "[engine][placement]") {
  SECTION("a small model on the CPU: two one-thread slots") {
    TableProbe t({{1, 4540}, {2, 17164}});
    const auto p = choose_placement(candidate_layouts(2, 1, false), false, t.probe());
    CHECK(p.layout == Layout{2, 1});
    CHECK(p.measured.size() == 2);
    CHECK(p.measured[1].images_per_second == 17164);
  }
  SECTION("a big model: one slot with every thread") {
    TableProbe t({{1, 900}, {2, 700}});
    CHECK(choose_placement(candidate_layouts(2, 1, false), false, t.probe()).layout ==
          Layout{1, 2});
  }
  SECTION("within 3% of fewer slots is no gain") {
    TableProbe t({{1, 1000}, {2, 1020}, {4, 1025}, {8, 600}});
    const auto p = choose_placement(candidate_layouts(16, 1, true), true, t.probe());
    CHECK(p.layout == Layout{1, 16});
    CHECK(p.on_gpu);
  }
  SECTION("a GPU shared by 4 small trials, and measuring stops once it falls off") {
    TableProbe t({{1, 10000}, {2, 19000}, {4, 30000}, {8, 20000}});
    const auto p = choose_placement(candidate_layouts(16, 1, true), true, t.probe());
    CHECK(p.layout == Layout{4, 4});
    CHECK(t.asked == std::vector<int>{1, 2, 4, 8});
    TableProbe u({{1, 10000}, {2, 5000}, {4, 30000}});
    choose_placement(candidate_layouts(16, 1, true), true, u.probe());
    CHECK(u.asked == std::vector<int>{1, 2});  // 2 slots at half the best: stop there
  }
}

TEST_CASE("Slots are auto by default, a count when given, and round-trip with the plan",
          "[engine][placement]") {
  const auto load = [](const std::string& devices) {
    return experiments::parse_experiment(
        "name: x\ndata:\n  path: " + test::tiny_idx_dir() + "\ndevices:\n" + devices, "x.yaml",
        {false});
  };
  const auto defaults = load("  kind: cpu\n");
  CHECK(defaults.devices.cpu_slots == experiments::DevicesConfig::kAuto);
  CHECK(defaults.devices.slots_per_gpu == experiments::DevicesConfig::kAuto);
  CHECK_FALSE(fixed_placement(defaults, 0, 2));
  const auto fixed = load("  cpu_slots: 3\n  slots_per_gpu: auto\n");
  REQUIRE(fixed_placement(fixed, 0, 12));
  CHECK(fixed_placement(fixed, 0, 12)->layout == Layout{3, 4});
  CHECK(test::error_of([&] {
          load("  cpu_slots: many\n");
        }).find("x.yaml:5: devices.cpu_slots: must be auto or a count from 1 to 1024") !=
        std::string::npos);
  auto threads_only = defaults;
  threads_only.threads = 1;
  CHECK(fixed_placement(threads_only, 0, 4)->layout == Layout{4, 1});

  PlacementChoice p;
  p.layout = {2, 1};
  p.measured = {{{1, 2}, 4540.5}, {{2, 1}, 17164}};
  const auto back = placement_from_json(placement_json(p));
  CHECK(back.layout == p.layout);
  REQUIRE(back.measured.size() == 2);
  CHECK(back.measured[0].images_per_second == 4540.5);
  CHECK(describe_placement(p, 1) ==
        "2 slot(s) per CPU x 1 thread(s), measured images/s per device: 1x2 4540, 2x1 17164");
}

TEST_CASE("A placement is measured once and stored with the experiment", "[engine][placement]") {
  AUTOML_SKIP_WITHOUT(test::fashion_mnist());
  auto e = experiments::parse_experiment(
      "name: place\ndata:\n  path: " + test::fashion_mnist_dir() +
          "\n  train_subset: 2000\nbatch_size: 64\ndevices:\n  kind: cpu\n",
      "place.yaml");
  test::TempDir dir;
  auto db = storage::open_sqlite(dir.file("place.db"));
  const auto id = db->create_experiment(e.name, "name: place\n");
  const auto no_place = [&] {
    for (const auto& stage : db->stages(id))
      if (stage.stage == Stage::place) return false;
    return true;
  };
  PlacementOptions measure;  // no memory: measured every time
  measure.executable = test::automl_binary();
  // A dry run measures and shows the placement, and stores nothing.
  const auto plan = describe_plan(e, db.get(), measure, [](const std::string&) {});
  REQUIRE_FALSE(plan.empty());
  CHECK(plan.front().rfind("placement: ", 0) == 0);
  CHECK(no_place());
  std::vector<std::string> log;
  const auto first = place_experiment(e, 0, db.get(), id, measure,
                                      [&](const std::string& line) { log.push_back(line); });
  REQUIRE(first.measured.size() >= 1);
  for (const auto& m : first.measured) CHECK(m.images_per_second > 0);  // LeNet trained
  CHECK_FALSE(no_place());
  // The second call reads the stored choice: nothing measured, the same layout.
  PlacementOptions cannot_measure;
  cannot_measure.executable = "/nonexistent/automl";
  const auto again =
      place_experiment(e, 0, db.get(), id, cannot_measure, [](const std::string&) {});
  CHECK(again.layout == first.layout);
  CHECK(again.measured.size() == first.measured.size());
}

TEST_CASE("A remembered placement is keyed by the machine and what sets a trial's speed",
          "[engine][placement]") {
  trials::TrialConfig trial;
  const auto key = placement_key(trial, false, 0, 2, "1.13.1");
  auto other = trial;
  other.seed = 7;
  other.epochs = 50;
  other.optimizer.lr = 0.3;
  other.data.train_subset = 1500;
  other.mi.samples = 300;
  other.policy.name = "mi";
  CHECK(placement_key(other, false, 0, 2, "1.13.1") == key);  // the same speed
  auto bigger = trial;
  bigger.batch_size = 64;
  CHECK(placement_key(bigger, false, 0, 2, "1.13.1") != key);
  auto model = trial;
  model.model.name = "resnet20";
  CHECK(placement_key(model, false, 0, 2, "1.13.1") != key);
  CHECK(placement_key(trial, false, 0, 4, "1.13.1") != key);  // another machine
  CHECK(placement_key(trial, true, 1, 2, "1.13.1") != key);
  CHECK(placement_key(trial, false, 0, 2, "2.11.0") != key);
  CHECK(key.at("machine").at("cores") == 2);
}

TEST_CASE("The placement memory recalls by key, replaces and survives a bad file",
          "[engine][placement]") {
  test::TempDir dir;
  const PlacementMemory memory(dir.file("cache/placements.json"));
  const nlohmann::json a = {{"model", "a"}}, b = {{"model", "b"}};
  CHECK_FALSE(memory.recall(a));  // no file yet
  PlacementChoice p;
  p.layout = {2, 1};
  p.measured = {{{1, 2}, 4540}, {{2, 1}, 17164}};
  memory.remember(a, p);
  const auto back = memory.recall(a);
  REQUIRE(back);
  CHECK(back->layout == Layout{2, 1});
  CHECK(back->measured.size() == 2);
  CHECK(back->measured_at.size() == 20);  // 2026-12-01T18:00:00Z
  CHECK(describe_placement(*back, 1).find("(remembered from " + back->measured_at + ")") !=
        std::string::npos);
  CHECK_FALSE(memory.recall(b));
  p.layout = {1, 2};
  memory.remember(b, p);
  memory.remember(a, p);  // replaces a's
  CHECK(memory.recall(a)->layout == Layout{1, 2});
  CHECK(memory.recall(b)->layout == Layout{1, 2});
  CHECK(read_json(dir.file("cache/placements.json")).at("placements").size() == 2);
  // Written by rename: no temporary file stays behind.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.file("cache")),
                      std::filesystem::directory_iterator{}) == 1);

  test::write_text(dir.file("cache/placements.json"), "{not json");
  CHECK(test::error_of<std::runtime_error>([&] {
          memory.recall(a);
        }).find("placements.json: not a placement memory") != std::string::npos);
  memory.remember(a, p);  // replaces the bad file
  CHECK(memory.recall(a)->layout == Layout{1, 2});
  CHECK_FALSE(memory.recall(b));
  CHECK_FALSE(PlacementMemory("").recall(a));  // no memory at all
}

TEST_CASE("An experiment of a model this machine measured before is placed without measuring",
          "[engine][placement]") {
  AUTOML_SKIP_WITHOUT(test::fashion_mnist());
  const auto experiment = [](const std::string& name, int seed) {
    return experiments::parse_experiment("name: " + name + "\nseed: " + std::to_string(seed) +
                                             "\ndata:\n  path: " + test::fashion_mnist_dir() +
                                             "\n  train_subset: 2000\nbatch_size: 64\n",
                                         name + ".yaml");
  };
  test::TempDir dir;
  PlacementOptions options;
  options.executable = test::automl_binary();
  options.memory_file = dir.file("placements.json");
  options.probe_seconds = 0.3;
  std::vector<std::string> log;
  const auto record = [&](const std::string& line) { log.push_back(line); };
  const auto first = place_experiment(experiment("one", 1), 0, nullptr, 0, options, record);
  REQUIRE(first.measured.size() >= 1);
  CHECK(first.measured_at.empty());
  REQUIRE(log.size() == 1);
  CHECK(log[0].rfind("placing: ", 0) == 0);

  // Another experiment, seed and name of the same model and batch: remembered, nothing started.
  options.executable = "/nonexistent/automl";
  log.clear();
  const auto second = place_experiment(experiment("two", 2), 0, nullptr, 0, options, record);
  CHECK(log.empty());
  CHECK(second.layout == first.layout);
  CHECK(second.measured.size() == first.measured.size());
  CHECK_FALSE(second.measured_at.empty());

  // A memory that cannot be written costs the next run a measurement, and is said; the run goes on.
  options.executable = test::automl_binary();
  options.memory_file = "/proc/automl-test/placements.json";
  log.clear();
  const auto unremembered =
      place_experiment(experiment("three", 3), 0, nullptr, 0, options, record);
  CHECK(unremembered.measured.size() >= 1);
  REQUIRE(log.size() == 2);
  CHECK(log[1].find("placement memory: not remembered:") == 0);
  CHECK(log[1].find("/proc/automl-test") != std::string::npos);
  options.memory_file = dir.file("placements.json");
  options.executable = "/nonexistent/automl";

  // --measure-placement measures again (here: cannot, and says so).
  options.remeasure = true;
  CHECK(test::error_of<std::runtime_error>([&] {
          place_experiment(experiment("two", 2), 0, nullptr, 0, options, record);
        }).find("placement") != std::string::npos);
}

TEST_CASE("A measuring child that dies is a clear error and not the engine's death",
          "[engine][placement]") {
  test::TempDir dir;
  // Gets ready as `automl throughput` does, then dies before (or while) it is asked to measure.
  const auto fake = dir.file("automl");
  test::write_text(fake, "#!/bin/sh\necho ready\nexit 3\n");
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  trials::TrialConfig trial;
  const auto probe = process_probe(fake, trial, false, 0.2, 2);
  const auto error = test::error_of<std::runtime_error>([&] { probe(Layout{2, 1}); });
  CHECK(error.find("measuring 2 concurrent trial(s) for the placement failed") !=
        std::string::npos);
}
