#include "orchestrator/drone.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "core/log.h"
#include "fakes/log_capture.h"
#include "fakes/test_paths.h"
#include "llm/schema.h"
#include "scripted_client.h"

namespace ollamaflow::orchestrator {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::ScriptedClient;
using ::testing::SizeIs;
using ::testing::StartsWith;

PlanTask api_task() {
  PlanTask task;
  task.id = "api";
  task.title = "Flask API";
  task.role = "developer";
  task.description = "Write the Flask app and its requirements";
  task.depends_on = {"spec"};
  task.files = {"app.py", "requirements.txt"};
  return task;
}

json reply_with(const std::vector<std::pair<std::string, std::string>>& files,
                std::string summary = "Wrote the app") {
  json list = json::array();
  for (const auto& [path, content] : files) {
    list.push_back({{"path", path}, {"content", content}});
  }
  return {{"files", list}, {"summary", summary}};
}

std::string good_reply() {
  return reply_with({{"requirements.txt", "flask\n"}, {"app.py", "print('hi')\n"}}).dump();
}

class AgentReplySchemaTest : public ::testing::Test {};

TEST_F(AgentReplySchemaTest, PathEnumAndCountMatchDeclaredFiles) {
  json schema = agent_reply_schema(api_task());

  json files = schema["properties"]["files"];
  EXPECT_EQ(files["items"]["properties"]["path"]["enum"], json({"app.py", "requirements.txt"}));
  EXPECT_EQ(files["minItems"], 2);
  EXPECT_EQ(files["maxItems"], 2);
  EXPECT_EQ(files["items"]["additionalProperties"], false);
  EXPECT_EQ(schema["required"], json({"files", "summary"}));
  EXPECT_EQ(schema["additionalProperties"], false);
}

TEST_F(AgentReplySchemaTest, TaskWithoutFilesAllowsNone) {
  PlanTask task = api_task();
  task.files.clear();
  json schema = agent_reply_schema(task);

  EXPECT_EQ(schema["properties"]["files"]["maxItems"], 0);
  EXPECT_FALSE(schema["properties"]["files"].contains("minItems"));
  EXPECT_TRUE(llm::validate_json_schema(reply_with({}), schema).is_ok());
  EXPECT_FALSE(llm::validate_json_schema(reply_with({{"x.md", ""}}), schema).is_ok());
}

TEST_F(AgentReplySchemaTest, LocalValidationRejectsBadReplies) {
  json schema = agent_reply_schema(api_task());
  EXPECT_TRUE(llm::validate_json_schema(json::parse(good_reply()), schema).is_ok());

  json outside = reply_with({{"app.py", "x"}, {"../etc/passwd", "x"}});
  Status status = llm::validate_json_schema(outside, schema);
  EXPECT_EQ(status.code(), ErrorCode::kSchemaViolation);
  EXPECT_THAT(status.message(), HasSubstr("$.files[1].path"));

  json extra = json::parse(good_reply());
  extra["notes"] = "x";
  EXPECT_FALSE(llm::validate_json_schema(extra, schema).is_ok());

  json three = reply_with({{"app.py", "x"}, {"requirements.txt", "x"}, {"app.py", "y"}});
  Status too_many = llm::validate_json_schema(three, schema);
  EXPECT_THAT(too_many.message(), HasSubstr("maxItems"));
}

class BuildTaskMessagesTest : public ::testing::Test {};

TEST_F(BuildTaskMessagesTest, ContainsRoleGoalTaskAndFiles) {
  std::vector<llm::ChatMessage> messages =
      build_task_messages("You are a developer.", "Create a Python web app", api_task(), {});

  ASSERT_THAT(messages, SizeIs(2));
  EXPECT_EQ(messages[0].role, "system");
  EXPECT_THAT(messages[0].content, StartsWith("You are a developer."));
  EXPECT_THAT(messages[0].content, HasSubstr("exactly once"));
  EXPECT_EQ(messages[1].role, "user");
  EXPECT_THAT(messages[1].content, HasSubstr("Create a Python web app"));
  EXPECT_THAT(messages[1].content, HasSubstr("\"api\": Flask API"));
  EXPECT_THAT(messages[1].content, HasSubstr("Write the Flask app"));
  EXPECT_THAT(messages[1].content, HasSubstr("- app.py\n- requirements.txt\n"));
  EXPECT_THAT(messages[1].content, Not(HasSubstr("depends on")));
}

TEST_F(BuildTaskMessagesTest, IncludesDependencyResults) {
  DependencyResult spec{"spec", "Spec", "analyst", "Two endpoints", {{"docs/spec.md", "GET /"}}};

  std::vector<llm::ChatMessage> messages =
      build_task_messages("p", "goal", api_task(), {spec}, 1000);

  EXPECT_THAT(messages[1].content, HasSubstr("Task \"spec\": Spec (analyst)"));
  EXPECT_THAT(messages[1].content, HasSubstr("Summary: Two endpoints"));
  EXPECT_THAT(messages[1].content, HasSubstr("File docs/spec.md:\n```\nGET /\n```"));
}

TEST_F(BuildTaskMessagesTest, CutsLongFilesToBudget) {
  DependencyResult spec{
      "spec",
      "Spec",
      "analyst",
      "s",
      {{"short.md", std::string(100, 's')}, {"long.md", std::string(10000, 'l')}}};

  std::string user = build_task_messages("p", "goal", api_task(), {spec}, 1000)[1].content;

  EXPECT_THAT(user, HasSubstr(std::string(100, 's') + "\n```"));
  EXPECT_THAT(user, HasSubstr(std::string(900, 'l') + "\n```"));
  EXPECT_THAT(user, Not(HasSubstr(std::string(901, 'l'))));
  EXPECT_THAT(user, HasSubstr("[... 9100 more characters cut from this file]"));
}

TEST_F(BuildTaskMessagesTest, BudgetProbedAtFileSize) {
  DependencyResult spec{"spec", "Spec", "analyst", "s", {{"a.md", std::string(500, 'a')}}};

  std::string fits = build_task_messages("p", "g", api_task(), {spec}, 500)[1].content;
  std::string cut = build_task_messages("p", "g", api_task(), {spec}, 499)[1].content;

  EXPECT_THAT(fits, Not(HasSubstr("more characters cut")));
  EXPECT_THAT(cut, HasSubstr("[... 1 more characters cut"));
}

TEST_F(BuildTaskMessagesTest, FenceOutgrowsBackticksInContent) {
  DependencyResult spec{"spec", "Spec", "analyst", "s", {{"readme.md", "```python\nx\n```"}}};

  std::string user = build_task_messages("p", "g", api_task(), {spec})[1].content;

  EXPECT_THAT(user, HasSubstr("````\n```python\nx\n```\n````"));
}

class ExecuteTaskTest : public ::testing::Test {
 protected:
  ExecuteTaskTest() {
    request_.goal = "Create a Python web app";
    request_.role_prompt = "You are a developer.";
    request_.model = "qwen2.5-coder:7b";
    request_.options.num_ctx = 8192;
    request_.options.num_predict = 1024;
    request_.task = api_task();
    request_.max_attempts = 3;
  }

  DroneOutcome run() { return execute_task(client_, request_, cancel_); }

  ScriptedClient client_;
  DroneRequest request_;
  CancelToken cancel_;
};

TEST_F(ExecuteTaskTest, AcceptsValidReply) {
  client_.reply(good_reply(), 500, 120);

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(outcome.files, SizeIs(2));
  EXPECT_EQ(outcome.files[0].path, "app.py");
  EXPECT_EQ(outcome.files[0].content, "print('hi')\n");
  EXPECT_EQ(outcome.files[1].path, "requirements.txt");
  EXPECT_EQ(outcome.summary, "Wrote the app");
  EXPECT_EQ(outcome.usage.prompt_tokens, 500);
  EXPECT_EQ(outcome.usage.output_tokens, 120);
  EXPECT_EQ(outcome.model, "scripted-model");
  ASSERT_THAT(outcome.attempts, SizeIs(1));

  std::vector<llm::ChatRequest> requests = client_.requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_EQ(requests[0].schema_name, "agent_reply");
  EXPECT_EQ(requests[0].purpose, "task " + api_task().id);
  EXPECT_EQ(requests[0].schema, agent_reply_schema(api_task()));
  EXPECT_EQ(requests[0].model, "qwen2.5-coder:7b");
}

TEST_F(ExecuteTaskTest, AttemptsKeepTheirOwnTimes) {
  FakeClock clock;
  const WallTime begin = clock.wall_now();
  client_.take_time(&clock, std::chrono::seconds(3));
  client_.reply("not json");
  client_.reply(good_reply());
  request_.clock = &clock;

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(outcome.attempts, SizeIs(2));
  ASSERT_TRUE(outcome.attempts[0].started_at.has_value());
  ASSERT_TRUE(outcome.attempts[0].finished_at.has_value());
  ASSERT_TRUE(outcome.attempts[1].started_at.has_value());
  ASSERT_TRUE(outcome.attempts[1].finished_at.has_value());
  EXPECT_EQ(*outcome.attempts[0].started_at, begin);
  EXPECT_EQ(*outcome.attempts[0].finished_at, begin + std::chrono::seconds(3));
  EXPECT_EQ(*outcome.attempts[1].started_at, begin + std::chrono::seconds(3));
  EXPECT_EQ(*outcome.attempts[1].finished_at, begin + std::chrono::seconds(6));
}

TEST_F(ExecuteTaskTest, AttemptsWithoutClockHaveNoTimes) {
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  ASSERT_THAT(outcome.attempts, SizeIs(1));
  EXPECT_FALSE(outcome.attempts[0].started_at.has_value());
  EXPECT_FALSE(outcome.attempts[0].finished_at.has_value());
}

TEST_F(ExecuteTaskTest, TruncatedThenValid) {
  client_.fail(ErrorCode::kTruncated, "done_reason \"length\" after 1024 tokens");
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  std::vector<llm::ChatRequest> requests = client_.requests();
  ASSERT_THAT(requests, SizeIs(2));
  EXPECT_EQ(requests[0].options.num_predict, 1024);
  EXPECT_EQ(requests[1].options.num_predict, 2048);
  EXPECT_EQ(requests[1].options.num_ctx, 8192);
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kTruncated);
}

TEST_F(ExecuteTaskTest, LengthReplyKeepsNothing) {
  llm::ChatResponse cut;
  cut.content = reply_with({{"app.py", "partial"}, {"requirements.txt", "x"}}).dump();
  cut.done_reason = "length";
  client_.push(cut);
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok());
  EXPECT_EQ(outcome.files[0].content, "print('hi')\n");
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kTruncated);
  EXPECT_EQ(client_.requests()[1].options.num_predict, 2048);
}

TEST_F(ExecuteTaskTest, TruncationBoundedByContext) {
  request_.options.num_predict = 4096;
  client_.fail(ErrorCode::kTruncated, "length");
  client_.fail(ErrorCode::kTruncated, "length");
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kTruncated);
  EXPECT_THAT(outcome.status.message(), HasSubstr("task \"api\""));
  EXPECT_THAT(outcome.files, IsEmpty());
  EXPECT_EQ(client_.requests()[1].options.num_predict, 8192);
  EXPECT_EQ(client_.remaining(), 1u);
}

// Captures the warnings of the "orchestrator" logger while it lives.
class OrchestratorLogCapture : public ollamaflow::testing::LogCapture {
 public:
  OrchestratorLogCapture() : LogCapture("orchestrator") {}
};

// The warning after the last truncated attempt names no next num_predict, because no request
// would use it.
TEST_F(ExecuteTaskTest, LastTruncationWarningSaysNoAttemptLeft) {
  request_.max_attempts = 2;
  client_.fail(ErrorCode::kTruncated, "length");
  client_.fail(ErrorCode::kTruncated, "length");
  OrchestratorLogCapture log;

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kTruncated);
  EXPECT_THAT(log.text(), HasSubstr("reply truncated task=api attempt=1/2 num_predict=1024 "
                                    "num_predict_next=2048\n"));
  EXPECT_THAT(
      log.text(),
      HasSubstr("reply truncated task=api attempt=2/2 num_predict=2048: no attempt left\n"));
  EXPECT_THAT(log.text(), Not(HasSubstr("num_predict_next=4096")));
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// Tasks that share the limits log the first warnings of each interval and count the rest.
TEST_F(ExecuteTaskTest, TruncationWarningsShareRateLimit) {
  ReplyWarningLimits limits(2, std::chrono::seconds(60));
  request_.warning_limits = &limits;
  OrchestratorLogCapture log;
  for (int task = 0; task < 5; ++task) {
    client_.fail(ErrorCode::kTruncated, "length");
    client_.reply(good_reply());
    ASSERT_TRUE(run().status.is_ok());
  }

  EXPECT_EQ(count_of(log.text(), "reply truncated task="), 2u) << log.text();
  EXPECT_EQ(limits.truncated.suppressed(), 3u);
  limits.flush();
  EXPECT_THAT(log.text(), HasSubstr("reply truncated: 3 more lines suppressed"));
}

// Every per-request warning has its own limit, so a burst of one kind keeps the first lines of
// that kind in full and cannot hide another kind.
TEST_F(ExecuteTaskTest, EveryRequestWarningIsRateLimited) {
  struct Case {
    std::string line;  // the start of the warning, up to the task's ids
    std::function<void(ScriptedClient&)> script;
    LogRateLimiter ReplyWarningLimits::*limiter;
  };
  llm::ChatResponse cut;
  cut.content = "{\"files\": [";
  cut.done_reason = "length";
  cut.usage.prompt_tokens = 900;
  cut.usage.output_tokens = 95;
  const std::vector<Case> cases = {
      {"reply rejected task=", [](ScriptedClient& c) { c.reply("not json"); },
       &ReplyWarningLimits::rejected},
      {"reply unparsable task=",
       [](ScriptedClient& c) { c.fail(ErrorCode::kParseError, "does not match the format"); },
       &ReplyWarningLimits::unparsable},
      {"server rejected the schema task=",
       [](ScriptedClient& c) { c.fail(ErrorCode::kSchemaUnsupported, "unsupported: minItems"); },
       &ReplyWarningLimits::schema_rejected},
      {"reply cut by the server's context task=", [cut](ScriptedClient& c) { c.push(cut); },
       &ReplyWarningLimits::context_cut},
  };
  request_.options.server_slot_ctx = 1000;
  for (const Case& c : cases) {
    ReplyWarningLimits limits(2, std::chrono::seconds(60));
    request_.warning_limits = &limits;
    OrchestratorLogCapture log;
    for (int task = 0; task < 5; ++task) {
      c.script(client_);
      client_.reply(good_reply());
      run();
    }
    while (client_.remaining() > 0) {
      run();  // drops the good replies that a failed task left
    }
    EXPECT_EQ(count_of(log.text(), c.line), 2u) << c.line << "\n" << log.text();
    EXPECT_EQ((limits.*c.limiter).suppressed(), 3u) << c.line;
  }
}

// The agent that ran a failed task logs its one warning line, with the agent's id, so the
// request loop itself logs none.
TEST_F(ExecuteTaskTest, FailedTaskLogsNoWarning) {
  OrchestratorLogCapture log;
  client_.fail(ErrorCode::kServerError, "HTTP 500");

  EXPECT_EQ(run().status.code(), ErrorCode::kServerError);

  EXPECT_THAT(log.text(), Not(HasSubstr("task failed"))) << log.text();
}

// The resend after a rejected schema is not counted, so it repeats the number of the attempt
// that it replaces, states that, and the numbers end at the maximum.
TEST_F(ExecuteTaskTest, SchemaResendKeepsAttemptNumbers) {
  request_.options.num_predict = 512;
  client_.fail(ErrorCode::kSchemaUnsupported, "unsupported keyword: minItems");
  client_.fail(ErrorCode::kTruncated, "length");
  client_.fail(ErrorCode::kTruncated, "length");
  client_.fail(ErrorCode::kTruncated, "length");
  OrchestratorLogCapture log;

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kTruncated);
  ASSERT_THAT(outcome.attempts, SizeIs(4));
  EXPECT_THAT(log.text(), HasSubstr("server rejected the schema task=api attempt=1/3 "));
  EXPECT_THAT(log.text(),
              HasSubstr("reply truncated task=api attempt=1/3 (resent without the schema "
                        "keywords that the server rejected) num_predict=512 "
                        "num_predict_next=1024\n"));
  EXPECT_THAT(log.text(), HasSubstr("reply truncated task=api attempt=2/3 num_predict=1024 "));
  EXPECT_THAT(log.text(), HasSubstr("reply truncated task=api attempt=3/3 num_predict=2048: "
                                    "no attempt left\n"));
  EXPECT_THAT(log.text(), Not(HasSubstr("attempt=4/3")));
}

// The error lists the attempts with the numbers that max_attempts counts, and names the
// request whose schema the server rejected as not counted.
TEST_F(ExecuteTaskTest, ExhaustedErrorNumbersCountedAttempts) {
  request_.max_attempts = 2;
  client_.fail(ErrorCode::kSchemaUnsupported, "unsupported keyword: minItems");
  client_.reply("not json");
  client_.reply("still not json");

  DroneOutcome outcome = run();

  ASSERT_THAT(outcome.attempts, SizeIs(3));
  const std::string message = outcome.status.message();
  EXPECT_THAT(message, HasSubstr("no accepted reply after 2 attempts: "));
  EXPECT_THAT(message, HasSubstr(": schema rejected by the server, not counted "
                                 "(schema_unsupported): unsupported keyword: minItems; "));
  EXPECT_THAT(message, HasSubstr("; attempt 1, resent without the schema keywords "));
  EXPECT_THAT(message, HasSubstr(" that the server rejected (parse_error): "));
  EXPECT_THAT(message, HasSubstr("; attempt 2 (parse_error): "));
  EXPECT_THAT(message, Not(HasSubstr("attempt 3")));
}

TEST_F(ExecuteTaskTest, RejectedReplyAfterResendNumbersFromOne) {
  request_.max_attempts = 2;
  client_.fail(ErrorCode::kSchemaUnsupported, "unsupported keyword: minItems");
  client_.reply("not json");
  client_.fail(ErrorCode::kParseError, "the server could not parse the output");
  OrchestratorLogCapture log;

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kParseError);
  EXPECT_THAT(log.text(), HasSubstr("reply rejected task=api attempt=1/2 (resent without the "
                                    "schema keywords that the server rejected) code=parse_error"));
  EXPECT_THAT(log.text(), HasSubstr("reply unparsable task=api attempt=2/2 error="));
  EXPECT_THAT(log.text(), Not(HasSubstr("attempt=3/2")));
}

TEST_F(ExecuteTaskTest, AcceptsFencedJson) {
  client_.reply("Here you go:\n```json\n" + good_reply() + "\n```\nLet me know!");

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  EXPECT_THAT(outcome.files, SizeIs(2));
}

TEST_F(ExecuteTaskTest, MissingDeclaredFileRetried) {
  client_.reply(reply_with({{"app.py", "x"}}).dump());
  client_.reply(reply_with({{"app.py", "x"}, {"app.py", "y"}}).dump());
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(outcome.attempts, SizeIs(3));
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kSchemaViolation);
  EXPECT_THAT(outcome.attempts[0].error, HasSubstr("minItems"));
  EXPECT_EQ(outcome.attempts[1].code, ErrorCode::kSchemaViolation);
  EXPECT_THAT(outcome.attempts[1].error,
              HasSubstr("the declared file 'requirements.txt' is missing"));
  EXPECT_THAT(outcome.attempts[1].error, HasSubstr("'app.py' appears 2 times"));
  std::string feedback = client_.requests()[2].messages.back().content;
  EXPECT_THAT(feedback, StartsWith("Your reply was rejected: "));
  EXPECT_THAT(feedback, HasSubstr("requirements.txt"));
}

TEST_F(ExecuteTaskTest, PathOutsideEnumRetried) {
  client_.reply(reply_with({{"app.py", "x"}, {"/etc/cron.d/evil", "x"}}).dump());
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok());
  EXPECT_THAT(client_.requests()[1].messages.back().content, HasSubstr("$.files[1].path"));
  for (const TaskFile& file : outcome.files) {
    EXPECT_NE(file.path, "/etc/cron.d/evil");
  }
}

TEST_F(ExecuteTaskTest, ParseErrorSentBack) {
  client_.reply("{\"files\": [{'path': 'app.py', 'content': 'x'}], \"summary\": \"s\"}");
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok());
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kParseError);
  EXPECT_THAT(client_.requests()[1].messages.back().content, HasSubstr("single quotes"));
}

TEST_F(ExecuteTaskTest, UnsupportedKeywordStrippedButCheckedLocally) {
  client_.fail(ErrorCode::kSchemaUnsupported,
               "The provided JSON schema contains features not supported by xgrammar: minItems");
  client_.reply(reply_with({{"app.py", "x"}}).dump());  // the server no longer enforces minItems
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  std::vector<llm::ChatRequest> requests = client_.requests();
  ASSERT_THAT(requests, SizeIs(3));
  EXPECT_TRUE(requests[0].schema["properties"]["files"].contains("minItems"));
  EXPECT_FALSE(requests[1].schema["properties"]["files"].contains("minItems"));
  EXPECT_TRUE(requests[1].schema["properties"]["files"].contains("maxItems"));
  EXPECT_FALSE(outcome.attempts[0].counted);
  EXPECT_EQ(outcome.attempts[1].code, ErrorCode::kSchemaViolation);
  EXPECT_THAT(outcome.attempts[1].dropped_keywords, SizeIs(1));
}

TEST_F(ExecuteTaskTest, IgnoredMaxItemsCaughtLocally) {
  // The server accepted maxItems but did not enforce it and returned an extra file.
  client_.reply(
      reply_with({{"app.py", "x"}, {"requirements.txt", "y"}, {"requirements.txt", "z"}}).dump());
  request_.max_attempts = 1;

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kSchemaViolation);
  EXPECT_THAT(outcome.status.message(), HasSubstr("maxItems"));
  EXPECT_THAT(outcome.files, IsEmpty());
}

TEST_F(ExecuteTaskTest, ServerBusyIsNotRetriedHere) {
  client_.fail(ErrorCode::kServerBusy, "server busy, please try again");
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kServerBusy);
  EXPECT_TRUE(is_retryable(outcome.status.code()));
  EXPECT_THAT(client_.requests(), SizeIs(1));
}

TEST_F(ExecuteTaskTest, FailsAfterMaxAttempts) {
  client_.reply("not json at all");
  client_.reply(reply_with({{"app.py", "x"}}).dump());
  // Cut at the 1024-token limit: counts as truncated and raises num_predict.
  client_.reply("{\"files\": [", 10, 1024);
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kTruncated);
  EXPECT_THAT(outcome.status.message(), HasSubstr("attempt 1 (parse_error)"));
  EXPECT_THAT(outcome.status.message(), HasSubstr("attempt 2 (schema_violation)"));
  EXPECT_THAT(outcome.attempts, SizeIs(3));
  EXPECT_EQ(client_.remaining(), 1u);
}

// Requests that failed on the server or the connection still spent tokens, so their attempts
// and the outcome count them.
TEST_F(ExecuteTaskTest, FailedRequestsCountTheirTokens) {
  client_.fail(ErrorCode::kTruncated, "the stream ended without its final chunk", 0, 40);
  client_.fail(ErrorCode::kParseError, "the server could not parse the output", 0, 30);
  client_.reply(good_reply(), 500, 120);

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(outcome.attempts, SizeIs(3));
  EXPECT_EQ(outcome.attempts[0].usage.output_tokens, 40);
  EXPECT_EQ(outcome.attempts[1].usage.output_tokens, 30);
  EXPECT_EQ(outcome.usage.prompt_tokens, 500);
  EXPECT_EQ(outcome.usage.output_tokens, 190);
  const llm::ChatUsage failed = failed_usage(outcome.attempts);
  EXPECT_EQ(failed.prompt_tokens, 0);
  EXPECT_EQ(failed.output_tokens, 70);
}

TEST_F(ExecuteTaskTest, FinalErrorCountsItsTokens) {
  client_.fail(ErrorCode::kServerError, "stream error after 12 tokens", 300, 12);

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kServerError);
  ASSERT_THAT(outcome.attempts, SizeIs(1));
  EXPECT_EQ(outcome.attempts[0].usage.prompt_tokens, 300);
  EXPECT_EQ(outcome.attempts[0].usage.output_tokens, 12);
  EXPECT_EQ(outcome.usage.output_tokens, 12);
  EXPECT_EQ(failed_usage(outcome.attempts).output_tokens, 12);
}

// A rejected reply's tokens are in the totals already; they count as failed too.
TEST_F(ExecuteTaskTest, RejectedReplyTokensCountAsFailed) {
  client_.reply("not json", 400, 50);
  client_.reply(good_reply(), 500, 120);

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  EXPECT_EQ(outcome.usage.output_tokens, 170);
  const llm::ChatUsage failed = failed_usage(outcome.attempts);
  EXPECT_EQ(failed.prompt_tokens, 400);
  EXPECT_EQ(failed.output_tokens, 50);
}

// Tries that the client retried before the accepted reply spent tokens of their own: the
// attempt's usage includes them, and they count as failed.
TEST_F(ExecuteTaskTest, RetriedTriesCountAsFailed) {
  llm::ChatResponse response;
  response.content = good_reply();
  response.done_reason = "stop";
  response.usage.prompt_tokens = 500;
  response.usage.output_tokens = 120;
  client_.push(response, 500, 9);

  DroneOutcome outcome = run();

  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(outcome.attempts, SizeIs(1));
  EXPECT_EQ(outcome.attempts[0].usage.prompt_tokens, 1000);
  EXPECT_EQ(outcome.attempts[0].usage.output_tokens, 129);
  EXPECT_EQ(outcome.usage.output_tokens, 129);
  const llm::ChatUsage failed = failed_usage(outcome.attempts);
  EXPECT_EQ(failed.prompt_tokens, 500);
  EXPECT_EQ(failed.output_tokens, 9);
}

// A Ctrl-C between the request loop's check and the client's: the client sends nothing, so the
// task has no attempt for that request.
TEST_F(ExecuteTaskTest, CancelBeforeSendRecordsNoAttempt) {
  client_.cancel_on_arrival(1, &cancel_);
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kCancelled);
  EXPECT_THAT(outcome.attempts, IsEmpty());
  EXPECT_THAT(client_.requests(), IsEmpty());
}

TEST_F(ExecuteTaskTest, CancelBeforeSecondSendKeepsFirstAttempt) {
  client_.cancel_on_arrival(2, &cancel_);
  client_.reply("not json", 400, 50);
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kCancelled);
  ASSERT_THAT(outcome.attempts, SizeIs(1));
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kParseError);
  EXPECT_EQ(outcome.usage.output_tokens, 50);
}

// A request cancelled while its reply streams was sent, so it keeps its attempt and tokens.
TEST_F(ExecuteTaskTest, CancelWhileStreamingKeepsAttempt) {
  client_.cancel_spent(0, 25);

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kCancelled);
  ASSERT_THAT(outcome.attempts, SizeIs(1));
  EXPECT_EQ(outcome.attempts[0].usage.output_tokens, 25);
}

TEST_F(ExecuteTaskTest, CancelStopsBetweenAttempts) {
  client_.cancel_after(1, &cancel_);
  client_.reply("not json");
  client_.reply(good_reply());

  DroneOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kCancelled);
  EXPECT_THAT(client_.requests(), SizeIs(1));
}

class WriteTaskFilesTest : public ::testing::Test {
 protected:
  WriteTaskFilesTest() : workspace_(std::move(Workspace::open(temp_.path() / "ws")).value()) {}

  ollamaflow::testing::TempDir temp_;
  Workspace workspace_;
};

TEST_F(WriteTaskFilesTest, WritesDeclaredFiles) {
  Result<std::vector<WrittenFile>> written =
      write_task_files(workspace_, api_task(), {{"app.py", "a"}, {"requirements.txt", "r"}});

  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  EXPECT_THAT(*written, SizeIs(2));
  EXPECT_EQ(workspace_.owner_of("app.py"), "api");
  EXPECT_EQ(*workspace_.read_file("requirements.txt", 10), "r");
}

TEST_F(WriteTaskFilesTest, RejectsUndeclaredFile) {
  Result<std::vector<WrittenFile>> written =
      write_task_files(workspace_, api_task(), {{"other.py", "a"}});

  EXPECT_EQ(written.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("does not declare 'other.py'"));
  EXPECT_FALSE(std::filesystem::exists(workspace_.root() / "other.py"));
}

TEST_F(WriteTaskFilesTest, ReportsConflictWithOtherTask) {
  ASSERT_TRUE(workspace_.write_file("app.py", "mine", "other").is_ok());

  Result<std::vector<WrittenFile>> written =
      write_task_files(workspace_, api_task(), {{"app.py", "a"}});

  EXPECT_EQ(written.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(*workspace_.read_file("app.py", 10), "mine");
}

TEST_F(WriteTaskFilesTest, CollectsDependencyFromWorkspace) {
  ASSERT_TRUE(workspace_.write_file("app.py", "0123456789", "api").is_ok());

  DependencyResult result = collect_dependency(api_task(), "done", workspace_, 4);

  EXPECT_EQ(result.task_id, "api");
  EXPECT_EQ(result.summary, "done");
  ASSERT_THAT(result.files, SizeIs(2));
  EXPECT_EQ(result.files[0].content, "0123");
  EXPECT_THAT(result.files[1].content, HasSubstr("could not be read"));
}

}  // namespace
}  // namespace ollamaflow::orchestrator
