#include "core/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "core/config_keys.h"
#include "core/utf8.h"

namespace ollamaflow {
namespace {

using config_detail::apply_file;
using config_detail::apply_value;
using config_detail::find_key;
using config_detail::KeyDef;
using config_detail::Kind;
using nlohmann::json;

Status invalid_argument(std::string message) {
  return Status(ErrorCode::kInvalidArgument, std::move(message));
}

Status set_role_models(Config& config, const json& value, const std::string& origin) {
  if (!value.is_object()) {
    return invalid_argument("invalid value for server.role_models (" + origin +
                            "): expected an object of role to model name or list of names");
  }
  std::map<std::string, std::vector<std::string>> parsed;
  const std::vector<std::string>& roles = model_role_names();
  for (const auto& [role, models] : value.items()) {
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
      std::string names;
      for (const std::string& name : roles) {
        names += (names.empty() ? "" : ", ") + name;
      }
      return invalid_argument("unknown role '" + role + "' in server.role_models = " +
                              value.dump() + " (" + origin + "): expected one of " + names);
    }
    if (models.is_string() && !models.get_ref<const std::string&>().empty()) {
      parsed[role] = {models.get<std::string>()};
      continue;
    }
    if (!models.is_array() || models.empty()) {
      return invalid_argument("invalid value for server.role_models." + role + " (" + origin +
                              "): expected a model name or a non-empty list of names");
    }
    for (const json& model : models) {
      if (!model.is_string() || model.get<std::string>().empty()) {
        return invalid_argument("invalid entry " + model.dump() + " in server.role_models." + role +
                                " (" + origin + "): expected a model name");
      }
      parsed[role].push_back(model.get<std::string>());
    }
  }
  config.server.role_models = std::move(parsed);
  return Status::ok();
}

// Returns the server URL `url` with the host that a client on this machine connects to:
// 127.0.0.1 for the listen-all address 0.0.0.0 or for an empty host before a port (":9",
// "http://:9/path"), and [::1] for [::]. Ollama's own client reads OLLAMA_HOST this way
// (envconfig.Host of github.com/ollama/ollama), and every source of server.host gets the same
// mapping. Any other URL, and one with a user name or password, comes back unchanged.
std::string map_listen_address(const std::string& url) {
  const size_t separator = url.find("://");
  const size_t begin = separator == std::string::npos ? 0 : separator + 3;
  const size_t end = std::min(url.find('/', begin), url.size());
  const std::string authority = url.substr(begin, end - begin);
  if (authority.find('@') != std::string::npos) {
    return url;
  }
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  const bool has_port =
      colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  const std::string host = authority.substr(0, has_port ? colon : authority.size());
  std::string mapped;
  if ((host.empty() && has_port) || host == "0.0.0.0") {
    mapped = "127.0.0.1";
  } else if (host == "[::]") {
    mapped = "[::1]";
  } else {
    return url;
  }
  return url.substr(0, begin) + mapped + url.substr(begin + host.size());
}

}  // namespace

Status config_detail::apply_value(Config& config, const std::string& path, const json& value,
                                  const std::string& origin, const std::string& source) {
  const KeyDef* key = find_key(path);
  if (key == nullptr) {
    return invalid_argument("unknown configuration key '" + path + "' (" + origin +
                            "); `ollama-flow config show` lists the keys");
  }
  // Text is stored and printed as JSON, which allows only UTF-8. The message shows the first
  // invalid byte, not the value itself.
  if (value.is_string()) {
    if (const std::optional<size_t> bad =
            invalid_utf8_offset(value.get_ref<const std::string&>())) {
      return invalid_argument(fmt::format(
          "{} ({}) is not valid UTF-8: byte 0x{:02X} at offset {}; pass the value as UTF-8 text",
          path, origin, static_cast<unsigned char>(value.get_ref<const std::string&>()[*bad]),
          *bad));
    }
  }
  if (key->kind == Kind::kRoleModels) {
    Status status = set_role_models(config, value, origin);
    if (!status) {
      return status;
    }
  } else {
    json normalized = value;
    if (path == "server.host" && value.is_string()) {
      normalized = map_listen_address(value.get<std::string>());
    }
    if (path == "auto_scaling.strategy" && value.is_string()) {
      std::string upper = value.get<std::string>();
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      normalized = upper;
    }
    Status status = config_detail::check_value(*key, normalized, origin);
    if (!status) {
      // The message shows the value as the user wrote it, not its upper-case form.
      std::string message = status.message();
      if (const size_t at = message.find(normalized.dump()); at != std::string::npos) {
        message.replace(at, normalized.dump().size(), value.dump());
      }
      return Status(status.code(), message);
    }
    key->set(config, normalized);
    if (normalized != value) {
      config.given_values[path] = value.is_string() ? value.get<std::string>() : value.dump();
    } else {
      config.given_values.erase(path);
    }
  }
  config.sources[path] = source;
  return Status::ok();
}

namespace {

// Converts OLLAMA_HOST to a URL as Ollama's own client reads the variable (package envconfig of
// github.com/ollama/ollama). Spaces and quotes around it are dropped. A value without a scheme
// is http with port 11434, and http:// or https:// without a port means port 80 or 443. A bare
// IPv6 address gets its brackets. map_listen_address() then maps the host to the one that the
// client connects to, such as 0.0.0.0 to 127.0.0.1, as for every source of server.host.
std::string normalize_ollama_host(std::string text) {
  const auto is_trimmed = [](char c) { return c == ' ' || c == '\t' || c == '"' || c == '\''; };
  while (!text.empty() && is_trimmed(text.front())) {
    text.erase(0, 1);
  }
  while (!text.empty() && is_trimmed(text.back())) {
    text.pop_back();
  }

  std::string scheme = "http";
  std::string default_port = "11434";
  std::string rest = text;
  if (const size_t separator = text.find("://"); separator != std::string::npos) {
    scheme = text.substr(0, separator);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    rest = text.substr(separator + 3);
    if (scheme == "http") {
      default_port = "80";
    } else if (scheme == "https") {
      default_port = "443";
    }
  }

  const size_t slash = rest.find('/');
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  const std::string authority = rest.substr(0, slash);
  // A user name or password is not Ollama's business here: the URL goes on unchanged, so that
  // the URL check rejects it with the credentials hidden.
  if (authority.find('@') != std::string::npos) {
    return scheme + "://" + rest;
  }

  std::string host = authority;
  std::string port;
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  const bool bare_ipv6 =
      bracket == std::string::npos && std::count(authority.begin(), authority.end(), ':') > 1;
  if (bare_ipv6) {
    host = "[" + authority + "]";
  } else if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }

  return scheme + "://" + host + ":" + (port.empty() ? default_port : port) + path;
}

struct EnvBinding {
  const char* name;
  const char* key;
};

const EnvBinding kEnvBindings[] = {
    {"OLLAMA_HOST", "server.host"},
    {"OLLAMA_FLOW_MODEL", "server.model"},
    {"AUTO_SCALING", "auto_scaling.enabled"},
    {"SCALING_STRATEGY", "auto_scaling.strategy"},
    {"GPU_LAYERS", "server.gpu_layers"},
    {"OLLAMA_NUM_PARALLEL", "server.num_parallel"},
    {"OLLAMA_KV_CACHE_TYPE", "memory.kv_cache_type_k"},
    {"OLLAMA_KV_CACHE_TYPE", "memory.kv_cache_type_v"},
};

Status apply_env(Config& config, const EnvLookup& env) {
  for (const EnvBinding& binding : kEnvBindings) {
    std::optional<std::string> text = env(binding.name);
    // A variable that is set but blank counts as unset, as an empty one does.
    if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos) {
      continue;
    }
    const std::string given_text = *text;
    const bool ollama_host = std::string(binding.name) == "OLLAMA_HOST";
    if (ollama_host) {
      text = normalize_ollama_host(*text);
    }
    const std::string source = std::string("env:") + binding.name;
    const std::string origin = describe_source(source);
    const KeyDef* key = find_key(binding.key);
    Result<json> value = config_detail::parse_text(*key, *text, origin);
    if (!value) {
      return value.status();
    }
    Status status = apply_value(config, binding.key, *value, origin, source);
    if (!status) {
      return status;
    }
    if (ollama_host && config.server.host != given_text) {
      config.given_values[binding.key] = given_text;
    }
  }
  return Status::ok();
}

bool set_by_user(const Config& config, const std::string& key) {
  auto it = config.sources.find(key);
  return it != config.sources.end() &&
         (it->second.rfind("env:", 0) == 0 || it->second.rfind("flag:", 0) == 0);
}

Status apply_profile(Config& config) {
  if (config.profile.empty()) {
    return Status::ok();
  }
  auto it = config.profiles.find(config.profile);
  if (it == config.profiles.end()) {
    std::string names;
    for (const auto& [name, unused] : config.profiles) {
      names += (names.empty() ? "" : ", ") + name;
    }
    return invalid_argument("unknown profile '" + config.profile + "': choose one of " + names);
  }
  const Config::Profile& profile = it->second;
  const std::string source = "profile:" + config.profile;
  auto fill = [&](const std::string& key, const json& value) {
    if (!set_by_user(config, key)) {
      find_key(key)->set(config, value);
      config.sources[key] = source;
      config.given_values.erase(key);
    }
  };
  if (!profile.strategy.empty()) {
    fill("auto_scaling.strategy", profile.strategy);
  }
  if (profile.scale_check_interval) {
    fill("gpu_scaling.scale_check_interval", *profile.scale_check_interval);
  }
  if (profile.cooldown_period) {
    fill("gpu_scaling.cooldown_period", *profile.cooldown_period);
  }
  if (profile.memory_safety_margin) {
    fill("gpu_scaling.memory_safety_margin", *profile.memory_safety_margin);
  }
  return Status::ok();
}

// Describes a key for the messages of check_consistency(): its name, its value and where the
// value came from, as in "gpu_scaling.scale_up_threshold (0.3, from file /c.json)".
std::string describe_key(const Config& config, const std::string& key) {
  const json value = config_value(config, key);
  // The shortest form that reads back exactly: 95, not 95.0.
  const std::string value_text =
      value.is_number_float() ? fmt::format("{}", value.get<double>()) : value.dump();
  return key + " (" + value_text + ", from " + describe_source_of(config, key) + ")";
}

// Returns the error for two keys whose values must be in order: `lower` below (or, unless
// `strictly`, equal to) `upper`.
Status out_of_order(const Config& config, const std::string& lower, const std::string& upper,
                    bool strictly) {
  return invalid_argument(describe_key(config, lower) +
                          (strictly ? " must be below " : " must not exceed ") +
                          describe_key(config, upper) + ": lower " + lower + " or raise " + upper);
}

// Returns the error for a minimum agent count above a maximum, naming both keys, their values,
// where the values came from and the settings to change. An empty flag means the key has none.
Status min_agents_above_max(const Config& config, const std::string& min_key, int min_value,
                            const std::string& max_key, int max_value,
                            const std::string& max_flag) {
  return invalid_argument(
      fmt::format("{} ({}, from {}) is above {} ({}, from {}): lower {}, or "
                  "raise {}",
                  min_key, min_value, describe_source_of(config, min_key), max_key, max_value,
                  describe_source_of(config, max_key), setting_of(config, min_key, "--min-agents"),
                  setting_of(config, max_key, max_flag)));
}

Status check_consistency(const Config& config) {
  const auto& g = config.gpu_scaling;
  if (g.max_agents && g.min_agents > *g.max_agents) {
    return min_agents_above_max(config, "gpu_scaling.min_agents", g.min_agents,
                                "gpu_scaling.max_agents", *g.max_agents, "--max-agents");
  }
  // A scaled run uses at most dynamic_agent_management.max_agents agents, the agent manager's
  // hard cap, so a scaling minimum above it cannot be met.
  if (g.min_agents > config.agent_management.max_agents) {
    return min_agents_above_max(config, "gpu_scaling.min_agents", g.min_agents,
                                "dynamic_agent_management.max_agents",
                                config.agent_management.max_agents, "");
  }
  if (g.scale_down_threshold >= g.scale_up_threshold) {
    return out_of_order(config, "gpu_scaling.scale_down_threshold",
                        "gpu_scaling.scale_up_threshold", true);
  }
  // AGGRESSIVE stops adding agents at vram_critical_threshold, so scaling down must start below
  // it.
  if (g.scale_down_threshold >= g.vram_critical_threshold) {
    return out_of_order(config, "gpu_scaling.scale_down_threshold",
                        "gpu_scaling.vram_critical_threshold", true);
  }
  if (g.vram_critical_threshold > g.vram_emergency_threshold) {
    return out_of_order(config, "gpu_scaling.vram_critical_threshold",
                        "gpu_scaling.vram_emergency_threshold", false);
  }
  if (g.temperature_warning_c > g.temperature_critical_c) {
    return out_of_order(config, "gpu_scaling.temperature_warning_c",
                        "gpu_scaling.temperature_critical_c", false);
  }
  if (g.temperature_critical_c > g.temperature_emergency_c) {
    return out_of_order(config, "gpu_scaling.temperature_critical_c",
                        "gpu_scaling.temperature_emergency_c", false);
  }
  if (config.server.retry_base_delay_s > config.server.retry_max_delay_s) {
    return out_of_order(config, "server.retry_base_delay_s", "server.retry_max_delay_s", false);
  }
  if (config.agent_management.min_agents > config.agent_management.max_agents) {
    return out_of_order(config, "dynamic_agent_management.min_agents",
                        "dynamic_agent_management.max_agents", false);
  }
  return Status::ok();
}

}  // namespace

std::string describe_source(const std::string& source) {
  if (source.empty() || source == "default") {
    return "default";
  }
  if (source == "interactive") {
    return "interactive session";
  }
  const struct {
    std::string_view prefix;
    std::string_view words;
  } kinds[] = {
      {"flag:", "flag "},
      {"file:", "file "},
      {"env:", "environment variable "},
      {"profile:", "profile "},
  };
  for (const auto& kind : kinds) {
    if (source.starts_with(kind.prefix)) {
      return std::string(kind.words) + source.substr(kind.prefix.size());
    }
  }
  return source;
}

std::string describe_source_of(const Config& config, const std::string& key) {
  const auto found = config.sources.find(key);
  return found == config.sources.end() ? "default" : describe_source(found->second);
}

std::string setting_of(const Config& config, const std::string& key, const std::string& flag) {
  const auto found = config.sources.find(key);
  const std::string source = found == config.sources.end() ? "default" : found->second;
  if (source.rfind("flag:", 0) == 0) {
    return source.substr(5);
  }
  if (source.rfind("file:", 0) == 0) {
    return key + " in " + source.substr(5);
  }
  if (source.rfind("env:", 0) == 0) {
    return "the environment variable " + source.substr(4);
  }
  if (flag.empty()) {
    return key + " in the configuration file";
  }
  return key + " (" + flag + " or the configuration file)";
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names = {"GPU_MEMORY_BASED", "WORKLOAD_BASED", "HYBRID",
                                                 "CONSERVATIVE", "AGGRESSIVE"};
  return names;
}

const std::vector<std::string>& model_role_names() {
  static const std::vector<std::string> names = {
      "queen", "developer", "analyst", "data_scientist", "it_architect", "security_specialist"};
  return names;
}

Config default_config() {
  Config config;
  config.profiles["development"] = {"AGGRESSIVE", 10, 15, 0.10};
  config.profiles["testing"] = {"HYBRID", 15, 25, 0.15};
  config.profiles["production"] = {"CONSERVATIVE", 30, 60, 0.20};
  config.model_requirements["phi3:mini"] = {2048, 3072, 4096, "3.8B"};
  config.model_requirements["llama3:8b"] = {5120, 6144, 8192, "8B"};
  config.model_requirements["llama3.1:8b"] = {5120, 21504, 131072, "8B"};
  config.model_requirements["codellama:7b"] = {4608, 5632, 16384, "7B"};
  config.model_requirements["llama3:13b"] = {8192, 10240, 8192, "13B"};
  config.model_requirements["llama3:70b"] = {40960, 49152, 8192, "70B"};
  for (const KeyDef& key : config_detail::key_table()) {
    config.sources[key.path] = "default";
  }
  return config;
}

Result<Config> load_config(const std::optional<std::string>& file, const EnvLookup& env,
                           const std::vector<FlagValue>& flags) {
  Config config = default_config();
  if (file) {
    Status status = apply_file(config, *file);
    if (!status) {
      return status;
    }
  }
  Status status = apply_env(config, env);
  if (!status) {
    return status;
  }
  for (const FlagValue& flag : flags) {
    const std::string source = "flag:" + flag.flag;
    status = apply_value(config, flag.key, flag.value, describe_source(source), source);
    if (!status) {
      return status;
    }
  }
  status = apply_profile(config);
  if (!status) {
    return status;
  }
  status = check_consistency(config);
  if (!status) {
    return status;
  }
  return config;
}

Status check_config_value(const std::string& key, const json& value, const std::string& origin) {
  const KeyDef* def = find_key(key);
  if (def == nullptr || def->kind == config_detail::Kind::kRoleModels) {
    return Status(ErrorCode::kInternal,
                  "invalid key '" + key + "': not a scalar configuration key");
  }
  return config_detail::check_value(*def, value, origin);
}

Result<json> parse_config_text(const std::string& key, const std::string& text,
                               const std::string& origin) {
  const KeyDef* def = find_key(key);
  if (def == nullptr || def->kind == config_detail::Kind::kRoleModels) {
    return Status(ErrorCode::kInternal,
                  "invalid key '" + key + "': not a scalar configuration key");
  }
  Result<json> value = config_detail::parse_text(*def, text, origin);
  if (!value) {
    return value.status();
  }
  if (Status checked = config_detail::check_value(*def, *value, origin); !checked) {
    return checked;
  }
  return value;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const KeyDef& key : config_detail::key_table()) {
    keys.push_back(key.path);
  }
  return keys;
}

json config_value(const Config& config, const std::string& key) {
  if (key == "server.role_models") {
    return json(config.server.role_models);
  }
  const KeyDef* def = find_key(key);
  if (def == nullptr) {
    return nullptr;
  }
  json value = def->get(config);
  if (key == "server.api_key" && !value.get<std::string>().empty()) {
    return "***";  // never print a secret
  }
  return value;
}

json Config::to_json() const {
  json document = json::object();
  for (const KeyDef& key : config_detail::key_table()) {
    const size_t dot = key.path.find('.');
    document[key.path.substr(0, dot)][key.path.substr(dot + 1)] = config_value(*this, key.path);
  }
  for (const auto& [name, requirement] : model_requirements) {
    document["model_requirements"][name] = {
        {"min_memory_mb", requirement.min_memory_mb},
        {"recommended_memory_mb", requirement.recommended_memory_mb},
        {"context_length", requirement.context_length},
        {"parameters", requirement.parameters}};
  }
  for (const auto& [name, profile] : profiles) {
    auto optional_json = [](const std::optional<double>& value) {
      return value ? json(*value) : json(nullptr);
    };
    document["environments"][name] = {
        {"strategy", profile.strategy.empty() ? json(nullptr) : json(profile.strategy)},
        {"scale_check_interval", optional_json(profile.scale_check_interval)},
        {"cooldown_period", optional_json(profile.cooldown_period)},
        {"memory_safety_margin", optional_json(profile.memory_safety_margin)}};
  }
  document["strategies"] = strategy_notes;
  document["monitoring"] = monitoring;
  document["advanced"] = advanced;
  return document;
}

}  // namespace ollamaflow
