// End-to-end run of the real binary against the fake OpenAI-compatible server.
#include <gtest/gtest.h>

#include "e2e/e2e_support.h"
#include "fakes/fake_script.h"

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

}  // namespace
}  // namespace ollamaflow::testing
