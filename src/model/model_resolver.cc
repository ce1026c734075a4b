#include "model/model_resolver.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/log.h"
#include "gpu/text_table.h"
#include "model/builtin_models.h"
#include "model/gguf.h"
#include "model/ollama_store.h"

namespace ollamaflow::model {
namespace {

constexpr double kVramTolerance = 0.10;

// Returns the kind of a file system entry that is not a regular file or a folder.
std::string_view entry_kind(std::filesystem::file_type type) {
  switch (type) {
    case std::filesystem::file_type::character:
      return "a character device";
    case std::filesystem::file_type::block:
      return "a block device";
    case std::filesystem::file_type::fifo:
      return "a named pipe";
    case std::filesystem::file_type::socket:
      return "a socket";
    default:
      return "not a regular file";
  }
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

bool names_model_file(const std::string& model) {
  if (model.size() > 5 && model.compare(model.size() - 5, 5, ".gguf") == 0)
    return true;
  std::error_code error;
  // symlink_status, so that a symbolic link whose target is gone still names a file.
  const std::filesystem::file_status entry = std::filesystem::symlink_status(model, error);
  return std::filesystem::exists(entry) && !is_folder(model);
}

Status check_model_file(const std::string& model, std::string_view fix) {
  std::error_code error;
  const std::filesystem::file_status entry = std::filesystem::status(model, error);
  if (!std::filesystem::exists(entry)) {
    return Status(
        ErrorCode::kInvalidArgument,
        fmt::format("model file '{}' not found (or a symbolic link to nothing): {}", model, fix));
  }
  if (std::filesystem::is_directory(entry)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("model '{}' is a folder, expected a GGUF file: {}", model, fix));
  }
  if (!std::filesystem::is_regular_file(entry)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("model '{}' is {}, expected a GGUF file: {}", model,
                              entry_kind(entry.type()), fix));
  }
  if (::access(model.c_str(), R_OK) != 0) {
    const int code = errno;
    return Status(
        ErrorCode::kInvalidArgument,
        fmt::format("model file '{}' is not readable ({}): {}", model, std::strerror(code), fix));
  }
  return Status::ok();
}

Result<ResolvedModel> resolve_model(const std::string& model, const Config& config,
                                    const ResolveOptions& options) {
  ResolvedModel resolved;
  if (names_model_file(model)) {
    if (Status usable = check_model_file(model, kModelFileFix); !usable)
      return usable;
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
