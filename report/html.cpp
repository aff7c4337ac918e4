// html_report(): one self-contained page, tables plus inline SVG plots (report/svg.h).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>

#include "common/error.h"
#include "common/text.h"
#include "report/html_parts.h"
#include "report/report.h"
#include "report/svg.h"
#include "report/table_text.h"

namespace automl::report {
namespace {

const char* const kStyle = R"css(
.warning { color: #a33; }
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1800px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 36px; border-bottom: 1px solid #ccc; }
h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; }
.note { color: #555; font-size: 13px; }
)css";

std::vector<double> as_double(const std::vector<int>& values) {
  return {values.begin(), values.end()};
}

std::vector<double> percent(const std::vector<double>& values, bool regression) {
  if (regression) return values;
  std::vector<double> out;
  for (double v : values) out.push_back(100 * v);
  return out;
}

std::string score_axis(const ExperimentSummary& s) {
  return s.regression ? "test MAE" : "test accuracy (%)";
}

const Run* best_run(const ExperimentSummary& s, const MethodSummary& m) {
  for (const auto& r : s.runs)
    if (r.method == m.method && r.seed == m.best_seed && r.status == TrialStatus::done) return &r;
  return nullptr;
}

// Test score per epoch of every method's best run: the comparison at a glance.
std::string comparison_chart(const ExperimentSummary& s) {
  Chart chart("Test score per epoch, best run of each method", "epoch", score_axis(s));
  for (std::size_t i = 0; i < s.methods.size(); ++i)
    if (const Run* run = best_run(s, s.methods[i]))
      chart.add({method_title(run->method),
                 as_double(run->epochs),
                 percent(run->test, s.regression),
                 {},
                 palette(i)});
  return chart.svg();
}

// The paper's Figures 3-10 for one method: accuracy (every seed, best run bold) and LR per epoch
// (one curve per layer in layer-wise runs).
std::string method_figures(const ExperimentSummary& s, const MethodSummary& m) {
  const std::string title = method_title(m.method);
  Chart accuracy(title + ": accuracy per epoch", "epoch", s.regression ? "MAE" : "accuracy (%)");
  Chart lr(title + ": learning rate per epoch", "epoch", "LR");
  lr.log_y();
  const Run* best = best_run(s, m);
  for (const auto& run : s.runs) {
    if (run.method != m.method || run.epochs.empty()) continue;
    const bool is_best = &run == best;
    const auto x = as_double(run.epochs);
    Series test{fmt::format("test, seed {}", run.seed),
                x,
                percent(run.test, s.regression),
                {},
                is_best ? palette(0) : "#9ecae1"};
    test.width = is_best ? 2.4 : 1.0;
    accuracy.add(test);
    if (is_best) {
      Series train{fmt::format("train, seed {}", run.seed),
                   x,
                   percent(run.train, s.regression),
                   {},
                   palette(1)};
      train.dashed = true;
      accuracy.add(train);
    }
    if (!is_best) continue;
    if (run.group_lr.empty()) {
      lr.add({fmt::format("LR, seed {}", run.seed), x, run.lr, {}, palette(3)});
    } else {
      std::size_t color = 2;
      for (const auto& [layer, values] : run.group_lr)
        lr.add({layer, x, values, {}, palette(color++)});
    }
  }
  return accuracy.svg() + lr.svg();
}

// Final value of the LRRT attribute against the candidate LR, the chosen range shaded.
std::string lrrt_chart(const ExperimentSummary& s) {
  const std::string attribute =
      s.lrrt_bounds.empty() ? s.lrrt_attribute : s.lrrt_bounds.front().attribute;
  const bool use_ity = attribute == "ity";
  Chart chart("LRRT: final " + std::string(use_ity ? "I(T;Y) (nats)" : "train accuracy") +
                  " per LR" + (s.lrrt_undecided ? " (undecided)" : ""),
              "learning rate", use_ity ? "final ITY (nats)" : "final train accuracy (%)");
  chart.log_x();
  std::map<int, Series> per_trial;
  Series crashed{"crashed", {}, {}, {}, "#d62728"};
  crashed.line = false;
  crashed.markers = true;
  std::map<double, std::pair<double, int>> mean;  // LR -> (sum, count)
  for (const auto& row : s.lrrt_table) {
    const double value = use_ity ? row.final_ity : 100 * row.final_accuracy;
    if (row.crashed) {
      crashed.x.push_back(row.lr);
      crashed.y.push_back(0);
      continue;
    }
    auto& series = per_trial[row.trial];
    series.name = fmt::format("trial {}", row.trial);
    series.color = palette(static_cast<std::size_t>(row.trial) + 4);
    series.line = false;
    series.markers = true;
    series.x.push_back(row.lr);
    series.y.push_back(value);
    mean[row.lr].first += value;
    mean[row.lr].second += 1;
  }
  Series mean_series{"mean over trials", {}, {}, {}, "#222"};
  for (const auto& [lr, sum_count] : mean) {
    mean_series.x.push_back(lr);
    mean_series.y.push_back(sum_count.first / sum_count.second);
  }
  chart.add(mean_series);
  for (auto& [trial, series] : per_trial) chart.add(series);
  if (!crashed.x.empty()) chart.add(crashed);
  for (const auto& b : s.lrrt_bounds) {
    if (b.scope != "model") continue;
    chart.band({b.lr_min, b.lr_max, fmt::format("[{:g}, {:g}]", b.lr_min, b.lr_max)});
    chart.mark({b.lr_top, fmt::format("LR_top {:g}", b.lr_top), "#2ca02c"});
    break;
  }
  return chart.svg();
}

// Test score against the device-seconds spent so far: the method's tuning, then its best run's
// epochs one by one.
std::string cost_chart(const ExperimentSummary& s) {
  Chart chart("Test score vs total device-seconds (tuning + training)", "device-seconds",
              score_axis(s));
  for (std::size_t i = 0; i < s.methods.size(); ++i) {
    const Run* run = best_run(s, s.methods[i]);
    if (!run) continue;
    Series series{method_title(run->method), {}, percent(run->test, s.regression), {}, palette(i)};
    double spent = s.methods[i].tuning_seconds;
    for (double seconds : run->seconds) series.x.push_back(spent += seconds);
    series.markers = true;
    chart.add(series);
  }
  return chart.svg();
}

// I(T;Y) per epoch of every MI-measuring method's best run: what MI-SGD's decay reads.
std::string ity_chart(const ExperimentSummary& s) {
  Chart chart("I(T;Y) per epoch, best run of each method", "epoch", "ITY (nats)");
  for (std::size_t i = 0; i < s.methods.size(); ++i) {
    const Run* run = best_run(s, s.methods[i]);
    if (!run || std::none_of(run->ity.begin(), run->ity.end(), [](double v) { return v != 0; }))
      continue;
    chart.add({method_title(run->method), as_double(run->epochs), run->ity, {}, palette(i)});
  }
  return chart.empty() ? "" : chart.svg();
}

// The C1/C2 successive-halving rounds: each candidate's validation score per round, those
// kept for the next round apart from those dropped (a crashed candidate scores -1: left out).
std::string c1c2_chart(const ExperimentSummary& s) {
  Chart chart("C1/C2 search: validation score per round", "round", "validation accuracy (%)");
  Series kept{"kept", {}, {}, {}, "#2ca02c"}, dropped{"dropped", {}, {}, {}, "#999"};
  for (auto* series : {&kept, &dropped}) {
    series->line = false;
    series->markers = true;
  }
  for (const auto& c : s.c1c2) {
    if (c.score < 0) continue;
    auto& series = c.kept ? kept : dropped;
    series.x.push_back(c.round);
    series.y.push_back(100 * c.score);
  }
  for (auto* series : {&kept, &dropped})
    if (!series->x.empty()) chart.add(*series);
  return chart.empty() ? "" : chart.svg();
}

std::string experiment_section(const ExperimentSummary& s) {
  std::string out =
      fmt::format("<h2>{} <span class=\"note\">({})</span></h2>\n", escape_xml(s.experiment.name),
                  std::string(name(s.experiment.status)));
  if (!s.description.empty()) out += "<p>" + escape_xml(s.description) + "</p>\n";
  out += "<p class=\"note\">" + escape_xml(measure_note(s)) + ".</p>\n";
  if (!s.warning.empty()) out += "<p class=\"warning\">" + escape_xml(s.warning) + "</p>\n";
  if (s.methods.empty())
    out += "<p>No final runs recorded yet.</p>\n";
  else
    out += html_table(table_header(s), table_rows(s), "comparison");
  out += "<p class=\"note\">" + escape_xml(stage_line(s));
  for (const auto& line : bounds_lines(s)) out += "<br>" + escape_xml(line);
  out += "</p>\n<div class=\"figures\">\n";
  if (!s.methods.empty()) out += comparison_chart(s) + cost_chart(s);
  if (!s.lrrt_table.empty()) out += lrrt_chart(s);
  if (!s.methods.empty()) out += ity_chart(s);
  if (!s.c1c2.empty()) out += c1c2_chart(s);
  out += "</div>\n";
  for (const auto& m : s.methods)
    out += "<h3>" + escape_xml(method_title(m.method)) + "</h3>\n<div class=\"figures\">\n" +
           method_figures(s, m) + "</div>\n";
  return out;
}

struct CurvePoint {
  double n = 0, mean = 0, sd = 0;
};

// The CSV `automl mi-curve` prints: "n,mean_nats,sd_nats,repeats", '#' lines are comments.
std::vector<CurvePoint> read_mi_curve(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot read the MI curve file");
  std::vector<CurvePoint> points;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line.rfind("n,", 0) == 0) continue;
    const auto cells = split(line, ',');
    try {
      if (cells.size() < 3) throw std::invalid_argument("");
      points.push_back({std::stod(cells[0]), std::stod(cells[1]), std::stod(cells[2])});
    } catch (const std::exception&) {
      throw InputError(location(path, number), "expected 'n,mean_nats,sd_nats[,repeats]'");
    }
  }
  return points;
}

std::string mi_curve_section(const ReportOptions& options) {
  std::string out = "<h2>MI vs sample size (Figure 1)</h2>\n";
  if (options.mi_curve_files.empty())
    return out +
           "<p class=\"note\">No MI curve given: run <code>automl mi-curve ... &gt; "
           "curve.csv</code> "
           "and pass <code>--mi-curve curve.csv</code> to <code>automl report</code>.</p>\n";
  Chart chart("KSG estimate of I(X;Y) against the subset size (mean +- sd)", "samples n",
              "I(X;Y) (nats)");
  chart.log_x();
  for (const auto& file : options.mi_curve_files) {
    Series series{file, {}, {}, {}, ""};
    series.markers = true;
    for (const auto& p : read_mi_curve(file)) {
      series.x.push_back(p.n);
      series.y.push_back(p.mean);
      series.error.push_back(p.sd);
    }
    chart.add(series);
  }
  return out + "<div class=\"figures\">\n" + chart.svg(760, 380) + "</div>\n";
}

}  // namespace

std::string html_table(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows,
                       const std::string& css_class) {
  std::string out =
      css_class.empty() ? "<table>\n<tr>" : "<table class=\"" + css_class + "\">\n<tr>";
  for (const auto& h : header) out += "<th>" + escape_xml(h) + "</th>";
  out += "</tr>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const auto& cell : row) out += "<td>" + escape_xml(cell) + "</td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string html_style() {
  return kStyle;
}

std::string experiment_html(const ExperimentSummary& summary) {
  return experiment_section(summary);
}

std::string lrrt_svg(const ExperimentSummary& summary) {
  return lrrt_chart(summary);
}

std::string lr_sweep_svg(const std::vector<double>& lrs, const std::vector<double>& losses,
                         const std::vector<double>& smoothed, std::optional<double> suggestion) {
  Chart chart("LR sweep (Smith): training loss per batch", "learning rate", "training loss");
  chart.log_x();
  // Past divergence the losses dwarf the descent the suggestion is read from: plot finite
  // values up to 4x the first smoothed loss.
  const double cap = smoothed.empty() ? 0 : 4 * smoothed.front();
  Series batch{"batch loss", {}, {}, {}, "#9ecae1"};
  Series smooth{"smoothed loss", {}, {}, {}, palette(0)};
  for (std::size_t i = 0; i < lrs.size(); ++i) {
    if (std::isfinite(losses[i]) && losses[i] <= cap) {
      batch.x.push_back(lrs[i]);
      batch.y.push_back(losses[i]);
    }
    if (std::isfinite(smoothed[i]) && smoothed[i] <= cap) {
      smooth.x.push_back(lrs[i]);
      smooth.y.push_back(smoothed[i]);
    }
  }
  chart.add(batch);
  chart.add(smooth);
  if (suggestion)
    chart.mark({*suggestion, fmt::format("suggestion {:.3g}", *suggestion), "#2ca02c"});
  return chart.svg();
}

std::string html_report(const std::vector<ExperimentSummary>& summaries,
                        const ReportOptions& options) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>automl "
      "report</title>\n<style>{}</style>\n</head>\n<body>\n<h1>automl report</h1>\n"
      "<p class=\"note\">MI-SGD (Algorithm 1, LR range from Algorithm 2) against tuned Adam, "
      "RMSprop, LARS and step-decay SGD. Every number comes from the trial database.</p>\n",
      kStyle);
  for (const auto& s : summaries) out += experiment_section(s);
  out += mi_curve_section(options);
  return out + "</body>\n</html>\n";
}

}  // namespace automl::report
