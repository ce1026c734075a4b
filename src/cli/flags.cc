#include "cli/flags.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "cli/errors.h"
#include "core/log.h"
#include "core/terminal_text.h"

namespace ollamaflow::cli {

CLI::Validator config_text_check(const std::string& name, const std::string& key) {
  return CLI::Validator(
      [name, key](std::string& text) -> std::string {
        Result<nlohmann::json> value =
            parse_config_text(key, text, describe_source("flag:" + name));
        return value ? "" : value.status().message();
      },
      "");
}

void ConfigFlags::add_switch(CLI::App* command, const std::string& name, const std::string& key,
                             const std::string& help) {
  CLI::Option* option = command->add_flag(name, help);
  bindings_.push_back({option, name, key, [] { return nlohmann::json(true); }});
}

void ConfigFlags::remove(CLI::App* command, const std::string& name) {
  CLI::Option* option = command->get_option_no_throw(name);
  if (option == nullptr) {
    return;
  }
  bindings_.erase(
      std::remove_if(bindings_.begin(), bindings_.end(),
                     [option](const Binding& binding) { return binding.option == option; }),
      bindings_.end());
  command->remove_option(option);
}

std::vector<FlagValue> ConfigFlags::values() const {
  std::vector<FlagValue> values;
  for (const Binding& binding : bindings_) {
    if (binding.option->count() > 0) {
      values.push_back({binding.key, binding.read(), binding.name});
    }
  }
  return values;
}

void add_global_options(CLI::App* command, GlobalOptions& options) {
  command
      ->add_option("--config", options.config_file,
                   "JSON configuration file (keys as in `ollama-flow config show`)")
      ->check(non_empty_text(
          "the configuration file path is empty: pass the path of a JSON file, or drop --config"));
  options.flags.add<std::string>(command, "--log-level", "logging.level",
                                 "Log level: trace, debug, info, warn, error, critical or off");
  options.flags.add_switch(command, "--log-json", "logging.json",
                           "Write logs as one JSON object per line (to stderr)");
}

CLI::Validator finite_range(double low, double high) {
  return CLI::Validator(
      [low, high](std::string& text) -> std::string {
        double value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        if (error != std::errc() || stop != end || !std::isfinite(value) || value < low ||
            value > high) {
          return fmt::format("invalid value '{}': expected a number from {} to {}", text, low,
                             high);
        }
        return "";
      },
      fmt::format("NUMBER in [{} - {}]", low, high));
}

CLI::Validator integer_range(int64_t low, int64_t high) {
  return CLI::Validator(
      [low, high](std::string& text) -> std::string {
        int64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        if (error != std::errc() || stop != end || value < low || value > high) {
          return fmt::format("invalid value '{}': expected an integer from {} to {}", text, low,
                             high);
        }
        return "";
      },
      fmt::format("INTEGER in [{} - {}]", low, high));
}

CLI::Validator non_empty_text(const std::string& message) {
  return CLI::Validator(
      [message](std::string& text) -> std::string { return text.empty() ? message : ""; }, "");
}

std::optional<Config> load_effective_config(const GlobalOptions& options) {
  std::optional<std::string> file;
  if (!options.config_file.empty()) {
    file = options.config_file;
  }
  Result<Config> config = load_config(file, process_env(), options.flags.values());
  if (!config) {
    // The message quotes values from flags, the environment and the file as given.
    print_error(config.status().message());
    return std::nullopt;
  }
  Status status = init_logging(config->log_level, config->log_json);
  if (!status) {
    print_error(status.message());
    return std::nullopt;
  }
  return std::move(config).value();
}

}  // namespace ollamaflow::cli
