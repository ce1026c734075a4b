// `ollama-flow config show [--json]`: every configuration key with its effective value and its
// source. server.host is displayed as the URL that the client connects to.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/json_text.h"
#include "llm/factory.h"

namespace ollamaflow::cli {
namespace {

using nlohmann::json;

// Groups whose entries are not in config_keys(): each leaf gets its own row.
const char* const kEntryGroups[] = {"model_requirements", "environments", "strategies",
                                    "monitoring", "advanced"};

struct Row {
  std::string key;
  std::string value;
  std::string source;
};

// The configuration as `config show` prints it: server.host is the URL that the client connects
// to, with scheme and port, and `given_values` maps each key whose value differs from the
// user's to the value as the user gave it.
struct DisplayedConfig {
  Config config;
  std::map<std::string, std::string> given_values;
};

DisplayedConfig displayed_config(const Config& config) {
  DisplayedConfig displayed{config, config.given_values};
  Result<std::string> url = llm::effective_server_url(config.server);
  if (url && *url != config.server.host) {
    // An earlier rewrite, such as 0.0.0.0 to 127.0.0.1, keeps the value as the user gave it.
    displayed.given_values.emplace("server.host", config.server.host);
    displayed.config.server.host = *url;
  }
  return displayed;
}

// Returns the source of `key`, or of the nearest entry or group above it that has one.
std::string source_of(const Config& config, std::string key) {
  while (true) {
    if (const auto it = config.sources.find(key); it != config.sources.end()) {
      return it->second;
    }
    const size_t dot = key.rfind('.');
    if (dot == std::string::npos) {
      return "default";
    }
    key.resize(dot);
  }
}

// Returns the source column of `key`: its source in words and, for a value that differs from
// the user's, the value as the user gave it.
std::string source_column(const DisplayedConfig& displayed, const std::string& key) {
  std::string source = describe_source(source_of(displayed.config, key));
  if (const auto given = displayed.given_values.find(key); given != displayed.given_values.end()) {
    source += ", given as " + to_text(json(given->second));
  }
  return source;
}

// Appends one row per leaf of `value`; an empty object is one row of its own.
void add_leaf_rows(const DisplayedConfig& displayed, const std::string& key, const json& value,
                   std::vector<Row>& rows) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [name, item] : value.items()) {
      add_leaf_rows(displayed, key + "." + name, item, rows);
    }
    return;
  }
  rows.push_back({key, to_text(value), source_column(displayed, key)});
}

std::vector<Row> config_rows(const DisplayedConfig& displayed) {
  const Config& config = displayed.config;
  std::vector<Row> rows;
  for (const std::string& key : config_keys()) {
    rows.push_back({key, to_text(config_value(config, key)), source_column(displayed, key)});
  }
  const json document = config.to_json();
  for (const char* group : kEntryGroups) {
    add_leaf_rows(displayed, group, document.value(group, json::object()), rows);
  }
  return rows;
}

}  // namespace

int cmd_config_show(const Config& config, const ConfigShowOptions& options) {
  const DisplayedConfig displayed = displayed_config(config);
  if (options.json) {
    json document = {{"values", displayed.config.to_json()},
                     {"sources", config.sources},
                     {"given_values", displayed.given_values}};
    std::printf("%s\n", to_text(document, 2).c_str());
    return 0;
  }
  const std::vector<Row> rows = config_rows(displayed);
  size_t width = 0;
  for (const Row& row : rows) {
    width = std::max(width, row.key.size());
  }
  for (const Row& row : rows) {
    std::printf("%-*s  %-28s  %s\n", static_cast<int>(width), row.key.c_str(), row.value.c_str(),
                row.source.c_str());
  }
  return 0;
}

}  // namespace ollamaflow::cli
