#include "model/ollama_store.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ollamaflow::model {
namespace {

constexpr std::string_view kModelMediaType = "application/vnd.ollama.image.model";
constexpr std::string_view kProjectorMediaType = "application/vnd.ollama.image.projector";
constexpr std::string_view kParamsMediaType = "application/vnd.ollama.image.params";
constexpr size_t kMaxManifestBytes = 1024 * 1024;

bool valid_part(std::string_view part, bool is_host) {
  if (part.empty() || part == "." || part == ".." || part.size() > 255)
    return false;
  for (char c : part) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
              (is_host && c == ':');
    if (!ok)
      return false;
  }
  return true;
}

Result<std::string> read_small_file(const std::filesystem::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Result<std::string>(ErrorCode::kNotFound, fmt::format("{} not found", path.string()));
  }
  std::string content(limit + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > limit) {
    return Result<std::string>(ErrorCode::kParseError,
                               fmt::format("{} is larger than {} bytes", path.string(), limit));
  }
  return content;
}

Result<std::filesystem::path> blob_path(const std::filesystem::path& models_dir,
                                        const std::filesystem::path& manifest,
                                        const nlohmann::json& layer) {
  std::string digest = layer.value("digest", "");
  bool valid = digest.size() == 71 && digest.compare(0, 7, "sha256:") == 0;
  for (size_t i = 7; valid && i < digest.size(); ++i) {
    valid = std::isxdigit(static_cast<unsigned char>(digest[i])) != 0;
  }
  if (!valid) {
    return Result<std::filesystem::path>(
        ErrorCode::kCorrupt, fmt::format("{}: layer digest '{}' is not sha256: and 64 hex digits",
                                         manifest.string(), digest.substr(0, 80)));
  }
  return models_dir / "blobs" / ("sha256-" + digest.substr(7));
}

std::optional<uint64_t> params_num_ctx(const std::filesystem::path& path) {
  Result<std::string> text = read_small_file(path, kMaxManifestBytes);
  if (!text)
    return std::nullopt;
  nlohmann::json params = nlohmann::json::parse(*text, nullptr, false);
  if (!params.is_object() || !params.contains("num_ctx"))
    return std::nullopt;
  const nlohmann::json& value = params["num_ctx"];
  if (value.is_number_unsigned())
    return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() > 0) {
    return static_cast<uint64_t>(value.get<int64_t>());
  }
  return std::nullopt;
}

}  // namespace

std::string OllamaModelName::manifest_path() const {
  return fmt::format("{}/{}/{}/{}", host, name_space, model, tag);
}

Result<OllamaModelName> parse_ollama_name(std::string_view name) {
  auto invalid = [name](const char* why) {
    return Result<OllamaModelName>(
        ErrorCode::kInvalidArgument,
        fmt::format("invalid model name '{}': {}; use MODEL[:TAG], NAMESPACE/MODEL[:TAG] or "
                    "HOST/NAMESPACE/MODEL[:TAG]",
                    name, why));
  };
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    parts.emplace_back(name.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos)
      break;
    start = slash + 1;
  }
  if (parts.size() > 3)
    return invalid("more than three parts");
  OllamaModelName parsed;
  std::string last = parts.back();
  if (size_t colon = last.rfind(':'); colon != std::string::npos) {
    parsed.tag = last.substr(colon + 1);
    last = last.substr(0, colon);
  }
  parsed.model = last;
  if (parts.size() >= 2)
    parsed.name_space = parts[parts.size() - 2];
  if (parts.size() == 3)
    parsed.host = parts[0];
  if (!valid_part(parsed.model, false) || !valid_part(parsed.tag, false) ||
      !valid_part(parsed.name_space, false) || !valid_part(parsed.host, true)) {
    return invalid("a part is empty, '..' or has characters other than letters, digits and ._-");
  }
  return parsed;
}

std::filesystem::path default_models_dir(const EnvLookup& env) {
  if (std::optional<std::string> dir = env("OLLAMA_MODELS"); dir && !dir->empty())
    return *dir;
  if (std::optional<std::string> home = env("HOME"); home && !home->empty()) {
    return std::filesystem::path(*home) / ".ollama" / "models";
  }
  return {};
}

Result<OllamaModelFiles> find_ollama_model(const std::filesystem::path& models_dir,
                                           std::string_view name) {
  Result<OllamaModelName> parsed = parse_ollama_name(name);
  if (!parsed)
    return parsed.status();
  OllamaModelFiles files;
  files.manifest = models_dir / "manifests" / parsed->manifest_path();
  Result<std::string> text = read_small_file(files.manifest, kMaxManifestBytes);
  if (!text) {
    if (text.status().code() != ErrorCode::kNotFound)
      return text.status();
    return Result<OllamaModelFiles>(
        ErrorCode::kNotFound,
        fmt::format("model '{}' is not in {} (no manifest {}): run `ollama pull {}` or set "
                    "OLLAMA_MODELS",
                    name, models_dir.string(), files.manifest.string(), name));
  }
  nlohmann::json manifest = nlohmann::json::parse(*text, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("layers") || !manifest["layers"].is_array()) {
    return Result<OllamaModelFiles>(
        ErrorCode::kParseError,
        fmt::format("{}: not a manifest with a layers array", files.manifest.string()));
  }
  bool found = false;
  for (const nlohmann::json& layer : manifest["layers"]) {
    if (!layer.is_object())
      continue;
    std::string media_type = layer.value("mediaType", "");
    if (media_type != kModelMediaType && media_type != kProjectorMediaType &&
        media_type != kParamsMediaType) {
      continue;
    }
    Result<std::filesystem::path> blob = blob_path(models_dir, files.manifest, layer);
    if (!blob)
      return blob.status();
    if (media_type == kModelMediaType) {
      files.model_blob = *blob;
      found = true;
    } else if (media_type == kProjectorMediaType) {
      files.projector = *blob;
    } else {
      files.default_num_ctx = params_num_ctx(*blob);
    }
  }
  if (!found) {
    return Result<OllamaModelFiles>(
        ErrorCode::kNotFound,
        fmt::format("{}: no layer of type {} (the model may be in a format without a GGUF, such "
                    "as safetensors)",
                    files.manifest.string(), kModelMediaType));
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(files.model_blob, error)) {
    return Result<OllamaModelFiles>(
        ErrorCode::kNotFound,
        fmt::format("the blob {} of model '{}' is missing: run `ollama pull {}` again",
                    files.model_blob.string(), name, name));
  }
  return files;
}

}  // namespace ollamaflow::model
