// Reading the configuration file: its text, its JSON, its groups of scalar keys and the groups
// with entries of their own (model_requirements, environments, strategies, monitoring, advanced).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "core/config_keys.h"
#include "core/file_read.h"
#include "core/json_depth.h"
#include "core/json_keys.h"

namespace ollamaflow::config_detail {
namespace {

using nlohmann::json;

// Groups that hold entries of their own instead of scalar keys, as in the configuration file of
// the original Python ollama-flow.
const std::vector<std::string> kSpecialGroups = {"model_requirements", "environments", "strategies",
                                                 "monitoring", "advanced"};

Status invalid_argument(std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message));
}

Status apply_model_requirements(Config& config, const json& group, const std::string& origin,
                                const std::string& source) {
  if (!group.is_object()) {
    return invalid_argument("model_requirements (" + origin + ") must be an object");
  }
  for (const auto& [model, entry] : group.items()) {
    // A blank name matches no model, and `config show` would list keys such as
    // "model_requirements..min_memory_mb".
    if (model.find_first_not_of(" \t") == std::string::npos) {
      return invalid_argument("model_requirements has an entry with the blank name \"" + model +
                              "\" (" + origin + "): name the model, such as \"llama3.1:8b\"");
    }
    if (!entry.is_object()) {
      return invalid_argument("model_requirements." + model + " (" + origin +
                              ") must be an object");
    }
    Config::ModelRequirement requirement;
    for (const auto& [field, value] : entry.items()) {
      const std::string where = "model_requirements." + model + "." + field;
      if (field == "parameters" && value.is_string()) {
        requirement.parameters = value.get<std::string>();
      } else if (field == "context_length" && value.is_number_integer() && value.get<int>() > 0) {
        requirement.context_length = value.get<int>();
      } else if ((field == "min_memory_mb" || field == "recommended_memory_mb") &&
                 value.is_number() && value.get<double>() > 0) {
        (field == "min_memory_mb" ? requirement.min_memory_mb : requirement.recommended_memory_mb) =
            value.get<double>();
      } else {
        return invalid_argument("invalid " + where + " = " + value.dump() + " (" + origin +
                                "): expected min_memory_mb and recommended_memory_mb (MiB, "
                                "> 0), context_length (integer > 0) or parameters (string)");
      }
    }
    config.model_requirements[model] = requirement;
    config.sources["model_requirements." + model] = source;
  }
  return Status::ok();
}

Status apply_profiles(Config& config, const json& group, const std::string& origin,
                      const std::string& source) {
  if (!group.is_object()) {
    return invalid_argument("environments (" + origin + ") must be an object");
  }
  for (const auto& [name, entry] : group.items()) {
    Config::Profile profile = config.profiles[name];
    if (!entry.is_object()) {
      return invalid_argument("environments." + name + " (" + origin + ") must be an object");
    }
    for (const auto& [field, value] : entry.items()) {
      const std::string where = "environments." + name + "." + field;
      const bool known = field == "strategy" || field == "scale_check_interval" ||
                         field == "cooldown_period" || field == "memory_safety_margin";
      if (known && value.is_null()) {
        continue;  // not set, as `config show` prints it
      }
      if (field == "strategy" && value.is_string()) {
        std::string upper = value.get<std::string>();
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        const auto& names = strategy_names();
        if (std::find(names.begin(), names.end(), upper) == names.end()) {
          return invalid_argument("invalid " + where + " = " + value.dump() + " (" + origin +
                                  "): expected one of GPU_MEMORY_BASED, WORKLOAD_BASED, "
                                  "HYBRID, CONSERVATIVE, AGGRESSIVE");
        }
        profile.strategy = upper;
        // `config show` prints the name in use and, when it differs, the name as written.
        if (upper != value.get<std::string>()) {
          config.given_values[where] = value.get<std::string>();
        } else {
          config.given_values.erase(where);
        }
      } else if (field == "scale_check_interval" && value.is_number() && value > 0) {
        profile.scale_check_interval = value.get<double>();
      } else if (field == "cooldown_period" && value.is_number() && value >= 0) {
        profile.cooldown_period = value.get<double>();
      } else if (field == "memory_safety_margin" && value.is_number() && value >= 0 &&
                 value <= 0.9) {
        profile.memory_safety_margin = value.get<double>();
      } else {
        return invalid_argument("invalid " + where + " = " + value.dump() + " (" + origin +
                                "): expected strategy, scale_check_interval (> 0 s), "
                                "cooldown_period (>= 0 s) or memory_safety_margin (0 to 0.9)");
      }
    }
    config.profiles[name] = profile;
    config.sources["environments." + name] = source;
  }
  return Status::ok();
}

std::string upper_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    text += (text.empty() ? "" : ", ") + name;
  }
  return text;
}

// Checks the strategies group: descriptive notes per strategy, {"description": "...",
// "priority": "..."}, which ollama-flow keeps and shows but does not act on.
Status check_strategy_notes(const json& group, const std::string& origin) {
  static const std::vector<std::string> kFields = {"description", "priority"};
  const std::vector<std::string>& names = strategy_names();
  for (const auto& [name, entry] : group.items()) {
    if (std::find(names.begin(), names.end(), upper_case(name)) == names.end()) {
      return invalid_argument("unknown strategy '" + name + "' in strategies = " + entry.dump() +
                              " (" + origin + "): expected one of " + join_names(names));
    }
    if (!entry.is_object()) {
      return invalid_argument("invalid strategies." + name + " = " + entry.dump() + " (" + origin +
                              "): expected an object with " + join_names(kFields));
    }
    for (const auto& [field, value] : entry.items()) {
      const bool known = std::find(kFields.begin(), kFields.end(), field) != kFields.end();
      if (!known || !value.is_string()) {
        return invalid_argument("invalid strategies." + name + "." + field + " = " + value.dump() +
                                " (" + origin + "): expected " + join_names(kFields) +
                                ", each a string");
      }
    }
  }
  return Status::ok();
}

// One key of the monitoring or advanced group: a switch (true or false), or a period in seconds
// (a number > 0).
struct SettingKey {
  const char* name;
  bool is_switch;
};

// The keys of the monitoring and advanced groups, as in the configuration file of the original
// Python ollama-flow, which read none of them either. ollama-flow checks, keeps and shows them but
// does not act on them.
const std::vector<SettingKey> kMonitoringKeys = {{"enable_detailed_logging", true},
                                                 {"log_scaling_events", true},
                                                 {"log_agent_lifecycle", true},
                                                 {"metrics_collection_interval", false},
                                                 {"status_report_interval", false}};
const std::vector<SettingKey> kAdvancedKeys = {{"enable_custom_callbacks", true},
                                               {"enable_external_scaling_api", true},
                                               {"enable_predictive_scaling", true},
                                               {"enable_cost_optimization", true}};

// Returns the keys of `keys` with their types, as an error message lists them.
std::string describe_setting_keys(const std::vector<SettingKey>& keys) {
  std::string text;
  for (const SettingKey& key : keys) {
    text += (text.empty() ? "" : ", ") + std::string(key.name) +
            (key.is_switch ? " (true or false)" : " (seconds > 0)");
  }
  return text;
}

// Checks the monitoring or advanced group against `keys`: an unknown key or a value of the wrong
// type is an error, as in every other group.
Status check_setting_keys(const std::string& group, const json& entries,
                          const std::vector<SettingKey>& keys, const std::string& origin) {
  for (const auto& [name, value] : entries.items()) {
    const auto key = std::find_if(keys.begin(), keys.end(),
                                  [&name = name](const SettingKey& k) { return name == k.name; });
    if (key == keys.end()) {
      return invalid_argument("unknown key '" + name + "' in " + group + " = " + value.dump() +
                              " (" + origin + "): expected " + describe_setting_keys(keys) +
                              "; remove it or fix its name");
    }
    const bool valid =
        key->is_switch ? value.is_boolean() : value.is_number() && value.get<double>() > 0;
    if (!valid) {
      return invalid_argument("invalid " + group + "." + name + " = " + value.dump() + " (" +
                              origin + "): expected " +
                              (key->is_switch ? "true or false" : "a number of seconds > 0"));
    }
  }
  return Status::ok();
}

// Applies one group with entries of its own and records `source` for each entry it sets, or for
// the whole group when it replaces it.
Status apply_special_group(Config& config, const std::string& group, const json& value,
                           const std::string& origin, const std::string& source) {
  if (group == "model_requirements") {
    return apply_model_requirements(config, value, origin, source);
  }
  if (group == "environments") {
    return apply_profiles(config, value, origin, source);
  }
  if (!value.is_object()) {
    return invalid_argument(group + " (" + origin + ") must be an object");
  }
  Status checked = group == "strategies" ? check_strategy_notes(value, origin)
                   : group == "monitoring"
                       ? check_setting_keys(group, value, kMonitoringKeys, origin)
                       : check_setting_keys(group, value, kAdvancedKeys, origin);
  if (!checked) {
    return checked;
  }
  json& target = group == "strategies"   ? config.strategy_notes
                 : group == "monitoring" ? config.monitoring
                                         : config.advanced;
  target = value;
  config.sources[group] = source;
  return Status::ok();
}

// Largest configuration file: its keys take a few KiB, so anything near this size is the wrong
// file.
constexpr uint64_t kMaxConfigFileBytes = 1024 * 1024;

// Returns the file's text, or an error that names the file and why it cannot be read.
Result<std::string> read_file_text(const std::string& path) {
  const std::string item = "configuration file '" + path + "'";
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) {
    return Status(ErrorCode::kNotFound, item + " not found: check the path given to --config");
  }
  if (status.type() == std::filesystem::file_type::directory) {
    return Status(ErrorCode::kInvalidArgument,
                  item + " is a folder: pass the path of a JSON file to --config");
  }
  return read_file_limited(path, kMaxConfigFileBytes, item);
}

// Parses the file's text as one JSON object, or returns an error that names the file, the
// position and the cause.
Result<json> parse_file_text(const std::string& text, const std::string& path) {
  const std::string item = "configuration file '" + path + "'";
  if (const std::optional<size_t> deep = json_too_deep_offset(text)) {
    const auto [line, column] = line_and_column(text, *deep);
    return Status(ErrorCode::kParseError,
                  fmt::format("{} nests deeper than {} levels at line {} column {}; no key "
                              "takes a value that deep",
                              item, kMaxJsonDepth, line, column));
  }
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& error) {
    return Status(ErrorCode::kParseError, fmt::format("{} is not valid JSON: {}; fix its syntax",
                                                      item, describe_json_error(text, error)));
  } catch (const json::exception& error) {
    // A number too large for a double ("1e999") fails outside the parser's position tracking.
    return Status(ErrorCode::kParseError, fmt::format("{} is not valid JSON: {}; fix the value",
                                                      item, json_exception_cause(error)));
  }
  if (const std::optional<DuplicateKey> duplicate = find_duplicate_key(text)) {
    return Status(ErrorCode::kParseError,
                  fmt::format("{} has {}; JSON keeps only the last value, so remove the other",
                              item, describe_duplicate_key(text, *duplicate)));
  }
  if (!document.is_object()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("{} contains a JSON {}, expected an object of groups such as "
                              "{{\"server\": {{\"model\": \"llama3.1:8b\"}}}}",
                              item, document.type_name()));
  }
  return document;
}

}  // namespace

Status apply_file(Config& config, const std::string& path) {
  Result<std::string> text = read_file_text(path);
  if (!text) {
    return text.status();
  }
  Result<json> document = parse_file_text(*text, path);
  if (!document) {
    return document.status();
  }
  const std::string source = "file:" + path;
  const std::string origin = describe_source(source);
  for (const auto& [group, entries] : document->items()) {
    if (std::find(kSpecialGroups.begin(), kSpecialGroups.end(), group) != kSpecialGroups.end()) {
      Status status = apply_special_group(config, group, entries, origin, source);
      if (!status) {
        return status;
      }
      continue;
    }
    // The group's name is checked first, so that an unknown group is named as unknown whatever
    // its value.
    const std::string prefix = group + ".";  // a lambda cannot capture a structured binding
    if (std::none_of(config_detail::key_table().begin(), config_detail::key_table().end(),
                     [&prefix](const KeyDef& key) { return key.path.rfind(prefix, 0) == 0; })) {
      return invalid_argument("unknown configuration group '" + group + "' (" + origin +
                              "); `ollama-flow config show` lists the groups and keys");
    }
    if (!entries.is_object()) {
      return invalid_argument("configuration group '" + group + "' (" + origin +
                              ") must be an object of keys");
    }
    for (const auto& [key, value] : entries.items()) {
      Status status = apply_value(config, group + "." + key, value, origin, source);
      if (!status) {
        return status;
      }
    }
  }
  return Status::ok();
}

}  // namespace ollamaflow::config_detail
