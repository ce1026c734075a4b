#include "flow/server_launch.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "core/count_text.h"
#include "core/terminal_text.h"
#include "flow/status_file.h"
#include "gpu/monitor.h"
#include "gpu/system.h"
#include "model/capacity.h"
#include "model/ggml_type.h"
#include "model/model_resolver.h"
#include "model/planning.h"
#include "orchestrator/structured_chat.h"

namespace ollamaflow::flow {
namespace {

Status check_files(const std::string& binary, const std::string& model_path) {
  std::error_code error;
  if (std::filesystem::is_directory(binary, error)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("llama-server binary '{}' is a folder, expected the llama-server "
                              "binary: pass its path to --start-server",
                              binary));
  }
  if (std::filesystem::is_directory(model_path, error)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("model '{}' is a folder, expected a GGUF file: pass the path of a "
                              ".gguf file to --model with --start-server",
                              model_path));
  }
  if (::access(binary.c_str(), X_OK) != 0) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("llama-server binary '{}' is missing or not executable: pass the "
                              "path of llama-server to --start-server",
                              binary));
  }
  return model::check_model_file(model_path, "pass a .gguf file to --model with --start-server");
}

// Fills the context and cache fields of `plan` and returns the demand for the planner.
Result<model::ModelDemand> launch_demand(const Config& config, const model::ModelSpec& spec,
                                         LaunchPlan& plan) {
  std::vector<std::string> notes;
  Result<model::ModelDemand> demand = model::make_demand(spec, {}, config, notes);
  if (!demand) {
    return demand.status();
  }
  plan.notes.insert(plan.notes.end(), notes.begin(), notes.end());
  if (const std::optional<uint64_t> before = model::lower_to_training_context(*demand)) {
    plan.notes.push_back(
        fmt::format("context per slot lowered from server.num_ctx {} to the "
                    "model's training context {}, which the run uses as its num_ctx",
                    *before, demand->ctx_per_slot));
  }
  plan.ctx_per_slot = static_cast<int>(demand->ctx_per_slot);
  plan.cache_type_k = config.kv_cache_type_k;
  plan.cache_type_v = config.kv_cache_type_v;
  plan.flash_attention =
      demand->cache_v != nullptr && model::cache_type_is_quantized(*demand->cache_v);
  return demand;
}

}  // namespace

std::optional<std::string> started_server_context_note(const std::string& error, int num_ctx) {
  if (error.find(orchestrator::kContextCutPhrase) == std::string::npos) {
    return std::nullopt;
  }
  return fmt::format(
      "a reply filled the context per slot of the llama-server that this run started, whose -c "
      "and -np the run chose for {} tokens per slot (--num-ctx, at most the model's training "
      "context). Give the run a larger --num-ctx where the training context allows, or make the "
      "prompt shorter: a smaller goal, or tasks with fewer dependencies",
      num_ctx);
}

AgentBound run_agent_bound(const Config& config) {
  if (!config.auto_scaling) {
    return {config.run.agents, "run.agents, the fixed pool"};
  }
  // A scaled run lowers gpu_scaling.max_agents to the agent manager's hard cap.
  const int cap = config.agent_management.max_agents;
  if (config.gpu_scaling.max_agents && *config.gpu_scaling.max_agents <= cap) {
    return {*config.gpu_scaling.max_agents, "gpu_scaling.max_agents"};
  }
  return {cap, "dynamic_agent_management.max_agents"};
}

std::vector<std::string> LaunchPlan::arguments(int port) const {
  std::vector<std::string> args = {"-m",       model_path,
                                   "--host",   "127.0.0.1",
                                   "--port",   std::to_string(port),
                                   "-np",      std::to_string(parallel),
                                   "-c",       std::to_string(total_ctx),
                                   "-ctk",     cache_type_k,
                                   "-ctv",     cache_type_v,
                                   "--metrics"};
  if (flash_attention) {
    args.insert(args.end(), {"-fa", "on"});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return args;
}

std::string LaunchPlan::command_line(std::optional<int> port) const {
  std::vector<std::string> words = arguments(port.value_or(0));
  if (!port) {
    const auto flag = std::find(words.begin(), words.end(), "--port");
    *std::next(flag) = "PORT";
  }
  std::string line = shell_quoted(binary);
  for (const std::string& word : words) {
    line += " " + shell_quoted(word);
  }
  return line;
}

namespace {

// Returns a new log file path in the server-logs folder beside the journal (the folder that also
// contains the active status files), where the log stays after the run. The name contains the
// start time and this process's id.
Result<std::filesystem::path> server_log_path(const Config& config, const Clock& clock) {
  const std::filesystem::path folder = active_status_dir(config).parent_path() / "server-logs";
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) {
    return Status(ErrorCode::kIoError,
                  fmt::format("cannot create the folder '{}' for the llama-server log: {}; pass "
                              "--db with a path in a writable folder",
                              folder.string(), error.message()));
  }
  std::string stamp = format_iso8601(clock.wall_now()).substr(0, 19);  // 2026-12-04T15:51:07
  std::erase(stamp, '-');
  std::erase(stamp, ':');
  return folder / fmt::format("llama-server-{}-{}.log", stamp, ::getpid());
}

// The flags of llama-server that plan_launch() sets itself: the model, the address, the slots,
// the context, the cache types and the metrics endpoint, in their short and long forms. The
// short forms are ordered so that "-ctk" is tried before its prefix "-c".
constexpr std::string_view kPlannedShortFlags[] = {"-ctk", "-ctv", "-np", "-m", "-c"};
constexpr std::string_view kPlannedLongFlags[] = {"--model",        "--host",     "--port",
                                                  "--parallel",     "--ctx-size", "--cache-type-k",
                                                  "--cache-type-v", "--metrics",  "--no-metrics"};

// Returns whether `rest`, the part of a word after a short flag, is a value attached to that
// flag, as in "-c8192" or "-c=8192". Lower-case letters and dashes alone continue the name of
// another flag instead, such as "-cb" or "-ctkd", because llama-server's flag names are made of
// them.
bool is_attached_value(std::string_view rest) {
  if (rest.empty()) {
    return false;
  }
  return std::any_of(rest.begin(), rest.end(), [](char c) {
    return !(std::islower(static_cast<unsigned char>(c)) || c == '-');
  });
}

// Returns the entry of `flags` that the long flag `word` names, or an empty view. llama-server
// reads a value after '=' and an underscore in place of a dash, so both match.
std::string_view find_long_flag(std::string_view word, std::span<const std::string_view> flags) {
  std::string flag(word.substr(0, word.find('=')));
  std::replace(flag.begin(), flag.end(), '_', '-');
  for (std::string_view known : flags) {
    if (known == flag) {
      return known;
    }
  }
  return {};
}

// Returns the planned flag that `word` sets, in the spelling of kPlannedShortFlags or
// kPlannedLongFlags, for a word that sets_planned_flag() accepts.
std::string_view planned_flag_of(std::string_view word) {
  if (word.rfind("--", 0) == 0) {
    return find_long_flag(word, kPlannedLongFlags);
  }
  for (std::string_view planned : kPlannedShortFlags) {
    if (word.rfind(planned, 0) == 0) {
      return planned;
    }
  }
  return {};
}

// Returns what to do instead of passing `word`, a flag that sets_planned_flag() accepts.
std::string planned_flag_fix(std::string_view word) {
  const std::string_view flag = planned_flag_of(word);
  if (flag == "-m" || flag == "--model") {
    return "remove it, and pass the GGUF file with --model";
  }
  if (flag == "--host" || flag == "--port") {
    return "remove it: the server listens on a free port of 127.0.0.1, which the run picks";
  }
  if (flag == "-np" || flag == "--parallel") {
    return "remove it, and set the slots with --agents, or --max-agents with auto-scaling";
  }
  if (flag == "-c" || flag == "--ctx-size") {
    return "remove it, and set the context per slot with --num-ctx";
  }
  if (flag == "--metrics" || flag == "--no-metrics") {
    return "remove it: the server always gets --metrics, because the run reads the server's "
           "busy slots and queue from /metrics";
  }
  return "remove it, and set the cache types with --kv-cache-type";
}

// The llama-server flags that plan_launch() does not set but that break what the run assumes
// about the server. An API key must come with every request, and the client would not send it.
// With a KV cache that all slots share (-kvu), a slot may hold more or fewer than -c / -np tokens,
// the context per slot that the run plans its requests for. -nkvo keeps the KV cache in host
// memory, while the plan counts it in the memory of the GPUs.
constexpr std::string_view kConflictingShortFlags[] = {"-kvu", "-nkvo"};
constexpr std::string_view kConflictingLongFlags[] = {"--api-key", "--api-key-file", "--kv-unified",
                                                      "--kv-unified-per-slot", "--no-kv-offload"};

// Returns the conflicting flag that `word` sets, in the spelling of kConflictingShortFlags or
// kConflictingLongFlags, or an empty view. A long flag may carry its value after '=' and spell a
// dash as an underscore. The short flags take no value, so only the flag alone matches.
std::string_view conflicting_flag_of(std::string_view word) {
  if (word.rfind("--", 0) == 0) {
    return find_long_flag(word, kConflictingLongFlags);
  }
  for (std::string_view conflicting : kConflictingShortFlags) {
    if (conflicting == word) {
      return conflicting;
    }
  }
  return {};
}

// Returns the error for `flag`, a flag that conflicting_flag_of() returns in `setting`. The
// message names the flag alone, because the word may contain an API key.
std::string conflicting_flag_message(std::string_view flag, std::string_view setting) {
  if (flag == "--api-key" || flag == "--api-key-file") {
    return fmt::format(
        "{} sets {}, which makes llama-server reject every request "
        "without that key, and the client does not send it: remove it, and pass the key with "
        "--api-key (server.api_key), which --start-server hands to llama-server and the client "
        "sends with every request",
        setting, flag);
  }
  if (flag == "-nkvo" || flag == "--no-kv-offload") {
    return fmt::format(
        "{} sets {}, which keeps the KV cache in host memory, but the run "
        "plans the slots with their KV cache in the memory of the GPUs, so host memory may not "
        "hold them: remove it, and to fit more slots lower --num-ctx or quantize the KV cache "
        "(--kv-cache-type q8_0)",
        setting, flag);
  }
  return fmt::format(
      "{} sets {}, which makes all slots share one KV cache, so a slot "
      "may hold more or less than -c divided by -np tokens, the context per slot that the run "
      "plans and sizes its requests for: remove it, and set the context per slot with "
      "--num-ctx",
      setting, flag);
}

// Returns whether `words` contain llama-server's --swa-full, in a spelling that it reads.
bool sets_swa_full(const std::vector<std::string>& words) {
  constexpr std::string_view kSwaFull[] = {"--swa-full"};
  return std::any_of(words.begin(), words.end(), [&kSwaFull](const std::string& word) {
    return word.rfind("--", 0) == 0 && !find_long_flag(word, kSwaFull).empty();
  });
}

// Plans the sliding-window layers of `spec` with the full context per slot, as llama-server's
// --swa-full allocates them (llama.cpp then sizes their cache like that of the other layers), and
// adds a note when the model has such layers.
void plan_full_sliding_window(model::ModelSpec& spec, std::string_view setting,
                              std::vector<std::string>& notes) {
  const auto sliding = std::count(spec.sliding_layers.begin(), spec.sliding_layers.end(), true);
  if (sliding == 0) {
    return;
  }
  spec.sliding_layers.assign(spec.sliding_layers.size(), false);
  notes.push_back(
      fmt::format("--swa-full in {}: the KV cache of the {} sliding-window layers is planned "
                  "for the full context per slot",
                  setting, sliding));
}

// The variables of llama-server that the started server does not inherit, with the reason that
// withheld_variables() returns. llama-server reads LLAMA_ARG_NO_X as well as LLAMA_ARG_X for an
// option with a negative form, and the negative name turns the option off whatever its value.
struct VariableReason {
  std::string_view name;
  std::string_view reason;
};
constexpr std::string_view kApiKeyReason =
    "it makes llama-server reject every request without that key, and the client does not send "
    "it: pass the key with --api-key (server.api_key)";
constexpr std::string_view kSharedCacheReason =
    "it makes all slots share one KV cache, so a slot may hold more or less than the context per "
    "slot that the run plans: set the context per slot with --num-ctx";
constexpr std::string_view kKvOffloadReason =
    "it can keep the KV cache in host memory, but the run plans it in the memory of the GPUs: to "
    "fit more slots lower --num-ctx or quantize the KV cache (--kv-cache-type q8_0)";
constexpr VariableReason kWithheldVariables[] = {
    {"LLAMA_API_KEY", kApiKeyReason},
    {"LLAMA_ARG_API_KEY_FILE", kApiKeyReason},
    {"LLAMA_ARG_KV_UNIFIED", kSharedCacheReason},
    {"LLAMA_ARG_KV_UNIFIED_PER_SLOT", kSharedCacheReason},
    {"LLAMA_ARG_KV_OFFLOAD", kKvOffloadReason},
    {"LLAMA_ARG_NO_KV_OFFLOAD", kKvOffloadReason},
    {"LLAMA_ARG_SWA_FULL",
     "it gives the sliding-window layers a KV cache of the full context per slot, which the plan "
     "counts only for --swa-full in --server-args: pass --swa-full there instead"},
};

// Returns the value of llama-server's flash attention flag in `words` ("-fa on",
// "--flash-attn=off"), the last one when it appears twice, as llama-server reads it. Returns
// nullopt without the flag, and an empty string when the flag has no value.
std::optional<std::string> flash_attention_value(const std::vector<std::string>& words) {
  std::optional<std::string> value;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "-fa" || word == "--flash-attn" || word == "--flash_attn") {
      value = i + 1 < words.size() ? words[i + 1] : "";
    } else if (word.rfind("--flash-attn=", 0) == 0 || word.rfind("--flash_attn=", 0) == 0) {
      value = word.substr(word.find('=') + 1);
    }
  }
  return value;
}

}  // namespace

Result<std::vector<std::string>> split_shell_words(const std::string& text,
                                                   std::string_view setting) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // true once a character or a pair of quotes started a word
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 == text.size()) {
        return Status(ErrorCode::kInvalidArgument,
                      fmt::format("{} '{}' ends with a backslash, which escapes nothing: "
                                  "remove it, or write \\\\ for a backslash",
                                  setting, text));
      }
      word += text[++i];
      continue;
    }
    if (c != '\'' && c != '"') {
      word += c;
      continue;
    }
    // A double-quoted part keeps a backslash unless it escapes a double quote or a backslash.
    // A single-quoted part keeps every character.
    const size_t open = i;
    for (++i; i < text.size() && text[i] != c; ++i) {
      if (c == '"' && text[i] == '\\' && i + 1 < text.size() &&
          (text[i + 1] == '"' || text[i + 1] == '\\')) {
        ++i;
      }
      word += text[i];
    }
    if (i == text.size()) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("{} '{}' has a {} quote at character {} that is not closed: "
                                "close it, or write \\{} for the quote character itself",
                                setting, text, c == '"' ? "double" : "single", open + 1, c));
    }
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  return words;
}

bool sets_planned_flag(std::string_view word) {
  if (word.rfind("--", 0) == 0) {
    // llama-server reads "--flag=value" as well, and an underscore in a long flag as a dash.
    std::string flag(word.substr(0, word.find('=')));
    std::replace(flag.begin(), flag.end(), '_', '-');
    return std::find(std::begin(kPlannedLongFlags), std::end(kPlannedLongFlags), flag) !=
           std::end(kPlannedLongFlags);
  }
  return std::any_of(std::begin(kPlannedShortFlags), std::end(kPlannedShortFlags),
                     [word](std::string_view planned) {
                       if (word.rfind(planned, 0) != 0) {
                         return false;
                       }
                       const std::string_view rest = word.substr(planned.size());
                       return rest.empty() || is_attached_value(rest);
                     });
}

Result<std::vector<std::string>> split_server_args(const std::string& text,
                                                   std::string_view setting) {
  Result<std::vector<std::string>> words = split_shell_words(text, setting);
  if (!words) {
    return words.status();
  }
  for (const std::string& word : *words) {
    if (sets_planned_flag(word)) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("{} sets '{}', which --start-server chooses itself: {}", setting,
                                word, planned_flag_fix(word)));
    }
    if (const std::string_view flag = conflicting_flag_of(word); !flag.empty()) {
      return Status(ErrorCode::kInvalidArgument, conflicting_flag_message(flag, setting));
    }
  }
  return words;
}

bool conflicts_with_launch(std::string_view word) {
  return !conflicting_flag_of(word).empty();
}

bool is_withheld_variable(std::string_view name) {
  return std::any_of(std::begin(kWithheldVariables), std::end(kWithheldVariables),
                     [name](const VariableReason& withheld) { return withheld.name == name; });
}

std::vector<WithheldVariable> withheld_variables(const EnvLookup& env, const std::string& api_key) {
  std::vector<WithheldVariable> found;
  for (const VariableReason& withheld : kWithheldVariables) {
    const std::string name(withheld.name);
    const std::optional<std::string> value = env(name);
    if (!value || (name == "LLAMA_API_KEY" && *value == api_key)) {
      continue;
    }
    found.push_back({name, std::string(withheld.reason)});
  }
  return found;
}

std::optional<std::string> flash_attention_conflict(const std::vector<std::string>& words,
                                                    bool needs_flash_attention) {
  const std::optional<std::string> value = flash_attention_value(words);
  if (!needs_flash_attention || !value || *value == "on") {
    return std::nullopt;
  }
  return value->empty() ? std::string("-fa") : "-fa " + *value;
}

std::string LaunchPlan::summary() const {
  std::string text = fmt::format("-np {} -c {}", parallel, total_ctx);
  if (cache_type_k != "f16" || cache_type_v != "f16") {
    text += fmt::format(" -ctk {} -ctv {}", cache_type_k, cache_type_v);
  }
  return text + (flash_attention ? " -fa on" : "");
}

Result<LaunchPlan> plan_launch(const Config& config, const std::string& binary,
                               const std::string& model_path, const gpu::GpuSnapshot& snapshot) {
  if (Status files = check_files(binary, model_path); !files) {
    return files;
  }
  Result<model::ResolvedModel> resolved = model::resolve_model(model_path, config, {});
  if (!resolved) {
    const Status located = resolved.status().with_context("model file '" + model_path + "'");
    // A file that is no valid GGUF model is the user's to fix, like a bad flag.
    const ErrorCode code = resolved.status().code();
    if (code == ErrorCode::kCorrupt || code == ErrorCode::kParseError ||
        code == ErrorCode::kInvalidArgument) {
      return Status(ErrorCode::kInvalidArgument,
                    located.message() + ": pass a GGUF model file to --model");
    }
    return located;
  }
  LaunchPlan plan;
  plan.binary = binary;
  plan.model_path = model_path;
  const std::string setting = setting_of(config, "server.start_server_args", "--server-args");
  Result<std::vector<std::string>> extra =
      split_server_args(config.server.start_server_args, setting);
  if (!extra) {
    return extra.status();
  }
  plan.extra_args = std::move(extra).value();
  Result<model::ModelDemand> demand = launch_demand(config, resolved->spec, plan);
  if (!demand) {
    return demand.status();
  }
  if (sets_swa_full(plan.extra_args)) {
    plan_full_sliding_window(demand->spec, setting, plan.notes);
  }
  // The KV cache has the same size with flash attention on, off or auto, so only a quantized V
  // cache, which llama.cpp rejects without flash attention, constrains the flag.
  if (const std::optional<std::string> conflict =
          flash_attention_conflict(plan.extra_args, plan.flash_attention)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} sets '{}', but the quantized V cache {} needs flash "
                              "attention, which --start-server turns on with -fa on: remove "
                              "'{}', or use an f16 cache (--kv-cache-type f16)",
                              setting, *conflict, plan.cache_type_v, *conflict));
  }
  plan.api_key = config.server.api_key;
  if (!plan.api_key.empty()) {
    plan.notes.push_back(
        "llama-server gets the key of --api-key (server.api_key) in LLAMA_API_KEY, so it "
        "accepts only requests that carry it");
  }
  model::CapacityOptions options = model::capacity_options(config);
  options.server_slots.reset();  // the slot count is what this plan chooses
  options.max_agents.reset();
  Result<model::CapacityPlan> capacity =
      model::plan_capacity({*demand}, model::budgets_from_snapshot(snapshot), options);
  if (!capacity) {
    return capacity.status();
  }
  const model::ModelPlacement& placement = capacity->models.front();
  if (!placement.fits || placement.memory_slots == 0) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("model '{}' does not fit with one slot of {} tokens: {}; lower "
                              "--num-ctx or quantize the KV cache (--kv-cache-type q8_0)",
                              model_path, plan.ctx_per_slot, placement.reason));
  }
  if (snapshot.devices.empty()) {
    // NOTE: llama-server also keeps a prompt cache (--cache-ram, at most 8192 MiB by default as
    // its --help states) and per-slot context checkpoints in host memory, which this plan does
    // not count, so host memory may hold fewer slots than planned.
    plan.notes.push_back(
        "no GPU found: slots planned in host memory, where llama-server then "
        "runs the model on the CPU");
  }
  const auto [bound, bound_key] = run_agent_bound(config);
  const int fit = static_cast<int>(std::min<uint32_t>(placement.memory_slots, 4096));
  plan.parallel = std::max(1, std::min(fit, bound));
  plan.total_ctx = plan.parallel * plan.ctx_per_slot;
  // A search that stopped at its limit found no memory limit yet, so the count is a lower bound.
  const std::string fits = placement.limiting_resource == model::kSlotSearchLimit
                               ? fmt::format("memory fits at least {} of {} tokens",
                                             count_text(fit, "slot"), plan.ctx_per_slot)
                               : fmt::format("{} fits {} of {} tokens", placement.limiting_resource,
                                             count_text(fit, "slot"), plan.ctx_per_slot);
  plan.reason = plan.parallel < fit
                    ? fmt::format("-np {}: the run uses at most {} ({}), and {}", plan.parallel,
                                  count_text(bound, "agent"), bound_key, fits)
                    : fmt::format("-np {}: {} ({} allowed by {})", plan.parallel, fits,
                                  count_text(bound, "agent"), bound_key);
  return plan;
}

Result<RunServer> start_run_server(const Config& config, const std::string& binary,
                                   std::shared_ptr<Clock> clock, const CancelToken& cancel) {
  // run_goal() rejects a malformed memory override first, so a run never takes the fallback.
  Result<gpu::ProbeContext> context = gpu::machine_probe_context(clock, process_env());
  const gpu::GpuSnapshot snapshot =
      gpu::SnapshotProber(context ? std::move(context).value() : gpu::system_probe_context(clock),
                          clock)
          .take();
  Result<LaunchPlan> plan = plan_launch(config, binary, config.server.model, snapshot);
  if (!plan) {
    return plan.status();
  }
  Result<std::filesystem::path> log_path = server_log_path(config, *clock);
  if (!log_path) {
    return log_path.status();
  }
  ManagedServer::Options options;
  options.log_path = *log_path;
  Result<std::unique_ptr<ManagedServer>> process =
      ManagedServer::start(*plan, options, clock, cancel);
  if (!process) {
    return process.status();
  }
  RunServer server;
  server.process = std::move(process).value();
  server.plan = *plan;
  server.config = config;
  server.config.server.backend = "openai";
  server.config.server.host = server.process->url();
  server.config.server.num_parallel = plan->parallel;
  for (const char* key : {"server.backend", "server.host", "server.num_parallel"}) {
    server.config.sources[key] = "flag:--start-server";
  }
  // The run sizes its requests for the context that the server has per slot, which is smaller
  // than server.num_ctx when the plan lowered it to the model's training context.
  if (plan->ctx_per_slot > 0 && plan->ctx_per_slot < server.config.server.num_ctx) {
    server.config.server.num_ctx = plan->ctx_per_slot;
    server.config.sources["server.num_ctx"] = "flag:--start-server";
  }
  server.notes.push_back(fmt::format("started llama-server (pid {}) at {}: {}; {}",
                                     server.process->pid(), server.process->url(),
                                     plan->command_line(server.process->port()), plan->reason));
  server.notes.push_back("llama-server log: " + server.process->log_path().string());
  for (const std::string& note : plan->notes) {
    server.notes.push_back("llama-server: " + note);
  }
  for (const WithheldVariable& variable : withheld_variables(process_env(), plan->api_key)) {
    server.notes.push_back(fmt::format("llama-server: removed {} from its environment: {}",
                                       variable.name, variable.reason));
  }
  return server;
}

}  // namespace ollamaflow::flow
