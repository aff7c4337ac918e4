#pragma once
// Crash detection of SPEC.md 4 ("a sudden or dramatic drop in all performance attributes"),
// epoch by epoch. Torch-free.
#include <cstdint>
#include <string>

namespace automl::trials {

class CrashDetector {
 public:
  // `classes` = 0 for regression (no accuracy rule).
  explicit CrashDetector(std::int64_t classes) : chance_(classes > 0 ? 1.0 / classes : 0) {}
  // Why the epoch with this training loss and accuracy is a crash, or "" when it is not:
  // a non-finite loss; a loss above 10x the first epoch's; or (classification) an accuracy at or
  // below 1.2x chance after an earlier epoch reached at least 2x chance.
  std::string check(int epoch, double train_loss, double train_accuracy);

  // State, for checkpoints.
  double first_loss() const { return first_loss_; }
  double best_accuracy() const { return best_accuracy_; }
  void restore(double first_loss, double best_accuracy) {
    first_loss_ = first_loss;
    best_accuracy_ = best_accuracy;
  }

 private:
  double chance_;
  double first_loss_ = -1, best_accuracy_ = 0;
};

}  // namespace automl::trials
