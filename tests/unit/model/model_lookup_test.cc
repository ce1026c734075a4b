#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fakes/test_paths.h"
#include "model/model_resolver.h"
#include "model/ollama_store.h"
#include "unit/model/model_files.h"

namespace ollamaflow::model {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kParamsDigest = "sha256:" + std::string(64, 'b');

void write(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::string manifest_with(const std::string& model_digest) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
  "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:00","size":1},
  "layers":[{"mediaType":"application/vnd.ollama.image.model","digest":")" +
         model_digest + R"(","size":100},
  {"mediaType":"application/vnd.ollama.image.params","digest":")" +
         kParamsDigest + R"(","size":20}]})";
}

class OllamaStoreTest : public ::testing::Test {
 protected:
  void install(const std::string& manifest_path, const std::string& manifest) {
    write(dir_.path() / "manifests" / manifest_path, manifest);
    write(dir_.path() / "blobs" / ("sha256-" + std::string(64, 'a')), testing::make_llama_gguf({}));
    write(dir_.path() / "blobs" / ("sha256-" + std::string(64, 'b')), R"({"num_ctx": 16384})");
  }
  ollamaflow::testing::TempDir dir_;
};

TEST_F(OllamaStoreTest, ParsesNameForms) {
  struct Case {
    const char* name;
    const char* manifest;
  };
  for (Case c : {Case{"llama3.2", "registry.ollama.ai/library/llama3.2/latest"},
                 Case{"llama3:8b", "registry.ollama.ai/library/llama3/8b"},
                 Case{"user/m:q4", "registry.ollama.ai/user/m/q4"},
                 Case{"hf.co/org/repo:Q4_K_M", "hf.co/org/repo/Q4_K_M"},
                 Case{"localhost:5000/ns/m", "localhost:5000/ns/m/latest"}}) {
    Result<OllamaModelName> name = parse_ollama_name(c.name);
    ASSERT_TRUE(name.is_ok()) << c.name << ": " << name.status().to_string();
    EXPECT_EQ(name->manifest_path(), c.manifest) << c.name;
  }
}

TEST_F(OllamaStoreTest, RejectsTraversalAndBadNames) {
  for (const char* bad : {"", "../../etc/passwd", "a/b/c/d", "m:", "ns/../m", "m x", "/m"}) {
    Result<OllamaModelName> name = parse_ollama_name(bad);
    EXPECT_FALSE(name.is_ok()) << bad;
    EXPECT_EQ(name.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST_F(OllamaStoreTest, DefaultFolderFollowsEnvironment) {
  auto env = [](std::map<std::string, std::string> values) -> EnvLookup {
    return [values](const std::string& key) -> std::optional<std::string> {
      auto it = values.find(key);
      return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  };
  EXPECT_EQ(default_models_dir(env({{"OLLAMA_MODELS", "/data/m"}, {"HOME", "/h"}})), "/data/m");
  EXPECT_EQ(default_models_dir(env({{"HOME", "/h"}})), "/h/.ollama/models");
  EXPECT_EQ(default_models_dir(env({})), "");
}

TEST_F(OllamaStoreTest, FindsBlobAndDefaultContext) {
  install("registry.ollama.ai/library/tiny/latest", manifest_with(kDigest));
  Result<OllamaModelFiles> files = find_ollama_model(dir_.path(), "tiny");
  ASSERT_TRUE(files.is_ok()) << files.status().to_string();
  EXPECT_EQ(files->model_blob.filename(), "sha256-" + std::string(64, 'a'));
  EXPECT_EQ(files->default_num_ctx, 16384u);
  EXPECT_TRUE(find_ollama_model(dir_.path(), "tiny:latest").is_ok());
}

TEST_F(OllamaStoreTest, MissingModelSuggestsPull) {
  Result<OllamaModelFiles> files = find_ollama_model(dir_.path(), "absent:7b");
  ASSERT_FALSE(files.is_ok());
  EXPECT_EQ(files.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(files.status().message().find("ollama pull absent:7b"), std::string::npos);
}

TEST_F(OllamaStoreTest, BadDigestAndMissingBlobAreErrors) {
  write(dir_.path() / "manifests/registry.ollama.ai/library/bad/latest",
        manifest_with("sha256:../../etc"));
  EXPECT_EQ(find_ollama_model(dir_.path(), "bad").status().code(), ErrorCode::kCorrupt);
  write(dir_.path() / "manifests/registry.ollama.ai/library/gone/latest",
        manifest_with("sha256:" + std::string(64, 'c')));
  Result<OllamaModelFiles> gone = find_ollama_model(dir_.path(), "gone");
  EXPECT_EQ(gone.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(gone.status().message().find("is missing"), std::string::npos);
  write(dir_.path() / "manifests/registry.ollama.ai/library/junk/latest", "not json");
  EXPECT_EQ(find_ollama_model(dir_.path(), "junk").status().code(), ErrorCode::kParseError);
}

class ModelResolverTest : public ::testing::Test {
 protected:
  ollamaflow::testing::TempDir dir_;
  Config config_ = default_config();
};

TEST_F(ModelResolverTest, ReadsGgufPath) {
  std::filesystem::path path = dir_.path() / "m.gguf";
  write(path, testing::make_llama_gguf({}));
  Result<ResolvedModel> model = resolve_model(path.string(), config_, {});
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EXPECT_EQ(model->spec.architecture, "llama");
  EXPECT_EQ(model->spec.block_count, 2u);
  EXPECT_EQ(model->spec.key_length, 16u);
  EXPECT_EQ(model->spec.source, "gguf:" + path.string());
}

TEST_F(ModelResolverTest, CorruptGgufPathIsAnError) {
  std::filesystem::path path = dir_.path() / "bad.gguf";
  write(path, "GGUF garbage");
  Result<ResolvedModel> model = resolve_model(path.string(), config_, {});
  EXPECT_EQ(model.status().code(), ErrorCode::kCorrupt);
}

TEST_F(ModelResolverTest, FolderIsNamedAsFolder) {
  for (const std::string name : {"models", "models.gguf"}) {
    const std::filesystem::path folder = dir_.path() / name;
    std::filesystem::create_directories(folder);
    Result<ResolvedModel> model = resolve_model(folder.string(), config_, {});
    ASSERT_FALSE(model.is_ok()) << name;
    EXPECT_EQ(model.status().code(), ErrorCode::kInvalidArgument) << name;
    EXPECT_NE(model.status().message().find("model '" + folder.string() +
                                            "' is a folder, expected a GGUF file"),
              std::string::npos)
        << model.status().message();
  }
}

// An existing entry that is no regular file is read as a file, not looked up as a model name,
// and fails before it is opened, so that a named pipe cannot block the read.
TEST_F(ModelResolverTest, NonRegularEntriesAreInvalid) {
  const std::filesystem::path pipe = dir_.path() / "pipe";
  ASSERT_EQ(::mkfifo(pipe.c_str(), 0600), 0) << std::strerror(errno);
  const std::filesystem::path dangling = dir_.path() / "dangling";
  std::filesystem::create_symlink(dir_.path() / "gone", dangling);
  const std::filesystem::path missing = dir_.path() / "missing.gguf";
  const struct {
    std::string model;
    std::string message;
  } cases[] = {
      {"/dev/zero", "model '/dev/zero' is a character device, expected a GGUF file"},
      {pipe.string(), "model '" + pipe.string() + "' is a named pipe, expected a GGUF file"},
      {dangling.string(), "model file '" + dangling.string() + "' not found"},
      {missing.string(), "model file '" + missing.string() + "' not found"},
  };
  for (const auto& [model, message] : cases) {
    EXPECT_TRUE(names_model_file(model)) << model;
    Result<ResolvedModel> resolved = resolve_model(model, config_, {});
    ASSERT_FALSE(resolved.is_ok()) << model;
    EXPECT_EQ(resolved.status().code(), ErrorCode::kInvalidArgument) << model;
    EXPECT_NE(resolved.status().message().find(message), std::string::npos)
        << resolved.status().message();
  }
}

TEST_F(ModelResolverTest, NamesAndFoldersAreNotFiles) {
  EXPECT_FALSE(names_model_file("llama3:8b"));
  EXPECT_FALSE(names_model_file(dir_.path().string()));
  EXPECT_TRUE(names_model_file((dir_.path() / "absent.gguf").string()));
}

TEST_F(ModelResolverTest, FallsBackToShowThenTable) {
  int calls = 0;
  ResolveOptions options;
  options.models_dir = dir_.path();
  options.show = [&calls](const std::string& name, bool verbose) -> Result<nlohmann::json> {
    ++calls;
    EXPECT_TRUE(verbose);
    if (name != "remote:1b")
      return Result<nlohmann::json>(ErrorCode::kNotFound, "404");
    return nlohmann::json{
        {"model_info",
         {{"general.architecture", "llama"},
          {"llama.block_count", 16},
          {"llama.embedding_length", 2048},
          {"llama.attention.head_count", 32},
          {"llama.attention.head_count_kv", 8},
          {"llama.context_length", 131072},
          {"tokenizer.ggml.tokens", nullptr}}},
        {"tensors",
         {{{"name", "token_embd.weight"}, {"type", "Q4_0"}, {"shape", {2048, 128256}}}}}};
  };
  Result<ResolvedModel> remote = resolve_model("remote:1b", config_, options);
  ASSERT_TRUE(remote.is_ok()) << remote.status().to_string();
  EXPECT_EQ(remote->spec.source, "ollama /api/show");
  EXPECT_EQ(remote->spec.weights_bytes, 2048ull * 128256 / 32 * 18);
  EXPECT_EQ(remote->spec.head_count_kv[0], 8u);
  EXPECT_EQ(remote->spec.key_length, 64u);

  Result<ResolvedModel> table = resolve_model("phi3:mini", config_, options);
  ASSERT_TRUE(table.is_ok()) << table.status().to_string();
  EXPECT_TRUE(table->spec.table.has_value());
  EXPECT_NE(table->spec.source.find("estimate"), std::string::npos);
  EXPECT_EQ(table->skipped.size(), 2u);

  Result<ResolvedModel> none = resolve_model("nothing:here", config_, options);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.status().message().find("/api/show: 404"), std::string::npos);
  EXPECT_EQ(calls, 3);
}

TEST_F(ModelResolverTest, StoreWinsOverShow) {
  write(dir_.path() / "manifests/registry.ollama.ai/library/tiny/latest", manifest_with(kDigest));
  write(dir_.path() / "blobs" / ("sha256-" + std::string(64, 'a')), testing::make_llama_gguf({}));
  ResolveOptions options;
  options.models_dir = dir_.path();
  options.show = [](const std::string&, bool) -> Result<nlohmann::json> {
    ADD_FAILURE() << "show must not be called";
    return Result<nlohmann::json>(ErrorCode::kInternal, "unused");
  };
  Result<ResolvedModel> model = resolve_model("tiny", config_, options);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EXPECT_NE(model->spec.source.find("gguf:"), std::string::npos);
}

TEST_F(ModelResolverTest, StoreMissWithoutPullAdvice) {
  ResolveOptions options;
  options.models_dir = dir_.path();
  Result<ResolvedModel> with_pull = resolve_model("served:model", config_, options);
  ASSERT_FALSE(with_pull.is_ok());
  EXPECT_NE(with_pull.status().message().find("ollama pull served:model"), std::string::npos)
      << with_pull.status().message();

  options.suggest_pull = false;
  Result<ResolvedModel> without_pull = resolve_model("served:model", config_, options);
  ASSERT_FALSE(without_pull.is_ok());
  const std::string message = without_pull.status().message();
  EXPECT_NE(message.find("store: model 'served:model' is not in the Ollama store " +
                         dir_.path().string()),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("ollama pull"), std::string::npos) << message;
}

class VramComparisonTest : public ::testing::Test {};

TEST_F(VramComparisonTest, FlagsDifferenceAboveTenPercent) {
  MemoryEstimate estimate;
  estimate.weights = 1000 * 1024 * 1024ull;
  llm::LoadedModel loaded;
  loaded.name = "m";
  loaded.size_bytes = loaded.size_vram_bytes = 1095 * 1024 * 1024ll;
  EXPECT_FALSE(compare_with_loaded(estimate, loaded).differs);
  loaded.size_bytes = loaded.size_vram_bytes = 1120 * 1024 * 1024ll;
  VramComparison far = compare_with_loaded(estimate, loaded);
  EXPECT_TRUE(far.differs);
  EXPECT_LT(far.relative_difference, -0.10);
  loaded.size_bytes = 2000 * 1024 * 1024ll;
  EXPECT_TRUE(compare_with_loaded(estimate, loaded).spilled);
}

}  // namespace
}  // namespace ollamaflow::model
