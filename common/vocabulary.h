#pragma once
// The engine's vocabulary: what a trial, a stage and an experiment can be, and the methods an
// experiment compares. Code compares these enums; their names are text only at the edges (the
// database's columns, the CLI, YAML), through name() and parse<E>().
#include <array>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace automl {

// A trial's life: pending (planned, not released) -> queued (released by the coordinator to any
// worker) -> running -> done | crashed (the trial's own diverged/NaN rule) | failed (it reported
// an error, or used up its attempts). A trial the engine runs itself goes pending -> running.
enum class TrialStatus { pending, queued, running, done, crashed, failed };

// A stage's life: waiting (its inputs are undecided) -> planned (jobs in the database) -> done
// (decision stored) | failed (it threw) | skipped (an input did not decide).
enum class StageStatus { waiting, planned, done, failed, skipped };

// running -> done (every stage decided) | stopped (budget spent or a stage did not decide) |
// interrupted (a signal ended the engine; the next run resumes it).
enum class ExperimentStatus { running, done, stopped, interrupted };

// The stages of an experiment (engine/stages.h holds the graph that links them). `place` is the
// engine's choice of slots x threads (engine/placement.h), decided before the others start.
enum class Stage { place, calibrate, plan, lrrt, c1c2, mi_sgd, baseline_search, baseline };

// How a trial sets its learning rate: `sgd` is plain SGD at the trial's fixed LR (calibration
// and the LR range test); the rest are the methods the report compares.
enum class Method { sgd, mi_sgd, mi_sgd_layerwise, adam, rmsprop, lars, step };

// The text of each enum value, in declaration order; the one table per enum.
template <typename E>
struct Names;

template <>
struct Names<TrialStatus> {
  static constexpr std::string_view kind = "trial status";
  static constexpr std::array<std::string_view, 6> text = {"pending", "queued",  "running",
                                                           "done",    "crashed", "failed"};
};
template <>
struct Names<StageStatus> {
  static constexpr std::string_view kind = "stage status";
  static constexpr std::array<std::string_view, 5> text = {"waiting", "planned", "done", "failed",
                                                           "skipped"};
};
template <>
struct Names<ExperimentStatus> {
  static constexpr std::string_view kind = "experiment status";
  static constexpr std::array<std::string_view, 4> text = {"running", "done", "stopped",
                                                           "interrupted"};
};
template <>
struct Names<Stage> {
  static constexpr std::string_view kind = "stage";
  static constexpr std::array<std::string_view, 8> text = {
      "place", "calibrate", "plan", "lrrt", "c1c2", "mi_sgd", "baseline_search", "baseline"};
};
template <>
struct Names<Method> {
  static constexpr std::string_view kind = "method";
  static constexpr std::array<std::string_view, 7> text = {
      "sgd", "mi_sgd", "mi_sgd_layerwise", "adam", "rmsprop", "lars", "step"};
};

template <typename E>
constexpr std::string_view name(E value) {
  return Names<E>::text.at(static_cast<std::size_t>(value));
}

// Streams print the name (test failures, logs).
template <typename E, typename = decltype(Names<E>::text)>
std::ostream& operator<<(std::ostream& out, E value) {
  return out << name(value);
}

// Every value of E, in declaration order.
template <typename E>
std::vector<E> all_values() {
  std::vector<E> values;
  for (std::size_t i = 0; i < Names<E>::text.size(); ++i) values.push_back(static_cast<E>(i));
  return values;
}

template <typename E>
std::vector<std::string> all_names() {
  return {Names<E>::text.begin(), Names<E>::text.end()};
}

template <typename E>
std::optional<E> try_parse(std::string_view text) {
  for (std::size_t i = 0; i < Names<E>::text.size(); ++i)
    if (Names<E>::text[i] == text) return static_cast<E>(i);
  return std::nullopt;
}

// Throws std::invalid_argument naming the kind and the accepted names; callers at an edge wrap
// it with the file or column it came from.
[[noreturn]] void throw_unknown_name(std::string_view kind, std::string_view text,
                                     const std::vector<std::string>& accepted);

template <typename E>
E parse(std::string_view text) {
  if (const auto value = try_parse<E>(text)) return *value;
  throw_unknown_name(Names<E>::kind, text, all_names<E>());
}

// A trial that ended, whichever way.
constexpr bool finished(TrialStatus s) {
  return s == TrialStatus::done || s == TrialStatus::crashed || s == TrialStatus::failed;
}

// A stage that will change no more.
constexpr bool closed(StageStatus s) {
  return s == StageStatus::done || s == StageStatus::failed || s == StageStatus::skipped;
}

constexpr bool is_mi_method(Method m) {
  return m == Method::mi_sgd || m == Method::mi_sgd_layerwise;
}

}  // namespace automl
