#pragma once
// Stages and jobs for tests of the scheduler (test_engine_scheduler.cpp, test_engine_queue.cpp).
#include <string>
#include <vector>

#include "engine/scheduler.h"

namespace automl::engine::test_stages {

inline search::Job job(Stage stage, const std::string& label, std::uint64_t seed = 1) {
  search::Job j;
  j.stage = stage;
  j.label = label;
  j.config.seed = seed;
  j.config.epochs = 2;
  return j;
}

// A stage that runs `rounds` rounds of `jobs` jobs each, then decides {"rounds": n}.
inline StageSpec rounds_stage(Stage stage, std::vector<Stage> after, int rounds, int jobs) {
  StageSpec spec;
  spec.stage = stage;
  spec.after = std::move(after);
  spec.next = [stage, rounds, jobs](const StageInputs& in) {
    const std::string name(automl::name(stage));
    StageStep step;
    const int round = static_cast<int>(in.results.size()) / jobs;
    if (round < rounds) {
      for (int k = 0; k < jobs; ++k)
        step.jobs.push_back(
            job(stage, name + "/r=" + std::to_string(round) + "/j=" + std::to_string(k)));
    } else {
      step.decision.decision = nlohmann::json{{"rounds", round}}.dump();
    }
    return step;
  };
  return spec;
}

}  // namespace automl::engine::test_stages
