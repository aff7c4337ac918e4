#include "search/c1c2.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

namespace automl::search {
namespace {

constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

bool same_range(const LrRange& a, const LrRange& b) {
  return a.lr_min == b.lr_min && a.lr_max == b.lr_max && a.lr_top == b.lr_top && a.eps == b.eps;
}

// `count` indices spread evenly over 0..n-1, both ends included.
std::vector<std::size_t> spread(std::size_t n, std::size_t count) {
  std::vector<std::size_t> picked;
  if (count >= n) {
    for (std::size_t i = 0; i < n; ++i) picked.push_back(i);
    return picked;
  }
  for (std::size_t k = 0; k < count; ++k)
    picked.push_back(count == 1 ? 0
                                : static_cast<std::size_t>(std::llround(
                                      static_cast<double>(k) * static_cast<double>(n - 1) /
                                      static_cast<double>(count - 1))));
  return picked;
}

// Orders ids by score, best first; ties keep the lower id.
std::vector<int> ranked(const std::vector<RangeCandidate>& candidates, std::vector<int> ids) {
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) {
    return candidates[static_cast<std::size_t>(a)].score() >
           candidates[static_cast<std::size_t>(b)].score();
  });
  return ids;
}

}  // namespace

double RangeCandidate::score() const {
  return scores.empty() ? kMinusInfinity : scores.back();
}

void validate_c1c2_config(const C1C2Config& c) {
  // Preconditions of the search, not rules for user input: experiments/ checks what a file
  // says (with its line, within documented limits), so a config failing here is a bug.
  const auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(fmt::format("C1/C2 config: {}", what));
  };
  require(!c.c1_grid.empty() && !c.c2_grid.empty(), "c1c2.c1_grid and c2_grid must not be empty");
  for (double v : c.c1_grid)  // the LRRT's C1 (validate_lrrt_config)
    require(v >= 1 && std::isfinite(v), "c1c2.c1_grid values must be finite and >= 1");
  for (double v : c.c2_grid)
    require(v > 0 && std::isfinite(v), "c1c2.c2_grid values must be finite and > 0");
  require(c.max_candidates >= 1, "c1c2.max_candidates must be >= 1");
  require(c.min_epochs >= 1 && c.max_epochs >= c.min_epochs,
          "c1c2 needs 1 <= min_epochs <= max_epochs");
  require(c.eta > 1 && std::isfinite(c.eta), "c1c2.eta must be finite and > 1");
  require(c.validation_fraction > 0 && c.validation_fraction < 1,
          "c1c2.validation_fraction must be in (0, 1)");
}

std::vector<RangeCandidate> c1c2_candidates(const LrrtConfig& lrrt, const C1C2Config& config,
                                            const LrrtTable& table) {
  validate_c1c2_config(config);
  std::vector<RangeCandidate> distinct;
  for (double c1 : config.c1_grid) {
    for (double c2 : config.c2_grid) {
      const auto decision = decide_lrrt(lrrt, table, c1, c2);
      auto same = std::find_if(distinct.begin(), distinct.end(), [&](const RangeCandidate& c) {
        return same_range(c.range, decision.range);
      });
      if (same == distinct.end()) {
        RangeCandidate candidate;
        candidate.range = decision.range;
        candidate.attribute = decision.chosen_attribute;
        distinct.push_back(candidate);
        same = distinct.end() - 1;
      }
      same->c1c2.emplace_back(c1, c2);
    }
  }
  std::vector<RangeCandidate> kept;
  for (std::size_t i : spread(distinct.size(), static_cast<std::size_t>(config.max_candidates))) {
    kept.push_back(distinct[i]);
    kept.back().id = static_cast<int>(kept.size()) - 1;
  }
  return kept;
}

std::vector<C1C2Round> c1c2_schedule(const C1C2Config& config, int candidates) {
  validate_c1c2_config(config);
  std::vector<C1C2Round> rounds;
  int alive = candidates;
  double epochs = config.min_epochs;
  for (int r = 0; alive > 1; ++r) {
    C1C2Round round;
    round.round = r;
    round.epochs = static_cast<int>(std::min<double>(config.max_epochs, std::round(epochs)));
    rounds.push_back(round);
    alive = std::max(1, static_cast<int>(std::floor(alive / config.eta)));
    epochs *= config.eta;
  }
  return rounds;
}

std::string c1c2_label(int round, int candidate) {
  return fmt::format("c1c2/r={}/c={}", round, candidate);
}

double validation_score(const JobResult& result, bool regression) {
  if (result.status != TrialStatus::done) return kMinusInfinity;
  const trials::EpochRecord* last = nullptr;
  for (const auto& record : result.epochs)
    if (record.epoch >= 1 && (!last || record.epoch > last->epoch)) last = &record;
  if (!last) return kMinusInfinity;
  const double score = regression ? -last->validation_mae : last->validation_accuracy;
  return std::isfinite(score) ? score : kMinusInfinity;
}

C1C2Search replay_c1c2(const C1C2Config& config, std::vector<RangeCandidate> candidates,
                       const std::vector<JobResult>& results, bool regression) {
  C1C2Search search;
  search.candidates = std::move(candidates);
  if (search.candidates.empty()) throw std::invalid_argument("replay_c1c2: no candidates");
  search.rounds = c1c2_schedule(config, static_cast<int>(search.candidates.size()));
  std::map<std::string, const JobResult*> by_label;
  for (const auto& result : results) by_label[result.label] = &result;

  // Rounds are scored in order; the candidates of a round are known once the one before it
  // is scored, and only the size of the later ones (for the budget).
  std::vector<int> alive;
  for (const auto& candidate : search.candidates) alive.push_back(candidate.id);
  std::size_t count = alive.size();
  bool known = true;
  for (auto& round : search.rounds) {
    search.planned_epochs += round.epochs * static_cast<int>(count);
    count = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::floor(static_cast<double>(count) / config.eta)));
    if (!known) continue;
    round.candidates = alive;
    known = std::all_of(alive.begin(), alive.end(),
                        [&](int id) { return by_label.count(c1c2_label(round.round, id)) > 0; });
    if (!known) continue;
    for (int id : alive)
      search.candidates[static_cast<std::size_t>(id)].scores.push_back(
          validation_score(*by_label.at(c1c2_label(round.round, id)), regression));
    const auto order = ranked(search.candidates, alive);
    alive.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count));
    for (int id : alive) ++search.candidates[static_cast<std::size_t>(id)].rounds_survived;
    round.kept = alive;
    round.scored = true;
  }
  const bool all_scored = std::all_of(search.rounds.begin(), search.rounds.end(),
                                      [](const C1C2Round& r) { return r.scored; });
  if (all_scored) {
    search.finished = true;
    search.best =
        search.rounds.empty() ? search.candidates.front().id : search.rounds.back().kept[0];
    if (search.candidates[static_cast<std::size_t>(search.best)].score() == kMinusInfinity &&
        !search.rounds.empty())
      search.warnings.push_back("every candidate of the last round crashed or failed");
  }
  return search;
}

std::vector<Job> plan_c1c2_round(const C1C2Config& config, const trials::TrialConfig& base,
                                 const C1C2Search& search) {
  const auto next = std::find_if(search.rounds.begin(), search.rounds.end(),
                                 [](const C1C2Round& r) { return !r.scored; });
  if (search.finished || next == search.rounds.end()) return {};
  std::vector<Job> jobs;
  for (int id : next->candidates) {
    const auto& range = search.candidates[static_cast<std::size_t>(id)].range;
    Job job{Stage::c1c2, c1c2_label(next->round, id), base, Method::mi_sgd};
    auto& trial = job.config;
    use_mi_sgd(trial, range, /*layerwise=*/false);
    trial.epochs = next->epochs;
    trial.data.validation_fraction = config.validation_fraction;
    trial.evaluate_test = false;  // never the test set
    jobs.push_back(std::move(job));
  }
  return jobs;
}

const RangeCandidate& c1c2_best(const C1C2Search& search) {
  if (!search.finished || search.best < 0)
    throw std::logic_error("c1c2_best: the C1/C2 search has not finished");
  return search.candidates[static_cast<std::size_t>(search.best)];
}

}  // namespace automl::search
