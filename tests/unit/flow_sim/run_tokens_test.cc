// The token figures of a plan run: the warm-ups' share of the totals.
#include <gtest/gtest.h>

#include <atomic>

#include "override_client.h"

namespace ollamaflow::flow {
namespace {

using nlohmann::json;

// Returns the agent reply that writes every file that `request` declares (its schema's path
// enum), as an accepted reply must.
std::string files_reply(const llm::ChatRequest& request) {
  json files = json::array();
  const json& paths = request.schema["properties"]["files"]["items"]["properties"]["path"]["enum"];
  for (const json& path : paths) {
    files.push_back({{"path", path}, {"content", "note"}});
  }
  return json{{"files", files}, {"summary", "wrote the note"}}.dump();
}

TEST(RunTokensTest, WarmUpTokensAreCountedApart) {
  PlanRunFixture fixture;
  OverrideClient client(fixture.sim(), [](const llm::ChatRequest& request) {
    std::optional<Result<llm::ChatResponse>> reply;
    if (request.schema_name == "warm_up") {
      reply = reply_of(R"({"ready": true})", 7, 3);
    } else if (request.schema_name == "agent_reply") {
      reply = reply_of(files_reply(request), 100, 20);
    }
    return reply;
  });

  Result<ExecutionResult> result = execute_plan(fixture.setup(client, {"a", "b"}, /*agents=*/2));

  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_TRUE(result->all_succeeded);
  EXPECT_EQ(result->warm_up_prompt_tokens, 14);
  EXPECT_EQ(result->warm_up_output_tokens, 6);
  EXPECT_EQ(result->prompt_tokens, 214);
  EXPECT_EQ(result->output_tokens, 46);
  EXPECT_EQ(result->failed_prompt_tokens, 0);
  EXPECT_EQ(result->failed_output_tokens, 0);
}

}  // namespace
}  // namespace ollamaflow::flow
