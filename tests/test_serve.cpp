// `automl serve` (serve/serve.h): the JSON API answers what `automl query` answers, with the
// same types; the progress and change token follow the database; every request outside the
// routes, methods and limits gets its 4xx, through the router and through a real socket.
#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.h"
#include "loopback_http.h"
#include "report/views.h"
#include "serve/serve.h"
#include "test_query_fixture.h"
#include "test_support.h"

using automl::serve::Api;
using automl::serve::Request;
using nlohmann::json;

namespace {

automl::serve::Response get(Api& api, const std::string& target, const std::string& auth = "") {
  Request r;
  r.target = target;
  r.authorization = auth;
  return api.handle(r);
}

json get_json(Api& api, const std::string& target) {
  const auto response = get(api, target);
  INFO(target << ": " << response.body);
  REQUIRE(response.status == 200);
  REQUIRE(response.content_type == "application/json");
  return json::parse(response.body);
}

// The status code of the server's answer to the raw request `bytes` (0: none).
int http_status(std::uint16_t port, const std::string& bytes) {
  return automl::test::http_status(automl::test::http_exchange(port, bytes));
}

}  // namespace

TEST_CASE("serve: the API answers the query views, typed", "[serve]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  Api api(f.path, "");
  auto db = automl::serve::open_database(f.path);

  CHECK(get_json(api, "/api/experiments") ==
        json::parse(automl::report::view_json(automl::report::experiments_view(*db))));
  const auto epochs = get_json(api, "/api/epochs?trial=" + std::to_string(f.mi_trial));
  CHECK(epochs ==
        json::parse(automl::report::view_json(automl::report::epochs_view(*db, f.mi_trial))));
  CHECK(epochs[0]["train_acc"].is_null());
  CHECK(epochs[2]["test_acc"].is_number_float());
  CHECK(get_json(api, "/api/groups?trial=" + std::to_string(f.mi_trial)).size() == 3);

  const auto c1c2 = get_json(api, "/api/c1c2?experiment=views");
  CHECK(c1c2[0]["kept"].is_boolean());
  CHECK(c1c2[1]["score"].is_null());
  CHECK(get_json(api, "/api/table-d")[1]["crashed"] == true);  // the only experiment
  CHECK(get_json(api, "/api/results?experiment=views")[0]["trial"] == f.mi_trial);
  CHECK(get_json(api, "/api/best?experiment=views")[0]["method"] == "mi_sgd");
  CHECK(get_json(api, "/api/lrrt?experiment=views")[0]["lr_top"].is_number_float());
  CHECK(get_json(api, "/api/stages?experiment=views").size() >= 2);
  CHECK(get_json(api, "/api/trials?experiment=views&stage=baseline").size() == 2);
  CHECK(get_json(api, "/api/trials?status=running").size() == 1);
  // Names are percent-decoded before they are looked up (never reaching SQL as text).
  CHECK(get_json(api, "/api/trials?experiment=vi%65ws").size() == 4);
}

TEST_CASE("serve: progress and the change token follow the database", "[serve]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  Api api(f.path, "");
  const auto progress = get_json(api, "/api/progress?experiment=views");
  CHECK(progress["status"] == "running");
  CHECK(progress["trials"] == 4);
  CHECK(progress["budget_device_seconds"].get<double>() == 600);
  {
    SQLite::Database raw(f.path, SQLite::OPEN_READONLY);
    CHECK(progress["device_seconds"].get<double>() ==
          Approx(raw.execAndGet("SELECT SUM(device_seconds) FROM trials").getDouble()));
    CHECK(progress["epochs_run"] ==
          raw.execAndGet("SELECT COUNT(*) FROM epochs WHERE epoch > 0").getInt64());
  }
  REQUIRE(progress["running"].size() == 1);
  const auto& running = progress["running"][0];
  CHECK(running["trial"] == f.adam_trial);
  CHECK(running["epoch"] == 2);
  CHECK(running["epochs"] == 4);
  CHECK(running["eta_seconds"].get<double>() > 0);
  bool baseline_seen = false;
  for (const auto& s : progress["stages"])
    if (s["stage"] == "baseline") {
      baseline_seen = true;
      CHECK(s["trials"] == 2);
      CHECK(s["finished"] == 1);
      CHECK(s["progress"].get<double>() == 0.5);
    }
  CHECK(baseline_seen);

  const auto before = get_json(api, "/api/version?experiment=views")["version"];
  const auto database_before = get_json(api, "/api/version")["version"];
  const auto trial_before =
      get_json(api, "/api/version?trial=" + std::to_string(f.adam_trial))["version"];
  CHECK(get_json(api, "/api/version?experiment=views")["version"] == before);  // nothing changed
  automl::storage::open_sqlite(f.path)->add_epoch(automl::test::epoch_row(f.adam_trial, 3, 0.25));
  CHECK(get_json(api, "/api/version?experiment=views")["version"] != before);
  CHECK(get_json(api, "/api/version?trial=" + std::to_string(f.adam_trial))["version"] !=
        trial_before);
  CHECK(get_json(api, "/api/progress?experiment=views")["running"][0]["epoch"] == 3);
  CHECK(get_json(api, "/api/version")["version"] != database_before);
}

TEST_CASE("serve: pages and fragments are the report's HTML", "[serve]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  Api api(f.path, "");
  const auto page = get(api, "/experiment?name=views");
  CHECK(page.status == 200);
  CHECK(page.content_type.rfind("text/html", 0) == 0);
  CHECK(page.body.find("/api/version") != std::string::npos);
  CHECK(page.body.find("http://") == std::string::npos);  // nothing fetched from elsewhere
  const auto experiment = get(api, "/fragment/experiment?experiment=views");
  CHECK(experiment.status == 200);
  CHECK(experiment.body.find("<table class=\"comparison\">") != std::string::npos);
  CHECK(experiment.body.find("<svg") != std::string::npos);
  const auto trial = get(api, "/fragment/trial?trial=" + std::to_string(f.mi_trial));
  CHECK(trial.status == 200);
  CHECK(trial.body.find("LR per epoch and group") != std::string::npos);
  CHECK(trial.body.find("<table class=\"groups\">") != std::string::npos);
}

TEST_CASE("serve: requests outside the routes get their 4xx", "[serve]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  Api api(f.path, "");
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "FOO"}) {
    Request r;
    r.method = method;
    r.target = "/api/experiments";
    CHECK(api.handle(r).status == 405);
  }
  for (const char* target :
       {"/nope", "/api", "/api/experiments/", "/api/sql", "/api/trials?experiment=missing",
        "/api/epochs?trial=999", "/fragment/trial?trial=424242", "/../etc/passwd"})
    CHECK(get(api, target).status == 404);
  for (const char* target :
       {"/api/epochs", "/api/epochs?trial=abc", "/api/epochs?trial=-1", "/api/epochs?trial=1e3",
        "/api/epochs?trial=0", "/api/epochs?trial=99999999999999999999", "/api/trials?stage=warmup",
        "/api/trials?status=finished", "/api/experiments?x=1", "/api/trials?experiment=%zz",
        "/api/trials?experiment=a&experiment=b", "/api/trials?experiment=views%00",
        "api/experiments", "/api/trials?experiment=views'%20OR%20'1'='1"})
    CHECK(get(api, target).status / 100 == 4);
  CHECK(get(api, "/api/trials?experiment=views'%20OR%20'1'='1").status == 404);
  CHECK(get(api, "/api/epochs?trial=abc").status == 400);
  // Bytes that are not UTF-8 are quoted in the error without breaking its JSON.
  const auto not_utf8 = get(api, "/api/trials?experiment=%ff");
  CHECK(not_utf8.status == 404);
  CHECK(get(api, "/api/trials?stage=%ff").status == 400);
  CHECK_NOTHROW(json::parse(get(api, "/api/trials?stage=%ff").body));
}

TEST_CASE("serve: a token, when set, must come with every request", "[serve]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  Api api(f.path, "s3cret");
  CHECK(get(api, "/api/experiments").status == 401);
  CHECK(get(api, "/").status == 401);
  CHECK(get(api, "/api/experiments", "Bearer wrong").status == 401);
  CHECK(get(api, "/api/experiments?token=s3cre").status == 401);
  CHECK(get(api, "/api/experiments", "Bearer s3cret").status == 200);
  CHECK(get(api, "/api/experiments?token=s3cret").status == 200);

  automl::serve::Options options;
  options.database = f.path;
  options.host = "0.0.0.0";
  CHECK_THROWS_AS(automl::serve::check_options(options), automl::InputError);
  options.token = "s3cret";
  CHECK_NOTHROW(automl::serve::check_options(options));
  options.host = "127.0.0.1";
  options.token = "";
  CHECK_NOTHROW(automl::serve::check_options(options));
  options.host = "::1";
  CHECK_NOTHROW(automl::serve::check_options(options));
}

TEST_CASE("serve: the HTTP server limits requests and answers over a socket", "[serve]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  automl::serve::Options options;
  options.database = f.path;
  options.port = 0;
  options.threads = 2;
  automl::serve::Server server(options);
  std::thread thread([&] { server.run(); });
  const auto port = server.port();
  const std::string close = "Connection: close\r\n\r\n";

  CHECK(http_status(port, "GET /api/experiments HTTP/1.1\r\nHost: x\r\n" + close) == 200);
  CHECK(http_status(port, "GET /missing HTTP/1.1\r\nHost: x\r\n" + close) == 404);
  CHECK(http_status(port, "POST /api/experiments HTTP/1.1\r\nHost: x\r\n" + close) == 405);
  CHECK(http_status(port, "BREW /api/experiments HTTP/1.1\r\nHost: x\r\n" + close) == 405);
  CHECK(http_status(port, "POST /api/experiments HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n" +
                              close + "hello") == 413);
  CHECK(http_status(port, "GET /api/experiments HTTP/1.1\r\nHost: x\r\nX-Big: " +
                              std::string(20000, 'a') + "\r\n" + close) == 413);
  CHECK(http_status(port, "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\n" + close) == 413);
  CHECK(http_status(port, "GARBAGE\r\n\r\n") == 400);
  server.stop();
  thread.join();
}
