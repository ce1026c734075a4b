// Subcommands of the ollama-flow binary. main.cc parses the flags into these option structs and
// calls the matching function; each returns the process exit code.
#pragma once

#include <optional>
#include <string>

#include "core/config.h"

namespace ollamaflow::cli {

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
  std::string model;                  // Ollama model name or a path to a .gguf file
  std::optional<int> ctx;             // per-request context (Ollama num_ctx)
  std::optional<int> total_ctx;       // total context of all slots (llama-server -c)
  std::optional<int> parallel;        // slots; computed when not set
  std::optional<std::string> cache_type_k;  // overrides Config::kv_cache_type_k
  std::optional<std::string> cache_type_v;  // overrides Config::kv_cache_type_v
  bool json = false;
};
int cmd_plan_capacity(const Config& config, const PlanCapacityOptions& options);

struct DoctorOptions {
  bool json = false;
};
int cmd_doctor(const Config& config, const DoctorOptions& options);

}  // namespace ollamaflow::cli
