// ollama-flow: the command-line entry point. Parses flags and hands each subcommand its
// options and the effective configuration; the work happens in the library.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/flags.h"
#include "cli/signals.h"
#include "core/terminal_text.h"
#include "llm/factory.h"
#include "model/planning.h"

namespace ollamaflow::cli {
namespace {

// Adds the options of the server and the run, shared by `run` and `interactive`.
void add_run_options(CLI::App* command, GlobalOptions& global, RunOptions& options) {
  ConfigFlags& f = global.flags;
  f.add<std::string>(command, "--backend", "server.backend",
                     "Model server API: ollama (default), openai or sim (built-in simulated)");
  f.add<std::string>(command, "--host", "server.host",
                     "Model server URL (default $OLLAMA_HOST or http://127.0.0.1:11434)");
  f.add<std::string>(command, "--model", "server.model", "Model for every role without its own");
  f.add<std::string>(command, "--api-key", "server.api_key",
                     "Bearer token for an OpenAI-compatible server");
  f.add<int>(command, "--agents", "run.agents",
             "Agents in the pool without auto-scaling (default 4)");
  f.add<std::string>(command, "--workspace", "run.workspace",
                     "Folder for the files the agents write (default: a new folder per run)");
  f.add<std::string>(command, "--db", "run.db",
                     "Journal database (default $XDG_DATA_HOME/ollama-flow/journal.db)");
  f.add<int>(command, "--max-plan-attempts", "run.max_plan_attempts",
             "Plans requested before the run fails when the model's plans stay invalid");
  f.add<int>(command, "--max-task-attempts", "run.max_task_attempts",
             "Attempts per subtask for malformed or truncated replies");
  f.add<int>(command, "--num-ctx", "server.num_ctx", "Context tokens per request (num_ctx)");
  f.add<int>(command, "--num-predict", "server.num_predict", "Output token limit per request");
  f.add<int64_t>(command, "--seed", "server.seed", "Sampling seed sent with every request");
  f.add<double>(command, "--temperature", "server.temperature", "Sampling temperature");
  f.add_switch(command, "--auto-scaling", "auto_scaling.enabled",
               "Grow and shrink the agent pool by GPU memory and workload");
  f.add<std::string>(command, "--strategy", "auto_scaling.strategy",
                     "Scaling strategy: GPU_MEMORY_BASED, WORKLOAD_BASED, HYBRID, CONSERVATIVE "
                     "or AGGRESSIVE");
  f.add<int>(command, "--min-agents", "gpu_scaling.min_agents", "Fewest agents when scaling");
  f.add<int>(command, "--max-agents", "gpu_scaling.max_agents",
             "Most agents when scaling (default: what fits in memory, 8 when that is unknown)");
  f.add<std::string>(
      command, "--profile", "auto_scaling.profile",
      "Environment profile: development, testing, production or one from environments in "
      "the configuration file");
  f.add_switch(command, "--dry-run", "auto_scaling.dry_run",
               "Record scaling decisions without acting on them");
  f.add<std::string>(command, "--server-args", "server.start_server_args",
                     "More arguments for the llama-server that --start-server starts, such as "
                     "\"--threads 8\"; quote a word that contains spaces as in a shell");
  f.add<std::string>(command, "--kv-cache-type", "memory.kv_cache_type_k",
                     "KV cache type for memory estimates (f16, q8_0, q4_0, ...)");
  command
      ->add_option("--plan", options.plan_file,
                   "Run this plan (JSON as printed by --plan-only --json) instead of "
                   "asking the model for one")
      ->check(non_empty_text("the plan file path is empty: pass the path of a plan JSON file"));
  command->add_flag("--plan-only", options.plan_only, "Print the plan and stop");
}

// Removes --plan and --plan-only from a command that takes the run options but runs no plan, so
// that CLI11 rejects them as unexpected arguments instead of ignoring them.
void drop_plan_options(CLI::App* command) {
  command->remove_option(command->get_option("--plan"));
  command->remove_option(command->get_option("--plan-only"));
}

// Removes --server-args from a command that starts no llama-server, so that its help does not list
// it and CLI11 rejects it as an unexpected argument.
void drop_server_args(CLI::App* command, GlobalOptions& global) {
  global.flags.remove(command, "--server-args");
}

// Removes the options that only a run reads from a command that runs nothing, such as `models`.
// The memory options stay: --max-agents caps the slot search and --profile sets the safety
// margin.
void drop_run_only_options(CLI::App* command, GlobalOptions& global) {
  for (const char* name : {"--agents", "--workspace", "--db", "--max-plan-attempts",
                           "--max-task-attempts", "--num-predict", "--seed", "--temperature",
                           "--auto-scaling", "--strategy", "--min-agents", "--dry-run"}) {
    global.flags.remove(command, name);
  }
}

// Returns true when a flag on the command line sets configuration `key`.
bool flag_sets(const GlobalOptions& global, const std::string& key) {
  for (const FlagValue& value : global.flags.values()) {
    if (value.key == key) {
      return true;
    }
  }
  return false;
}

// Returns true when --backend or --host was given, so that an unreachable server is an error.
bool backend_chosen(const GlobalOptions& global) {
  return flag_sets(global, "server.backend") || flag_sets(global, "server.host");
}

// Rejects --server-args without --start-server, which would otherwise be ignored. The key in a
// configuration file is kept for the runs that start a server.
void check_server_args(const GlobalOptions& global, const std::string& start_server) {
  if (start_server.empty() && flag_sets(global, "server.start_server_args")) {
    throw CLI::ValidationError("--server-args",
                               "it sets arguments of the llama-server that --start-server "
                               "starts: add --start-server BIN, or drop --server-args");
  }
}

// Rejects the scaling flags when auto-scaling is off, and --agents when it is on, because nothing
// would read them. Values from the configuration file or the environment stay allowed, so that
// one file serves runs with and without auto-scaling.
void check_scaling_flags(const GlobalOptions& global, const Config& config) {
  if (config.auto_scaling) {
    if (flag_sets(global, "run.agents")) {
      throw CLI::ValidationError(
          "--agents",
          fmt::format(
              "it sets a fixed pool, and auto-scaling (auto_scaling.enabled from {}) sizes the "
              "pool itself: drop --agents and bound the pool with --min-agents and "
              "--max-agents, or turn auto-scaling off",
              describe_source_of(config, "auto_scaling.enabled")));
    }
    return;
  }
  if (flag_sets(global, "auto_scaling.dry_run")) {
    throw CLI::ValidationError("--dry-run",
                               "it records scaling decisions without acting on them, and "
                               "without auto-scaling there are none: add --auto-scaling, or "
                               "drop --dry-run");
  }
  const struct {
    const char* flag;
    const char* key;
    const char* purpose;
  } scaling_flags[] = {
      {"--strategy", "auto_scaling.strategy", "chooses how auto-scaling sizes the pool"},
      {"--min-agents", "gpu_scaling.min_agents", "sets the fewest agents that auto-scaling keeps"},
      {"--max-agents", "gpu_scaling.max_agents", "sets the most agents that auto-scaling starts"},
  };
  for (const auto& scaling_flag : scaling_flags) {
    if (flag_sets(global, scaling_flag.key)) {
      throw CLI::ValidationError(
          scaling_flag.flag,
          fmt::format("it {}, and without auto-scaling the pool is fixed: add --auto-scaling, "
                      "or drop {} and set a fixed pool with --agents N",
                      scaling_flag.purpose, scaling_flag.flag));
    }
  }
}

// Returns the note that --profile without auto-scaling changes only the memory safety margin,
// or nullopt when auto-scaling is on or no flag set the profile. A profile stays allowed because
// its memory safety margin also applies to the capacity figures and to the server that
// --start-server sizes. The note names what the fixed pool ignores.
std::optional<std::string> fixed_pool_profile_note(const GlobalOptions& global,
                                                   const Config& config) {
  if (config.auto_scaling || !flag_sets(global, "auto_scaling.profile")) {
    return std::nullopt;
  }
  const auto margin_source = config.sources.find("gpu_scaling.memory_safety_margin");
  const bool margin_from_profile =
      margin_source != config.sources.end() && margin_source->second.rfind("profile:", 0) == 0;
  return fmt::format(
      "--profile {} sets the strategy, check interval and cooldown of auto-scaling, which is off, "
      "so the pool stays fixed; {}. Add --auto-scaling to scale the pool",
      config.profile,
      margin_from_profile ? fmt::format("only its memory safety margin of {:g} applies",
                                        config.gpu_scaling.memory_safety_margin)
                          : "it sets no memory safety margin, so nothing of it applies");
}

// Rejects the scaling flags that check_scaling_flags() rejects, prints the notes on the flags
// that remain, and returns those notes for the run's report.
std::vector<std::string> check_and_note_scaling_flags(const GlobalOptions& global,
                                                      const Config& config) {
  check_scaling_flags(global, config);
  std::vector<std::string> notes;
  if (std::optional<std::string> note = fixed_pool_profile_note(global, config)) {
    std::cerr << "note: " << *note << "\n";
    notes.push_back(std::move(*note));
  }
  return notes;
}

// Returns true when a flag, the environment or the configuration file set the model.
bool model_given(const Config& config) {
  for (const char* key : {"server.model", "auto_scaling.model"}) {
    auto it = config.sources.find(key);
    if (it != config.sources.end() && it->second != "default") {
      return true;
    }
  }
  return false;
}

// Copies --kv-cache-type to the V cache as well: the flag sets both, like OLLAMA_KV_CACHE_TYPE.
std::optional<Config> load_run_config(const GlobalOptions& global) {
  std::optional<Config> config = load_effective_config(global);
  if (config && config->sources["memory.kv_cache_type_k"] == "flag:--kv-cache-type") {
    config->kv_cache_type_v = config->kv_cache_type_k;
    config->sources["memory.kv_cache_type_v"] = "flag:--kv-cache-type";
  }
  return config;
}

// Returns whether the server URL of `config` is well formed, as `run` requires before it contacts
// the server. Prints the error when it is not.
bool server_url_valid(const Config& config) {
  Status valid = llm::check_server_url(config);
  if (!valid) {
    print_error(valid.message());
  }
  return valid.is_ok();
}

// Returns the names of the subcommands of `command`, comma-separated.
std::string subcommand_names(const CLI::App& command) {
  std::string names;
  for (const CLI::App* subcommand : command.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + subcommand->get_name();
  }
  return names;
}

// Prints an error naming the known subcommands and returns 2 when `command` (argv[1]) needs a
// subcommand and argv[2] is missing or names none. Returns 0 otherwise. CLI11 alone prints only
// "A subcommand is required".
int check_nested_subcommand(const CLI::App& command, int argc, char** argv) {
  if (command.get_require_subcommand_min() == 0) {
    return 0;
  }
  if (argc > 2 && argv[2][0] == '-') {
    return 0;  // --help, or an option that CLI11 reports itself
  }
  if (argc > 2) {
    for (const CLI::App* subcommand : command.get_subcommands({})) {
      if (subcommand->get_name() == argv[2]) {
        return 0;
      }
    }
    print_error(fmt::format("unknown subcommand '{} {}': use one of {} (see ollama-flow {} --help)",
                            argv[1], argv[2], subcommand_names(command), argv[1]));
  } else {
    print_error(fmt::format("{} needs a subcommand: use one of {} (see ollama-flow {} --help)",
                            argv[1], subcommand_names(command), argv[1]));
  }
  return 2;
}

int run_main(int argc, char** argv) {
  CLI::App app{
      "ollama-flow: a swarm of LLM agents on local models, scaled to what the GPU and "
      "the work can bear"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ollama-flow ") + OLLAMA_FLOW_VERSION);
  int exit_code = 0;
  // Option storage for subcommands that take run options they do not use; CLI11 keeps
  // references to it until parsing ends.
  std::vector<std::shared_ptr<RunOptions>> unused_run_options;
  auto spare_run_options = [&]() -> RunOptions& {
    unused_run_options.push_back(std::make_shared<RunOptions>());
    return *unused_run_options.back();
  };

  // run
  auto run_global = std::make_shared<GlobalOptions>();
  auto run_options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "Plan a goal, run the subtasks in parallel, report");
  run->add_option("goal", run_options->goal, "What the agents should do")
      ->check(non_empty_text("the goal is empty: say what the agents should do"));
  run->add_option("--resume", run_options->resume_id,
                  "Continue the journaled run ID; finished subtasks are not redone");
  add_global_options(run, *run_global);
  add_run_options(run, *run_global, *run_options);
  run->add_flag("--json", run_options->json, "Print the report as one JSON document");
  run->add_option("--start-server", run_options->start_server,
                  "Start this llama-server binary with --model FILE.gguf, with the slots and "
                  "context the capacity planner computes; the backend is then openai");
  run->callback([&, run_global, run_options] {
    if (run_options->goal.empty() && run_options->resume_id.empty() &&
        run_options->plan_file.empty()) {
      throw CLI::ValidationError("goal", "give a GOAL, --plan FILE or --resume ID");
    }
    if (!run_options->goal.empty() &&
        run_options->goal.find_first_not_of(" \t\r\n") == std::string::npos) {
      throw CLI::ValidationError("goal", "the goal is blank: say what the agents should do");
    }
    if (!run_options->resume_id.empty() &&
        (!run_options->goal.empty() || !run_options->plan_file.empty())) {
      throw CLI::ValidationError("--resume", "--resume " + run_options->resume_id +
                                                 " continues that run's own goal and plan; "
                                                 "drop the GOAL and --plan, or start a new run "
                                                 "without --resume");
    }
    // A resume runs the journaled plan. Planning again would rewrite the run's status and report.
    if (!run_options->resume_id.empty() && run_options->plan_only) {
      throw CLI::ValidationError("--plan-only",
                                 "--resume " + run_options->resume_id +
                                     " runs the plan that the journal holds; print that plan "
                                     "with `ollama-flow runs show " +
                                     run_options->resume_id + " --plan` instead");
    }
    check_server_args(*run_global, run_options->start_server);
    if (!run_options->start_server.empty() && backend_chosen(*run_global)) {
      throw CLI::ValidationError("--start-server",
                                 "--start-server runs its own server as the openai backend on "
                                 "127.0.0.1; drop --host and --backend");
    }
    std::optional<Config> config = load_run_config(*run_global);
    if (config) {
      run_options->notes = check_and_note_scaling_flags(*run_global, *config);
    }
    if (config && !run_options->start_server.empty() && !model_given(*config)) {
      throw CLI::ValidationError("--start-server",
                                 "--start-server " + run_options->start_server +
                                     " needs the model it serves: add --model FILE.gguf");
    }
    run_options->backend_chosen = backend_chosen(*run_global);
    exit_code = config ? cmd_run(*config, *run_options) : 2;
  });

  // interactive
  auto ia_global = std::make_shared<GlobalOptions>();
  auto ia_options = std::make_shared<RunOptions>();
  CLI::App* interactive =
      app.add_subcommand("interactive", "Read goals and commands in a loop (type help)");
  add_global_options(interactive, *ia_global);
  add_run_options(interactive, *ia_global, *ia_options);
  drop_server_args(interactive, *ia_global);
  interactive->add_flag("--json", ia_options->json,
                        "Print only JSON documents on stdout, one per line; the prompt and "
                        "notes go to stderr");
  interactive->callback([&, ia_global, ia_options] {
    if (ia_options->plan_only || !ia_options->plan_file.empty()) {
      throw CLI::ValidationError(ia_options->plan_only ? "--plan-only" : "--plan",
                                 "interactive runs each goal it reads in full; use `run GOAL "
                                 "--plan-only` or `run --plan FILE` for one plan");
    }
    std::optional<Config> config = load_run_config(*ia_global);
    if (config) {
      ia_options->notes = check_and_note_scaling_flags(*ia_global, *config);
    }
    if (config && !server_url_valid(*config)) {
      config.reset();
    }
    ia_options->backend_chosen = backend_chosen(*ia_global);
    exit_code = config ? cmd_interactive(*config, *ia_options) : 2;
  });

  // runs [show ID]
  auto runs_global = std::make_shared<GlobalOptions>();
  auto runs_options = std::make_shared<RunsOptions>();
  CLI::App* runs = app.add_subcommand("runs", "List journaled runs, or show one");
  add_global_options(runs, *runs_global);
  runs_global->flags.add<std::string>(runs, "--db", "run.db", "Journal database");
  runs->add_option("--limit", runs_options->limit, "Runs to list, newest first (default 20)")
      ->check(integer_range(1, std::numeric_limits<int>::max()));
  runs->add_flag("--json", runs_options->json, "Print JSON");
  CLI::App* runs_show = runs->add_subcommand("show", "Show one run with its tasks and events");
  runs_show->fallthrough();  // --db and --config of `runs` also after `show`
  // Checked in the callback instead of by required(), whose message does not say where ids
  // come from.
  runs_show->add_option("id", runs_options->show_id, "Run id, as `ollama-flow runs` lists it");
  runs_show->add_flag("--json", runs_options->json, "Print JSON");
  runs_show->add_flag("--plan", runs_options->plan,
                      "Print only the run's accepted plan, as the JSON that `run --plan FILE` "
                      "reads");
  runs->callback([&, runs_global, runs_options, runs_show] {
    if (runs_show->parsed() && runs_options->show_id.empty()) {
      throw CLI::ValidationError("id",
                                 "runs show needs a run id: pass one that `ollama-flow "
                                 "runs` lists, as in `ollama-flow runs show ID`");
    }
    std::optional<Config> config = load_effective_config(*runs_global);
    exit_code = config ? cmd_runs(*config, *runs_options) : 2;
  });

  // config show
  auto config_global = std::make_shared<GlobalOptions>();
  auto config_options = std::make_shared<ConfigShowOptions>();
  CLI::App* config_cmd = app.add_subcommand("config", "Show the effective configuration");
  config_cmd->require_subcommand(1);
  CLI::App* config_show =
      config_cmd->add_subcommand("show", "Print every key, its value and where it came from");
  add_global_options(config_show, *config_global);
  add_run_options(config_show, *config_global, spare_run_options());
  drop_plan_options(config_show);
  config_show->add_flag("--json", config_options->json, "Print JSON");
  config_show->callback([&, config_global, config_options] {
    std::optional<Config> config = load_run_config(*config_global);
    if (config && !server_url_valid(*config)) {
      config.reset();
    }
    exit_code = config ? cmd_config_show(*config, *config_options) : 2;
  });

  // status
  auto status_global = std::make_shared<GlobalOptions>();
  auto status_options = std::make_shared<StatusOptions>();
  CLI::App* status = app.add_subcommand("status", "Scaling status and metrics of active runs");
  add_global_options(status, *status_global);
  status_global->flags.add<std::string>(status, "--db", "run.db",
                                        "Journal database; status files are kept beside it");
  status->add_flag("--json", status_options->json, "Print JSON");
  status->callback([&, status_global, status_options] {
    std::optional<Config> config = load_effective_config(*status_global);
    exit_code = config ? cmd_status(*config, *status_options) : 2;
  });

  // gpu
  auto gpu_global = std::make_shared<GlobalOptions>();
  auto gpu_options = std::make_shared<GpuOptions>();
  CLI::App* gpu = app.add_subcommand("gpu", "GPUs and host memory, with the source of each figure");
  add_global_options(gpu, *gpu_global);
  gpu->add_flag("--json", gpu_options->json, "Print JSON");
  gpu->add_flag("--watch", gpu_options->watch, "Refresh until interrupted");
  // A validator, not CLI11's needs(), so that the error names the fix.
  gpu->add_option("--interval", gpu_options->interval_s,
                  "Seconds between refreshes in --watch (0.1 to 3600, default 2)")
      ->check(CLI::Validator(
          [gpu](const std::string&) -> std::string {
            return gpu->count("--watch") == 0
                       ? "needs --watch, whose refresh period it sets: add --watch, or drop "
                         "--interval"
                       : "";
          },
          ""))
      ->check(finite_range(kMinGpuInterval, kMaxGpuInterval));
  gpu->callback([&, gpu_global, gpu_options] {
    std::optional<Config> config = load_effective_config(*gpu_global);
    exit_code = config ? cmd_gpu(*config, *gpu_options) : 2;
  });

  // models
  auto models_global = std::make_shared<GlobalOptions>();
  auto models_options = std::make_shared<ModelsOptions>();
  CLI::App* models = app.add_subcommand("models", "Installed models with size, context, memory");
  add_global_options(models, *models_global);
  add_run_options(models, *models_global, spare_run_options());
  drop_plan_options(models);
  drop_server_args(models, *models_global);
  drop_run_only_options(models, *models_global);
  models->add_flag("--json", models_options->json, "Print JSON");
  models->callback([&, models_global, models_options] {
    std::optional<Config> config = load_run_config(*models_global);
    if (config && !server_url_valid(*config)) {
      config.reset();
    }
    exit_code = config ? cmd_models(*config, *models_options) : 2;
  });

  // plan-capacity
  auto pc_global = std::make_shared<GlobalOptions>();
  auto pc_options = std::make_shared<PlanCapacityOptions>();
  CLI::App* pc = app.add_subcommand(
      "plan-capacity", "Memory breakdown of a model and how many agents fit, with the limit");
  add_global_options(pc, *pc_global);
  pc_global->flags.add<std::string>(pc, "--backend", "server.backend", "Model server API");
  pc_global->flags.add<std::string>(pc, "--host", "server.host", "Model server URL");
  // Checked in the callback instead of by required(), whose message does not say what to pass.
  pc->add_option("--model", pc_options->model, "Ollama model name or path to a .gguf file")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            return text.empty() ? "the model name is empty: give an Ollama model name such as "
                                  "llama3:8b or the path of a .gguf file"
                                : "";
          },
          "NAME"));
  // The conflict is checked by a validator that runs before the range checks, because CLI11
  // checks excludes() only after every value passed its validators.
  const CLI::Validator one_context(
      [pc](const std::string&) -> std::string {
        return pc->count("--ctx") > 0 && pc->count("--total-ctx") > 0
                   ? "--ctx and --total-ctx exclude each other, because --ctx sets the context "
                     "of each slot (Ollama num_ctx) and --total-ctx the context of all slots "
                     "together (llama-server -c): pass one of them"
                   : "";
      },
      "");
  pc->add_option("--ctx", pc_options->ctx,
                 "Context tokens per slot (Ollama num_ctx; default server.num_ctx)")
      ->check(one_context)
      ->check(config_text_check("--ctx", "server.num_ctx"));
  pc->add_option("--total-ctx", pc_options->total_ctx,
                 "Total context of all slots (llama-server -c); each slot gets total / parallel, "
                 "rounded up to a multiple of 256 tokens")
      ->check(one_context)
      ->check(integer_range(1, std::numeric_limits<int>::max()));
  pc->add_option("--parallel", pc_options->parallel, "Parallel slots (default: as many as fit)")
      ->check(integer_range(1, model::kMaxParallel));
  pc->add_option("--cache-type-k", pc_options->cache_type_k, "K cache type (f16, q8_0, q4_0, ...)");
  pc->add_option("--cache-type-v", pc_options->cache_type_v, "V cache type (f16, q8_0, q4_0, ...)");
  pc_global->flags.add<std::string>(pc, "--kv-cache-type", "memory.kv_cache_type_k",
                                    "Cache type for both K and V");
  pc->add_flag("--json", pc_options->json, "Print JSON");
  pc->callback([&, pc, pc_global, pc_options] {
    if (pc->count("--model") == 0) {
      throw CLI::ValidationError("--model",
                                 "plan-capacity needs a model: pass --model with an Ollama model "
                                 "name such as llama3:8b or the path of a .gguf file");
    }
    std::optional<Config> config = load_run_config(*pc_global);
    exit_code = config ? cmd_plan_capacity(*config, *pc_options) : 2;
  });

  // doctor
  auto doctor_global = std::make_shared<GlobalOptions>();
  auto doctor_options = std::make_shared<DoctorOptions>();
  CLI::App* doctor =
      app.add_subcommand("doctor", "Check the server, models, GPUs and the parallel setting");
  add_global_options(doctor, *doctor_global);
  add_run_options(doctor, *doctor_global, spare_run_options());
  drop_plan_options(doctor);
  doctor->add_flag("--json", doctor_options->json, "Print JSON");
  doctor->add_option("--start-server", doctor_options->start_server,
                     "Show the llama-server -np and -c that `run --start-server BIN` would use");
  doctor->callback([&, doctor_global, doctor_options] {
    check_server_args(*doctor_global, doctor_options->start_server);
    std::optional<Config> config = load_run_config(*doctor_global);
    if (config) {
      // The run flags decide the agent cap of the advice, so they follow the rules of `run`.
      (void)check_and_note_scaling_flags(*doctor_global, *config);
    }
    // A server that doctor plans to start gets its own host, as in `run --start-server`.
    if (config && doctor_options->start_server.empty() && !server_url_valid(*config)) {
      config.reset();
    }
    exit_code = config ? cmd_doctor(*config, *doctor_options) : 2;
  });

  register_simulate(app, exit_code);

  // CLI11 prints only "A subcommand is required" for a word that names none.
  const std::vector<CLI::App*> commands = app.get_subcommands([](CLI::App*) { return true; });
  const auto is_subcommand = [&commands](const std::string& word) {
    return std::any_of(commands.begin(), commands.end(),
                       [&word](const CLI::App* command) { return command->get_name() == word; });
  };
  if (argc > 1 && argv[1][0] != '-' && !is_subcommand(argv[1])) {
    print_error(fmt::format("unknown subcommand '{}': use one of {} (see --help)", argv[1],
                            subcommand_names(app)));
    return 2;
  }
  if (argc > 1 && argv[1][0] != '-') {
    if (int code = check_nested_subcommand(*app.get_subcommand(argv[1]), argc, argv); code != 0) {
      return code;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& error) {
    // CLI11 lists the unexpected arguments after the colon, joined by spaces. The first argument
    // of the command line that starts with '-' and is listed is a flag that the command does not
    // have, not a word of a goal. An argument may contain spaces, so the list is searched for
    // each argument whole.
    const std::string what = error.what();
    const size_t colon = what.find(": ");
    const std::string listed = colon == std::string::npos ? "" : " " + what.substr(colon + 2) + " ";
    std::string unknown_flag;
    for (int i = 2; i < argc && unknown_flag.empty(); ++i) {
      const std::string word = argv[i];
      if (word.size() > 1 && word[0] == '-' && listed.find(" " + word + " ") != std::string::npos) {
        unknown_flag = word;
      }
    }
    if (argc > 1 && argv[1][0] != '-' && !unknown_flag.empty()) {
      print_error(
          fmt::format("unknown option '{}' for `{}`: see `ollama-flow {} --help` for its "
                      "options",
                      escape_control_characters(unknown_flag), argv[1], argv[1]));
      return 2;
    }
    // `run Create a web app` splits the goal into words, and CLI11 names only the second one.
    if (argc > 1 && std::string_view(argv[1]) == "run") {
      print_error(
          fmt::format("{}: `run` takes one goal, so quote a goal of several words, as in "
                      "ollama-flow run \"Create a Python web app\"",
                      error.what()));
      return 2;
    }
    return app.exit(error) == 0 ? 0 : 2;
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  return exit_code;
}

}  // namespace
}  // namespace ollamaflow::cli

int main(int argc, char** argv) {
  // Every known failure returns a Status; an exception that gets here is a defect. It ends the
  // process with exit 1 and a message instead of an abort and a core file.
  ollamaflow::cli::ignore_broken_pipes();
  try {
    return ollamaflow::cli::run_main(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr,
                 "ollama-flow: internal error: %s; please report it with the command line that "
                 "caused it\n",
                 error.what());
    return 1;
  }
}
