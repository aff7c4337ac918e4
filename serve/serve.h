#pragma once
// `automl serve`: a live dashboard and a JSON API over a trial database, read-only.
//
// Routes (docs/dashboard.md): the pages `/`, `/experiment?name=N`, `/trial?id=T` (one HTML shell
// built into the binary; its script fetches the rest), the HTML fragments `/fragment/...` drawn
// by report/ (the same code as `automl report --html`), and `/api/...`: the views of
// `automl query` as typed JSON (report/views.h), plus progress and a change token the page
// polls so that it refetches only when the database changed. Only GET; every other method,
// path or oversized request is answered with a 4xx. No request text ever reaches SQL: names
// and ids select through the Storage interface.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/storage.h"

namespace automl::serve {

// The one place the dashboard opens its database (read-only, one connection per thread).
std::unique_ptr<storage::Storage> open_database(const std::string& location);

struct Request {
  std::string method = "GET";
  std::string target = "/";   // path and query string, as sent
  std::string authorization;  // the Authorization header ("Bearer <token>"), if any
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// The routes, free of any network code: what the server answers for one parsed request.
// Thread-safe: each request borrows a read-only connection from a pool (opened on demand, kept
// for the next request; SQLite connections are not shared between threads at once).
class Api {
 public:
  // `token` empty: no authentication (loopback only, checked by check_options).
  Api(std::string database, std::string token);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  Response handle(const Request& request);
  // Opens connections until the pool holds `count`, so that first requests do not wait for an
  // open (and its integrity check).
  void warm(int count);

 private:
  std::unique_ptr<storage::Storage> borrow();
  void give_back(std::unique_ptr<storage::Storage> connection);

  std::string database_, token_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<storage::Storage>> idle_;
};

struct Options {
  std::string database;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see Server::port)
  std::string token;          // required unless host is a loopback address
  int threads = 4;
};

// Throws InputError when the options are unsafe: a non-loopback host without a token.
void check_options(const Options& options);

// The HTTP server (Boost.Beast): binds in the constructor, serves in run() until stop().
class Server {
 public:
  explicit Server(const Options& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;  // the bound port
  void run();                  // blocks until stop()
  void stop();                 // from any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Limits of one request: larger ones get 413, slower ones are dropped.
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr std::size_t kMaxBodyBytes = 0;  // GET carries no body
constexpr int kRequestTimeoutSeconds = 10;

}  // namespace automl::serve
