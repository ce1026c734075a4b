// End-to-end checks of the inspection commands: gpu, models, plan-capacity, doctor, status.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "e2e/e2e_support.h"
#include "fakes/fake_script.h"
#include "flow/status_file.h"
#include "unit/model/gguf_writer.h"
#include "unit/model/model_files.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

class CommandsTest : public E2eTest {
 protected:
  // The small llama model shipped next to the repository for tests, when it is there.
  std::filesystem::path tiny_model() const {
    if (const char* path = std::getenv("OLLAMA_FLOW_TINY_GGUF")) {
      return path;
    }
    return source_dir().parent_path() / "shared" / "llama-server" / "tiny.gguf";
  }
};

// The engine counted 1 agent at its last evaluation and decided to grow the pool to 3, which
// the pool has done since. `status` labels both counts, so that they do not contradict the
// decision and the list of 3 agents.
TEST_F(CommandsTest, StatusLabelsAgentCountsByTime) {
  json agents = json::array();
  for (const char* id : {"agent-1", "agent-2", "agent-3"}) {
    agents.push_back({{"id", id}, {"state", "idle"}, {"model", "llama3.1:8b"}});
  }
  const json status = {
      {"run_id", "r-20261205-000000-abcd"},
      {"goal", "Write a note"},
      {"backend", "sim"},
      {"scaling",
       {{"strategy", "HYBRID"},
        {"active_agents", 1},
        {"min_agents", 1},
        {"max_agents", 13},
        {"evaluations", 2},
        {"check_interval_s", 15},
        {"last_decision",
         {{"action", "scale_up"}, {"from", 1}, {"to", 3}, {"reason", "queue grows"}}}}},
      {"metrics", json::object()},
      {"agents", {{"capacity", 3}, {"agents", agents}}}};
  // The status file of this test's own process, which is alive while `status` reads it.
  const std::filesystem::path active = db().parent_path() / "active";
  ASSERT_TRUE(flow::write_active_status(active, status).is_ok());
  const ProcessResult text = run_cli({"status", "--db", db().string()});
  flow::remove_active_status(active);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("agents 3 now, 1 at the last evaluation"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("decision: scale_up 1 -> 3"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("active agents 1"), std::string::npos) << text.out;
}

// A status file named after a live process that names no run is not a run's, so `status`
// skips it instead of listing "Run - (pid N)".
TEST_F(CommandsTest, StatusSkipsFileWithoutRunId) {
  const std::filesystem::path active = db().parent_path() / "active";
  ASSERT_TRUE(flow::write_active_status(active, json::object()).is_ok());
  const ProcessResult text = run_cli({"status", "--db", db().string()});
  flow::remove_active_status(active);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.find("Run - (pid"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("no run"), std::string::npos) << text.out;
}

TEST_F(CommandsTest, GpuJsonListsHostMemoryWithSource) {
  ProcessResult result = run_cli({"gpu", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json snapshot = parse_json(result);
  ASSERT_TRUE(snapshot.contains("host")) << snapshot.dump();
  EXPECT_FALSE(snapshot["host"].dump().find("meminfo") == std::string::npos) << snapshot.dump();
}

TEST_F(CommandsTest, PlanCapacityFromBuiltInTableIsMarkedEstimate) {
  ProcessResult result =
      run_cli({"plan-capacity", "--model", "llama3:8b", "--ctx", "8192", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("estimate"), std::string::npos) << result.out;
}

// The built-in table gives no architecture or layer count, so the heading states that they are
// not known instead of showing an empty name and 0 layers.
TEST_F(CommandsTest, PlanCapacityTableModelLayoutUnknown) {
  ProcessResult result = run_cli({"plan-capacity", "--model", "llama3:8b", "--ctx", "8192"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.out.rfind("Model llama3:8b (8B parameters; architecture and layer count not "
                             "known) from built-in table (estimate)\n",
                             0),
            0u)
      << result.out;
  EXPECT_EQ(result.out.find("0 layers"), std::string::npos) << result.out;

  ProcessResult listed =
      run_cli({"plan-capacity", "--model", "llama3:8b", "--ctx", "8192", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json model = parse_json(listed)["model"];
  EXPECT_TRUE(model["architecture"].is_null()) << model.dump();
  EXPECT_TRUE(model["block_count"].is_null()) << model.dump();
  EXPECT_EQ(model["parameters"], "8B") << model.dump();
}

TEST_F(CommandsTest, PlanCapacityRejectsCtxOutOfRange) {
  ProcessResult planned = run_cli({"plan-capacity", "--model", "llama3:8b", "--ctx", "100"});
  EXPECT_EQ(planned.exit_code, 2) << planned.out;
  EXPECT_NE(planned.err.find("invalid value 100 for server.num_ctx (flag --ctx): expected an "
                             "integer from 256 to 4194304"),
            std::string::npos)
      << planned.err;
  ProcessResult run = run_cli({"run", "goal", "--backend", "sim", "--num-ctx", "100"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("invalid value 100 for server.num_ctx (flag --num-ctx): expected an "
                         "integer from 256 to 4194304"),
            std::string::npos)
      << run.err;
}

// llama.cpp accepts iq4_nl for the KV cache, and docs/gpu-and-memory.md lists it.
TEST_F(CommandsTest, PlanCapacityAcceptsIq4NlCache) {
  ProcessResult result =
      run_cli({"plan-capacity", "--model", "llama3:8b", "--kv-cache-type", "iq4_nl", "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
}

// A context of 4,194,304 tokens needs terabytes for llama3:70b on any machine, so the model does
// not fit, and the advice may name only a cache type smaller than the planned one.
TEST_F(CommandsTest, PlanCapacityAdviceNamesSmallerCacheOnly) {
  const std::vector<std::string> base = {"plan-capacity", "--model", "llama3:70b",
                                         "--ctx",         "4194304", "--kv-cache-type"};
  std::vector<std::string> q8 = base;
  q8.push_back("q8_0");
  ProcessResult at_q8 = run_cli(q8);
  EXPECT_EQ(at_q8.exit_code, 1) << at_q8.out << at_q8.err;
  EXPECT_NE(at_q8.err.find("does not fit"), std::string::npos) << at_q8.err;
  EXPECT_NE(at_q8.err.find("(--kv-cache-type q4_0)"), std::string::npos) << at_q8.err;

  std::vector<std::string> q4 = base;
  q4.push_back("q4_0");
  ProcessResult at_q4 = run_cli(q4);
  EXPECT_EQ(at_q4.exit_code, 1) << at_q4.out << at_q4.err;
  EXPECT_NE(at_q4.err.find("does not fit"), std::string::npos) << at_q4.err;
  EXPECT_EQ(at_q4.err.find("--kv-cache-type"), std::string::npos) << at_q4.err;
}

TEST_F(CommandsTest, PlanCapacityTableModelUsesCacheType) {
  ProcessResult result =
      run_cli({"plan-capacity", "--model", "llama3:8b", "--kv-cache-type", "q4_0", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("\"kv_cache_per_slot_bytes\": " + std::to_string(288ull << 20)),
            std::string::npos)
      << result.out;
}

// The settings rows start a server with the cache the figures are for, so a quantized cache is
// part of them, with the flash attention that it needs.
TEST_F(CommandsTest, PlanCapacitySettingsNameCacheType) {
  ProcessResult quantized =
      run_cli({"plan-capacity", "--model", "llama3:8b", "--kv-cache-type", "q4_0"});
  ASSERT_EQ(quantized.exit_code, 0) << quantized.out << quantized.err;
  EXPECT_NE(quantized.out.find("OLLAMA_KV_CACHE_TYPE=q4_0 OLLAMA_FLASH_ATTENTION=1 with num_ctx"),
            std::string::npos)
      << quantized.out;
  EXPECT_NE(quantized.out.find("-ctk q4_0 -ctv q4_0 -fa on"), std::string::npos) << quantized.out;

  ProcessResult plain = run_cli({"plan-capacity", "--model", "llama3:8b"});
  ASSERT_EQ(plain.exit_code, 0) << plain.out << plain.err;
  EXPECT_EQ(plain.out.find("OLLAMA_KV_CACHE_TYPE"), std::string::npos) << plain.out;
  EXPECT_EQ(plain.out.find("-ctk"), std::string::npos) << plain.out;
}

// A model from the configuration's model_requirements is an estimate from those figures, and
// the breakdown names them instead of the built-in table.
TEST_F(CommandsTest, PlanCapacityNamesConfiguredTable) {
  const std::filesystem::path config = dir_.path() / "tiny.json";
  std::ofstream(config) << R"({"model_requirements": {"tiny:1m": {"min_memory_mb": 20,
      "recommended_memory_mb": 21, "context_length": 2048}}})";
  ProcessResult result =
      run_cli({"plan-capacity", "--config", config.string(), "--model", "tiny:1m"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("figures from the configuration model_requirements (20 MiB minimum"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("built-in table"), std::string::npos) << result.out;
}

// Ollama and `run --start-server` lower a num_ctx above the model's training context to that
// context, so the KV cache is planned at the lowered context. --total-ctx describes llama-server's
// -c, which the server keeps, so that context stays.
TEST_F(CommandsTest, PlanCapacityLowersContextToTrainingContext) {
  const std::filesystem::path config = dir_.path() / "tiny.json";
  std::ofstream(config) << R"({"model_requirements": {"tiny:1m": {"min_memory_mb": 20,
      "recommended_memory_mb": 21, "context_length": 2048}}})";
  const std::vector<std::string> base = {"plan-capacity", "--config", config.string(), "--model",
                                         "tiny:1m"};
  for (const bool ctx_flag : {false, true}) {
    std::vector<std::string> args = base;
    if (ctx_flag) {
      args.insert(args.end(), {"--ctx", "8192"});
    }
    const std::string origin = ctx_flag ? "--ctx" : "server.num_ctx";
    ProcessResult text = run_cli(args);
    ASSERT_EQ(text.exit_code, 0) << text.out << text.err;
    EXPECT_NE(text.out.find("Context: 2048 tokens per slot (Ollama num_ctx), the model's training "
                            "context: " +
                            origin + " 8192 is lowered to it"),
              std::string::npos)
        << text.out;
    EXPECT_EQ(text.out.find("exceeds the model's training context"), std::string::npos) << text.out;

    args.push_back("--json");
    ProcessResult listed = run_cli(args);
    ASSERT_EQ(listed.exit_code, 0) << listed.out << listed.err;
    const json plan = parse_json(listed)["plan"];
    const json memory = plan["models"][0]["memory"];
    EXPECT_EQ(memory["ctx_per_slot"], 2048) << memory.dump();
    // One slot of the table's 1 MiB per 2048 tokens, not 4 MiB at 8192 tokens.
    EXPECT_EQ(memory["kv_cache_per_slot_bytes"], 1 << 20) << memory.dump();
    EXPECT_NE(plan["notes"].dump().find("context per slot lowered from 8192 (" + origin +
                                        ") to the model's training context 2048"),
              std::string::npos)
        << plan.dump();
  }

  std::vector<std::string> total = base;
  total.insert(total.end(), {"--total-ctx", "8192", "--json"});
  ProcessResult unlowered = run_cli(total);
  ASSERT_EQ(unlowered.exit_code, 0) << unlowered.out << unlowered.err;
  const json memory = parse_json(unlowered)["plan"]["models"][0]["memory"];
  EXPECT_EQ(memory["ctx_per_slot"], 8192) << memory.dump();
  EXPECT_NE(memory["notes"].dump().find("the context 8192 exceeds the model's training context "
                                        "2048"),
            std::string::npos)
      << memory.dump();
}

// A run uses at most run.agents agents in a fixed pool and dynamic_agent_management.max_agents
// with auto-scaling, so advised slots beyond them are named as more than one run uses.
TEST_F(CommandsTest, PlanCapacityNamesSlotsBeyondOneRun) {
  const std::filesystem::path config = dir_.path() / "tiny.json";
  std::ofstream(config) << R"({"model_requirements": {"tiny:1m": {"min_memory_mb": 20,
      "recommended_memory_mb": 21, "context_length": 2048}},
      "run": {"agents": 3}, "dynamic_agent_management": {"max_agents": 5}})";
  const std::map<std::string, std::string> memory = {{"OLLAMA_FLOW_GPU_MEMORY_MB", "81920"}};
  ProcessResult text = run_cli(
      {"plan-capacity", "--config", config.string(), "--model", "tiny:1m", "--json"}, memory);
  ASSERT_EQ(text.exit_code, 0) << text.out << text.err;
  const json plan = parse_json(text)["plan"];
  const int slots = plan["models"][0]["recommended_num_parallel"].get<int>();
  ASSERT_GT(slots, 3) << plan.dump();
  EXPECT_NE(plan["notes"].dump().find(fmt::format(
                "{} slot(s) are more than one run uses: a run has at most 3 agents (run.agents, "
                "the fixed pool), or 5 with auto-scaling (dynamic_agent_management.max_agents), "
                "so {} slot(s) would hold KV cache memory",
                slots, slots - 3)),
            std::string::npos)
      << plan.dump();

  // Three slots are what the fixed pool uses, so no note names them.
  ProcessResult fixed = run_cli({"plan-capacity", "--config", config.string(), "--model", "tiny:1m",
                                 "--parallel", "3", "--json"},
                                memory);
  ASSERT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
  EXPECT_EQ(parse_json(fixed)["plan"]["notes"].dump().find("more than one run uses"),
            std::string::npos)
      << fixed.out;
  ProcessResult four = run_cli({"plan-capacity", "--config", config.string(), "--model", "tiny:1m",
                                "--parallel", "4", "--json"},
                               memory);
  ASSERT_EQ(four.exit_code, 0) << four.out << four.err;
  EXPECT_NE(parse_json(four)["plan"]["notes"].dump().find("4 slot(s) are more than one run uses"),
            std::string::npos)
      << four.out;
}

TEST_F(CommandsTest, PlanCapacityTotalCtxStatesRealTotal) {
  ProcessResult result =
      run_cli({"plan-capacity", "--model", "llama3:8b", "--total-ctx", "8192", "--parallel", "3"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("Context: 2816 tokens per slot, 8448 in total over 3 slot(s), not the "
                            "8192 of --total-ctx"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("3 slot(s) x 2816 = 8448 tokens"), std::string::npos) << result.out;
}

// A total below one padded slot still gets a whole slot of 256 tokens, and the output states the
// rounding.
TEST_F(CommandsTest, PlanCapacitySmallTotalCtxRoundsUp) {
  FakeOllamaServer server;
  ProcessResult result = run_cli(
      {"plan-capacity", "--model", "llama3:8b", "--total-ctx", "100", "--host", server.url()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("Context: 256 tokens per slot, 256 in total over 1 slot(s), not the "
                            "100 of --total-ctx: llama-server rounds each slot up to a multiple "
                            "of 256"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("1 slot(s) x 256 = 256 tokens"), std::string::npos) << result.out;
}

TEST_F(CommandsTest, PlanCapacityReadsGgufOffline) {
  if (!std::filesystem::exists(tiny_model())) {
    GTEST_SKIP() << "tiny.gguf not found at " << tiny_model() << "; set OLLAMA_FLOW_TINY_GGUF";
  }
  ProcessResult result = run_cli({"plan-capacity", "--model", tiny_model().string(), "--ctx",
                                  "4096", "--parallel", "2", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json plan = parse_json(result);
  // 2 layers x 2 KV heads x (16 + 16) x 2 bytes = 256 bytes per token at f16.
  EXPECT_NE(result.out.find("2097152"), std::string::npos) << result.out;  // 4096 x 2 x 256
}

// 4096 slots of 65,536 tokens need terabytes on any machine. The plan, the exit code and the
// message must agree on what fits, whatever the memory of the machine that runs the test. The
// model is trained on that context, so plan-capacity does not lower it.
TEST_F(CommandsTest, PlanCapacityParallelThatDoesNotFitFails) {
  const std::filesystem::path model = dir_.path() / "small.gguf";
  LlamaShape shape;
  shape.context = 65536;
  std::ofstream(model, std::ios::binary) << make_llama_gguf(shape);
  const std::vector<std::string> args = {"plan-capacity", "--model",    model.string(), "--ctx",
                                         "65536",         "--parallel", "4096"};
  std::vector<std::string> json_args = args;
  json_args.push_back("--json");
  ProcessResult result = run_cli(json_args);
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const json placement = parse_json(result)["plan"]["models"][0];
  EXPECT_EQ(placement["fits"], false) << placement.dump();
  EXPECT_EQ(placement["requested_num_parallel"], 4096) << placement.dump();
  EXPECT_EQ(placement["agent_ceiling"], 0) << placement.dump();
  EXPECT_NE(result.err.find("--parallel 4096 does not fit"), std::string::npos) << result.err;
  const json recommended = placement["recommended_num_parallel"];
  if (recommended.is_null()) {
    EXPECT_NE(result.err.find("neither does one slot"), std::string::npos) << result.err;
  } else {
    const int fit = recommended.get<int>();
    EXPECT_EQ(placement["memory"]["parallel"], fit) << placement.dump();
    EXPECT_EQ(placement["memory_slots"], fit) << placement.dump();
    EXPECT_NE(result.err.find(fmt::format("Plan {} slot(s) with --parallel {}", fit, fit)),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find(fmt::format("OLLAMA_NUM_PARALLEL={} (llama-server -np {} -c {})", fit,
                                          fit, int64_t{fit} * 65536)),
              std::string::npos)
        << result.err;
  }
  if (parse_json(result)["devices"].empty()) {
    // A plan in host memory has no device reserve.
    EXPECT_EQ(placement["memory"]["device_kind"], "cpu") << placement.dump();
    EXPECT_EQ(placement["memory"]["device_reserve_bytes"], 0) << placement.dump();
    EXPECT_GT(placement["memory"]["safety_margin_bytes"].get<int64_t>(), 0) << placement.dump();
  }

  ProcessResult text = run_cli(args);
  EXPECT_EQ(text.exit_code, 1) << text.out << text.err;
  const std::string expected_line =
      recommended.is_null()
          ? std::string(": does not fit\n")
          : fmt::format(": does not fit with 4096 slot(s), {} slot(s) fit", recommended.get<int>());
  EXPECT_NE(text.out.find(expected_line), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("OLLAMA_NUM_PARALLEL=4096"), std::string::npos) << text.out;
}

TEST_F(CommandsTest, PlanCapacityFolderIsUsageError) {
  const auto folder = dir_.path() / "models";
  std::filesystem::create_directories(folder);
  ProcessResult result = run_cli({"plan-capacity", "--model", folder.string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("'" + folder.string() + "' is a folder, expected a GGUF file"),
            std::string::npos)
      << result.err;
}

// A --model value that names an existing entry is read as a file, even without ".gguf", so a
// device is a usage error that names it instead of a model name for the server.
TEST_F(CommandsTest, PlanCapacityDeviceIsUsageError) {
  ProcessResult result =
      run_cli({"plan-capacity", "--model", "/dev/zero", "--host", "http://127.0.0.1:1"});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("model '/dev/zero' is a character device, expected a GGUF file"),
            std::string::npos)
      << result.err;
  const auto missing = dir_.path() / "missing.gguf";
  result = run_cli({"plan-capacity", "--model", missing.string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("model file '" + missing.string() + "' not found"), std::string::npos)
      << result.err;
}

TEST_F(CommandsTest, DoctorFailsOnDeviceModel) {
  ProcessResult result = run_cli({"doctor", "--model", "/dev/zero", "--backend", "sim", "--json"});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const json document = parse_json(result);
  bool failed = false;
  for (const json& check : document["checks"]) {
    failed = failed || (check["name"] == "capacity" && check["status"] == "fail" &&
                        check["detail"].get<std::string>().find("is a character device") !=
                            std::string::npos);
  }
  EXPECT_TRUE(failed) << result.out;
}

TEST_F(CommandsTest, PlanCapacityCorruptFileNamesFileAndOffset) {
  const auto bad = dir_.path() / "bad.gguf";
  std::FILE* file = std::fopen(bad.c_str(), "wb");
  std::fputs("GGUF\x03\x00\x00\x00garbage", file);
  std::fclose(file);
  ProcessResult result = run_cli({"plan-capacity", "--model", bad.string()});
  // Invalid input, so a usage error, like a folder given as the model.
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find(bad.string()), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("offset"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("pass a valid GGUF model file or an Ollama model name to --model"),
            std::string::npos)
      << result.err;
}

TEST_F(CommandsTest, ModelsListsServerModels) {
  FakeOllamaServer server;
  ProcessResult result = run_cli({"models", "--host", server.url(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("llama3.1:8b"), std::string::npos) << result.out;
  const json document = parse_json(result);
  EXPECT_EQ(document["simulated"], false) << result.out;
  // The figures leave the device reserve out, as the text states, on any machine.
  ASSERT_FALSE(document["models"].empty()) << result.out;
  const json& memory = document["models"][0]["memory"];
  ASSERT_TRUE(memory.is_object()) << result.out;
  EXPECT_TRUE(memory["device_kind"].is_null()) << memory.dump();
  EXPECT_EQ(memory["device_reserve_bytes"], 0) << memory.dump();
  EXPECT_EQ(memory["total_bytes"].get<uint64_t>(),
            memory["model_bytes"].get<uint64_t>() + memory["buffer_bytes"].get<uint64_t>() +
                memory["safety_margin_bytes"].get<uint64_t>())
      << memory.dump();
}

TEST_F(CommandsTest, ModelsNotesContextBeyondTraining) {
  FakeOllamaServer server;
  FakeModel model;
  model.context_length = 4096;
  model.model_info = {{"general.architecture", "llama"},    {"llama.block_count", 32},
                      {"llama.embedding_length", 4096},     {"llama.attention.head_count", 32},
                      {"llama.attention.head_count_kv", 8}, {"llama.context_length", 4096}};
  server.set_models({model});
  const ProcessResult beyond = run_cli({"models", "--host", server.url(), "--num-ctx", "8192"});
  ASSERT_EQ(beyond.exit_code, 0) << beyond.out << beyond.err;
  EXPECT_NE(beyond.out.find("llama3.1:8b: CTX 8192 (server.num_ctx) exceeds the training context "
                            "4096; set --num-ctx 4096 or lower"),
            std::string::npos)
      << beyond.out;

  const ProcessResult listed =
      run_cli({"models", "--host", server.url(), "--num-ctx", "8192", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json notes = parse_json(listed)["models"][0]["memory"]["notes"];
  EXPECT_NE(notes.dump().find("the context 8192 exceeds the model's training context 4096"),
            std::string::npos)
      << notes.dump();

  const ProcessResult within = run_cli({"models", "--host", server.url(), "--num-ctx", "4096"});
  ASSERT_EQ(within.exit_code, 0) << within.out << within.err;
  EXPECT_EQ(within.out.find("exceeds the training context"), std::string::npos) << within.out;
}

// A model name from the server reaches the terminal escaped, in the tables and in the lines
// around them, so that it cannot color the output, add a line or reverse the text.
TEST_F(CommandsTest, InspectionCommandsEscapeModelName) {
  FakeOllamaServer server;
  FakeModel model;
  model.name = "evil\x1b[31m\u202e:8b";
  model.model_info = {{"general.architecture", "llama"},    {"llama.block_count", 32},
                      {"llama.embedding_length", 4096},     {"llama.attention.head_count", 32},
                      {"llama.attention.head_count_kv", 8}, {"llama.context_length", 8192}};
  server.set_models({model});
  const std::string escaped = "evil\\x1B[31m\\u202E:8b";
  const std::vector<std::vector<std::string>> commands = {
      {"models", "--host", server.url()},
      {"plan-capacity", "--model", model.name, "--host", server.url()},
      {"doctor", "--model", model.name, "--host", server.url()},
  };
  for (const std::vector<std::string>& args : commands) {
    const ProcessResult result = run_cli(args);
    const std::string output = result.out + result.err;
    EXPECT_FALSE(result.timed_out) << args[0];
    EXPECT_EQ(output.find('\x1b'), std::string::npos) << args[0] << ":\n" << output;
    EXPECT_EQ(output.find("\u202e"), std::string::npos) << args[0] << ":\n" << output;
    EXPECT_NE(result.out.find(escaped), std::string::npos) << args[0] << ":\n" << output;
  }
}

// The table escapes newlines, so `doctor` joins the reasons that a message lists on indented
// lines, and the row stays one line.
TEST_F(CommandsTest, DoctorJoinsDetailLinesInOneRow) {
  FakeOllamaServer server;
  FakeModel model;
  model.name = "bare:1b";
  server.set_models({model});
  const ProcessResult result = run_cli({"doctor", "--model", "bare:1b", "--host", server.url()});
  EXPECT_FALSE(result.timed_out);
  const size_t row = result.out.find("\ncapacity ");
  ASSERT_NE(row, std::string::npos) << result.out << result.err;
  const std::string line = result.out.substr(row + 1, result.out.find('\n', row + 1) - row - 1);
  EXPECT_NE(line.find("no metadata for model 'bare:1b'"), std::string::npos) << line;
  EXPECT_NE(line.find("; table: no entry for this name"), std::string::npos) << line;
  EXPECT_EQ(line.find("\\n"), std::string::npos) << line;
}

TEST_F(CommandsTest, ModelsFetchesDetailsConcurrentlyInOrder) {
  FakeOllamaServer server;
  std::vector<FakeModel> models;
  for (int i = 0; i < 40; ++i) {
    FakeModel model;
    model.name = "model-" + std::to_string(i) + ":1b";
    models.push_back(model);
  }
  server.set_models(models);
  server.set_show_delay(std::chrono::milliseconds(30));
  ProcessResult result = run_cli({"models", "--host", server.url(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const json listed = parse_json(result)["models"];
  ASSERT_EQ(listed.size(), models.size());
  for (size_t i = 0; i < models.size(); ++i) {
    EXPECT_EQ(listed[i]["name"], models[i].name) << i;
  }
  EXPECT_GE(server.max_shows_in_flight(), 2) << "details were fetched one at a time";
  EXPECT_LE(server.max_shows_in_flight(), 8) << "more than 8 requests were in flight";
}

TEST_F(CommandsTest, ModelsOnSimulatedBackendListsItsModel) {
  ProcessResult result = run_cli({"models", "--backend", "sim", "--model", "sim-model:1b"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("sim-model:1b"), std::string::npos) << result.out;
  EXPECT_EQ(result.err.find("not part of this build"), std::string::npos) << result.err;
}

TEST_F(CommandsTest, ModelsOnSimulatedBackendLabelsFigures) {
  const ProcessResult text = run_cli({"models", "--backend", "sim", "--model", "sim-model:1b"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("SIMULATED backend (sim://local)", 0), 0u) << text.out;
  EXPECT_EQ(text.out.find("0 MiB"), std::string::npos) << text.out;
  const size_t row = text.out.find("\nsim-model:1b ");
  ASSERT_NE(row, std::string::npos) << text.out;
  const std::string line = text.out.substr(row + 1, text.out.find('\n', row + 1) - row - 1);
  // SIZE, TRAIN CTX and CTX are unknown.
  EXPECT_TRUE(std::regex_match(line, std::regex("sim-model:1b +unknown +unknown +unknown .*")))
      << line;

  const ProcessResult listed =
      run_cli({"models", "--backend", "sim", "--model", "sim-model:1b", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json document = parse_json(listed);
  EXPECT_EQ(document["simulated"], true) << listed.out;
  ASSERT_EQ(document["models"].size(), 1u) << listed.out;
  const json& model = document["models"][0];
  EXPECT_TRUE(model["size_bytes"].is_null()) << model.dump();
  EXPECT_TRUE(model["ctx"].is_null()) << model.dump();
  EXPECT_TRUE(model["ctx_source"].is_null()) << model.dump();
}

TEST_F(CommandsTest, ConfigShowTextListsEveryKey) {
  const auto config_path = dir_.path() / "config.json";
  std::ofstream(config_path) << R"({"strategies": {"HYBRID": {"priority": "consensus"}},
      "monitoring": {"log_scaling_events": true},
      "model_requirements": {"tiny:1b": {"min_memory_mb": 512}}})";
  const ProcessResult text = run_cli({"config", "show", "--config", config_path.string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const ProcessResult shown =
      run_cli({"config", "show", "--config", config_path.string(), "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  // Every group and key of the JSON form has a row in the text form; an empty group has one.
  const std::string rows = "\n" + text.out;
  const json document = parse_json(shown);
  for (const auto& [group, keys] : document["values"].items()) {
    if (keys.empty()) {
      EXPECT_NE(rows.find("\n" + group + " "), std::string::npos) << group << "\n" << rows;
    }
    for (const auto& [key, value] : keys.items()) {
      EXPECT_NE(rows.find("\n" + group + "." + key), std::string::npos)
          << group << "." << key << "\n"
          << rows;
    }
  }
  const std::string file_source = "file " + config_path.string();
  EXPECT_NE(text.out.find("strategies.HYBRID.priority"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\"consensus\""), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("model_requirements.tiny:1b.min_memory_mb"), std::string::npos);
  EXPECT_NE(text.out.find("environments.production.strategy"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(file_source), std::string::npos) << text.out;
}

// A strategy name is upper-cased wherever it is given, and `config show` prints the name in use
// with the name as written, as for --strategy.
TEST_F(CommandsTest, ConfigShowNamesGivenStrategy) {
  const std::filesystem::path config_path = dir_.path() / "config.json";
  std::ofstream(config_path) << json{{"environments", {{"testing", {{"strategy", "hybrid"}}}}}};
  const ProcessResult text = run_cli({"config", "show", "--config", config_path.string(),
                                      "--strategy", "workload_based", "--auto-scaling"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::regex environment_row(
      R"(\nenvironments\.testing\.strategy +"HYBRID" +file [^\n]*, given as "hybrid"\n)");
  EXPECT_TRUE(std::regex_search("\n" + text.out, environment_row)) << text.out;
  const std::regex flag_row(
      R"(\nauto_scaling\.strategy +"WORKLOAD_BASED" +flag --strategy, given as "workload_based"\n)");
  EXPECT_TRUE(std::regex_search("\n" + text.out, flag_row)) << text.out;

  const ProcessResult shown =
      run_cli({"config", "show", "--config", config_path.string(), "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const json document = parse_json(shown);
  EXPECT_EQ(document["values"]["environments"]["testing"]["strategy"], "HYBRID") << shown.out;
  EXPECT_EQ(document["given_values"]["environments.testing.strategy"], "hybrid") << shown.out;
}

TEST_F(CommandsTest, DoctorReportsDeadServerQuickly) {
  const std::string host = "http://127.0.0.1:" + std::to_string(closed_port());
  ProcessResult result = run_cli({"doctor", "--host", host});
  EXPECT_FALSE(result.timed_out);
  EXPECT_NE(result.out.find("127.0.0.1"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("ollama serve"), std::string::npos) << result.out << result.err;
}

TEST_F(CommandsTest, StatusShowsPlanningRun) {
  FakeOllamaServer server;
  play_gated_model(server, sample_plan(),
                   [](const std::string& kind, const json&) { return kind == "plan"; });
  ChildProcess child(
      cli_argv({"run", "Create a Python web app", "--host", server.url(), "--workspace",
                workspace().string(), "--db", db().string(), "--json"}),
      cli_options({}));
  server.gate().wait_for_waiters(1);
  const ProcessResult status = run_cli({"status", "--json", "--db", db().string()});
  const ProcessResult text = run_cli({"status", "--db", db().string()});
  server.gate().open_all();
  EXPECT_EQ(child.wait(std::chrono::seconds(60)), 0) << child.read_err();
  json statuses = json::parse(status.out, nullptr, false);
  ASSERT_FALSE(statuses.is_discarded()) << status.out;
  ASSERT_EQ(statuses.size(), 1u) << statuses.dump();
  EXPECT_EQ(statuses[0]["phase"], "planning") << statuses[0].dump();
  EXPECT_EQ(statuses[0]["goal"], "Create a Python web app");
  EXPECT_NE(text.out.find("goal: Create a Python web app"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  phase:    planning"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("scaling:"), std::string::npos) << text.out;
  // The status file goes with the run.
  const ProcessResult after = run_cli({"status", "--json", "--db", db().string()});
  EXPECT_EQ(json::parse(after.out, nullptr, false), json::array()) << after.out;
}

TEST_F(CommandsTest, StatusShowsActiveRun) {
  FakeOllamaServer server;
  play_gated_model(server, sample_plan(),
                   [](const std::string& kind, const json&) { return kind == "agent_reply"; });
  ChildProcess child(
      cli_argv({"run", "Create a Python web app", "--host", server.url(), "--auto-scaling",
                "--workspace", workspace().string(), "--db", db().string(), "--json"}),
      cli_options({}));
  server.gate().wait_for_waiters(1);
  json statuses;
  // The run publishes its status about every 250 ms; poll a bounded number of times until it
  // shows the agent at work.
  const auto agent_at_work = [](const json& all) {
    if (all.is_discarded() || all.size() != 1 || !all[0].contains("agents")) {
      return false;
    }
    for (const json& agent : all[0]["agents"].value("agents", json::array())) {
      if (agent.value("current_task", json()).is_string()) {
        return true;
      }
    }
    return false;
  };
  for (int i = 0; i < 100; ++i) {
    ProcessResult status = run_cli({"status", "--json", "--db", db().string()});
    statuses = json::parse(status.out, nullptr, false);
    if (agent_at_work(statuses)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The text form is a summary, not the JSON again.
  const ProcessResult text = run_cli({"status", "--db", db().string()});
  server.gate().open_all();
  EXPECT_EQ(child.wait(std::chrono::seconds(60)), 0) << child.read_err();
  EXPECT_NE(text.out.find("scaling:  HYBRID"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("queue:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("agents:"), std::string::npos) << text.out;
  // The first task is the only one ready; the agent that runs it shows the task's role, and
  // its id names no role.
  EXPECT_NE(text.out.find("task design (it_architect)"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("agent-it-architect"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find('{'), std::string::npos) << text.out;
  ASSERT_FALSE(statuses.is_discarded());
  ASSERT_EQ(statuses.size(), 1u) << statuses.dump();
  EXPECT_EQ(statuses[0]["goal"], "Create a Python web app");
  EXPECT_TRUE(statuses[0]["scaling"].contains("strategy")) << statuses[0].dump();
  EXPECT_TRUE(statuses[0].contains("metrics"));
  EXPECT_EQ(statuses[0]["backend"], "ollama");
  EXPECT_EQ(statuses[0]["simulated"], false);
  EXPECT_NE(text.out.find("backend:  ollama\n"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("SIMULATED"), std::string::npos) << text.out;
}

// Status files are read only when they are regular files: a FIFO would block `status` and a link
// to /dev/zero would never end. Both are named after live processes, so they are not removed
// as stale first.
TEST_F(CommandsTest, StatusSkipsFifoAndDeviceFiles) {
  const std::filesystem::path active = db().parent_path() / "active";
  std::filesystem::create_directories(active);
  const std::filesystem::path fifo = active / (std::to_string(getpid()) + ".json");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  std::filesystem::create_symlink("/dev/zero", active / (std::to_string(getppid()) + ".json"));
  ProcessOptions options = cli_options({});
  options.timeout = std::chrono::seconds(20);
  const ProcessResult result =
      run_process(cli_argv({"status", "--json", "--db", db().string()}), options);
  EXPECT_FALSE(result.timed_out) << "status blocked on a FIFO or device";
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "[]\n") << result.out;
}

TEST_F(CommandsTest, StatusLabelsSimulatedRun) {
  // Slow simulated replies keep the run active while `status` reads it.
  const std::filesystem::path config = dir_.path() / "slow.json";
  std::ofstream(config) << R"({"server": {"sim_output_tokens_per_s": 20}})";
  // A plan file skips planning, which would take as long as a task.
  const std::filesystem::path plan = dir_.path() / "plan.json";
  std::ofstream(plan) << sample_plan().dump();
  ChildProcess child(
      cli_argv({"run", "--plan", plan.string(), "--backend", "sim", "--config", config.string(),
                "--workspace", workspace().string(), "--db", db().string()}),
      cli_options({}));
  json statuses;
  for (int i = 0; i < 200; ++i) {
    ProcessResult status = run_cli({"status", "--json", "--db", db().string()});
    statuses = json::parse(status.out, nullptr, false);
    if (!statuses.is_discarded() && !statuses.empty()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const ProcessResult text = run_cli({"status", "--db", db().string()});
  child.send_signal(SIGINT);
  EXPECT_EQ(child.wait(std::chrono::seconds(60)), 130) << child.read_err();
  ASSERT_FALSE(statuses.is_discarded());
  ASSERT_EQ(statuses.size(), 1u) << statuses.dump();
  EXPECT_EQ(statuses[0]["backend"], "sim");
  EXPECT_EQ(statuses[0]["simulated"], true);
  EXPECT_NE(text.out.find("backend:  sim  [SIMULATED: output is placeholder text]"),
            std::string::npos)
      << text.out;
}

TEST_F(CommandsTest, PlanCapacityRejectsZeroHeads) {
  GgufWriter writer;
  writer.str("general.architecture", "llama")
      .u32("llama.block_count", 2)
      .u32("llama.context_length", 4096)
      .u32("llama.embedding_length", 64)
      .u32("llama.attention.head_count", 0)
      .tensor("token_embd.weight", {64, 10}, 0, 64 * 10 * 4);
  const std::filesystem::path model = dir_.path() / "zero-heads.gguf";
  std::ofstream(model, std::ios::binary) << writer.build();
  ProcessResult result = run_cli({"plan-capacity", "--model", model.string()});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.err.find(model.string() +
                            ": metadata key 'llama.attention.head_count' is 0 in every layer"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.out.find("KV cache"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace ollamaflow::testing
