// End-to-end run of the real binary against the fake OpenAI-compatible server.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "e2e/e2e_support.h"
#include "fakes/fake_script.h"
#include "fakes/http_test_server.h"
#include "unit/model/model_files.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

class OpenAiRunTest : public E2eTest {};

TEST_F(OpenAiRunTest, GoalRunsOverServerSentEvents) {
  FakeOpenAiServer server;
  play_cooperative_model(server, sample_plan());
  ProcessResult result = run_cli({"run", "Create a Python web app", "--backend", "openai", "--host",
                                  server.url(), "--agents", "4", "--workspace",
                                  workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["backend"], "openai");
  for (const char* file : {"docs/design.md", "app/main.py", "app/routes.py", "tests/test_app.py",
                           "docs/security.md"}) {
    EXPECT_TRUE(std::filesystem::exists(workspace() / file)) << file;
  }
  for (const json& task : report["tasks"]) {
    EXPECT_GT(task["prompt_tokens"].get<int64_t>(), 0) << task.dump();
    EXPECT_GT(task["output_tokens"].get<int64_t>(), 0) << task.dump();
  }
  bool saw_schema = false;
  for (const json& body : server.chat_requests()) {
    EXPECT_TRUE(body.value("stream", false)) << body.dump();
    if (body.contains("response_format")) {
      saw_schema = true;
      EXPECT_EQ(body["response_format"]["type"], "json_schema");
    }
  }
  EXPECT_TRUE(saw_schema);
}

TEST_F(OpenAiRunTest, RefusedConnectionSuggestsOpenAiServer) {
  const std::string host = "http://127.0.0.1:" + std::to_string(closed_port());
  ProcessResult result = run_cli({"run", "x", "--backend", "openai", "--host", host, "--workspace",
                                  workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("start the OpenAI-compatible server"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("ollama serve"), std::string::npos) << result.err;
}

TEST_F(OpenAiRunTest, DoctorSuggestsNoOllamaCommands) {
  const std::string host = "http://127.0.0.1:" + std::to_string(closed_port());
  ProcessResult refused = run_cli({"doctor", "--backend", "openai", "--host", host, "--json"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.out.find("start the OpenAI-compatible server at " + host), std::string::npos)
      << refused.out;
  EXPECT_EQ(refused.out.find("ollama serve"), std::string::npos) << refused.out;

  FakeOpenAiServer server;
  server.set_models({FakeModel{.name = "served-model"}, FakeModel{.name = "second-model"}});
  ProcessResult missing = run_cli({"doctor", "--backend", "openai", "--host", server.url(),
                                   "--model", "other-model", "--json"});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.out.find("check the model name in GET " + server.url() + "/v1/models"),
            std::string::npos)
      << missing.out;
  EXPECT_EQ(missing.out.find("ollama pull"), std::string::npos) << missing.out;
}

// An OpenAI-compatible server checked with the default backend (ollama) returns 404. Doctor
// names the --backend that fits, as `run` does, and does not call the server unreachable.
TEST_F(OpenAiRunTest, DoctorNamesBackendOfOtherProtocol) {
  FakeOpenAiServer server;
  ProcessResult result = run_cli({"doctor", "--host", server.url(), "--json"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const json check = doctor_check(parse_json(result), "server");
  ASSERT_FALSE(check.is_null()) << result.out;
  EXPECT_EQ(check["status"], "fail") << check.dump();
  const std::string detail = check["detail"];
  const std::string fix = check["fix"];
  EXPECT_NE(detail.find("HTTP 404"), std::string::npos) << detail;
  EXPECT_NE(detail.find("does not speak the Ollama API"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("not reachable"), std::string::npos) << detail;
  EXPECT_NE(fix.find("pass --backend openai"), std::string::npos) << fix;
  EXPECT_EQ(fix.find("ollama serve"), std::string::npos) << fix;

  ProcessResult run = run_cli({"run", "Write a note", "--host", server.url(), "--workspace",
                               workspace().string(), "--db", db().string()});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("pass --backend openai"), std::string::npos) << run.err;
}

TEST_F(OpenAiRunTest, DoctorAcceptsOneServedModel) {
  FakeOpenAiServer server;
  server.set_models({FakeModel{.name = "served-model"}});
  // Two agents use fewer slots than the server's 4, whatever fits, so the parallel check warns.
  ProcessResult result = run_cli({"doctor", "--backend", "openai", "--host", server.url(),
                                  "--model", "llama3.1:8b", "--agents", "2", "--json"},
                                 {{"OLLAMA_FLOW_GPU_MEMORY_MB", "81920"}});
  const json document = parse_json(result);
  const json model = doctor_check(document, "model llama3.1:8b");
  ASSERT_FALSE(model.is_null()) << result.out;
  EXPECT_EQ(model["status"], "warn") << model.dump();
  EXPECT_NE(model["detail"].get<std::string>().find("serves it for every request"),
            std::string::npos)
      << model.dump();
  EXPECT_NE(model["fix"].get<std::string>().find("pass --model served-model"), std::string::npos)
      << model.dump();

  const json capacity = doctor_check(document, "capacity");
  ASSERT_FALSE(capacity.is_null()) << result.out;
  EXPECT_NE(capacity["detail"].get<std::string>().find(
                "the memory figures are for the configured model llama3.1:8b"),
            std::string::npos)
      << capacity.dump();
  const json parallel = doctor_check(document, "parallel");
  ASSERT_FALSE(parallel.is_null()) << result.out;
  EXPECT_NE(parallel["detail"].get<std::string>().find("the server's 4 slot(s)"), std::string::npos)
      << parallel.dump();
  EXPECT_NE(parallel["fix"].get<std::string>().find("restart llama-server with -np 2"),
            std::string::npos)
      << parallel.dump();
  EXPECT_EQ(result.out.find("OLLAMA_NUM_PARALLEL"), std::string::npos) << result.out;
}

// The served model was trained on 4096 tokens, and an auto-scaled run uses at most the agent
// manager's 16 agents, so the advice gives no slot more context and no more slots than that. The
// fake server has 4096 tokens per slot, below --num-ctx 8192, which doctor warns about as a run
// does.
TEST_F(OpenAiRunTest, DoctorAdviceKeepsTrainingContextAndAgentCap) {
  const std::filesystem::path model = dir_.path() / "served.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({.context = 4096});
  FakeOpenAiServer server;
  server.set_models({FakeModel{.name = model.string()}});
  server.set_total_slots(1);
  ProcessResult result = run_cli({"doctor", "--backend", "openai", "--host", server.url(),
                                  "--num-ctx", "8192", "--auto-scaling", "--json"});
  const json document = parse_json(result);
  const json capacity = doctor_check(document, "capacity");
  ASSERT_FALSE(capacity.is_null()) << result.out;
  EXPECT_NE(capacity["detail"].get<std::string>().find("the model's training context 4096, not "
                                                       "server.num_ctx 8192"),
            std::string::npos)
      << capacity.dump();
  const int fit = document["capacity"]["models"][0]["memory_slots"].get<int>();
  ASSERT_GT(fit, 1) << document["capacity"].dump();
  const int target_slots = std::min(fit, 16);

  const json parallel = doctor_check(document, "parallel");
  ASSERT_FALSE(parallel.is_null()) << result.out;
  EXPECT_EQ(parallel["status"], "warn") << parallel.dump();
  const std::string fix = parallel["fix"].get<std::string>();
  EXPECT_NE(fix.find("restart llama-server with -np " + std::to_string(target_slots) + " -c " +
                     std::to_string(target_slots * 4096) + " and run with --num-ctx 4096"),
            std::string::npos)
      << parallel.dump();
  EXPECT_NE(parallel["detail"].get<std::string>().find(
                "a run uses at most 16 agents (dynamic_agent_management.max_agents)"),
            std::string::npos)
      << parallel.dump();

  const json context = doctor_check(document, "context");
  ASSERT_FALSE(context.is_null()) << result.out;
  EXPECT_EQ(context["status"], "warn") << context.dump();
  EXPECT_NE(context["detail"].get<std::string>().find(
                "server.num_ctx is 8192 tokens, but the server at " + server.url() +
                " has 4096 tokens of context per slot"),
            std::string::npos)
      << context.dump();
  EXPECT_NE(context["fix"].get<std::string>().find("lower --num-ctx to 4096"), std::string::npos)
      << context.dump();
}

// A --num-ctx that the server's slots hold gets no context warning.
TEST_F(OpenAiRunTest, DoctorMatchingContextIsNotWarned) {
  FakeOpenAiServer server;
  ProcessResult result = run_cli(
      {"doctor", "--backend", "openai", "--host", server.url(), "--num-ctx", "4096", "--json"});
  const json document = parse_json(result);
  ASSERT_FALSE(doctor_check(document, "slots").is_null()) << result.out;
  EXPECT_TRUE(doctor_check(document, "context").is_null()) << result.out;
}

TEST_F(OpenAiRunTest, DoctorPlansServedGguf) {
  const std::filesystem::path model = dir_.path() / "served.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  FakeOpenAiServer server;
  server.set_models({FakeModel{.name = model.string()}});
  ProcessResult result = run_cli(
      {"doctor", "--backend", "openai", "--host", server.url(), "--model", "llama3.1:8b", "--json"},
      {{"OLLAMA_FLOW_GPU_MEMORY_MB", "81920"}});
  const json document = parse_json(result);
  const json capacity = doctor_check(document, "capacity");
  ASSERT_FALSE(capacity.is_null()) << result.out;
  const std::string detail = capacity["detail"].get<std::string>();
  EXPECT_NE(detail.find(model.string() + " at "), std::string::npos) << detail;
  EXPECT_NE(detail.find("gguf:" + model.string()), std::string::npos) << detail;
  EXPECT_EQ(detail.find("configured model"), std::string::npos) << detail;
}

TEST_F(OpenAiRunTest, DoctorSimNamesSimSlots) {
  // Two agents use fewer slots than server.sim_slots 4, so the parallel check names the fix.
  ProcessResult result =
      run_cli({"doctor", "--backend", "sim", "--model", "llama3.1:8b", "--agents", "2", "--json"},
              {{"OLLAMA_FLOW_GPU_MEMORY_MB", "81920"}});
  const json document = parse_json(result);
  const json capacity = doctor_check(document, "capacity");
  ASSERT_FALSE(capacity.is_null()) << result.out;
  EXPECT_EQ(capacity["detail"].get<std::string>().rfind("simulated backend, ", 0), 0u)
      << capacity.dump();
  const json parallel = doctor_check(document, "parallel");
  ASSERT_FALSE(parallel.is_null()) << result.out;
  EXPECT_NE(parallel["detail"].get<std::string>().find("server.sim_slots 4"), std::string::npos)
      << parallel.dump();
  EXPECT_NE(parallel["fix"].get<std::string>().find("set server.sim_slots=2"), std::string::npos)
      << parallel.dump();
  EXPECT_EQ(result.out.find("OLLAMA_NUM_PARALLEL"), std::string::npos) << result.out;
}

// llama-server replies to every request with HTTP 503 "Loading model" until its model is
// loaded, as a run started right after the server finds. The run waits and then proceeds.
TEST_F(OpenAiRunTest, RunWaitsForModelLoad) {
  FakeOpenAiServer server;
  play_cooperative_model(server, sample_plan());
  server.set_loading_model(4);
  ProcessResult result = run_cli({"run", "Create a Python web app", "--backend", "openai", "--host",
                                  server.url(), "--agents", "1", "--workspace",
                                  workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(parse_json(result)["backend"], "openai");
  EXPECT_NE(result.err.find("the server at " + server.url() + " is loading its model"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("loaded its model after"), std::string::npos) << result.err;
  EXPECT_GT(server.chat_count(), 0u);
}

TEST_F(OpenAiRunTest, RunStopsWaitingForModelLoadAtTimeout) {
  FakeOpenAiServer server;
  server.set_loading_model(-1);
  const std::filesystem::path config = dir_.path() / "config.json";
  std::ofstream(config) << json({{"server", {{"first_token_timeout_s", 1}}}}).dump();
  ProcessResult result =
      run_cli({"run", "Write a note", "--backend", "openai", "--host", server.url(), "--config",
               config.string(), "--workspace", workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.err.find("was still loading its model after 1 s"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("raise server.first_token_timeout_s"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("the server failed"), std::string::npos) << result.err;
  EXPECT_EQ(server.chat_count(), 0u);
}

// A server that is loading its model returned nothing about its slots or model file, so
// doctor warns about the load and gives no advice about them.
TEST_F(OpenAiRunTest, DoctorWarnsOfModelLoad) {
  FakeOpenAiServer server;
  server.set_loading_model(-1);
  ProcessResult result =
      run_cli({"doctor", "--backend", "openai", "--host", server.url(), "--json"},
              {{"OLLAMA_FLOW_GPU_MEMORY_MB", "81920"}});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  const json document = parse_json(result);
  const json check = doctor_check(document, "server");
  ASSERT_FALSE(check.is_null()) << result.out;
  EXPECT_EQ(check["status"], "warn") << check.dump();
  EXPECT_NE(check["detail"].get<std::string>().find("is loading its model"), std::string::npos)
      << check.dump();
  EXPECT_NE(check["fix"].get<std::string>().find("run doctor again"), std::string::npos)
      << check.dump();
  EXPECT_TRUE(doctor_check(document, "models").is_null()) << result.out;
  EXPECT_TRUE(doctor_check(document, "slots").is_null()) << result.out;
  EXPECT_TRUE(doctor_check(document, "start-server").is_null()) << result.out;

  const json capacity = doctor_check(document, "capacity");
  ASSERT_FALSE(capacity.is_null()) << result.out;
  EXPECT_NE(capacity["detail"].get<std::string>().find("the server is loading its model"),
            std::string::npos)
      << capacity.dump();
  const json parallel = doctor_check(document, "parallel");
  ASSERT_FALSE(parallel.is_null()) << result.out;
  EXPECT_NE(parallel["detail"].get<std::string>().find("unknown while it loads its model"),
            std::string::npos)
      << parallel.dump();
  EXPECT_EQ(parallel["fix"], "") << parallel.dump();

  EXPECT_EQ(result.out.find("restart llama-server"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("-np N"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("not readable here"), std::string::npos) << result.out;
}

// The simulated backend serves any model name, so doctor labels its results as simulated.
TEST_F(OpenAiRunTest, DoctorLabelsSimulatedChecks) {
  const std::vector<std::string> args = {"doctor", "--backend", "sim", "--model",
                                         "totally-made-up:7b"};
  std::vector<std::string> json_args = args;
  json_args.push_back("--json");
  ProcessResult result = run_cli(json_args, {{"OLLAMA_FLOW_GPU_MEMORY_MB", "81920"}});
  const json document = parse_json(result);
  EXPECT_EQ(document["simulated"], true) << result.out;
  const json server = doctor_check(document, "server");
  ASSERT_FALSE(server.is_null()) << result.out;
  EXPECT_EQ(server["simulated"], true) << server.dump();
  const json model = doctor_check(document, "model totally-made-up:7b");
  ASSERT_FALSE(model.is_null()) << result.out;
  EXPECT_EQ(model["simulated"], true) << model.dump();
  EXPECT_NE(model["detail"].get<std::string>().find("serves any model name"), std::string::npos)
      << model.dump();
  EXPECT_EQ(model["detail"].get<std::string>().find("present on the server"), std::string::npos)
      << model.dump();
  const json host_memory = doctor_check(document, "host memory");
  ASSERT_FALSE(host_memory.is_null()) << result.out;
  EXPECT_EQ(host_memory["simulated"], false) << host_memory.dump();

  ProcessResult text = run_cli(args, {{"OLLAMA_FLOW_GPU_MEMORY_MB", "81920"}});
  EXPECT_NE(text.out.find("SIMULATED backend"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("ok (simulated)"), std::string::npos) << text.out;
}

// llama3:70b at 4,194,304 tokens per slot needs terabytes, so the capacity check fails, and its
// fix may name only a cache type smaller than the configured one.
TEST_F(OpenAiRunTest, DoctorCacheAdviceShrinksCache) {
  struct Case {
    std::string configured;
    std::string advised;  // empty: no cache type makes the cache smaller
  };
  for (const Case& c : {Case{"f16", "OLLAMA_KV_CACHE_TYPE=q8_0"},
                        Case{"q8_0", "OLLAMA_KV_CACHE_TYPE=q4_0"}, Case{"q4_0", ""}}) {
    ProcessResult result =
        run_cli({"doctor", "--backend", "sim", "--model", "llama3:70b", "--num-ctx", "4194304",
                 "--kv-cache-type", c.configured, "--json"});
    const json capacity = doctor_check(parse_json(result), "capacity");
    ASSERT_FALSE(capacity.is_null()) << result.out;
    EXPECT_EQ(capacity["status"], "fail") << capacity.dump();
    const std::string fix = capacity["fix"].get<std::string>();
    if (c.advised.empty()) {
      EXPECT_EQ(fix.find("KV cache"), std::string::npos) << c.configured << ": " << fix;
    } else {
      EXPECT_NE(fix.find(c.advised), std::string::npos) << c.configured << ": " << fix;
    }
  }
}

TEST_F(OpenAiRunTest, ModelsWithoutModelsSuggestsLoadingOne) {
  FakeOpenAiServer server;
  server.set_models({});
  ProcessResult result = run_cli({"models", "--backend", "openai", "--host", server.url()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("serves no models: load one in the server"), std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("ollama pull"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace ollamaflow::testing
