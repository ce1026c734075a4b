// The effective configuration of ollama-flow: defaults, then a JSON file, then environment
// variables, then command-line flags, each overriding the one before. Every value remembers where
// it came from so that `config show` can print it.
//
// The file accepts the groups and keys of the seed auto_scaling_config.json (auto_scaling,
// gpu_scaling, workload_scaling, dynamic_agent_management, environments, model_requirements,
// strategies, monitoring, advanced) plus the groups server and run.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ollamaflow {

struct ServerSettings {
  std::string backend = "ollama";  // ollama, openai or sim
  std::string host = "http://127.0.0.1:11434";
  std::string model = "llama3.1:8b";
  // Role name to models in order of preference; the first one the server has is used.
  std::map<std::string, std::vector<std::string>> role_models;
  double connect_timeout_s = 5;
  double first_token_timeout_s = 300;
  double idle_timeout_s = 120;
  // The timeout of one socket read of a request that is not streamed (model list, metadata). 0
  // means the larger of idle_timeout_s and 30 s. Short-lived commands set it, so it is not a
  // configuration key.
  double metadata_timeout_s = 0;
  // Tokens of context per slot that the server reports (llama-server's /props n_ctx, -c divided by
  // -np), else 0. The run sets it after the probe, so it is not a configuration key.
  int server_slot_ctx = 0;
  int max_retries = 4;              // retries of 503 and 5xx responses per request
  std::optional<int> num_parallel;  // the server's slots (OLLAMA_NUM_PARALLEL), when known
  double retry_base_delay_s = 0.5;
  double retry_max_delay_s = 8;
  int num_ctx = 8192;
  int num_predict = 2048;
  double temperature = 0.2;
  std::optional<int64_t> seed;
  std::optional<int> gpu_layers;  // sent as num_gpu
  std::string keep_alive = "30m";
  std::string api_key;  // Bearer token for OpenAI-compatible servers
  // More arguments for the llama-server that --start-server starts, split at spaces.
  std::string start_server_args;
  // Simulated backend.
  int sim_slots = 4;
  double sim_load_time_s = 0;
  double sim_prompt_tokens_per_s = 0;  // 0 means no delay
  double sim_output_tokens_per_s = 0;
  double sim_slowdown_per_slot = 0.08;
};

struct RunSettings {
  int agents = 4;
  int max_plan_attempts = 3;
  int max_task_attempts = 3;
  int max_tasks = 32;     // most subtasks a plan may have
  std::string workspace;  // empty: a new folder per run under the current directory
  std::string db;         // empty: $XDG_DATA_HOME/ollama-flow/journal.db
  // Flush a task's files to disk before the task counts as done. false leaves the write-back to
  // the system: faster, but a power loss may lose files of tasks the journal records as done.
  bool sync_files = true;
};

// Seed group gpu_scaling.
struct GpuScalingSettings {
  int min_agents = 1;
  std::optional<int> max_agents;  // computed from capacity when not set; 8 when unknown
  double memory_buffer_mb = 1024;
  double memory_safety_margin = 0.15;
  double scale_up_threshold = 0.75;    // fraction of GPU memory in use
  double scale_down_threshold = 0.40;  // fraction of GPU memory in use
  double scale_check_interval = 15;    // seconds
  double cooldown_period = 30;         // seconds
  double temperature_warning_c = 75;
  double temperature_critical_c = 85;
  double temperature_emergency_c = 95;
  double vram_critical_threshold = 0.95;
  double vram_emergency_threshold = 0.98;
};

// Seed group workload_scaling.
struct WorkloadScalingSettings {
  int high_queue_length = 10;
  double high_wait_time = 30;             // seconds
  double high_cpu_usage = 80;             // percent
  double high_memory_usage = 85;          // percent
  double low_idle_agents = 0.2;           // fraction of agents
  double agent_overload_threshold = 0.8;  // fraction of agents busy
  double scale_up_cooldown = 60;          // seconds
  double scale_down_cooldown = 120;       // seconds
  double wait_target = 5;                 // seconds; target for queueing-theory sizing
};

// Seed group dynamic_agent_management.
struct AgentManagementSettings {
  int min_agents = 1;
  int max_agents = 16;  // hard cap of the manager, above any scaling bound
  double cleanup_interval_seconds = 60;
  int batch_creation_size = 3;
  double graceful_shutdown_timeout = 30;  // seconds
  double agent_timeout_seconds = 300;     // time allowed for an agent to become ready
  double idle_timeout_seconds = 600;
};

struct Config {
  ServerSettings server;
  RunSettings run;
  bool auto_scaling = false;
  std::string strategy = "HYBRID";
  std::string profile;  // development, testing, production or empty
  bool dry_run = false;
  GpuScalingSettings gpu_scaling;
  WorkloadScalingSettings workload;
  AgentManagementSettings agent_management;
  std::string kv_cache_type_k = "f16";
  std::string kv_cache_type_v = "f16";
  std::string log_level = "info";
  bool log_json = false;

  // Seed group model_requirements: memory per model in MiB, used when no GGUF metadata exists.
  struct ModelRequirement {
    double min_memory_mb = 0;
    double recommended_memory_mb = 0;
    int context_length = 0;
    std::string parameters;
  };
  std::map<std::string, ModelRequirement> model_requirements;

  // Seed groups kept for compatibility: monitoring and advanced switches, strategy texts.
  nlohmann::json monitoring = nlohmann::json::object();
  nlohmann::json advanced = nlohmann::json::object();
  nlohmann::json strategy_notes = nlohmann::json::object();

  // Environment profiles: name to {strategy, scale_check_interval, cooldown_period,
  // memory_safety_margin}. Defaults: development, testing, production.
  // A field that a profile does not set leaves the configuration's value as it is.
  struct Profile {
    std::string strategy;
    std::optional<double> scale_check_interval;
    std::optional<double> cooldown_period;
    std::optional<double> memory_safety_margin;
  };
  std::map<std::string, Profile> profiles;

  // Key path (e.g. "gpu_scaling.min_agents") to the source of its value: "default",
  // "file:PATH", "env:NAME", "flag:--name", "profile:NAME" or "interactive". Messages show it
  // through describe_source().
  std::map<std::string, std::string> sources;

  // Key path to the value as the user gave it, for a value that loading rewrote, such as
  // server.host "0.0.0.0:9" that is stored as "127.0.0.1:9". `config show` prints it.
  std::map<std::string, std::string> given_values;

  // Returns the configuration as JSON with the same groups the file uses.
  nlohmann::json to_json() const;
};

// Returns a source as stored in Config::sources in the words that messages and `config show`
// use: "flag:--agents" is "flag --agents", "file:/c.json" is "file /c.json", "env:OLLAMA_HOST"
// is "environment variable OLLAMA_HOST", "profile:production" is "profile production",
// "interactive" (set by a command of `interactive`) is "interactive session", and "default" or
// an empty source is "default". Any other source is returned unchanged. JSON output, the journal
// and code that compares sources keep the stored form.
std::string describe_source(const std::string& source);

// Returns describe_source() of the source of `key`, or "default" for a key without one.
std::string describe_source_of(const Config& config, const std::string& key);

// Environment lookup, injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Returns a lookup that reads the process environment.
EnvLookup process_env();

// Returns the built-in defaults, with the default profiles and model table.
Config default_config();

// Returns the setting that the user changes for `key`, as Config::sources names it: the flag
// (e.g. "--server-args"), "KEY in PATH" for a configuration file, or the environment variable.
// A default value is changed with `flag` or in the configuration file, or only in the file when
// `flag` is empty.
std::string setting_of(const Config& config, const std::string& key, const std::string& flag);

// One value given on the command line, addressed by its key path.
struct FlagValue {
  std::string key;  // e.g. "gpu_scaling.min_agents"
  nlohmann::json value;
  std::string flag;  // e.g. "--min-agents", for messages and `config show`
};

// Builds the effective configuration: defaults, then the file (when `file` is set), then the
// environment, then the flags, then the selected profile for the keys that no flag or
// environment variable set. Returns kInvalidArgument naming the key, the value and the allowed
// range for an unknown key, a wrong type or an out-of-range value; kNotFound or kParseError for
// a missing or malformed file.
Result<Config> load_config(const std::optional<std::string>& file, const EnvLookup& env,
                           const std::vector<FlagValue>& flags);

// Checks `value` against the type and range of the scalar key `key`, as load_config does, and
// returns the same kInvalidArgument message. `origin` names where the value came from, e.g.
// "flag --ctx". Lets a command option that is no configuration key share a key's range.
Status check_config_value(const std::string& key, const nlohmann::json& value,
                          const std::string& origin);

// Parses `text` as a value of the scalar key `key`, as load_config does for an environment
// variable, and checks it against the key's type and range. Returns kInvalidArgument naming the
// value, the key, `origin` and the allowed range, e.g. for "abc" or "" where an integer belongs.
Result<nlohmann::json> parse_config_text(const std::string& key, const std::string& text,
                                         const std::string& origin);

// Returns the key paths that load_config accepts, in file order.
std::vector<std::string> config_keys();

// Returns the value of one key path as JSON.
nlohmann::json config_value(const Config& config, const std::string& key);

// Returns the names of the five strategies, in documentation order.
const std::vector<std::string>& strategy_names();

// Returns the roles that server.role_models accepts: "queen", which plans and summarizes, and
// the roles of orchestrator::RoleSet::builtin().
const std::vector<std::string>& model_role_names();

}  // namespace ollamaflow
