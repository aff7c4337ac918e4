// `automl serve`: the live dashboard and JSON API over a trial database (serve/serve.h).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "engine/cli/commands.h"
#include "serve/serve.h"

namespace automl::cli {

void add_serve_commands(CLI::App& app) {
  auto options = std::make_shared<serve::Options>();
  auto* command = app.add_subcommand(
      "serve", "Serve a live dashboard and a JSON API over a trial database (read-only)");
  command->add_option("--db", options->database, "Database to read (opened read-only)")->required();
  command
      ->add_option("--host", options->host,
                   "Address to bind; any but a loopback address needs --token")
      ->capture_default_str();
  command->add_option("--port", options->port, "Port (0: any free one)")->capture_default_str();
  command->add_option("--token", options->token,
                      "Secret every request must carry (Authorization: Bearer, or ?token=)");
  command->add_option("--threads", options->threads, "Threads answering requests")
      ->capture_default_str();
  command->callback([options] {
    serve::Server server(*options);
    std::cout << fmt::format("automl serve: http://{}:{}/{} (Ctrl-C stops)\n", options->host,
                             server.port(), options->token.empty() ? "" : "?token=...")
              << std::flush;
    server.run();
  });
}

}  // namespace automl::cli
