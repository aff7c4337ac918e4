// `automl lrrt`: the LR range test on its own, for any model and data an experiment names.
// Algorithm 2 (the default) runs as the experiment's own LRRT stage, stored in its database, so a
// later `automl run` of the same experiment reuses it; `--method smith` runs Leslie Smith's
// one-run sweep in this process instead, for comparison, and stores nothing but its files.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/cli/commands.h"
#include "engine/cli/experiment_args.h"
#include "engine/cli/files.h"
#include "report/report.h"
#include "search/smith.h"
#include "storage/storage.h"
#include "trials/trial.h"

namespace automl::cli {
namespace {

struct LrrtArgs {
  ExperimentArgs experiment;
  std::string method_name = "algorithm2";  // algorithm2 | smith
  std::string budget;                      // "90s", "2m", "1.5h"; a bare number is minutes
  std::string out;                         // empty = <database>.lrrt/<experiment>
  search::SmithConfig smith;
};

// Device-minutes of a --budget text.
double budget_minutes(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  static const std::map<std::string, double> minutes_per{
      {"", 1}, {"s", 1.0 / 60}, {"m", 1}, {"h", 60}};
  const auto unit = minutes_per.find(text.substr(used));
  if (used == 0 || unit == minutes_per.end() || !(value > 0) || !std::isfinite(value))
    throw InputError("--budget",
                     fmt::format("'{}' is not a duration (expected e.g. 90s, 2m, 1h)", text));
  return value * unit->second;
}

std::string output_dir(const LrrtArgs& args, const experiments::ExperimentConfig& e) {
  const auto dir = args.out.empty() ? std::filesystem::path(e.database + ".lrrt") / e.name
                                    : std::filesystem::path(args.out);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::optional<nlohmann::json> stored_lrrt(storage::Storage& storage, std::int64_t experiment_id) {
  for (const auto& stage : storage.stages(experiment_id))
    if (stage.stage == Stage::lrrt && stage.status == StageStatus::done)
      return nlohmann::json::parse(stage.decision);
  return std::nullopt;
}

std::string range_text(const nlohmann::json& range) {
  return fmt::format("LR_min {:.4g}  LR_max {:.4g}  LR_top {:.4g}  eps {:.4g}",
                     range.at("lr_min").get<double>(), range.at("lr_max").get<double>(),
                     range.at("lr_top").get<double>(), range.at("eps").get<double>());
}

void print_lrrt(const nlohmann::json& lrrt, const report::ExperimentSummary& summary) {
  const auto& decision = lrrt.at("decision");
  const auto& table = lrrt.at("table");
  std::cout << fmt::format(
      "LR range test (Algorithm 2, {} mode: {} trial(s) x {} epoch(s), {} LRs), ranked by {}:\n"
      "  {}\n",
      lrrt.at("mode").get<std::string>(), table.at("trials").get<int>(),
      table.at("epochs").get<int>(), table.at("lrs").size(),
      decision.at("chosen_attribute").get<std::string>(), range_text(lrrt.at("range")));
  for (const auto& layer : summary.lrrt_bounds)
    if (layer.scope != "model")
      std::cout << fmt::format("  layer {}: LR_min {:.4g}  LR_max {:.4g}  LR_top {:.4g}\n",
                               layer.scope, layer.lr_min, layer.lr_max, layer.lr_top);
  for (const auto& warning : decision.at("warnings"))
    std::cout << "  warning: " << warning.get<std::string>() << "\n";
}

double stage_seconds(const report::ExperimentSummary& summary, Stage stage) {
  const auto found = summary.stage_seconds.find(stage);
  return found == summary.stage_seconds.end() ? 0 : found->second;
}

void run_algorithm2(const LrrtArgs& args, experiments::ExperimentConfig e) {
  if (e.lrrt.mode == "off")
    throw InputError(e.file, "lrrt.mode is off: set it to auto, quick or full to run the test");
  auto storage = open_database(e);
  auto options = engine_options(args.experiment);
  options.scope = engine::Scope::lrrt;
  const auto log = [](const std::string& line) { std::cout << line << std::endl; };
  const auto report = engine::run_experiment(e, *storage, options, log);
  const auto experiment = storage->find_experiment(e.name);
  const auto lrrt = stored_lrrt(*storage, experiment->id);
  if (!lrrt) {
    const auto outcome = engine::outcome_of(report);
    std::cout << fmt::format(
        "the LR range test is not decided ({}); run the same command again{}\n", outcome.word,
        report.budget_spent ? " with a larger --budget to go on" : "");
    std::exit(outcome.exit_code == 0 ? 4 : outcome.exit_code);
  }
  const auto summary = report::summarize(*storage, *experiment);
  print_lrrt(*lrrt, summary);
  const double spent =
      stage_seconds(summary, Stage::calibrate) + stage_seconds(summary, Stage::lrrt);
  std::cout << fmt::format("  {:.1f} device-s (calibration and range test){}\n", spent,
                           e.budget.device_minutes > 0 ? fmt::format(" of a {:.0f} device-s budget",
                                                                     e.budget.device_minutes * 60)
                                                       : "");
  const auto dir = std::filesystem::path(output_dir(args, e));
  write_file((dir / "table-d.csv").string(), report::lrrt_table_csv(summary), "table D");
  write_file((dir / "range-test.svg").string(), report::lrrt_svg(summary), "the LRRT plot");
  std::cout << fmt::format("table D: {}\nplot:    {}\nstored in {}: `automl run {}` reuses it\n",
                           (dir / "table-d.csv").string(), (dir / "range-test.svg").string(),
                           e.database, args.experiment.experiment);
}

void write_sweep_csv(const search::SmithSweep& sweep, const std::string& path) {
  std::string csv = "step,lr,loss,smoothed_loss\n";
  for (std::size_t i = 0; i < sweep.lrs.size(); ++i)
    csv += fmt::format("{},{},{},{}\n", i, sweep.lrs[i], sweep.losses[i], sweep.smoothed[i]);
  write_file(path, csv, "the sweep");
}

void run_smith(const LrrtArgs& args, const experiments::ExperimentConfig& e) {
  const auto& c = args.smith;
  if (!(c.lr_start > 0 && c.lr_start < c.lr_end))
    throw InputError("--lr-start", fmt::format("expected 0 < --lr-start ({:g}) < --lr-end ({:g})",
                                               c.lr_start, c.lr_end));
  if (c.steps < c.skip_begin + c.skip_end + 2)
    throw InputError("--steps", fmt::format("{} is too few: the suggestion skips the first {} "
                                            "and last {} steps and needs 2 more",
                                            c.steps, c.skip_begin, c.skip_end));
  auto trial = e.trial;
  trial.device = engine::machine_slots(e, engine::visible_gpus()).front().device;
  trials::set_threads(e.threads);
  std::cout << fmt::format("LR sweep (Smith): {} steps from {:g} to {:g}, batch {}\n", c.steps,
                           c.lr_start, c.lr_end, trial.batch_size);
  const auto sweep = search::run_smith_sweep(trial, c);
  std::cout << fmt::format(
      "  {} steps{}; suggestion (steepest descent of the smoothed loss): {}\n", sweep.lrs.size(),
      sweep.stopped_early ? fmt::format(", stopped at LR {:.3g} (loss past "
                                        "{:g}x its best)",
                                        sweep.lrs.back(), c.stop_factor)
                          : "",
      sweep.suggested ? fmt::format("{:.4g}", sweep.suggestion()) : "none (too few steps)");
  if (const auto storage = open_existing_database(e)) {
    if (const auto experiment = storage->find_experiment(e.name))
      if (const auto lrrt = stored_lrrt(*storage, experiment->id))
        std::cout << "  Algorithm 2 (stored): " << range_text(lrrt->at("range")) << "\n";
  }
  const auto dir = std::filesystem::path(output_dir(args, e));
  write_sweep_csv(sweep, (dir / "smith.csv").string());
  std::optional<double> suggestion;
  if (sweep.suggested) suggestion = sweep.suggestion();
  write_file((dir / "smith.svg").string(),
             report::lr_sweep_svg(sweep.lrs, sweep.losses, sweep.smoothed, suggestion),
             "the sweep plot");
  std::cout << fmt::format("sweep: {}\nplot:  {}\n", (dir / "smith.csv").string(),
                           (dir / "smith.svg").string());
  if (!sweep.suggested) std::exit(4);
}

}  // namespace

void add_lrrt_commands(CLI::App& app) {
  auto args = std::make_shared<LrrtArgs>();
  auto* lrrt = app.add_subcommand(
      "lrrt",
      "Run the LR range test of an experiment on its own: Algorithm 2 (stored, and "
      "reused by `automl run`), or Smith's one-run sweep");
  add_experiment_options(*lrrt, args->experiment);
  lrrt->add_option("--budget", args->budget,
                   "Device-time for calibration and the test, e.g. 90s, 2m, 1h (default: the "
                   "experiment's budget); picks quick mode when the full test does not fit");
  lrrt->add_option("--method", args->method_name, "algorithm2 (the paper's) or smith")
      ->check(CLI::IsMember({"algorithm2", "smith"}))
      ->capture_default_str();
  lrrt->add_option("--out", args->out,
                   "Directory for table D and the plots (default: <database>.lrrt/<experiment>)");
  lrrt->add_option("--lr-start", args->smith.lr_start, "smith: first LR")->capture_default_str();
  lrrt->add_option("--lr-end", args->smith.lr_end, "smith: last LR")->capture_default_str();
  lrrt->add_option("--steps", args->smith.steps, "smith: batches (one LR each)")
      ->capture_default_str();
  lrrt->callback([args] {
    auto experiment = load_checked_experiment(args->experiment);
    if (!args->budget.empty()) experiment.budget.device_minutes = budget_minutes(args->budget);
    if (args->method_name == "smith")
      run_smith(*args, experiment);
    else
      run_algorithm2(*args, experiment);
  });
}

}  // namespace automl::cli
