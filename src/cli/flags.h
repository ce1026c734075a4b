// Binds command-line options to configuration keys, so that every option that sets a
// configuration value goes through load_config() with its flag name as the source.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/config.h"

namespace ollamaflow::cli {

class ConfigFlags {
 public:
  // Adds an option `name` (e.g. "--max-agents") to `command` that sets configuration `key`.
  template <typename T>
  void add(CLI::App* command, const std::string& name, const std::string& key,
           const std::string& help) {
    auto value = std::make_shared<T>();
    CLI::Option* option = command->add_option(name, *value, help);
    bindings_.push_back({option, name, key, [value] { return nlohmann::json(*value); }});
  }

  // Adds a switch `name` that sets boolean `key` to true.
  void add_switch(CLI::App* command, const std::string& name, const std::string& key,
                  const std::string& help);

  // Returns the values given on the command line, in the order the options were declared.
  std::vector<FlagValue> values() const;

 private:
  struct Binding {
    CLI::Option* option;
    std::string name;
    std::string key;
    std::function<nlohmann::json()> read;
  };
  std::vector<Binding> bindings_;
};

// Options that every subcommand shares: the configuration file and logging.
struct GlobalOptions {
  std::string config_file;
  ConfigFlags flags;
};

// Adds --config, --log-level and --log-json to `command`.
void add_global_options(CLI::App* command, GlobalOptions& options);

// Accepts a finite number from `low` to `high`. CLI::Range alone lets NaN through, because
// every comparison with NaN is false.
CLI::Validator finite_range(double low, double high);

// Loads the configuration for a subcommand and sets up logging. Prints the error and returns
// nullopt when the configuration is invalid.
std::optional<Config> load_effective_config(const GlobalOptions& options);

}  // namespace ollamaflow::cli
