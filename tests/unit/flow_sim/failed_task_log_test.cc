// The warning lines of a failed task in a plan run: one line per task, from the agent manager,
// with the task, the agent, the counted attempts and the error.
#include <gtest/gtest.h>

#include "fakes/log_capture.h"
#include "override_client.h"

namespace ollamaflow::flow {
namespace {

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

TEST(FailedTaskLogTest, OneWarningLinePerTask) {
  PlanRunFixture fixture;
  OverrideClient client(fixture.sim(), [](const llm::ChatRequest& request) {
    std::optional<Result<llm::ChatResponse>> reply;
    if (request.schema_name == "agent_reply") {
      reply = reply_of("not json", 10, 2);
    }
    return reply;
  });
  ExecutionSetup setup = fixture.setup(client, {"a"}, 1);
  setup.config.run.max_task_attempts = 2;
  testing::LogCapture agents_log("agents");
  testing::LogCapture orchestrator_log("orchestrator");

  Result<ExecutionResult> result = execute_plan(std::move(setup));

  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  ASSERT_EQ(result->tasks.size(), 1u);
  EXPECT_EQ(result->tasks[0].status, "failed");
  const std::string text = agents_log.text() + orchestrator_log.text();
  EXPECT_EQ(count_of(text, "task failed"), 1u) << text;
  EXPECT_NE(text.find("task failed: agent=agent-1 task=a attempts=2 error=\"task \"a\": no "
                      "accepted reply after 2 attempts: "),
            std::string::npos)
      << text;
}

// The limit of the "task failed" line is per run: each run logs its first lines in full.
TEST(FailedTaskLogTest, LimitIsPerRun) {
  for (int run = 0; run < 2; ++run) {
    PlanRunFixture fixture;
    OverrideClient client(fixture.sim(), [](const llm::ChatRequest& request) {
      std::optional<Result<llm::ChatResponse>> reply;
      if (request.schema_name == "agent_reply") {
        reply = Status(ErrorCode::kServerError, "HTTP 500");
      }
      return reply;
    });
    ExecutionSetup setup = fixture.setup(client, {"a", "b", "c", "d", "e", "f", "g"}, /*agents=*/1);
    testing::LogCapture log("agents");

    Result<ExecutionResult> result = execute_plan(std::move(setup));

    ASSERT_TRUE(result.is_ok()) << result.status().to_string();
    const std::string text = log.text();
    EXPECT_EQ(count_of(text, "task failed: agent="), 5u) << "run " << run << "\n" << text;
    EXPECT_NE(text.find("task failed: 2 more lines suppressed"), std::string::npos)
        << "run " << run << "\n"
        << text;
  }
}

}  // namespace
}  // namespace ollamaflow::flow
