// Finds a model's spec from what the user names: a GGUF path, or an Ollama model name looked up
// in the local store, then through the server's /api/show, then in the table of estimates.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/status.h"
#include "llm/client.h"
#include "model/memory_estimate.h"
#include "model/model_spec.h"

namespace ollamaflow::model {

// Calls the server's /api/show for `model` (OllamaClient::show in production).
using ShowFunction = std::function<Result<nlohmann::json>(const std::string& model, bool verbose)>;

struct ResolveOptions {
  std::filesystem::path models_dir;   // the Ollama store; empty: skip it
  ShowFunction show;                  // null: skip /api/show
  std::optional<uint64_t> size_hint;  // blob size from /api/tags, for /api/show without tensors
  // Whether a model missing from the store suggests `ollama pull`. False for an OpenAI-compatible
  // server, which serves files that Ollama does not manage.
  bool suggest_pull = true;
};

struct ResolvedModel {
  ModelSpec spec;
  // Reasons the earlier sources gave nothing, e.g. "store: model 'x' is not in ...".
  std::vector<std::string> skipped;
};

// The fix that check_model_file's errors name for a model that may be a file or a name.
inline constexpr std::string_view kModelFileFix =
    "pass the path of a .gguf file, or an Ollama model name";

// Returns true when `model` is read as a file path, not as a model name: it ends in ".gguf", or
// it names an existing file system entry other than a folder (a device, a pipe, a dangling
// symbolic link). A folder counts as a name, because an Ollama model may be named like a
// folder in the current one.
bool names_model_file(const std::string& model);

// Returns kInvalidArgument, naming `model` and ending with `fix`, unless `model` is an existing,
// readable regular file (symbolic links followed). Checked before the file is opened, so that a
// named pipe does not block the read.
Status check_model_file(const std::string& model, std::string_view fix);

// Resolves `model`. A value for which names_model_file() is true must pass check_model_file()
// (else kInvalidArgument) and is read as GGUF, whose errors are returned as they are. A name
// goes through the store, /api/show and the table in that order; kNotFound lists why each of
// them failed. Returns kInvalidArgument for a folder whose name no source resolves as a model.
Result<ResolvedModel> resolve_model(const std::string& model, const Config& config,
                                    const ResolveOptions& options);

// A server's measured size of a loaded model against the estimate.
struct VramComparison {
  uint64_t estimate_bytes = 0;
  uint64_t size_vram_bytes = 0;
  uint64_t size_bytes = 0;
  double relative_difference = 0;  // (estimate - size_vram) / size_vram
  bool differs = false;            // more than 10 % apart
  bool spilled = false;            // size_vram < size: part of the model runs on the CPU
  std::string message;
};

// Compares estimate.model_bytes() with /api/ps size_vram. Logs a warning naming the model when
// they differ by more than 10 % or when part of the model was placed in host memory.
VramComparison compare_with_loaded(const MemoryEstimate& estimate, const llm::LoadedModel& loaded);

}  // namespace ollamaflow::model
