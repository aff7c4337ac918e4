// The HTTP server of `automl serve` on Boost.Beast: one asynchronous session per connection on
// a small pool of io_context threads; each request is parsed with size limits and a deadline,
// then answered by Api (serve/api.cpp), which holds no network code.
#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"
#include "serve/serve.h"

namespace automl::serve {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// The address to bind: an IP literal, or "localhost".
net::ip::address address_of(const std::string& host) {
  if (host == "localhost") return net::ip::address_v4::loopback();
  boost::system::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) throw InputError("--host", fmt::format("'{}' is not an IP address", host));
  return address;
}

http::response<http::string_body> to_http(const Response& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "automl");
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  if (r.status == 405) res.set(http::field::allow, "GET");
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Api& api) : stream_(std::move(socket)), api_(api) {}

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::read, shared_from_this()));
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(std::chrono::seconds(kRequestTimeoutSeconds));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof)
      return close();
    if (ec == http::error::header_limit || ec == http::error::body_limit ||
        ec == http::error::buffer_overflow)
      return reply({413, "application/json", R"({"error":"request too large"})"}, 11, false);
    if (ec) return reply({400, "application/json", R"({"error":"malformed request"})"}, 11, false);
    const auto& req = parser_->get();
    Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.authorization = std::string(req[http::field::authorization]);
    Response response;
    try {
      response = api_.handle(request);
    } catch (const std::exception&) {  // handle() answers errors itself; this is the backstop
      response = {500, "application/json", R"({"error":"internal error"})"};
    }
    reply(response, req.version(), req.keep_alive());
  }

  void reply(const Response& response, unsigned version, bool keep_alive) {
    response_ = to_http(response, version, keep_alive);
    stream_.expires_after(std::chrono::seconds(kRequestTimeoutSeconds));
    http::async_write(
        stream_, response_,
        beast::bind_front_handler(&Session::on_write, shared_from_this(), keep_alive));
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
    if (ec || !keep_alive) return close();
    read();
  }

  // Ends the answer, then reads (and drops) what the client still sends until it closes: closing
  // a socket with unread input would reset the connection and could lose the answer (an
  // oversized request is answered before it is read to its end).
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    drain();
  }

  void drain() {
    stream_.expires_after(std::chrono::seconds(2));
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec) self->drain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::array<char, 4096> discard_{};
  Api& api_;
};

}  // namespace

void check_options(const Options& options) {
  if (!address_of(options.host).is_loopback() && options.token.empty())
    throw InputError("--host", fmt::format("binding {} (not a loopback address) needs --token: "
                                           "every request must then carry it",
                                           options.host));
  if (options.threads < 1) throw InputError("--threads", "must be at least 1");
}

struct Server::Impl {
  explicit Impl(const Options& o)
      : options(o),
        context(o.threads),
        acceptor(net::make_strand(context)),
        api(o.database, o.token) {
    const tcp::endpoint endpoint(address_of(o.host), o.port);
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      throw InputError(fmt::format("{}:{}", o.host, o.port),
                       fmt::format("cannot listen: {}", ec.message()));
  }

  void accept() {
    acceptor.async_accept(net::make_strand(context), [this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(s), api)->start();
      accept();
    });
  }

  Options options;
  net::io_context context;
  tcp::acceptor acceptor;
  Api api;
};

Server::Server(const Options& options) {
  check_options(options);
  impl_ = std::make_unique<Impl>(options);
  // The database opens now: a bad path is an error at start, and no request waits for an open.
  impl_->api.warm(options.threads);
}

Server::~Server() = default;

std::uint16_t Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void Server::run() {
  impl_->accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->options.threads; ++i)
    threads.emplace_back([this] { impl_->context.run(); });
  impl_->context.run();
  for (auto& t : threads) t.join();
}

void Server::stop() {
  impl_->context.stop();
}

}  // namespace automl::serve
