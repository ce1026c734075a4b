#include "core/config_keys.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace ollamaflow::config_detail {
namespace {

using nlohmann::json;

template <typename T>
using Ref = std::function<T&(Config&)>;

template <typename T>
KeyDef make_key(std::string path, Kind kind, double min, double max, Ref<T> ref,
                std::vector<std::string> choices = {}) {
  KeyDef key;
  key.path = std::move(path);
  key.kind = kind;
  key.min = min;
  key.max = max;
  key.choices = std::move(choices);
  key.get = [ref](const Config& config) -> json {
    const T& value = ref(const_cast<Config&>(config));
    if constexpr (std::is_same_v<T, std::optional<int>> ||
                  std::is_same_v<T, std::optional<int64_t>>) {
      return value ? json(*value) : json(nullptr);
    } else {
      return json(value);
    }
  };
  key.set = [ref](Config& config, const json& value) {
    T& target = ref(config);
    if constexpr (std::is_same_v<T, std::optional<int>> ||
                  std::is_same_v<T, std::optional<int64_t>>) {
      if (value.is_null()) {
        target.reset();
      } else {
        target = value.get<typename T::value_type>();
      }
    } else {
      target = value.get<T>();
    }
  };
  return key;
}

KeyDef int_key(std::string path, double min, double max, Ref<int> ref) {
  return make_key<int>(std::move(path), Kind::kInt, min, max, std::move(ref));
}
KeyDef opt_int_key(std::string path, double min, double max, Ref<std::optional<int>> ref) {
  return make_key<std::optional<int>>(std::move(path), Kind::kOptionalInt, min, max,
                                      std::move(ref));
}
KeyDef real_key(std::string path, double min, double max, Ref<double> ref) {
  return make_key<double>(std::move(path), Kind::kDouble, min, max, std::move(ref));
}
KeyDef bool_key(std::string path, Ref<bool> ref) {
  return make_key<bool>(std::move(path), Kind::kBool, 0, 0, std::move(ref));
}
KeyDef text_key(std::string path, Ref<std::string> ref, std::vector<std::string> choices = {}) {
  return make_key<std::string>(std::move(path), Kind::kString, 0, 0, std::move(ref),
                               std::move(choices));
}
// A model name: an empty one would reach the server as a request for no model.
KeyDef model_key(std::string path, Ref<std::string> ref) {
  KeyDef key = text_key(std::move(path), std::move(ref));
  key.non_empty = true;
  return key;
}

// A file or folder path that may be left unset but not set to "".
KeyDef path_key(std::string path, Ref<std::string> ref) {
  KeyDef key = text_key(std::move(path), std::move(ref));
  key.non_empty = true;
  return key;
}

// The cache types that llama.cpp's --cache-type-k and --cache-type-v accept.
const std::vector<std::string> kCacheTypes = {"f32",  "f16",  "bf16", "q8_0",  "q4_0",
                                              "q4_1", "q5_0", "q5_1", "iq4_nl"};

std::vector<KeyDef> build_table();

}  // namespace

const std::vector<KeyDef>& key_table() {
  static const std::vector<KeyDef> table = build_table();
  return table;
}

const KeyDef* find_key(const std::string& path) {
  for (const KeyDef& key : key_table()) {
    if (key.path == path) {
      return &key;
    }
  }
  return nullptr;
}

namespace {

std::string range_text(const KeyDef& key) {
  // The shortest form that reads back exactly: 4194304, not 4.1943e+06.
  return fmt::format("{} to {}", key.min, key.max);
}

// The value as the user wrote it; JSON text would show NaN and infinities as null.
std::string value_text(const json& value) {
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    return fmt::format("{}", value.get<double>());
  }
  return value.dump();
}

std::string choices_text(const std::vector<std::string>& choices) {
  std::string text;
  for (size_t i = 0; i < choices.size(); ++i) {
    text += (i == 0 ? "" : ", ") + choices[i];
  }
  return text;
}

Status invalid(const KeyDef& key, const json& value, const std::string& origin,
               const std::string& expected) {
  return Status(ErrorCode::kInvalidArgument, "invalid value " + value_text(value) + " for " +
                                                 key.path + " (" + origin + "): expected " +
                                                 expected);
}

Status check_number(const KeyDef& key, const json& value, const std::string& origin) {
  const bool integral = key.kind == Kind::kInt || key.kind == Kind::kOptionalInt;
  if (integral && !value.is_number_integer()) {
    return invalid(key, value, origin, "an integer from " + range_text(key));
  }
  if (!value.is_number()) {
    return invalid(key, value, origin, "a number from " + range_text(key));
  }
  const double number = value.get<double>();
  if (!std::isfinite(number) || number < key.min || number > key.max) {
    return invalid(key, value, origin,
                   (integral ? "an integer from " : "a value from ") + range_text(key));
  }
  return Status::ok();
}

}  // namespace

Status check_value(const KeyDef& key, const json& value, const std::string& origin) {
  switch (key.kind) {
    case Kind::kBool:
      return value.is_boolean() ? Status::ok() : invalid(key, value, origin, "true or false");
    case Kind::kString:
      if (!value.is_string()) {
        return invalid(key, value, origin, "a string");
      }
      if (key.non_empty &&
          value.get_ref<const std::string&>().find_first_not_of(" \t\r\n") == std::string::npos) {
        return invalid(key, value, origin, "a non-empty string that is not only spaces");
      }
      if (!key.choices.empty() && std::find(key.choices.begin(), key.choices.end(),
                                            value.get<std::string>()) == key.choices.end()) {
        return invalid(key, value, origin, "one of " + choices_text(key.choices));
      }
      return Status::ok();
    case Kind::kOptionalInt:
      if (value.is_null()) {
        return Status::ok();
      }
      return check_number(key, value, origin);
    case Kind::kInt:
    case Kind::kDouble:
      return check_number(key, value, origin);
    case Kind::kRoleModels:
      break;
  }
  return Status(ErrorCode::kInternal, "key " + key.path + " has no scalar type");
}

Result<json> parse_text(const KeyDef& key, const std::string& text, const std::string& origin) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  switch (key.kind) {
    case Kind::kBool:
      if (lower == "1" || lower == "true" || lower == "yes" || lower == "on") {
        return json(true);
      }
      if (lower == "0" || lower == "false" || lower == "no" || lower == "off" || lower.empty()) {
        return json(false);
      }
      return invalid(key, json(text), origin, "true or false");
    case Kind::kString:
      return json(text);
    case Kind::kInt:
    case Kind::kOptionalInt: {
      int64_t number = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (error != std::errc() || end != text.data() + text.size()) {
        return invalid(key, json(text), origin, "an integer from " + range_text(key));
      }
      return json(number);
    }
    case Kind::kDouble: {
      char* end = nullptr;
      const double number = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) {
        return invalid(key, json(text), origin, "a number from " + range_text(key));
      }
      return json(number);
    }
    case Kind::kRoleModels:
      break;
  }
  return Status(ErrorCode::kInvalidArgument, key.path + " cannot be set from " + origin);
}

namespace {

std::vector<KeyDef> build_table() {
  std::vector<KeyDef> t;
  // auto_scaling
  t.push_back(bool_key("auto_scaling.enabled", [](Config& c) -> bool& { return c.auto_scaling; }));
  t.push_back(text_key(
      "auto_scaling.strategy", [](Config& c) -> std::string& { return c.strategy; },
      strategy_names()));
  t.push_back(
      model_key("auto_scaling.model", [](Config& c) -> std::string& { return c.server.model; }));
  t.push_back(
      text_key("auto_scaling.profile", [](Config& c) -> std::string& { return c.profile; }));
  t.push_back(bool_key("auto_scaling.dry_run", [](Config& c) -> bool& { return c.dry_run; }));
  // gpu_scaling
  t.push_back(int_key("gpu_scaling.min_agents", 0, 1024,
                      [](Config& c) -> int& { return c.gpu_scaling.min_agents; }));
  t.push_back(opt_int_key("gpu_scaling.max_agents", 1, 1024, [](Config& c) -> std::optional<int>& {
    return c.gpu_scaling.max_agents;
  }));
  t.push_back(real_key("gpu_scaling.memory_buffer_mb", 0, 1e7,
                       [](Config& c) -> double& { return c.gpu_scaling.memory_buffer_mb; }));
  t.push_back(real_key("gpu_scaling.memory_safety_margin", 0, 0.9,
                       [](Config& c) -> double& { return c.gpu_scaling.memory_safety_margin; }));
  t.push_back(real_key("gpu_scaling.scale_up_threshold", 0, 1,
                       [](Config& c) -> double& { return c.gpu_scaling.scale_up_threshold; }));
  t.push_back(real_key("gpu_scaling.scale_down_threshold", 0, 1,
                       [](Config& c) -> double& { return c.gpu_scaling.scale_down_threshold; }));
  t.push_back(real_key("gpu_scaling.scale_check_interval", 0.1, 3600,
                       [](Config& c) -> double& { return c.gpu_scaling.scale_check_interval; }));
  t.push_back(real_key("gpu_scaling.cooldown_period", 0, 86400,
                       [](Config& c) -> double& { return c.gpu_scaling.cooldown_period; }));
  t.push_back(real_key("gpu_scaling.temperature_warning_c", 0, 150,
                       [](Config& c) -> double& { return c.gpu_scaling.temperature_warning_c; }));
  t.push_back(real_key("gpu_scaling.temperature_critical_c", 0, 150,
                       [](Config& c) -> double& { return c.gpu_scaling.temperature_critical_c; }));
  t.push_back(real_key("gpu_scaling.temperature_emergency_c", 0, 150,
                       [](Config& c) -> double& { return c.gpu_scaling.temperature_emergency_c; }));
  t.push_back(real_key("gpu_scaling.vram_critical_threshold", 0, 1,
                       [](Config& c) -> double& { return c.gpu_scaling.vram_critical_threshold; }));
  t.push_back(real_key("gpu_scaling.vram_emergency_threshold", 0, 1, [](Config& c) -> double& {
    return c.gpu_scaling.vram_emergency_threshold;
  }));
  // workload_scaling
  t.push_back(int_key("workload_scaling.high_queue_length", 1, 1e6,
                      [](Config& c) -> int& { return c.workload.high_queue_length; }));
  t.push_back(real_key("workload_scaling.high_wait_time", 0, 86400,
                       [](Config& c) -> double& { return c.workload.high_wait_time; }));
  t.push_back(real_key("workload_scaling.high_cpu_usage", 0, 100,
                       [](Config& c) -> double& { return c.workload.high_cpu_usage; }));
  t.push_back(real_key("workload_scaling.high_memory_usage", 0, 100,
                       [](Config& c) -> double& { return c.workload.high_memory_usage; }));
  t.push_back(real_key("workload_scaling.low_idle_agents", 0, 1,
                       [](Config& c) -> double& { return c.workload.low_idle_agents; }));
  // The target utilization of AGGRESSIVE's sizing, which divides by it.
  t.push_back(real_key("workload_scaling.agent_overload_threshold", 0.01, 1,
                       [](Config& c) -> double& { return c.workload.agent_overload_threshold; }));
  t.push_back(real_key("workload_scaling.scale_up_cooldown", 0, 86400,
                       [](Config& c) -> double& { return c.workload.scale_up_cooldown; }));
  t.push_back(real_key("workload_scaling.scale_down_cooldown", 0, 86400,
                       [](Config& c) -> double& { return c.workload.scale_down_cooldown; }));
  t.push_back(real_key("workload_scaling.wait_target", 0.01, 3600,
                       [](Config& c) -> double& { return c.workload.wait_target; }));
  // dynamic_agent_management
  t.push_back(int_key("dynamic_agent_management.min_agents", 0, 1024,
                      [](Config& c) -> int& { return c.agent_management.min_agents; }));
  t.push_back(int_key("dynamic_agent_management.max_agents", 1, 1024,
                      [](Config& c) -> int& { return c.agent_management.max_agents; }));
  t.push_back(
      real_key("dynamic_agent_management.agent_timeout_seconds", 1, 86400,
               [](Config& c) -> double& { return c.agent_management.agent_timeout_seconds; }));
  t.push_back(
      real_key("dynamic_agent_management.idle_timeout_seconds", 1, 864000,
               [](Config& c) -> double& { return c.agent_management.idle_timeout_seconds; }));
  t.push_back(
      real_key("dynamic_agent_management.cleanup_interval_seconds", 0.1, 86400,
               [](Config& c) -> double& { return c.agent_management.cleanup_interval_seconds; }));
  t.push_back(int_key("dynamic_agent_management.batch_creation_size", 1, 256,
                      [](Config& c) -> int& { return c.agent_management.batch_creation_size; }));
  t.push_back(
      real_key("dynamic_agent_management.graceful_shutdown_timeout", 0, 86400,
               [](Config& c) -> double& { return c.agent_management.graceful_shutdown_timeout; }));
  // server
  t.push_back(text_key("server.backend", [](Config& c) -> std::string& { return c.server.backend; },
                       {"ollama", "openai", "sim"}));
  t.push_back(text_key("server.host", [](Config& c) -> std::string& { return c.server.host; }));
  t.push_back(model_key("server.model", [](Config& c) -> std::string& { return c.server.model; }));
  KeyDef role_models;
  role_models.path = "server.role_models";
  role_models.kind = Kind::kRoleModels;
  t.push_back(role_models);
  t.push_back(real_key("server.connect_timeout_s", 0.05, 600,
                       [](Config& c) -> double& { return c.server.connect_timeout_s; }));
  t.push_back(real_key("server.first_token_timeout_s", 0.05, 86400,
                       [](Config& c) -> double& { return c.server.first_token_timeout_s; }));
  t.push_back(real_key("server.idle_timeout_s", 0.05, 86400,
                       [](Config& c) -> double& { return c.server.idle_timeout_s; }));
  t.push_back(
      int_key("server.max_retries", 0, 50, [](Config& c) -> int& { return c.server.max_retries; }));
  t.push_back(real_key("server.retry_base_delay_s", 0, 600,
                       [](Config& c) -> double& { return c.server.retry_base_delay_s; }));
  t.push_back(real_key("server.retry_max_delay_s", 0, 3600,
                       [](Config& c) -> double& { return c.server.retry_max_delay_s; }));
  t.push_back(opt_int_key("server.num_parallel", 1, 1024,
                          [](Config& c) -> std::optional<int>& { return c.server.num_parallel; }));
  t.push_back(
      int_key("server.num_ctx", 256, 4194304, [](Config& c) -> int& { return c.server.num_ctx; }));
  t.push_back(int_key("server.num_predict", 16, 1048576,
                      [](Config& c) -> int& { return c.server.num_predict; }));
  t.push_back(real_key("server.temperature", 0, 2,
                       [](Config& c) -> double& { return c.server.temperature; }));
  t.push_back(make_key<std::optional<int64_t>>(
      "server.seed", Kind::kOptionalInt, -2147483648.0, 4294967295.0,
      [](Config& c) -> std::optional<int64_t>& { return c.server.seed; }));
  t.push_back(opt_int_key("server.gpu_layers", 0, 100000,
                          [](Config& c) -> std::optional<int>& { return c.server.gpu_layers; }));
  t.push_back(
      text_key("server.keep_alive", [](Config& c) -> std::string& { return c.server.keep_alive; }));
  t.push_back(
      text_key("server.api_key", [](Config& c) -> std::string& { return c.server.api_key; }));
  t.push_back(text_key("server.start_server_args",
                       [](Config& c) -> std::string& { return c.server.start_server_args; }));
  t.push_back(
      int_key("server.sim_slots", 1, 1024, [](Config& c) -> int& { return c.server.sim_slots; }));
  t.push_back(real_key("server.sim_load_time_s", 0, 3600,
                       [](Config& c) -> double& { return c.server.sim_load_time_s; }));
  t.push_back(real_key("server.sim_prompt_tokens_per_s", 0, 1e9,
                       [](Config& c) -> double& { return c.server.sim_prompt_tokens_per_s; }));
  t.push_back(real_key("server.sim_output_tokens_per_s", 0, 1e9,
                       [](Config& c) -> double& { return c.server.sim_output_tokens_per_s; }));
  t.push_back(real_key("server.sim_slowdown_per_slot", 0, 10,
                       [](Config& c) -> double& { return c.server.sim_slowdown_per_slot; }));
  // run
  t.push_back(int_key("run.agents", 1, 1024, [](Config& c) -> int& { return c.run.agents; }));
  t.push_back(int_key("run.max_plan_attempts", 1, 20,
                      [](Config& c) -> int& { return c.run.max_plan_attempts; }));
  t.push_back(int_key("run.max_task_attempts", 1, 20,
                      [](Config& c) -> int& { return c.run.max_task_attempts; }));
  t.push_back(
      int_key("run.max_tasks", 1, 100000, [](Config& c) -> int& { return c.run.max_tasks; }));
  // Both default to "unset", which picks a path. An empty value given on purpose is a mistake,
  // not a request for the default.
  t.push_back(path_key("run.workspace", [](Config& c) -> std::string& { return c.run.workspace; }));
  t.push_back(path_key("run.db", [](Config& c) -> std::string& { return c.run.db; }));
  t.push_back(bool_key("run.sync_files", [](Config& c) -> bool& { return c.run.sync_files; }));
  // memory and logging
  t.push_back(text_key(
      "memory.kv_cache_type_k", [](Config& c) -> std::string& { return c.kv_cache_type_k; },
      kCacheTypes));
  t.push_back(text_key(
      "memory.kv_cache_type_v", [](Config& c) -> std::string& { return c.kv_cache_type_v; },
      kCacheTypes));
  t.push_back(text_key("logging.level", [](Config& c) -> std::string& { return c.log_level; },
                       {"trace", "debug", "info", "warn", "error", "critical", "off"}));
  t.push_back(bool_key("logging.json", [](Config& c) -> bool& { return c.log_json; }));
  return t;
}

}  // namespace
}  // namespace ollamaflow::config_detail
