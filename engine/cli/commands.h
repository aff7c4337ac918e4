#pragma once
// Each group of `automl` subcommands registers itself on the root app. The executable's main()
// calls every add_*_commands in turn; the commands are thin layers over the module libraries.
#include <CLI/CLI.hpp>

namespace automl::cli {

void add_run_commands(CLI::App& app);         // run
void add_lrrt_commands(CLI::App& app);        // lrrt
void add_query_commands(CLI::App& app);       // query
void add_mi_commands(CLI::App& app);          // mi, mi-curve
void add_report_commands(CLI::App& app);      // report
void add_serve_commands(CLI::App& app);       // serve
void add_throughput_commands(CLI::App& app);  // throughput (hidden, the engine's)

}  // namespace automl::cli
