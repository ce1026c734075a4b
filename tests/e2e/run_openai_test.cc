// End-to-end run of the real binary against the fake OpenAI-compatible server.
#include <gtest/gtest.h>

#include "e2e/e2e_support.h"
#include "fakes/fake_script.h"
#include "fakes/http_test_server.h"

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
  server.set_models({FakeModel{.name = "served-model"}});
  ProcessResult missing = run_cli({"doctor", "--backend", "openai", "--host", server.url(),
                                   "--model", "other-model", "--json"});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.out.find("check the model name in GET " + server.url() + "/v1/models"),
            std::string::npos)
      << missing.out;
  EXPECT_EQ(missing.out.find("ollama pull"), std::string::npos) << missing.out;
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
