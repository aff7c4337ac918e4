#pragma once
// Automatic C1/C2 (the paper's future work): table D does not depend on C1 and C2, so the range
// of every (C1, C2) of a grid costs nothing. The distinct ranges are scored by short MI-SGD runs
// on a validation split of the training data under successive halving, and the best is kept.
// The state of the search is a pure function of the results so far (resume = replay).
#include <string>
#include <utility>
#include <vector>

#include "search/config.h"
#include "search/lrrt.h"
#include "search/plan.h"

namespace automl::search {

// Throws std::invalid_argument when `config` breaks a precondition of the C1/C2 search. User
// input is validated by experiments/ (file:line); this guards the other callers.
void validate_c1c2_config(const C1C2Config& config);

// One distinct range and how it fared.
struct RangeCandidate {
  int id = 0;                                   // index in the candidate list
  std::vector<std::pair<double, double>> c1c2;  // every grid (C1, C2) giving this range
  LrRange range;
  std::string attribute;       // the LRRT attribute that set the bounds
  std::vector<double> scores;  // one per round it ran in
  int rounds_survived = 0;     // rounds after which it was kept
  double score() const;        // its latest score; -inf before any round
};

struct C1C2Round {
  int round = 0;
  int epochs = 0;
  std::vector<int> candidates;  // ids that run in this round
  std::vector<int> kept;        // ids kept after it (empty until scored)
  bool scored = false;
};

struct C1C2Search {
  std::vector<RangeCandidate> candidates;
  std::vector<C1C2Round> rounds;  // the whole schedule; the first unscored one is next
  int best = -1;                  // id of the winner once finished
  bool finished = false;
  int planned_epochs = 0;  // total epochs of all rounds: the budget it promises
  std::vector<std::string> warnings;
};

// The distinct ranges of the grid (grid order: C1 major, C2 minor), at most max_candidates of
// them, spread evenly over that order when there are more. Throws LrrtError when every LR
// crashed.
std::vector<RangeCandidate> c1c2_candidates(const LrrtConfig& lrrt, const C1C2Config& config,
                                            const LrrtTable& table);

// Successive halving: round r runs n_r candidates for min(max_epochs, min_epochs * eta^r)
// epochs, then keeps the best max(1, floor(n_r / eta)); it ends when one is left.
std::vector<C1C2Round> c1c2_schedule(const C1C2Config& config, int candidates);

// "c1c2/r=0/c=3": candidate 3 in round 0.
std::string c1c2_label(int round, int candidate);

// The search state after the results so far (any rounds, any order; matched by label): every
// round whose jobs all have results is scored and its best are kept. Score = final validation
// accuracy (regression: -final validation MAE); crashed, failed or missing = -inf; ties keep
// the lower id.
C1C2Search replay_c1c2(const C1C2Config& config, std::vector<RangeCandidate> candidates,
                       const std::vector<JobResult>& results, bool regression);

// The jobs of the next unscored round (empty when finished): MI-SGD (policy "mi" with the
// candidate's range, SGD with the base's momentum/Nesterov), the round's epochs, seed of the
// base, data.validation_fraction = config.validation_fraction, no test set.
std::vector<Job> plan_c1c2_round(const C1C2Config& config, const trials::TrialConfig& base,
                                 const C1C2Search& search);

// The winner's range (throws std::logic_error before the search finished).
const RangeCandidate& c1c2_best(const C1C2Search& search);

// Score of one job for validation-based selections: the last epoch's validation accuracy, or
// -validation MAE for regression; -inf unless the job is done with at least one epoch.
double validation_score(const JobResult& result, bool regression);

}  // namespace automl::search
