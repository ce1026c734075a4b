// The token figures of a plan run: the warm-ups' share, and the split of failed and accepted
// tokens that a resumed run reads back from the journal.
#include <gtest/gtest.h>

#include <atomic>

#include "override_client.h"
#include "store/journal.h"

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

class ResumedSplitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<store::Journal>> opened =
        store::Journal::open((fixture_.folder() / "journal.db").string());
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    journal_ = std::move(opened).value();
    store::RunRecord record;
    record.goal = "Write notes";
    Result<store::RunRecord> created = journal_->create_run(record);
    ASSERT_TRUE(created.is_ok()) << created.status().to_string();
    run_id_ = created->id;
  }

  PlanRunFixture fixture_;
  std::unique_ptr<store::Journal> journal_;
  std::string run_id_;
};

// A task that succeeded after a rejected reply keeps its failed tokens in the journal, so the
// resumed run's report splits them as the first run did.
TEST_F(ResumedSplitTest, FailedTokensSurviveResume) {
  std::atomic<int> agent_replies{0};
  OverrideClient client(fixture_.sim(), [&agent_replies](const llm::ChatRequest& request) {
    std::optional<Result<llm::ChatResponse>> reply;
    if (request.schema_name == "warm_up") {
      reply = reply_of(R"({"ready": true})", 0, 0);
    } else if (request.schema_name == "agent_reply") {
      reply = agent_replies++ == 0 ? reply_of("not json", 40, 5)
                                   : reply_of(files_reply(request), 100, 20);
    }
    return reply;
  });
  ExecutionSetup first = fixture_.setup(client, {"a"}, /*agents=*/1);
  first.journal = journal_.get();
  first.run_id = run_id_;
  Result<ExecutionResult> uninterrupted = execute_plan(std::move(first));
  ASSERT_TRUE(uninterrupted.is_ok()) << uninterrupted.status().to_string();
  ASSERT_TRUE(uninterrupted->all_succeeded);
  ASSERT_EQ(uninterrupted->failed_prompt_tokens, 40);
  ASSERT_EQ(uninterrupted->failed_output_tokens, 5);
  ASSERT_TRUE(journal_->flush().is_ok());

  Result<std::vector<store::TaskRecord>> earlier = journal_->succeeded_tasks(run_id_);
  ASSERT_TRUE(earlier.is_ok()) << earlier.status().to_string();
  ASSERT_EQ(earlier->size(), 1u);
  EXPECT_EQ((*earlier)[0].failed_prompt_tokens, 40);
  EXPECT_EQ((*earlier)[0].failed_output_tokens, 5);
  ExecutionSetup second = fixture_.setup(client, {"a"}, /*agents=*/1);
  second.journal = journal_.get();
  second.run_id = run_id_;
  second.earlier = *earlier;
  Result<ExecutionResult> resumed = execute_plan(std::move(second));

  ASSERT_TRUE(resumed.is_ok()) << resumed.status().to_string();
  ASSERT_EQ(resumed->tasks.size(), 1u);
  EXPECT_TRUE(resumed->tasks[0].resumed);
  EXPECT_EQ(resumed->prompt_tokens, uninterrupted->prompt_tokens);
  EXPECT_EQ(resumed->output_tokens, uninterrupted->output_tokens);
  EXPECT_EQ(resumed->failed_prompt_tokens, uninterrupted->failed_prompt_tokens);
  EXPECT_EQ(resumed->failed_output_tokens, uninterrupted->failed_output_tokens);
  EXPECT_EQ(agent_replies.load(), 2);
}

}  // namespace
}  // namespace ollamaflow::flow
