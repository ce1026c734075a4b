// Binds command-line options to configuration keys, so that every option that sets a
// configuration value goes through load_config() with its flag name as the source.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/config.h"

namespace ollamaflow::cli {

// Accepts the text of flag `name` when parse_config_text() accepts it for `key`.
CLI::Validator config_text_check(const std::string& name, const std::string& key);

class ConfigFlags {
 public:
  // Adds an option `name` (e.g. "--max-agents") to `command` that sets configuration `key`. A
  // numeric option checks its text against the key's type and range, so that "abc" or an empty
  // value is rejected with the key's message instead of CLI11's conversion error.
  template <typename T>
  void add(CLI::App* command, const std::string& name, const std::string& key,
           const std::string& help) {
    auto value = std::make_shared<T>();
    CLI::Option* option = command->add_option(name, *value, help);
    if constexpr (std::is_arithmetic_v<T>) {
      option->check(config_text_check(name, key));
    }
    bindings_.push_back({option, name, key, [value] { return nlohmann::json(*value); }});
  }

  // Adds a switch `name` that sets boolean `key` to true.
  void add_switch(CLI::App* command, const std::string& name, const std::string& key,
                  const std::string& help);

  // Removes option `name` from `command` and its binding. CLI11 destroys a removed option, so
  // an option that add() bound must leave through here, never through CLI::App::remove_option().
  void remove(CLI::App* command, const std::string& name);

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

// Accepts a whole number from `low` to `high`. CLI::Range alone calls "abc" and an empty value
// out of range, and an integer option without a check fails with "Could not convert".
CLI::Validator integer_range(int64_t low, int64_t high);

// Rejects an empty value with `message`, which names what to pass instead. An option that is
// not given is not checked.
CLI::Validator non_empty_text(const std::string& message);

// Loads the configuration for a subcommand and sets up logging. Prints the error and returns
// nullopt when the configuration is invalid.
std::optional<Config> load_effective_config(const GlobalOptions& options);

}  // namespace ollamaflow::cli
