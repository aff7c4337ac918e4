#pragma once
// JSON form of every decision of the searches, so the engine can store them with the
// experiment (and a reader can see why each range or LR was chosen).
#include <nlohmann/json.hpp>

#include "search/baselines.h"
#include "search/c1c2.h"
#include "search/lrrt.h"

namespace automl::search {

// What the engine stores; the parts they are made of (rows, rounds, candidates) are serialised
// with them in json.cpp.
void to_json(nlohmann::json& j, const LrrtTable& table);
void to_json(nlohmann::json& j, const LrrtDecision& decision);
void to_json(nlohmann::json& j, const LrRange& range);
void from_json(const nlohmann::json& j, LrRange& range);
void to_json(nlohmann::json& j, const C1C2Search& search);
void to_json(nlohmann::json& j, const BaselineChoice& choice);

}  // namespace automl::search
