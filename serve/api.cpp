// The routes of `automl serve` (serve/serve.h): pages, HTML fragments and the JSON API.
#include <fmt/format.h>

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/error.h"
#include "report/report.h"
#include "report/views.h"
#include "serve/dashboard.h"
#include "serve/progress.h"
#include "serve/serve.h"
#include "serve/url.h"

namespace automl::serve {
namespace {

// An answer other than 200, thrown by a route and turned into its response.
struct HttpError {
  int status;
  std::string message;
};

Response json_response(std::string body) {
  return {200, "application/json", std::move(body)};
}

Response error_response(int status, const std::string& message) {
  // A message may quote what the request sent, which need not be UTF-8.
  return {status, "application/json",
          nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace)};
}

// Constant-time comparison: how much of a guess matches does not show in the answer's timing.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

// The parameters of one route: each name the route accepts, nothing else.
class Params {
 public:
  Params(const Query& query, std::initializer_list<const char*> accepted) : query_(query) {
    for (const auto& [key, value] : query_) {
      (void)value;
      bool known = key == "token";
      for (const char* name : accepted) known = known || key == name;
      if (!known) throw HttpError{400, fmt::format("unknown parameter '{}'", key)};
    }
  }
  std::optional<std::string> text(const std::string& key) const {
    const auto it = query_.find(key);
    if (it == query_.end()) return std::nullopt;
    return it->second;
  }
  // A positive integer id; anything else is a 400, never passed on.
  std::optional<std::int64_t> id(const std::string& key) const {
    const auto value = text(key);
    if (!value) return std::nullopt;
    const auto parsed = parse_id(*value);
    if (!parsed) throw HttpError{400, fmt::format("'{}' must be a positive integer", key)};
    return parsed;
  }
  std::int64_t required_id(const std::string& key) const {
    const auto value = id(key);
    if (!value) throw HttpError{400, fmt::format("missing parameter '{}'", key)};
    return *value;
  }
  template <typename E>
  std::optional<E> choice(const std::string& key) const {
    const auto value = text(key);
    if (!value) return std::nullopt;
    const auto parsed = try_parse<E>(*value);
    if (!parsed) throw HttpError{400, fmt::format("'{}' is not a valid {}", *value, key)};
    return parsed;
  }

 private:
  const Query& query_;
};

storage::ExperimentRow experiment_of(storage::Storage& db, const Params& params) {
  if (const auto name = params.text("experiment")) {
    auto found = db.find_experiment(*name);
    if (!found) throw HttpError{404, "no such experiment"};
    return *found;
  }
  if (auto only = report::only_experiment(db)) return *only;
  throw HttpError{400, "the database holds several experiments: name one with ?experiment="};
}

storage::TrialRow trial_of(storage::Storage& db, const Params& params) {
  auto trial = db.trial(params.required_id("trial"));
  if (!trial) throw HttpError{404, "no such trial"};
  return *trial;
}

Response trials_route(storage::Storage& db, const Query& q) {
  const Params p(q, {"experiment", "stage", "status"});
  storage::TrialFilter filter;
  if (p.text("experiment")) filter.experiment_id = experiment_of(db, p).id;
  filter.stage = p.choice<Stage>("stage");
  filter.status = p.choice<TrialStatus>("status");
  return json_response(report::view_json(report::trials_view(db, filter)));
}

Response version_route(storage::Storage& db, const Query& q) {
  const Params p(q, {"experiment", "trial"});
  std::string version;
  if (p.text("trial"))
    version = trial_version(db, trial_of(db, p));
  else if (p.text("experiment"))
    version = experiment_version(db, experiment_of(db, p));
  else
    version = database_version(db);
  return json_response(nlohmann::json{{"version", version}}.dump());
}

Response html_fragment(std::string body) {
  return {200, "text/html; charset=utf-8", std::move(body)};
}

// The view of `automl query` that the route `/api/NAME` names, if any.
const report::ExperimentView* experiment_view(const std::string& path) {
  for (const auto& view : report::experiment_views())
    if (path == std::string("/api/") + view.name) return &view;
  return nullptr;
}

Response route(storage::Storage& db, const std::string& path, const Query& q) {
  if (path == "/" || path == "/experiment" || path == "/trial") {
    const Params accepted(q, {"name", "id"});
    (void)accepted;
    return {200, "text/html; charset=utf-8", dashboard_page()};
  }
  if (path == "/api/experiments") {
    const Params accepted(q, {});
    (void)accepted;
    return json_response(report::view_json(report::experiments_view(db)));
  }
  if (path == "/api/trials") return trials_route(db, q);
  if (path == "/api/epochs" || path == "/api/groups") {
    const Params p(q, {"trial"});
    const auto trial = trial_of(db, p);
    return json_response(report::view_json(path == "/api/epochs"
                                               ? report::epochs_view(db, trial.id)
                                               : report::epoch_groups_view(db, trial.id)));
  }
  if (const auto* view = experiment_view(path)) {
    const Params p(q, {"experiment"});
    return json_response(report::view_json(view->build(db, experiment_of(db, p).id)));
  }
  if (path == "/api/progress") {
    const Params p(q, {"experiment"});
    return json_response(progress_json(db, experiment_of(db, p)));
  }
  if (path == "/api/version") return version_route(db, q);
  if (path == "/fragment/experiment") {
    const Params p(q, {"experiment"});
    return html_fragment(report::experiment_html(report::summarize(db, experiment_of(db, p))));
  }
  if (path == "/fragment/trial") {
    const Params p(q, {"trial"});
    return html_fragment(report::trial_html(db, trial_of(db, p)));
  }
  throw HttpError{404, "no such route"};
}

}  // namespace

std::unique_ptr<storage::Storage> open_database(const std::string& location) {
  return storage::open_storage(location, storage::Access::read_only);
}

Api::Api(std::string database, std::string token)
    : database_(std::move(database)), token_(std::move(token)) {}

Api::~Api() = default;

std::unique_ptr<storage::Storage> Api::borrow() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return db;
    }
  }
  return open_database(database_);
}

void Api::give_back(std::unique_ptr<storage::Storage> connection) {
  const std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(connection));
}

void Api::warm(int count) {
  std::vector<std::unique_ptr<storage::Storage>> opened;
  for (int i = 0; i < count; ++i) opened.push_back(open_database(database_));
  for (auto& db : opened) give_back(std::move(db));
}

Response Api::handle(const Request& request) {
  try {
    if (request.method != "GET") return error_response(405, "only GET is served");
    const auto target = parse_target(request.target);
    if (!target) return error_response(400, "malformed request target");
    if (!token_.empty()) {
      const auto it = target->query.find("token");
      const std::string bearer = "Bearer " + token_;
      const bool ok = same_secret(request.authorization, bearer) ||
                      (it != target->query.end() && same_secret(it->second, token_));
      if (!ok) return error_response(401, "a valid token is required");
    }
    auto db = borrow();
    // A connection whose request failed on the database itself is dropped, not reused.
    try {
      auto response = route(*db, target->path, target->query);
      give_back(std::move(db));
      return response;
    } catch (const HttpError&) {
      give_back(std::move(db));
      throw;
    }
  } catch (const HttpError& e) {
    return error_response(e.status, e.message);
  } catch (const storage::StorageError& e) {
    return error_response(503, e.what());
  } catch (const std::exception& e) {
    return error_response(500, e.what());
  }
}

}  // namespace automl::serve
