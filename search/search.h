#pragma once
// automl_search: the searches an experiment runs before (and beside) its final runs, each as
// "plan functions" (configs + base trial + earlier decisions -> std::vector<Job>, independent
// jobs the engine may run in parallel and resume by label) and "decision functions"
// (std::vector<JobResult> -> a decision struct with a JSON form, search/json.h). All pure and
// deterministic. Stage order and what feeds what:
//
//   lrrt = resolve_lrrt_mode(experiment.lrrt, budget_is_short)          // full | quick | off
//   1. plan_lrrt(lrrt, base)                             -> jobs "lrrt/t=1/lr=0.01"
//      table    = build_lrrt_table(lrrt, results)        // table D, crash rule + break
//      decision = decide_lrrt(lrrt, table)               // (LR_min, LR_max, LR_top, eps)
//   2. if c1c2.enabled:
//      candidates = c1c2_candidates(lrrt, c1c2, table)   // distinct ranges of the grid
//      loop: search = replay_c1c2(c1c2, candidates, results_so_far, is_regression(base))
//            jobs   = plan_c1c2_round(c1c2, base, search) -> "c1c2/r=0/c=3"; empty = finished
//      range = c1c2_best(search).range                   // else decision.range
//   3. plan_mi_sgd_finals(base, range, seeds, layerwise)  -> "mi_sgd/seed=1", ...
//   4. plan_baseline_search(baselines, base)             -> "baseline_search/adam/lr=0.001"
//      choices = decide_baselines(baselines, results, is_regression(base))
//      plan_baseline_finals(baselines, base, choices, seeds) -> "baseline/adam/seed=1"
//   (4 does not depend on 1-3 and may run beside them.)
//
// run_smith_sweep (search/smith.h) is Leslie Smith's one-run LR sweep, beside Algorithm 2 for
// comparison (`automl lrrt --method smith`); nothing else uses it.
//
// run_jobs_sequentially (search/run.h) runs jobs in-process, for tests and small tools.
#include "search/baselines.h"
#include "search/c1c2.h"
#include "search/config.h"
#include "search/json.h"
#include "search/lrrt.h"
#include "search/plan.h"
#include "search/run.h"
#include "search/smith.h"
