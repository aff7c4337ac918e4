#include "engine/plan.h"

#include <algorithm>
#include <functional>
#include <tuple>

namespace automl::engine {

Plan::Plan(std::vector<StageNode> stages) : stages_(std::move(stages)) {
  std::function<int(Stage)> longest = [&](Stage stage) {
    if (const auto found = chain_.find(stage); found != chain_.end()) return found->second;
    int after = 0;
    for (const auto& node : stages_)
      if (std::count(node.after.begin(), node.after.end(), stage))
        after = std::max(after, longest(node.stage));
    return chain_[stage] = after + 1;
  };
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    longest(stages_[i].stage);
    declared_[stages_[i].stage] = i;
  }
}

StageStatus Plan::status(Stage stage, const PlanState& state) const {
  const auto found = state.stages.find(stage);
  return found == state.stages.end() ? StageStatus::waiting : found->second;
}

Readiness Plan::readiness(Stage stage, const PlanState& state) const {
  if (closed(status(stage, state))) return {Readiness::none, stage};
  const auto node = std::find_if(stages_.begin(), stages_.end(),
                                 [&](const StageNode& n) { return n.stage == stage; });
  for (const auto input : node->after) {
    const auto s = status(input, state);
    if (s == StageStatus::failed || s == StageStatus::skipped) return {Readiness::skip, input};
    if (s != StageStatus::done) return {Readiness::wait, input};
  }
  for (const auto& job : state.jobs)
    if (job.stage == stage && !finished(job.status)) return {Readiness::wait, stage};
  return {Readiness::step, stage};
}

std::vector<std::int64_t> Plan::startable(const PlanState& state) const {
  std::vector<const JobState*> ready;
  for (const auto& job : state.jobs)
    if (job.status == TrialStatus::pending || job.status == TrialStatus::queued)
      ready.push_back(&job);
  const auto rank = [&](const JobState* j) {
    return std::make_tuple(-chain_.at(j->stage), declared_.at(j->stage),
                           j->status != TrialStatus::queued);
  };
  std::stable_sort(ready.begin(), ready.end(),
                   [&](const JobState* a, const JobState* b) { return rank(a) < rank(b); });
  std::vector<std::int64_t> ids;
  for (const auto* job : ready) ids.push_back(job->id);
  return ids;
}

bool Plan::all_closed(const PlanState& state) const {
  return std::all_of(stages_.begin(), stages_.end(),
                     [&](const StageNode& n) { return closed(status(n.stage, state)); });
}

bool Plan::all_done(const PlanState& state) const {
  return std::all_of(stages_.begin(), stages_.end(), [&](const StageNode& n) {
    return status(n.stage, state) == StageStatus::done;
  });
}

bool fits_budget(double budget, double committed, double estimate) {
  return budget <= 0 || committed + estimate <= budget;
}

}  // namespace automl::engine
