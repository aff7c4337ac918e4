#include "search/lrrt.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include "search/lr_grid.h"
#include "trials/mi_decay.h"

namespace automl::search {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool one_of(const std::string& value, const std::vector<std::string>& allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// The config with the numbers of its (resolved) mode in place.
LrrtConfig effective(const LrrtConfig& config) {
  if (config.mode != "full" && config.mode != "quick")
    throw std::invalid_argument(fmt::format(
        "lrrt.mode '{}' must be resolved to full or quick (resolve_lrrt_mode) first", config.mode));
  return resolve_lrrt_mode(config, false);
}

// min over e = 2..E of Algorithm 1's d_s(e) (SPEC.md 3, 4; trials::d_s, guard included). `ity`
// is indexed by epoch from `first_epoch` (0 when the pre-training value was recorded, else 1).
// NaN when no d_s is defined.
double min_d_s(const std::vector<double>& ity, int first_epoch, int epochs) {
  double lowest = kNaN;
  for (int e = std::max(2, first_epoch + 2); e <= epochs; ++e) {
    const double value = trials::d_s(ity[e - 2 - first_epoch], ity[e - 1 - first_epoch]);
    lowest = std::isnan(lowest) ? value : std::min(lowest, value);
  }
  return lowest;
}

const trials::GroupRecord* find_group(const trials::EpochRecord& record, const std::string& name) {
  for (const auto& group : record.groups)
    if (group.name == name) return &group;
  return nullptr;
}

// A table D row from the records of a job that completed all `epochs` epochs (sorted by epoch,
// starting at 0 or 1). Initial values are the pre-training state's where it was measured: ITY
// always (epoch 0, MI on); training loss, accuracy and MAE only when the epoch-0 record carries
// a training loss (a real loss is never exactly 0; trials leaves it 0 when it did not
// evaluate the training set before training), else they are epoch 1's, the first measured.
LrrtRow make_row(int trial, double lr, const std::vector<trials::EpochRecord>& records,
                 int epochs) {
  const auto& first = records.front();
  const auto& last = records.back();
  const int first_epoch = first.epoch;
  const bool pre_training_loss = first.epoch == 0 && first.train_loss != 0;
  const auto& initial = pre_training_loss || first.epoch != 0 ? first : records[1];
  LrrtRow row;
  row.trial = trial;
  row.lr = lr;
  row.initial_loss = initial.train_loss;
  row.final_loss = last.train_loss;
  row.initial_ity = first.ity;
  row.final_ity = last.ity;
  row.initial_accuracy = initial.train_accuracy;
  row.final_accuracy = last.train_accuracy;
  row.initial_mae = initial.train_mae;
  row.final_mae = last.train_mae;
  std::vector<double> ity;
  for (const auto& record : records) ity.push_back(record.ity);
  row.min_d_s = min_d_s(ity, first_epoch, epochs);

  // Per-layer ITY: the groups present in every record.
  for (const auto& group : last.groups) {
    std::vector<double> layer_ity;
    for (const auto& record : records)
      if (const auto* found = find_group(record, group.name)) layer_ity.push_back(found->ity);
    if (layer_ity.size() != records.size()) continue;
    row.layers.push_back(
        {group.name, layer_ity.front(), layer_ity.back(), min_d_s(layer_ity, first_epoch, epochs)});
  }
  return row;
}

bool finite_row(const LrrtRow& row) {
  return std::isfinite(row.final_loss) && std::isfinite(row.final_accuracy) &&
         std::isfinite(row.final_ity) && std::isfinite(row.final_mae);
}

// The records of epochs 0/1..epochs, sorted; empty when an epoch 1..epochs is missing.
std::vector<trials::EpochRecord> complete_records(std::vector<trials::EpochRecord> records,
                                                  int epochs) {
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.epoch < b.epoch; });
  const int first = records.empty() ? 1 : std::max(0, std::min(records.front().epoch, 1));
  std::vector<trials::EpochRecord> kept;
  for (const auto& record : records)
    if (record.epoch >= first && record.epoch <= epochs &&
        (kept.empty() || record.epoch == kept.back().epoch + 1))
      kept.push_back(record);
  if (kept.empty() || kept.back().epoch != epochs) return {};
  return kept;
}

double mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

LrAggregate aggregate(double lr, const std::vector<const LrrtRow*>& rows) {
  LrAggregate out;
  out.lr = lr;
  out.completed = static_cast<int>(rows.size());
  if (rows.empty()) return out;
  auto mean_of = [&](double LrrtRow::*field) {
    std::vector<double> values;
    for (const auto* row : rows) values.push_back(row->*field);
    return mean(values);
  };
  out.min_d_s = mean_of(&LrrtRow::min_d_s);
  out.initial_loss = mean_of(&LrrtRow::initial_loss);
  out.final_loss = mean_of(&LrrtRow::final_loss);
  out.initial_ity = mean_of(&LrrtRow::initial_ity);
  out.final_ity = mean_of(&LrrtRow::final_ity);
  out.initial_accuracy = mean_of(&LrrtRow::initial_accuracy);
  out.final_accuracy = mean_of(&LrrtRow::final_accuracy);
  out.initial_mae = mean_of(&LrrtRow::initial_mae);
  out.final_mae = mean_of(&LrrtRow::final_mae);

  std::map<std::string, std::vector<const LayerRow*>> by_layer;
  for (const auto* row : rows)
    for (const auto& layer : row->layers) by_layer[layer.name].push_back(&layer);
  for (const auto& [name, layers] : by_layer) {
    LayerRow& mean_layer = out.layers[name];
    mean_layer.name = name;
    for (const auto* layer : layers) {
      mean_layer.initial_ity += layer->initial_ity / static_cast<double>(layers.size());
      mean_layer.final_ity += layer->final_ity / static_cast<double>(layers.size());
      mean_layer.min_d_s += layer->min_d_s / static_cast<double>(layers.size());
    }
  }
  return out;
}

std::string lr_list(const std::vector<double>& lrs) {
  std::string text;
  for (double lr : lrs) text += (text.empty() ? "" : ", ") + fmt::format("{:g}", lr);
  return text;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The LR of the candidate `found` points at; where no candidate meets the rule (found == end),
// LR_top, with a warning naming the rule and the bound that fell back.
template <typename Iterator>
double lr_or_top(AttributeBounds& b, const std::vector<double>& lrs, Iterator found, Iterator end,
                 const char* rule, const char* bound) {
  if (found != end) return lrs[*found];
  b.warnings.push_back(fmt::format("{}: no LR has {} Thresh = {:g}; {} = LR_top", b.attribute, rule,
                                   b.thresh, bound));
  return b.lr_top;
}

}  // namespace

LrrtConfig resolve_lrrt_mode(const LrrtConfig& config, bool budget_is_short) {
  LrrtConfig out = config;
  if (out.mode == "auto") out.mode = budget_is_short ? "quick" : "full";
  if (out.mode == "quick") {
    out.trials = out.quick_trials;
    out.epochs_per_trial = out.quick_epochs;
    out.c2 = out.quick_c2;
  }
  return out;
}

void validate_lrrt_config(const LrrtConfig& c) {
  // Preconditions of Algorithm 2, not rules for user input: experiments/ checks what a file
  // says (with its line, within documented limits), so a config failing here is a bug.
  const auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(fmt::format("LRRT config: {}", what));
  };
  require(one_of(c.mode, {"full", "quick", "auto", "off"}),
          "lrrt.mode must be full, quick, auto or off");
  for (std::size_t i = 0; i < c.lrs.size(); ++i)
    require(c.lrs[i] > 0 && std::isfinite(c.lrs[i]) && (i == 0 || c.lrs[i] > c.lrs[i - 1]),
            "lrrt.lrs must be positive, finite and strictly ascending");
  if (c.lrs.empty()) {
    require(c.lr_low > 0 && c.lr_high > c.lr_low && std::isfinite(c.lr_high),
            "lrrt.lr_low and lr_high need 0 < lr_low < lr_high");
    require(c.lr_count >= 2, "lrrt.lr_count must be >= 2");
  }
  require(c.trials >= 1 && c.quick_trials >= 1, "lrrt.trials and quick_trials must be >= 1");
  // d_s needs two ITY values before the epoch, so min(d_s) exists from epoch 2 on.
  require(c.epochs_per_trial >= 2 && c.quick_epochs >= 2,
          "lrrt.epochs_per_trial and quick_epochs must be >= 2");
  // Thresh = MAXVAL / C1 (SPEC.md 4) must not exceed MAXVAL; eps = C2 x a median.
  require(c.c1 >= 1 && std::isfinite(c.c1), "lrrt.c1 must be finite and >= 1");
  require(c.c2 > 0 && c.quick_c2 > 0 && std::isfinite(c.c2) && std::isfinite(c.quick_c2),
          "lrrt.c2 and quick_c2 must be finite and > 0");
  require(one_of(c.attribute, {"train_accuracy", "ity", "both", "neg_mae"}),
          "lrrt.attribute must be train_accuracy, ity, both or neg_mae");
}

std::vector<double> lrrt_candidate_lrs(const LrrtConfig& config) {
  validate_lrrt_config(config);
  if (!config.lrs.empty()) return config.lrs;
  auto lrs = log_spaced_lrs(config.lr_low, config.lr_high, config.lr_count);
  for (std::size_t i = 1; i < lrs.size(); ++i)
    if (!(lrs[i] > lrs[i - 1]))
      throw InputError("lrrt.lr_count",
                       fmt::format("{} LRs between {:g} and {:g} collide at 3 "
                                   "significant digits; use fewer",
                                   config.lr_count, config.lr_low, config.lr_high));
  return lrs;
}

std::string lrrt_label(int trial, double lr) {
  return fmt::format("lrrt/t={}/lr={:g}", trial, lr);
}

std::vector<Job> plan_lrrt(const LrrtConfig& config, const trials::TrialConfig& base) {
  const LrrtConfig lrrt = effective(config);
  const auto lrs = lrrt_candidate_lrs(lrrt);
  std::vector<Job> jobs;
  for (int t = 1; t <= lrrt.trials; ++t) {
    for (double lr : lrs) {
      Job job{Stage::lrrt, lrrt_label(t, lr), base, Method::sgd, t};
      auto& trial = job.config;
      trial.optimizer.name = "sgd";  // momentum, Nesterov and weight decay: the experiment's
      trial.optimizer.lr = lr;
      trial.policy.name = "constant";  // the base's bound etc. still shape the recorded d_p
      trial.policy.layerwise = lrrt.layerwise;  // per-layer ITY is recorded per group
      trial.mi.enabled = true;
      trial.epochs = lrrt.epochs_per_trial;
      trial.seed = static_cast<std::uint64_t>(t);
      trial.evaluate_test = false;
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

LrrtTable build_lrrt_table(const LrrtConfig& config, const std::vector<JobResult>& results) {
  const LrrtConfig lrrt = effective(config);
  LrrtTable table;
  table.lrs = lrrt_candidate_lrs(lrrt);
  table.trials = lrrt.trials;
  table.epochs = lrrt.epochs_per_trial;

  std::map<std::string, const JobResult*> by_label;
  for (const auto& result : results) by_label[result.label] = &result;

  for (int t = 1; t <= lrrt.trials; ++t) {
    bool broken = false;  // a smaller LR of this trial crashed: the paper's "break"
    for (double lr : table.lrs) {
      if (broken) {
        table.dropped.push_back({t, lr, "break"});
        continue;
      }
      const auto found = by_label.find(lrrt_label(t, lr));
      if (found == by_label.end()) {
        table.dropped.push_back({t, lr, "missing"});
        continue;
      }
      const JobResult& result = *found->second;
      if (result.status == TrialStatus::crashed) {
        table.dropped.push_back({t, lr, "crashed"});
        broken = true;
        continue;
      }
      if (result.status != TrialStatus::done) {  // failed: not the LR's fault, so no break
        table.dropped.push_back({t, lr, std::string(name(result.status))});
        continue;
      }
      const auto records = complete_records(result.epochs, table.epochs);
      if (records.empty()) {
        table.dropped.push_back({t, lr, "incomplete"});
        continue;
      }
      LrrtRow row = make_row(t, lr, records, table.epochs);
      if (!finite_row(row)) {  // a non-finite value is a crash whoever reported it
        table.dropped.push_back({t, lr, "crashed"});
        broken = true;
        continue;
      }
      if (records.front().epoch != 0 && table.warnings.empty())
        table.warnings.push_back(
            "no pre-training (epoch 0) record (MI off?): initial ITY is epoch 1's");
      table.rows.push_back(std::move(row));
    }
  }

  for (double lr : table.lrs) {
    std::vector<const LrrtRow*> rows;
    for (const auto& row : table.rows)
      if (row.lr == lr) rows.push_back(&row);
    table.per_lr.push_back(aggregate(lr, rows));
  }
  return table;
}

AttributeValues attribute_values(const LrrtTable& table, const std::string& attribute) {
  AttributeValues values;
  const std::string layer_prefix = "ity:";
  double mae_shift = 0;  // neg_mae: A = mean initial MAE - MAE
  if (attribute == "neg_mae") {
    std::vector<double> initial;
    for (const auto& row : table.rows) initial.push_back(row.initial_mae);
    mae_shift = mean(initial);
  }
  for (const auto& lr : table.per_lr) {
    double initial = kNaN, final_value = kNaN;  // NaN: no value (crashed)
    if (!lr.crashed()) {
      if (attribute == "train_accuracy") {
        initial = lr.initial_accuracy, final_value = lr.final_accuracy;
      } else if (attribute == "ity") {
        initial = lr.initial_ity, final_value = lr.final_ity;
      } else if (attribute == "neg_mae") {
        initial = mae_shift - lr.initial_mae, final_value = mae_shift - lr.final_mae;
      } else if (attribute.rfind(layer_prefix, 0) == 0) {
        const auto layer = lr.layers.find(attribute.substr(layer_prefix.size()));
        if (layer != lr.layers.end())
          initial = layer->second.initial_ity, final_value = layer->second.final_ity;
      } else {
        throw std::invalid_argument(fmt::format("unknown LRRT attribute '{}'", attribute));
      }
    }
    values.initial.push_back(initial);
    values.final_.push_back(final_value);
  }
  return values;
}

AttributeBounds attribute_bounds(const LrrtTable& table, const std::string& attribute, double c1) {
  const auto values = attribute_values(table, attribute);
  const auto& lrs = table.lrs;
  const std::size_t n = lrs.size();
  std::vector<std::size_t> alive;  // LRs that completed in at least one trial
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isnan(values.final_[i])) alive.push_back(i);
  if (alive.empty())
    throw LrrtError("lrrt", fmt::format("every candidate LR ({}) crashed in every trial, so there "
                                        "is no range for '{}': lower lr_low/lr_high (or lrs)",
                                        lr_list(lrs), attribute));

  AttributeBounds b;
  b.attribute = attribute;
  b.d1n.assign(n, 0.0);
  b.dnn.assign(n, 0.0);
  std::size_t top = alive.front();
  for (std::size_t i : alive)
    if (values.final_[i] > values.final_[top]) top = i;  // strict: ties keep the smallest LR
  b.maxval = values.final_[top];
  b.lr_top = lrs[top];
  b.thresh = b.maxval / c1;
  for (std::size_t i : alive) {
    b.d1n[i] = values.final_[i] - values.initial[i];
    b.dnn[i] = b.maxval - values.final_[i];
  }
  if (b.maxval <= 0)
    b.warnings.push_back(
        fmt::format("{}: MAXVAL = {:g} <= 0, nothing was learned", attribute, b.maxval));

  // LR_min: the smallest LR whose attribute grew by at least Thresh.
  const auto first_grown =
      std::find_if(alive.begin(), alive.end(), [&](std::size_t i) { return b.d1n[i] >= b.thresh; });
  b.lr_min = lr_or_top(b, lrs, first_grown, alive.end(), "d1n >=", "LR_min");
  if (b.lr_min > b.lr_top) {
    b.warnings.push_back(fmt::format("{}: LR_min {:g} > LR_top {:g}; LR_min = LR_top", attribute,
                                     b.lr_min, b.lr_top));
    b.lr_min = b.lr_top;
  }
  // LR_max: the largest completed LR with dnn < Thresh; every LR above it then has
  // dnn >= Thresh or crashed.
  const auto last_close = std::find_if(alive.rbegin(), alive.rend(),
                                       [&](std::size_t i) { return b.dnn[i] < b.thresh; });
  b.lr_max = lr_or_top(b, lrs, last_close, alive.rend(), "dnn <", "LR_max");
  return b;
}

EpsChoice lrrt_eps(const std::vector<double>& min_d_s, double c2) {
  EpsChoice choice;
  std::vector<double> values;
  for (double v : min_d_s)
    if (std::isfinite(v)) values.push_back(v);
  if (values.empty()) {
    choice.warnings.push_back("no min(d_s) recorded (is MI on?): eps = 0");
    return choice;
  }
  choice.median = median(values);
  double base = choice.median;
  if (base <= 0) {
    for (double& v : values) v = std::fabs(v);
    base = median(values);
    choice.warnings.push_back(
        fmt::format("median(min d_s) = {:g} <= 0 (ITY fell in most rows): eps uses "
                    "median(|min d_s|) = {:g}",
                    choice.median, base));
  }
  if (base == 0) choice.warnings.push_back("every min(d_s) is 0: eps = 0");
  choice.eps = c2 * base;
  return choice;
}

std::vector<std::string> lrrt_attributes(const LrrtConfig& config) {
  if (config.attribute == "both") return {"train_accuracy", "ity"};
  return {config.attribute};
}

LrrtDecision decide_lrrt(const LrrtConfig& config, const LrrtTable& table, double c1, double c2) {
  const LrrtConfig lrrt = effective(config);
  LrrtDecision decision;
  decision.mode = lrrt.mode;
  decision.c1 = c1;
  decision.c2 = c2;
  decision.warnings = table.warnings;

  for (const auto& attribute : lrrt_attributes(lrrt))
    decision.attributes.push_back(attribute_bounds(table, attribute, c1));
  const AttributeBounds* chosen = &decision.attributes.front();
  for (const auto& bounds : decision.attributes)
    if (bounds.lr_max > chosen->lr_max) chosen = &bounds;  // ties keep the first listed
  decision.chosen_attribute = chosen->attribute;
  for (const auto& warning : chosen->warnings) decision.warnings.push_back(warning);

  std::vector<double> min_d_s;
  for (const auto& row : table.rows) min_d_s.push_back(row.min_d_s);
  const EpsChoice eps = lrrt_eps(min_d_s, c2);
  for (const auto& warning : eps.warnings) decision.warnings.push_back(warning);
  decision.median_min_d_s = eps.median;
  decision.range = {chosen->lr_min, chosen->lr_max, chosen->lr_top, eps.eps};

  if (lrrt.layerwise) {
    std::set<std::string> names;
    for (const auto& row : table.rows)
      for (const auto& layer : row.layers) names.insert(layer.name);
    if (names.empty())
      decision.warnings.push_back("layer-wise LRRT asked, but no per-layer ITY was recorded");
    for (const auto& name : names) {
      LayerRange layer;
      layer.layer = name;
      layer.bounds = attribute_bounds(table, "ity:" + name, c1);
      std::vector<double> layer_d_s;
      for (const auto& row : table.rows)
        for (const auto& lr : row.layers)
          if (lr.name == name) layer_d_s.push_back(lr.min_d_s);
      const EpsChoice layer_eps = lrrt_eps(layer_d_s, c2);
      layer.range = {layer.bounds.lr_min, layer.bounds.lr_max, layer.bounds.lr_top, layer_eps.eps};
      for (const auto& warning : layer.bounds.warnings) decision.warnings.push_back(warning);
      for (const auto& warning : layer_eps.warnings)
        decision.warnings.push_back(name + ": " + warning);
      decision.layers.push_back(std::move(layer));
    }
  }
  return decision;
}

LrrtDecision decide_lrrt(const LrrtConfig& config, const LrrtTable& table) {
  const LrrtConfig lrrt = effective(config);
  return decide_lrrt(lrrt, table, lrrt.c1, lrrt.c2);
}

void use_mi_sgd(trials::TrialConfig& trial, const LrRange& range, bool layerwise) {
  trial.optimizer.name = "sgd";
  trial.optimizer.lr = range.lr_top;
  trial.policy.name = "mi";
  trial.policy.lr_min = range.lr_min;
  trial.policy.lr_max = range.lr_max;
  trial.policy.lr_top = range.lr_top;
  trial.policy.eps = range.eps;
  trial.policy.layerwise = layerwise;
  trial.mi.enabled = true;
}

}  // namespace automl::search
