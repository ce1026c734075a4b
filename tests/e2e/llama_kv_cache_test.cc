// The KV cache that the real llama-server allocates, read from its verbose log, against what
// `ollama-flow plan-capacity` estimates for the same GGUF, slots, context and cache types.
#include <cmath>
#include <cstdio>
#include <regex>

#include "e2e/e2e_support.h"
#include "fakes/llama_server.h"
#include "fakes/llama_server_model.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kMaxRelativeError = 0.02;

// What the server logs at start, e.g. "llama_kv_cache: size = 2.00 MiB (4096 cells, 2 layers,
// 2/2 seqs), K (f16): 1.00 MiB, V (f16): 1.00 MiB".
struct EngineKv {
  double k_mib = 0;
  double v_mib = 0;
  std::string k_type;
  std::string v_type;
  int cells = 0;
  int seqs = 0;
};

// Parses the last KV cache line of `log`; returns nullopt when there is none.
std::optional<EngineKv> parse_kv_line(const std::string& log) {
  static const std::regex line(
      R"(llama_kv_cache: size =\s*([0-9.]+) MiB \(\s*(\d+) cells,\s*\d+ layers,\s*(\d+)/\d+ seqs\), )"
      R"(K \((\w+)\):\s*([0-9.]+) MiB, V \((\w+)\):\s*([0-9.]+) MiB)");
  std::optional<EngineKv> found;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it) {
    const std::smatch& match = *it;
    EngineKv kv;
    kv.cells = std::stoi(match[2]);
    kv.seqs = std::stoi(match[3]);
    kv.k_type = match[4];
    kv.k_mib = std::stod(match[5]);
    kv.v_type = match[6];
    kv.v_mib = std::stod(match[7]);
    found = kv;
  }
  return found;
}

struct KvCase {
  std::string model;  // "tiny", "gqa" or "mha"
  int slots;
  int total_ctx;
  std::string cache_k;
  std::string cache_v;
  std::string flash_attn;
};

std::string describe(const KvCase& c) {
  return c.model + " -np " + std::to_string(c.slots) + " -c " + std::to_string(c.total_ctx) +
         " -ctk " + c.cache_k + " -ctv " + c.cache_v + " -fa " + c.flash_attn;
}

class LlamaKvCacheTest : public E2eTest {
 protected:
  static void SetUpTestSuite() {
    location_ = new LlamaServerLocation(locate_llama_server());
    if (!location_->found()) {
      return;
    }
    models_ = new TempDir();
    for (const ModelLayout& layout : {gqa_layout(), mha_layout()}) {
      const std::filesystem::path out = models_->path() / (layout.name + ".gguf");
      const Status status = write_llama_model(layout, location_->model, out);
      if (!status.is_ok()) {
        location_->missing = "test model " + layout.name + " not written: " + status.message();
        return;
      }
    }
  }
  static void TearDownTestSuite() {
    delete models_;
    delete location_;
    models_ = nullptr;
    location_ = nullptr;
  }
  void SetUp() override { OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(*location_); }

  std::filesystem::path model_path(const std::string& name) const {
    return name == "tiny" ? location_->model : models_->path() / (name + ".gguf");
  }

  // Returns plan-capacity's KV cache estimate in bytes, or -1 after a failed check.
  double planned_kv_bytes(const KvCase& c) {
    ProcessResult result =
        run_cli({"plan-capacity", "--model", model_path(c.model).string(), "--total-ctx",
                 std::to_string(c.total_ctx), "--parallel", std::to_string(c.slots),
                 "--cache-type-k", c.cache_k, "--cache-type-v", c.cache_v, "--json"});
    EXPECT_EQ(result.exit_code, 0) << describe(c) << "\n" << result.out << result.err;
    const json document = parse_json(result);
    const json memory = document["plan"]["models"][0]["memory"];
    if (!memory.is_object()) {
      ADD_FAILURE() << describe(c) << ": no plan.models[0].memory in\n" << result.out;
      return -1;
    }
    EXPECT_EQ(memory["parallel"], c.slots) << describe(c);
    return memory["kv_cache_bytes"].get<double>();
  }

  void check_case(const KvCase& c) {
    LlamaServerOptions options;
    options.model = model_path(c.model);
    options.slots = c.slots;
    options.total_ctx = c.total_ctx;
    options.cache_type_k = c.cache_k;
    options.cache_type_v = c.cache_v;
    options.flash_attn = c.flash_attn;
    options.verbose = true;
    Result<std::unique_ptr<LlamaServer>> server = LlamaServer::start(options);
    ASSERT_TRUE(server.is_ok()) << describe(c) << ": " << server.status().message();
    const std::optional<EngineKv> engine = parse_kv_line((*server)->read_log());
    ASSERT_TRUE(engine.has_value())
        << describe(c) << ": no KV cache line in " << (*server)->log_path() << "\n"
        << (*server)->log_tail();
    (*server)->stop();
    EXPECT_EQ(engine->k_type, c.cache_k) << describe(c);
    EXPECT_EQ(engine->v_type, c.cache_v) << describe(c);
    EXPECT_EQ(engine->seqs, c.slots) << describe(c);

    const double engine_bytes = (engine->k_mib + engine->v_mib) * kMiB;
    const double planned = planned_kv_bytes(c);
    ASSERT_GT(engine_bytes, 0) << describe(c);
    const double error = std::abs(planned - engine_bytes) / engine_bytes;
    EXPECT_LE(error, kMaxRelativeError)
        << describe(c) << ": engine " << engine_bytes / kMiB << " MiB (" << engine->cells
        << " cells per slot), plan-capacity " << planned / kMiB << " MiB";
  }

  static LlamaServerLocation* location_;
  static TempDir* models_;
};

LlamaServerLocation* LlamaKvCacheTest::location_ = nullptr;
TempDir* LlamaKvCacheTest::models_ = nullptr;

// The shipped model has a head size of 16, which no quantized cache type divides, so only its
// float caches are compared.
TEST_F(LlamaKvCacheTest, TinyFloatCachesMatch) {
  for (const KvCase& c : std::vector<KvCase>{{"tiny", 1, 8192, "f16", "f16", "auto"},
                                             {"tiny", 4, 16384, "f16", "f16", "auto"},
                                             {"tiny", 8, 16384, "f16", "f16", "off"},
                                             {"tiny", 2, 8192, "f32", "f16", "auto"}}) {
    check_case(c);
  }
}

TEST_F(LlamaKvCacheTest, UnevenSlotContextMatches) {
  // 8000 / 3 is 2666 tokens per slot, which the server rounds up to 2816.
  check_case({"tiny", 3, 8000, "f16", "f16", "auto"});
}

TEST_F(LlamaKvCacheTest, GqaQuantizedCachesMatch) {
  for (const KvCase& c : std::vector<KvCase>{{"gqa", 2, 8192, "f16", "f16", "auto"},
                                             {"gqa", 4, 8192, "q8_0", "q8_0", "on"},
                                             {"gqa", 4, 8192, "q4_0", "q4_0", "on"},
                                             {"gqa", 8, 16384, "q8_0", "q4_0", "on"},
                                             {"gqa", 2, 8192, "q4_0", "f16", "auto"}}) {
    check_case(c);
  }
}

TEST_F(LlamaKvCacheTest, MhaMixedCachesMatch) {
  for (const KvCase& c : std::vector<KvCase>{{"mha", 1, 4096, "f16", "q8_0", "on"},
                                             {"mha", 4, 8192, "q8_0", "f16", "auto"},
                                             {"mha", 2, 4096, "q4_0", "q8_0", "on"}}) {
    check_case(c);
  }
}

TEST_F(LlamaKvCacheTest, PlanRejectsUndividedQuantizedHead) {
  ProcessResult result =
      run_cli({"plan-capacity", "--model", model_path("tiny").string(), "--total-ctx", "8192",
               "--parallel", "2", "--cache-type-k", "q8_0", "--cache-type-v", "f16"});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("head size 16"), std::string::npos) << result.err;

  LlamaServerOptions options;
  options.model = model_path("tiny");
  options.cache_type_k = "q8_0";
  Result<std::unique_ptr<LlamaServer>> server = LlamaServer::start(options);
  ASSERT_FALSE(server.is_ok());
  EXPECT_NE(server.status().message().find("does not divide"), std::string::npos)
      << server.status().message();
}

}  // namespace
}  // namespace ollamaflow::testing
