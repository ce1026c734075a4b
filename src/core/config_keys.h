// The table of configuration keys: type, allowed range and where each value lives in Config.
// Internal to core/config*.cc.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"

namespace ollamaflow::config_detail {

enum class Kind { kInt, kDouble, kBool, kString, kOptionalInt, kRoleModels };

struct KeyDef {
  std::string path;
  Kind kind;
  double min = 0;
  double max = 0;
  std::vector<std::string> choices;  // allowed strings; empty means any
  bool non_empty = false;            // a string key that rejects ""
  std::function<nlohmann::json(const Config&)> get;
  std::function<void(Config&, const nlohmann::json&)> set;  // value already checked
};

// Returns every scalar key, in file order.
const std::vector<KeyDef>& key_table();

// Returns the key with `path`, or nullptr.
const KeyDef* find_key(const std::string& path);

// Checks `value` against the key's type and range; `origin` names where it came from
// ("file /x.json", "environment variable GPU_LAYERS", "flag --max-agents").
Status check_value(const KeyDef& key, const nlohmann::json& value, const std::string& origin);

// Checks `value` for key `path` and stores it with `source` ("file:PATH", "env:NAME",
// "flag:--name") as where it came from. Defined in config.cc.
Status apply_value(Config& config, const std::string& path, const nlohmann::json& value,
                   const std::string& origin, const std::string& source);

// Reads the JSON configuration file at `path` and applies every group in it. Defined in
// config_file.cc.
Status apply_file(Config& config, const std::string& path);

// Converts an environment variable's text to the key's JSON type.
Result<nlohmann::json> parse_text(const KeyDef& key, const std::string& text,
                                  const std::string& origin);

}  // namespace ollamaflow::config_detail
