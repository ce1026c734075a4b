// Subcommands of the ollama-flow binary. main.cc parses the flags into these option structs and
// calls the matching function; each returns the process exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "flow/run_types.h"

namespace ollamaflow::cli {

// The range of `gpu --interval`, in seconds.
constexpr double kMinGpuInterval = 0.1;
constexpr double kMaxGpuInterval = 3600;

struct GpuOptions {
  bool json = false;
  bool watch = false;
  double interval_s = 2;
};
int cmd_gpu(const Config& config, const GpuOptions& options);

struct ModelsOptions {
  bool json = false;
};
int cmd_models(const Config& config, const ModelsOptions& options);

struct PlanCapacityOptions {
  std::string model;                        // Ollama model name or a path to a .gguf file
  std::optional<int> ctx;                   // per-request context (Ollama num_ctx)
  std::optional<int> total_ctx;             // total context of all slots (llama-server -c)
  std::optional<int> parallel;              // slots; computed when not set
  std::optional<std::string> cache_type_k;  // overrides Config::kv_cache_type_k
  std::optional<std::string> cache_type_v;  // overrides Config::kv_cache_type_v
  bool json = false;
};
int cmd_plan_capacity(const Config& config, const PlanCapacityOptions& options);

struct DoctorOptions {
  bool json = false;
  std::string start_server;  // llama-server binary: report the -np and -c a run would start it with
};
int cmd_doctor(const Config& config, const DoctorOptions& options);

}  // namespace ollamaflow::cli

namespace ollamaflow::cli {

// Options of `run` and `interactive` that are not configuration keys.
struct RunOptions {
  std::string goal;
  std::string plan_file;
  bool plan_only = false;
  bool json = false;
  std::string resume_id;
  bool backend_chosen = false;     // --backend or --host was given
  std::string start_server;        // llama-server binary to start for the run (`run` only)
  std::vector<std::string> notes;  // printed before the run and kept in its report
};
int cmd_run(const Config& config, const RunOptions& options);

// Sets, from what a run left so far, the line that a second signal prints before it exits at once
// and the empty workspace folders of the run that it removes. A flow::RunRequest::on_footprint.
void set_run_exit_notice(const flow::RunFootprint& footprint);
int cmd_interactive(const Config& config, const RunOptions& options);

struct RunsOptions {
  std::string show_id;  // empty: list runs
  int limit = 20;
  bool json = false;
  bool plan = false;  // show: print the accepted plan only
};
int cmd_runs(const Config& config, const RunsOptions& options);

struct ConfigShowOptions {
  bool json = false;
};
int cmd_config_show(const Config& config, const ConfigShowOptions& options);

struct StatusOptions {
  bool json = false;
};
int cmd_status(const Config& config, const StatusOptions& options);

}  // namespace ollamaflow::cli

namespace CLI {
class App;
}

namespace ollamaflow::cli {

// Adds the `simulate` subcommand to `app`; its callback stores the exit code in `exit_code`,
// which must outlive app.parse().
void register_simulate(CLI::App& app, int& exit_code);

}  // namespace ollamaflow::cli
