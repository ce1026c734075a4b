// Checks that a reply cut by the server's context per slot is named as such and not retried with
// a larger output limit, while a reply cut at num_predict still is. An unclosed reply that the
// model ended below num_predict was not cut at all and is rejected as malformed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/structured_chat.h"
#include "scripted_client.h"

namespace ollamaflow::orchestrator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScriptedClient;
using ::testing::SizeIs;

class ContextCutTest : public ::testing::Test {
 protected:
  ContextCutTest() {
    request_.chat.model = "m";
    request_.chat.messages = {{"user", "write the app"}};
    request_.chat.options.num_ctx = 8192;
    request_.chat.options.num_predict = 2048;
    request_.chat.options.server_slot_ctx = 2048;
  }

  // Queues a reply with done_reason "length" and the given token counts.
  void queue_cut(int64_t prompt_tokens, int64_t output_tokens) {
    llm::ChatResponse cut;
    cut.content = "{\"partial\": \"";
    cut.done_reason = "length";
    cut.usage.prompt_tokens = prompt_tokens;
    cut.usage.output_tokens = output_tokens;
    client_.push(cut);
  }

  StructuredOutcome run() { return run_structured_chat(client_, request_, nullptr, cancel_); }

  ScriptedClient client_;
  StructuredRequest request_;
  CancelToken cancel_;
};

TEST_F(ContextCutTest, FullSlotStopsWithoutLargerLimit) {
  queue_cut(1500, 547);  // 2047 tokens, as llama-server stops a 2048-token slot
  client_.reply("{}");

  StructuredOutcome outcome = run();

  EXPECT_EQ(outcome.status.code(), ErrorCode::kTruncated);
  EXPECT_THAT(client_.requests(), SizeIs(1));
  const std::string& message = outcome.status.message();
  EXPECT_THAT(message, HasSubstr("cut after 547 output tokens"));
  EXPECT_THAT(message, HasSubstr("output limit of 2048 tokens (num_predict)"));
  EXPECT_THAT(message, HasSubstr("context of 2048 tokens per slot"));
  EXPECT_THAT(message, HasSubstr(std::string(kContextCutPhrase)));
  EXPECT_THAT(message, HasSubstr("larger -c or fewer -np"));
  EXPECT_THAT(message, HasSubstr("lower --num-ctx to 2048"));
  ASSERT_THAT(outcome.attempts, SizeIs(1));
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kTruncated);
}

TEST_F(ContextCutTest, OutputLimitStillDoubles) {
  request_.chat.options.num_predict = 512;
  queue_cut(1500, 512);
  client_.reply("{}");

  StructuredOutcome outcome = run();

  EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(client_.requests(), SizeIs(2));
  EXPECT_EQ(client_.requests()[1].options.num_predict, 1024);
  ASSERT_THAT(outcome.attempts, SizeIs(2));
  EXPECT_THAT(outcome.attempts[0].error, HasSubstr("output limit of 512 tokens"));
  EXPECT_THAT(outcome.attempts[0].error, Not(HasSubstr("per slot")));
}

TEST_F(ContextCutTest, UnknownSlotContextDoubles) {
  request_.chat.options.server_slot_ctx = 0;
  queue_cut(1500, 547);
  client_.reply("{}");

  StructuredOutcome outcome = run();

  EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(client_.requests(), SizeIs(2));
  EXPECT_EQ(client_.requests()[1].options.num_predict, 4096);
}

TEST_F(ContextCutTest, RoomLeftInSlotDoubles) {
  queue_cut(500, 547);  // 1047 of 2048 tokens: the slot was not full
  client_.reply("{}");

  StructuredOutcome outcome = run();

  EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  EXPECT_THAT(client_.requests(), SizeIs(2));
}

// The model stopped after 12 of 2048 allowed tokens, so the unclosed bracket is its own mistake:
// the reply goes back to it as malformed, and num_predict stays.
TEST_F(ContextCutTest, UnclosedReplyThatModelEndedIsMalformed) {
  request_.chat.schema = {{"type", "object"}};
  client_.reply("Sure, the plan: [1) design, 2) code", 10, 12);
  client_.reply("{}");

  StructuredOutcome outcome = run();

  EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(client_.requests(), SizeIs(2));
  EXPECT_EQ(client_.requests()[1].options.num_predict, 2048);
  ASSERT_THAT(outcome.attempts, SizeIs(2));
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kParseError);
  const std::string& error = outcome.attempts[0].error;
  EXPECT_THAT(error, HasSubstr("is not closed: the reply ends with 1 bracket(s) still open"));
  EXPECT_THAT(error, HasSubstr("ended the reply itself after 12 output tokens of the 2048 "
                               "allowed (num_predict), with done_reason \"stop\""));
  EXPECT_THAT(error, Not(HasSubstr("probably cut")));
  // The rejection sent back to the model carries the same error.
  EXPECT_THAT(client_.requests()[1].messages.back().content, HasSubstr("did not cut it"));
}

// Without an output token count the cause is unknown, so an unclosed reply still counts as cut
// at the limit and the limit doubles.
TEST_F(ContextCutTest, UnclosedReplyWithoutTokenCountDoubles) {
  request_.chat.schema = {{"type", "object"}};
  client_.reply("{\"files\": [", 10, 0);
  client_.reply("{}");

  StructuredOutcome outcome = run();

  EXPECT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_THAT(client_.requests(), SizeIs(2));
  EXPECT_EQ(client_.requests()[1].options.num_predict, 4096);
  ASSERT_THAT(outcome.attempts, SizeIs(2));
  EXPECT_EQ(outcome.attempts[0].code, ErrorCode::kTruncated);
}

}  // namespace
}  // namespace ollamaflow::orchestrator
