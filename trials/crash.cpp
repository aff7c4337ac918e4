#include "trials/crash.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace automl::trials {

std::string CrashDetector::check(int epoch, double train_loss, double train_accuracy) {
  std::string reason;
  if (!std::isfinite(train_loss)) {
    reason = fmt::format("non-finite training loss at epoch {}", epoch);
  } else if (first_loss_ >= 0 && train_loss > 10 * first_loss_) {
    reason = fmt::format("training loss {:.4g} at epoch {} is above 10x the first epoch's ({:.4g})",
                         train_loss, epoch, first_loss_);
  } else if (chance_ > 0 && best_accuracy_ >= 2 * chance_ && train_accuracy <= 1.2 * chance_) {
    reason = fmt::format(
        "training accuracy {:.4f} at epoch {} fell to 1.2x chance ({:.4f}) or below after "
        "reaching {:.4f}",
        train_accuracy, epoch, chance_, best_accuracy_);
  }
  if (first_loss_ < 0) first_loss_ = train_loss;
  best_accuracy_ = std::max(best_accuracy_, train_accuracy);
  return reason;
}

}  // namespace automl::trials
