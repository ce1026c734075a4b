// Ollama's model store on disk: manifests name the layers of a model, and the layer with media
// type application/vnd.ollama.image.model is the GGUF file under blobs/.
//
//   $OLLAMA_MODELS (default ~/.ollama/models)
//     manifests/<host>/<namespace>/<model>/<tag>   JSON, Docker manifest v2 shape
//     blobs/sha256-<64 hex digits>                 layer contents
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/status.h"

namespace ollamaflow::model {

struct OllamaModelName {
  std::string host = "registry.ollama.ai";
  std::string name_space = "library";
  std::string model;
  std::string tag = "latest";

  // Returns "host/namespace/model/tag", the manifest's path below manifests/.
  std::string manifest_path() const;
};

// Parses "model", "model:tag", "namespace/model:tag" and "host/namespace/model:tag". Returns
// kInvalidArgument for empty parts, more than three path parts, ".." or characters outside
// letters, digits and "._-" (":" is allowed in the host for a port).
Result<OllamaModelName> parse_ollama_name(std::string_view name);

// Returns $OLLAMA_MODELS, else $HOME/.ollama/models; empty when neither is set.
std::filesystem::path default_models_dir(const EnvLookup& env);

struct OllamaModelFiles {
  std::filesystem::path manifest;
  std::filesystem::path model_blob;                // the GGUF
  std::optional<std::filesystem::path> projector;  // a vision projector GGUF, when present
  std::optional<uint64_t> default_num_ctx;         // num_ctx of the params layer, when set
};

// Finds the files of `name` below `models_dir`. Errors: kNotFound when the manifest or the blob
// is missing (the message suggests `ollama pull`), kParseError for a malformed manifest,
// kCorrupt for a digest that is not "sha256:" and 64 hex digits, kInvalidArgument for a bad
// name.
Result<OllamaModelFiles> find_ollama_model(const std::filesystem::path& models_dir,
                                           std::string_view name);

}  // namespace ollamaflow::model
