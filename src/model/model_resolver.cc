#include "model/model_resolver.h"

#include <cmath>

#include <fmt/format.h>

#include "core/log.h"
#include "gpu/text_table.h"
#include "model/builtin_models.h"
#include "model/gguf.h"
#include "model/ollama_store.h"

namespace ollamaflow::model {
namespace {

constexpr double kVramTolerance = 0.10;

bool looks_like_file(const std::string& model) {
  std::error_code error;
  if (model.size() > 5 && model.compare(model.size() - 5, 5, ".gguf") == 0)
    return true;
  return std::filesystem::is_regular_file(model, error);
}

bool is_folder(const std::string& model) {
  std::error_code error;
  return std::filesystem::is_directory(model, error);
}

Status folder_error(const std::string& model) {
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("model '{}' is a folder, expected a GGUF file: pass the path of a "
                            ".gguf file, or an Ollama model name",
                            model));
}

Result<ModelSpec> spec_from_file(const std::filesystem::path& path, const std::string& name) {
  Result<GgufFile> file = read_gguf_file(path);
  if (!file)
    return file.status();
  return spec_from_gguf(*file, name);
}

}  // namespace

Result<ResolvedModel> resolve_model(const std::string& model, const Config& config,
                                    const ResolveOptions& options) {
  ResolvedModel resolved;
  if (looks_like_file(model) && is_folder(model)) {
    return folder_error(model);
  }
  if (looks_like_file(model)) {
    Result<ModelSpec> spec = spec_from_file(model, std::filesystem::path(model).filename());
    if (!spec)
      return spec.status();
    resolved.spec = std::move(spec).value();
    return resolved;
  }

  if (!options.models_dir.empty()) {
    Result<OllamaModelFiles> files = find_ollama_model(options.models_dir, model);
    if (files) {
      Result<ModelSpec> spec = spec_from_file(files->model_blob, model);
      if (spec) {
        resolved.spec = std::move(spec).value();
        resolved.spec.default_num_ctx = files->default_num_ctx;
        if (files->projector) {
          resolved.spec.notes.push_back("a vision projector is not counted in the estimate");
        }
        return resolved;
      }
      resolved.skipped.push_back("store: " + spec.status().message());
    } else if (files.status().code() == ErrorCode::kNotFound && !options.suggest_pull) {
      resolved.skipped.push_back(fmt::format("store: model '{}' is not in the Ollama store {}",
                                             model, options.models_dir.string()));
    } else {
      resolved.skipped.push_back("store: " + files.status().message());
    }
  } else {
    resolved.skipped.push_back("store: no models folder (set OLLAMA_MODELS or HOME)");
  }

  if (options.show) {
    Result<nlohmann::json> show = options.show(model, true);
    if (show) {
      Result<ModelSpec> spec = spec_from_show(*show, model, options.size_hint);
      if (spec) {
        resolved.spec = std::move(spec).value();
        return resolved;
      }
      resolved.skipped.push_back("/api/show: " + spec.status().message());
    } else {
      resolved.skipped.push_back("/api/show: " + show.status().message());
    }
  }

  if (std::optional<ModelSpec> spec = table_model_spec(model, config)) {
    resolved.spec = std::move(*spec);
    return resolved;
  }
  resolved.skipped.push_back("table: no entry for this name");
  // A folder of this name is checked last, so that a model named like a folder here still
  // resolves.
  if (is_folder(model)) {
    return folder_error(model);
  }
  std::string reasons;
  for (const std::string& reason : resolved.skipped)
    reasons += "\n  " + reason;
  return Result<ResolvedModel>(
      ErrorCode::kNotFound,
      fmt::format("no metadata for model '{}': give a .gguf path, pull the model, or add it to "
                  "model_requirements in the configuration{}",
                  model, reasons));
}

VramComparison compare_with_loaded(const MemoryEstimate& estimate, const llm::LoadedModel& loaded) {
  VramComparison result;
  result.estimate_bytes = estimate.model_bytes();
  result.size_vram_bytes = static_cast<uint64_t>(std::max<int64_t>(loaded.size_vram_bytes, 0));
  result.size_bytes = static_cast<uint64_t>(std::max<int64_t>(loaded.size_bytes, 0));
  result.spilled = result.size_vram_bytes < result.size_bytes;
  auto logger = get_logger("model");
  if (result.size_vram_bytes == 0) {
    result.message = fmt::format("{}: the server reports no GPU memory (CPU only)", loaded.name);
    return result;
  }
  result.relative_difference =
      (static_cast<double>(result.estimate_bytes) - static_cast<double>(result.size_vram_bytes)) /
      static_cast<double>(result.size_vram_bytes);
  result.differs = std::fabs(result.relative_difference) > kVramTolerance;
  result.message =
      fmt::format("{}: estimate {} vs size_vram {} ({:+.1f} %)", loaded.name,
                  gpu::format_mib(result.estimate_bytes), gpu::format_mib(result.size_vram_bytes),
                  100.0 * result.relative_difference);
  if (result.differs) {
    logger->warn("memory estimate differs from the server by more than 10 %: {}", result.message);
  }
  if (result.spilled) {
    logger->warn("model={} size={} size_vram={}: part of the model runs in host memory",
                 loaded.name, result.size_bytes, result.size_vram_bytes);
  }
  return result;
}

}  // namespace ollamaflow::model
