// The scheduler's pure Plan, stepped by hand as ninja's build_test steps its Plan: no storage,
// no runner, no clock. The experiment's real stage graph (engine/stages.h) and small graphs
// written here.
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/plan.h"
#include "engine/scheduler.h"
#include "engine/stages.h"

using namespace automl;
using namespace automl::engine;

namespace {

// lrrt -> c1c2 -> mi_sgd, and baseline_search -> baseline beside them (declared in that order).
Plan small_graph() {
  return Plan({{Stage::lrrt, {}},
               {Stage::c1c2, {Stage::lrrt}},
               {Stage::mi_sgd, {Stage::c1c2}},
               {Stage::baseline_search, {}},
               {Stage::baseline, {Stage::baseline_search}}});
}

}  // namespace

TEST_CASE("A stage steps once its inputs decided and its own round ended", "[engine][plan]") {
  const auto plan = small_graph();
  PlanState state;
  CHECK(plan.readiness(Stage::lrrt, state).kind == Readiness::step);  // no inputs
  const auto c1c2 = plan.readiness(Stage::c1c2, state);
  CHECK(c1c2.kind == Readiness::wait);
  CHECK(c1c2.input == Stage::lrrt);

  // The LRRT planned a round of two jobs: it waits for both.
  state.stages[Stage::lrrt] = StageStatus::planned;
  state.jobs = {{1, Stage::lrrt, TrialStatus::done}, {2, Stage::lrrt, TrialStatus::running}};
  CHECK(plan.readiness(Stage::lrrt, state).kind == Readiness::wait);
  state.jobs[1].status = TrialStatus::crashed;  // a crash ends a job as well (SPEC 4)
  CHECK(plan.readiness(Stage::lrrt, state).kind == Readiness::step);

  // Its decision unlocks C1/C2, not MI-SGD, which waits for C1/C2.
  state.stages[Stage::lrrt] = StageStatus::done;
  CHECK(plan.readiness(Stage::lrrt, state).kind == Readiness::none);
  CHECK(plan.readiness(Stage::c1c2, state).kind == Readiness::step);
  CHECK(plan.readiness(Stage::mi_sgd, state).kind == Readiness::wait);

  // A failed input skips what needs it, and only that.
  state.stages[Stage::baseline_search] = StageStatus::failed;
  const auto baseline = plan.readiness(Stage::baseline, state);
  CHECK(baseline.kind == Readiness::skip);
  CHECK(baseline.input == Stage::baseline_search);
  CHECK(plan.readiness(Stage::c1c2, state).kind == Readiness::step);
  CHECK_FALSE(plan.all_closed(state));
}

TEST_CASE("Jobs start longest chain first, then by stage, released ones first, then as planned",
          "[engine][plan]") {
  const auto plan = small_graph();
  CHECK(plan.chain_lengths().at(Stage::lrrt) == 3);
  CHECK(plan.chain_lengths().at(Stage::baseline_search) == 2);
  PlanState state;
  state.jobs = {{10, Stage::baseline, TrialStatus::pending},
                {11, Stage::baseline_search, TrialStatus::pending},
                {12, Stage::lrrt, TrialStatus::pending},
                {13, Stage::lrrt, TrialStatus::running},  // started: not startable
                {14, Stage::lrrt, TrialStatus::queued},   // released by an earlier coordinator
                {15, Stage::c1c2, TrialStatus::pending},
                {16, Stage::mi_sgd, TrialStatus::done}};
  CHECK(plan.startable(state) == std::vector<std::int64_t>{14, 12, 15, 11, 10});
}

TEST_CASE("Every stage closed ends the run, and every stage done is a complete one",
          "[engine][plan]") {
  const auto plan = small_graph();
  PlanState state;
  for (const auto stage :
       {Stage::lrrt, Stage::c1c2, Stage::mi_sgd, Stage::baseline_search, Stage::baseline})
    state.stages[stage] = StageStatus::done;
  CHECK(plan.all_done(state));
  state.stages[Stage::baseline] = StageStatus::skipped;
  CHECK(plan.all_closed(state));
  CHECK_FALSE(plan.all_done(state));
  state.stages[Stage::baseline] = StageStatus::planned;
  CHECK_FALSE(plan.all_closed(state));
}

TEST_CASE("A job starts only if its estimate fits what the budget has left", "[engine][plan]") {
  CHECK(fits_budget(0, 1e9, 1e9));  // no budget
  CHECK(fits_budget(100, 60, 40));  // exactly fits
  CHECK_FALSE(fits_budget(100, 60, 41));
  CHECK(fits_budget(100, 99, 0));  // no estimate (not calibrated): while anything is left
}

TEST_CASE("The experiment's own stages step in the paper's order", "[engine][plan]") {
  experiments::ExperimentConfig e;
  e.budget.device_minutes = 1;
  std::vector<StageNode> nodes;
  for (const auto& spec : experiment_stages(e, 1)) nodes.push_back({spec.stage, spec.after});
  const Plan plan(nodes);
  PlanState state;
  std::vector<Stage> order;
  // Decide whatever may step, one stage at a time, until every stage is done.
  while (!plan.all_done(state)) {
    bool stepped = false;
    for (const auto& node : nodes)
      if (plan.readiness(node.stage, state).kind == Readiness::step) {
        state.stages[node.stage] = StageStatus::done;
        order.push_back(node.stage);
        stepped = true;
        break;
      }
    REQUIRE(stepped);
  }
  const auto at = [&](Stage s) { return std::find(order.begin(), order.end(), s) - order.begin(); };
  CHECK(at(Stage::calibrate) < at(Stage::plan));
  CHECK(at(Stage::plan) < at(Stage::lrrt));
  CHECK(at(Stage::lrrt) < at(Stage::c1c2));
  CHECK(at(Stage::c1c2) < at(Stage::mi_sgd));
  CHECK(at(Stage::baseline_search) < at(Stage::baseline));
}
