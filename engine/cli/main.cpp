// automl: the command-line front end. Each subcommand lives in its own file and registers
// itself through engine/cli/commands.h; errors meant for the user end the process with a
// message and exit code 1 (2 for command-line usage errors).
#include <fmt/format.h>

#include <iostream>

#include "common/error.h"
#include "engine/cli/commands.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{
      "automl: an AutoML engine that trains deep networks with a learning rate set by mutual "
      "information (MI-SGD), tunes it with an LR range test, and compares it with Adam, "
      "RMSprop, LARS and step-decay SGD."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  automl::cli::add_run_commands(app);
  automl::cli::add_lrrt_commands(app);
  automl::cli::add_query_commands(app);
  automl::cli::add_report_commands(app);
  automl::cli::add_serve_commands(app);
  automl::cli::add_mi_commands(app);
  automl::cli::add_throughput_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 numbers its errors (105 for a failed check, ...); every usage error exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // InputError and every other failure meant for the user
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
