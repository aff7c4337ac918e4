// The hidden `automl throughput`: one of the processes the engine starts to measure a placement
// (engine/placement.h); users never run it.
#include <memory>
#include <string>

#include "engine/cli/commands.h"
#include "engine/placement.h"

namespace automl::cli {

void add_throughput_commands(CLI::App& app) {
  struct Args {
    std::string config;
  };
  auto args = std::make_shared<Args>();
  auto* command = app.add_subcommand("throughput", "Measure a trial's training images/s");
  command->group("");  // hidden: the engine's
  command->add_option("--config", args->config, "Trial configuration (JSON)")->required();
  command->callback([args] { std::exit(engine::measure_throughput(args->config)); });
}

}  // namespace automl::cli
