#include "search/json.h"

#include <cmath>

namespace automl::search {
namespace {

// Non-finite numbers (a crashed score, an undefined min d_s) become null: JSON has no inf/NaN.
nlohmann::json number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json numbers(const std::vector<double>& values) {
  auto out = nlohmann::json::array();
  for (double v : values) out.push_back(number(v));
  return out;
}

// What a table D row and an LR's mean over its rows both measure (LrrtRow, LrAggregate). JSON
// objects keep their keys sorted, so adding the other fields afterwards changes no output.
template <typename Measured>
nlohmann::json measurements(const Measured& m) {
  return {{"min_d_s", number(m.min_d_s)},
          {"initial_loss", number(m.initial_loss)},
          {"final_loss", number(m.final_loss)},
          {"initial_ity", number(m.initial_ity)},
          {"final_ity", number(m.final_ity)},
          {"initial_accuracy", number(m.initial_accuracy)},
          {"final_accuracy", number(m.final_accuracy)},
          {"initial_mae", number(m.initial_mae)},
          {"final_mae", number(m.final_mae)}};
}

}  // namespace

void to_json(nlohmann::json& j, const LayerRow& r) {
  j = {{"name", r.name},
       {"initial_ity", number(r.initial_ity)},
       {"final_ity", number(r.final_ity)},
       {"min_d_s", number(r.min_d_s)}};
}

void to_json(nlohmann::json& j, const LrrtRow& r) {
  j = measurements(r);
  j["trial"] = r.trial;
  j["lr"] = r.lr;
  j["layers"] = r.layers;
}

void to_json(nlohmann::json& j, const LrrtDropped& d) {
  j = {{"trial", d.trial}, {"lr", d.lr}, {"reason", d.reason}};
}

void to_json(nlohmann::json& j, const LrAggregate& a) {
  auto layers = nlohmann::json::array();
  for (const auto& [name, layer] : a.layers) layers.push_back(layer);
  j = measurements(a);
  j["lr"] = a.lr;
  j["completed"] = a.completed;
  j["crashed"] = a.crashed();
  j["layers"] = layers;
}

void to_json(nlohmann::json& j, const LrrtTable& t) {
  j = {{"lrs", t.lrs},         {"trials", t.trials}, {"epochs", t.epochs},    {"rows", t.rows},
       {"dropped", t.dropped}, {"per_lr", t.per_lr}, {"warnings", t.warnings}};
}

void to_json(nlohmann::json& j, const LrRange& r) {
  j = {{"lr_min", r.lr_min}, {"lr_max", r.lr_max}, {"lr_top", r.lr_top}, {"eps", r.eps}};
}

void from_json(const nlohmann::json& j, LrRange& r) {
  j.at("lr_min").get_to(r.lr_min);
  j.at("lr_max").get_to(r.lr_max);
  j.at("lr_top").get_to(r.lr_top);
  j.at("eps").get_to(r.eps);
}

void to_json(nlohmann::json& j, const AttributeBounds& b) {
  j = {{"attribute", b.attribute}, {"maxval", number(b.maxval)}, {"thresh", number(b.thresh)},
       {"d1n", numbers(b.d1n)},    {"dnn", numbers(b.dnn)},      {"lr_min", b.lr_min},
       {"lr_max", b.lr_max},       {"lr_top", b.lr_top},         {"warnings", b.warnings}};
}

void to_json(nlohmann::json& j, const LayerRange& l) {
  j = {{"layer", l.layer}, {"bounds", l.bounds}, {"range", l.range}};
}

void to_json(nlohmann::json& j, const LrrtDecision& d) {
  j = {{"mode", d.mode},
       {"c1", d.c1},
       {"c2", d.c2},
       {"attributes", d.attributes},
       {"chosen_attribute", d.chosen_attribute},
       {"range", d.range},
       {"median_min_d_s", number(d.median_min_d_s)},
       {"layers", d.layers},
       {"warnings", d.warnings}};
}

void to_json(nlohmann::json& j, const RangeCandidate& c) {
  auto grid = nlohmann::json::array();
  for (const auto& [c1, c2] : c.c1c2) grid.push_back({{"c1", c1}, {"c2", c2}});
  j = {{"id", c.id},
       {"c1c2", grid},
       {"range", c.range},
       {"attribute", c.attribute},
       {"scores", numbers(c.scores)},
       {"score", number(c.score())},
       {"rounds_survived", c.rounds_survived}};
}

void to_json(nlohmann::json& j, const C1C2Round& r) {
  j = {{"round", r.round},
       {"epochs", r.epochs},
       {"candidates", r.candidates},
       {"kept", r.kept},
       {"scored", r.scored}};
}

void to_json(nlohmann::json& j, const C1C2Search& s) {
  j = {{"candidates", s.candidates},
       {"rounds", s.rounds},
       {"best", s.best},
       {"finished", s.finished},
       {"planned_epochs", s.planned_epochs},
       {"warnings", s.warnings}};
}

void to_json(nlohmann::json& j, const BaselineCandidate& c) {
  j = {{"lr", c.lr}, {"status", c.status}, {"score", number(c.score)}};
}

void to_json(nlohmann::json& j, const BaselineChoice& c) {
  j = {{"optimizer", name(c.optimizer)},
       {"found", c.found},
       {"lr", c.lr},
       {"score", number(c.score)},
       {"candidates", c.candidates}};
}

}  // namespace automl::search
