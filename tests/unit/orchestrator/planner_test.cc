#include "orchestrator/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/log_capture.h"
#include "scripted_client.h"

namespace ollamaflow::orchestrator {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScriptedClient;
using ::testing::SizeIs;
using ::testing::StartsWith;

const char* kValidPlan = R"({"goal": "restated", "summary": "Flask app",
  "tasks": [
    {"id": "api", "title": "API", "role": "developer", "description": "Write the app",
     "depends_on": [], "files": ["app.py"]},
    {"id": "tests", "title": "Tests", "role": "developer", "description": "Test the app",
     "depends_on": ["api"], "files": ["tests/test_app.py"]}]})";

const char* kCyclicPlan = R"({"goal": "g", "summary": "s",
  "tasks": [
    {"id": "A", "title": "a", "role": "developer", "description": "d", "depends_on": ["C"],
     "files": []},
    {"id": "B", "title": "b", "role": "developer", "description": "d", "depends_on": ["A"],
     "files": []},
    {"id": "C", "title": "c", "role": "developer", "description": "d", "depends_on": ["B"],
     "files": []}]})";

class PlannerTest : public ::testing::Test {
 protected:
  PlannerTest() {
    options_.model = "llama3.1:8b";
    options_.chat.num_ctx = 8192;
    options_.chat.num_predict = 2048;
    options_.max_attempts = 3;
  }

  PlanOutcome plan() { return make_plan("Create a Python web app", client_, options_, cancel_); }

  ScriptedClient client_;
  PlannerOptions options_;
  CancelToken cancel_;
};

TEST_F(PlannerTest, AcceptsValidPlanFirstTime) {
  client_.reply(kValidPlan, 100, 50);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_TRUE(outcome.plan.has_value());
  EXPECT_EQ(outcome.plan->goal, "Create a Python web app");
  ASSERT_THAT(outcome.plan->tasks, SizeIs(2));
  EXPECT_EQ(outcome.plan->tasks[1].depends_on, std::vector<std::string>{"api"});
  ASSERT_THAT(outcome.attempts, SizeIs(1));
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kOk);
  EXPECT_EQ(outcome.usage.prompt_tokens, 100);
  EXPECT_EQ(outcome.model, "scripted-model");
}

TEST_F(PlannerTest, BackendDecidesWhetherPlanIsSimulated) {
  // A model cannot mark its plan simulated: the schema rejects the field and the reply is sent
  // back.
  json claimed = json::parse(kValidPlan);
  claimed["simulated"] = true;
  client_.reply(claimed.dump());
  client_.reply(kValidPlan);
  PlanOutcome real = plan();
  ASSERT_TRUE(real.plan.has_value()) << real.status.to_string();
  EXPECT_FALSE(real.plan->simulated);
  EXPECT_THAT(real.attempts, SizeIs(2));

  llm::ChatResponse response;
  response.content = kValidPlan;
  response.done_reason = "stop";
  response.simulated = true;
  client_.push(response);
  PlanOutcome simulated = plan();
  ASSERT_TRUE(simulated.plan.has_value()) << simulated.status.to_string();
  EXPECT_TRUE(simulated.plan->simulated);
}

TEST_F(PlannerTest, SendsGoalWithPlanSchema) {
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok());
  std::vector<llm::ChatRequest> requests = client_.requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(requests[0].model, "llama3.1:8b");
  EXPECT_EQ(requests[0].schema_name, "plan");
  EXPECT_EQ(requests[0].purpose, "planning");
  EXPECT_EQ(requests[0].schema, plan_schema(RoleSet::builtin()));
  ASSERT_THAT(requests[0].messages, SizeIs(2));
  EXPECT_EQ(requests[0].messages[0].role, "system");
  EXPECT_THAT(requests[0].messages[0].content, HasSubstr("security_specialist"));
  EXPECT_EQ(requests[0].messages[1].role, "user");
  EXPECT_THAT(requests[0].messages[1].content, HasSubstr("Create a Python web app"));
}

TEST_F(PlannerTest, AcceptsFencedJsonWithTrailingText) {
  client_.reply(std::string("```json\n") + kValidPlan + "\n```\nHope this helps!");

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  EXPECT_THAT(outcome.plan->tasks, SizeIs(2));
}

TEST_F(PlannerTest, SendsValidationErrorsBack) {
  client_.reply(kCyclicPlan);
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(outcome.attempts, SizeIs(2));
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kSchemaViolation);
  ASSERT_THAT(outcome.attempts[0].errors, SizeIs(1));
  EXPECT_THAT(outcome.attempts[0].errors[0], HasSubstr("A -> B -> C -> A"));
  EXPECT_EQ(outcome.attempts[0].reply, kCyclicPlan);

  std::vector<llm::ChatRequest> requests = client_.requests();
  ASSERT_THAT(requests, SizeIs(2));
  ASSERT_THAT(requests[1].messages, SizeIs(4));
  EXPECT_EQ(requests[1].messages[2].role, "assistant");
  EXPECT_EQ(requests[1].messages[2].content, kCyclicPlan);
  EXPECT_EQ(requests[1].messages[3].role, "user");
  EXPECT_THAT(requests[1].messages[3].content, StartsWith("Your plan was rejected: "));
  EXPECT_THAT(requests[1].messages[3].content, HasSubstr("A -> B -> C -> A"));
  EXPECT_THAT(requests[1].messages[3].content, HasSubstr("return a corrected plan"));
}

TEST_F(PlannerTest, SchemaViolationSentBackWithPath) {
  json bad = json::parse(kValidPlan);
  bad["tasks"][0]["role"] = "coder";
  client_.reply(bad.dump());
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok());
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kSchemaViolation);
  EXPECT_THAT(client_.requests()[1].messages[3].content, HasSubstr("$.tasks[0].role"));
}

TEST_F(PlannerTest, FailsAfterMaxAttemptsWithEveryError) {
  client_.reply("no idea, sorry");
  client_.reply(kCyclicPlan);
  client_.reply(R"({"tasks": []})");
  client_.reply(kValidPlan);  // never requested

  PlanOutcome outcome = plan();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(outcome.status.message(),
              HasSubstr("the model returned no valid plan after 3 attempts"));
  EXPECT_THAT(outcome.status.message(), HasSubstr("attempt 1 (parse_error)"));
  EXPECT_THAT(outcome.status.message(), HasSubstr("A -> B -> C -> A"));
  EXPECT_THAT(outcome.status.message(), HasSubstr("attempt 3 (schema_violation)"));
  EXPECT_FALSE(outcome.plan.has_value());
  ASSERT_THAT(outcome.attempts, SizeIs(3));
  for (const Attempt& attempt : outcome.attempts) {
    EXPECT_NE(attempt.code, ErrorCode::kOk);
    EXPECT_FALSE(attempt.errors.empty());
  }
  EXPECT_EQ(client_.remaining(), 1u);
}

TEST_F(PlannerTest, AttemptLimitProbedAtBoundary) {
  options_.max_attempts = 2;
  client_.reply(kCyclicPlan);
  client_.reply(kValidPlan);
  EXPECT_TRUE(plan().status.is_ok());

  options_.max_attempts = 1;
  client_.reply(kCyclicPlan);
  client_.reply(kValidPlan);
  PlanOutcome outcome = plan();
  EXPECT_EQ(outcome.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(outcome.attempts, SizeIs(1));
}

TEST_F(PlannerTest, TruncatedReplyDoublesOutputLimit) {
  client_.fail(ErrorCode::kTruncated, "done_reason length");
  // Unclosed after all 4096 allowed tokens: cut at the limit.
  client_.reply(R"({"goal": "g", "summary": "s", "tasks": [{"id": "a")", 10, 4096);
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  std::vector<llm::ChatRequest> requests = client_.requests();
  ASSERT_THAT(requests, SizeIs(3));
  EXPECT_EQ(requests[0].options.num_predict, 2048);
  EXPECT_EQ(requests[1].options.num_predict, 4096);
  EXPECT_EQ(requests[2].options.num_predict, 8192);
  EXPECT_EQ(outcome.attempts[1].code, ErrorCode::kTruncated);
  // A truncated reply is resent unchanged, without feedback about the cut text.
  EXPECT_THAT(requests[2].messages, SizeIs(2));
}

TEST_F(PlannerTest, TruncationStopsAtContextSize) {
  options_.chat.num_predict = 4096;
  client_.fail(ErrorCode::kTruncated, "done_reason length");
  client_.fail(ErrorCode::kTruncated, "done_reason length");
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(outcome.status.message(), HasSubstr("cut at the output token limit of 8192"));
  EXPECT_THAT(client_.requests(), SizeIs(2));
}

TEST_F(PlannerTest, UnsupportedSchemaResentStrippedAndCheckedLocally) {
  client_.fail(ErrorCode::kSchemaUnsupported, R"(Grammar error: Unimplemented keys: ["pattern"])");
  json bad_id = json::parse(kValidPlan);
  bad_id["tasks"][0]["id"] = "api server";
  bad_id["tasks"][1]["depends_on"] = {"api server"};
  client_.reply(bad_id.dump());
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  std::vector<llm::ChatRequest> requests = client_.requests();
  ASSERT_THAT(requests, SizeIs(3));
  EXPECT_THAT(requests[0].schema.dump(), HasSubstr("pattern"));
  EXPECT_THAT(requests[1].schema.dump(), Not(HasSubstr("pattern")));
  EXPECT_THAT(requests[1].schema.dump(), HasSubstr("maxItems"));
  ASSERT_THAT(outcome.attempts, SizeIs(3));
  EXPECT_FALSE(outcome.attempts[0].counted);
  EXPECT_EQ(outcome.attempts[1].code, ErrorCode::kSchemaViolation);
  EXPECT_FALSE(outcome.attempts[1].dropped_keywords.empty());
}

TEST_F(PlannerTest, UnsupportedSchemaTwiceFails) {
  client_.fail(ErrorCode::kSchemaUnsupported, "not supported by xgrammar");
  client_.fail(ErrorCode::kSchemaUnsupported, "not supported by xgrammar");

  PlanOutcome outcome = plan();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kSchemaUnsupported);
  EXPECT_THAT(client_.requests(), SizeIs(2));
}

TEST_F(PlannerTest, ServerParseFailureCountsAsAttempt) {
  client_.fail(ErrorCode::kParseError,
               "http://127.0.0.1:8080 returned HTTP 500: does not match the expected format");
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(outcome.attempts, SizeIs(2));
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kParseError);
  EXPECT_TRUE(outcome.attempts[0].counted);
  EXPECT_EQ(client_.requests()[1].messages.size(), 2u);
}

TEST_F(PlannerTest, NamedKeywordIsTheOnlyOneStripped) {
  client_.fail(ErrorCode::kSchemaUnsupported,
               R"(Grammar error: Unimplemented keys: ["maxLength"])");
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  std::string resent = client_.requests()[1].schema.dump();
  EXPECT_THAT(resent, Not(HasSubstr("maxLength")));
  EXPECT_THAT(resent, HasSubstr("pattern"));
  EXPECT_THAT(resent, HasSubstr("minItems"));
}

TEST_F(PlannerTest, ServerFailureEndsAtOnce) {
  client_.fail(ErrorCode::kUnavailable, "connection refused to http://127.0.0.1:1");
  client_.reply(kValidPlan);

  PlanOutcome outcome = plan();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kUnavailable);
  EXPECT_THAT(outcome.status.message(), HasSubstr("connection refused"));
  EXPECT_THAT(outcome.attempts, SizeIs(1));
  EXPECT_EQ(client_.remaining(), 1u);
}

TEST_F(PlannerTest, ZeroAttemptsRejected) {
  options_.max_attempts = 0;

  PlanOutcome outcome = plan();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(outcome.status.message(), HasSubstr("max_attempts is 0"));
  EXPECT_THAT(client_.requests(), SizeIs(0));
}

TEST_F(PlannerTest, CancelledBeforeFirstRequest) {
  cancel_.cancel();

  PlanOutcome outcome = plan();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kCancelled);
  EXPECT_THAT(client_.requests(), SizeIs(0));
}

// A Ctrl-C while the queen's reply streams still counts the tokens that the request spent.
TEST_F(PlannerTest, CancelledRequestCountsItsTokens) {
  client_.reply(kCyclicPlan, 100, 40);
  client_.cancel_spent(0, 25);

  PlanOutcome outcome = plan();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kCancelled);
  EXPECT_EQ(outcome.usage.prompt_tokens, 100);
  EXPECT_EQ(outcome.usage.output_tokens, 65);
  ASSERT_THAT(outcome.attempts, SizeIs(2));
  EXPECT_EQ(outcome.attempts[1].code, ErrorCode::kCancelled);
  EXPECT_EQ(outcome.attempts[1].usage.output_tokens, 25);
}

TEST_F(PlannerTest, UsageSummedOverAttempts) {
  client_.reply(kCyclicPlan, 100, 40);
  client_.reply(kValidPlan, 300, 60);

  PlanOutcome outcome = plan();

  ASSERT_TRUE(outcome.status.is_ok());
  EXPECT_EQ(outcome.usage.prompt_tokens, 400);
  EXPECT_EQ(outcome.usage.output_tokens, 100);
  EXPECT_EQ(outcome.attempts[0].usage.prompt_tokens, 100);
}

class SummarizeTest : public ::testing::Test {
 protected:
  SummaryOutcome run() {
    std::vector<TaskReport> reports = {
        {"api", "API", "developer", "succeeded", "Wrote app.py", {"app.py"}, ""},
        {"tests", "Tests", "developer", "cancelled", "", {}, "dependency \"api\" failed"}};
    return summarize("Create a Python web app", reports, client_, options_, cancel_);
  }

  ScriptedClient client_;
  SummaryOptions options_;
  CancelToken cancel_;
};

TEST_F(SummarizeTest, StructuredSummaryAccepted) {
  client_.reply(R"({"summary": "The app is in app.py."})");

  SummaryOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  EXPECT_EQ(outcome.summary, "The app is in app.py.");
  std::vector<llm::ChatRequest> requests = client_.requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(requests[0].schema_name, "summary");
  EXPECT_EQ(requests[0].purpose, "summary");
  EXPECT_EQ(requests[0].schema, summary_schema());
  EXPECT_THAT(requests[0].messages[1].content, HasSubstr("dependency \"api\" failed"));
  EXPECT_THAT(requests[0].messages[1].content, HasSubstr("files: app.py"));
}

TEST_F(SummarizeTest, EmptySummaryRetried) {
  client_.reply(R"({"summary": ""})");
  client_.reply(R"({"summary": "Done."})");

  SummaryOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  EXPECT_EQ(outcome.summary, "Done.");
  EXPECT_THAT(outcome.attempts, SizeIs(2));
}

TEST_F(SummarizeTest, FreeTextSummaryTrimmed) {
  options_.structured = false;
  client_.reply("\n  All done.  \n");

  SummaryOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok());
  EXPECT_EQ(outcome.summary, "All done.");
  EXPECT_TRUE(client_.requests()[0].schema.is_null());
}

TEST_F(SummarizeTest, EmptyFreeTextFailsAfterAttempts) {
  options_.structured = false;
  client_.reply("   ");
  client_.reply("");

  SummaryOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kParseError);
  EXPECT_THAT(outcome.status.message(), HasSubstr("the reply is empty"));
}

// The queen's requests share the run's limits of per-request warnings with the agents' ones.
TEST_F(PlannerTest, RejectionWarningsUseTheRunsLimits) {
  ReplyWarningLimits limits(2, std::chrono::seconds(60));
  options_.warning_limits = &limits;
  options_.max_attempts = 4;
  for (int i = 0; i < 4; ++i) {
    client_.reply(R"({"tasks": []})");
  }
  ollamaflow::testing::LogCapture log("orchestrator");

  EXPECT_EQ(plan().status.code(), ErrorCode::kInvalidArgument);

  size_t logged = 0;
  for (size_t at = log.text().find("reply rejected planner"); at != std::string::npos;
       at = log.text().find("reply rejected planner", at + 1)) {
    ++logged;
  }
  EXPECT_EQ(logged, 2u) << log.text();
  EXPECT_EQ(limits.rejected.suppressed(), 2u);
}

// The log lines of a failed planning count only the attempts that max_attempts counts, not the
// resend after a rejected schema.
TEST_F(PlannerTest, FailureLogCountsCountedAttempts) {
  options_.max_attempts = 2;
  client_.fail(ErrorCode::kSchemaUnsupported, "unsupported keyword: minItems");
  client_.reply(R"({"tasks": []})");
  client_.reply(R"({"tasks": []})");
  ollamaflow::testing::LogCapture log("orchestrator");

  PlanOutcome outcome = plan();

  ASSERT_THAT(outcome.attempts, SizeIs(3));
  EXPECT_THAT(log.text(), HasSubstr("planning failed attempts=2 ")) << log.text();
}

}  // namespace
}  // namespace ollamaflow::orchestrator
