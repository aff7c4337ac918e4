// trial_html(): one trial's epochs and its MI policy's state per parameter group.
#include <fmt/format.h>

#include <map>

#include "report/html_parts.h"
#include "report/report.h"
#include "report/svg.h"
#include "report/views.h"

namespace automl::report {
namespace {

std::string view_table(const View& view, const std::string& css_class) {
  std::vector<std::string> header;
  for (const auto& c : view.columns) header.push_back(c.name);
  return html_table(header, view_text_cells(view), css_class);
}

// Per group, one series of `value` over the epochs that have one (epoch 0 has no LR).
template <typename Value>
Chart group_chart(const std::string& title, const std::string& y_label,
                  const std::vector<storage::EpochRow>& epochs, int first_epoch, Value value) {
  Chart chart(title, "epoch", y_label);
  std::map<std::string, Series> by_group;
  std::vector<std::string> order;
  for (const auto& e : epochs) {
    if (e.epoch < first_epoch) continue;
    for (const auto& g : e.groups) {
      auto [it, added] = by_group.try_emplace(g.name);
      if (added) order.push_back(g.name);
      it->second.x.push_back(e.epoch);
      it->second.y.push_back(value(g));
    }
  }
  for (std::size_t i = 0; i < order.size(); ++i) {
    auto& series = by_group[order[i]];
    series.name = order[i];
    series.color = palette(i);
    series.markers = series.x.size() < 30;
    chart.add(series);
  }
  return chart;
}

// Accuracy (MAE for a regression) per epoch; the test series only if the trial evaluates it.
std::string score_chart(const Measures& m, const std::vector<storage::EpochRow>& epochs) {
  Chart chart(m.regression ? "MAE per epoch" : "Accuracy per epoch", "epoch",
              m.regression ? "MAE" : "accuracy (%)");
  Series train{"train", {}, {}, {}, palette(1)}, test{"test", {}, {}, {}, palette(0)};
  train.dashed = true;
  for (const auto& e : epochs) {
    if (e.epoch < 1) continue;
    train.x.push_back(e.epoch);
    train.y.push_back(m.regression ? e.train_mae : 100 * e.train_accuracy);
    test.x.push_back(e.epoch);
    test.y.push_back(m.regression ? e.test_mae : 100 * e.test_accuracy);
  }
  chart.add(train);
  if (m.test) chart.add(test);
  return chart.svg();
}

}  // namespace

std::string trial_html(storage::Storage& storage, const storage::TrialRow& t) {
  std::string out = fmt::format(
      "<h2>trial {} <span class=\"note\">{}</span></h2>\n<p class=\"note\">stage {}, method {}, "
      "seed {}, initial LR {:g}, status <b class=\"trial-status\">{}</b>, device {}, "
      "{:.1f} device-seconds{}</p>\n",
      t.id, escape_xml(t.label), name(t.stage), escape_xml(method_title(t.method)), t.seed, t.lr,
      name(t.status), escape_xml(t.device), t.device_seconds,
      t.reason.empty() ? "" : ": " + escape_xml(t.reason));
  const auto epochs = storage.epochs(t.id);
  if (epochs.empty()) return out + "<p>No epochs recorded yet.</p>\n";
  out += "<div class=\"figures\">\n" + score_chart(measures_of(t), epochs);
  out += group_chart("LR per epoch and group", "LR", epochs, 1, [](const auto& g) { return g.lr; })
             .log_y()
             .svg();
  out += group_chart("I(T;Y) per epoch and group", "ITY (nats)", epochs, 0, [](const auto& g) {
           return g.ity;
         }).svg();
  out += group_chart("d_p per epoch and group", "d_p", epochs, 1, [](const auto& g) {
           return g.d_p;
         }).svg();
  out += group_chart("d_s per epoch and group", "d_s", epochs, 1, [](const auto& g) {
           return g.d_s;
         }).svg();
  out += "</div>\n<h3>Epochs</h3>\n" + view_table(epochs_view(t, epochs), "epochs");
  out += "<h3>Parameter groups</h3>\n" + view_table(epoch_groups_view(epochs), "groups");
  return out;
}

}  // namespace automl::report
