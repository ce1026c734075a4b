#include "llm/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ollamaflow::llm {
namespace {

class SseParserTest : public ::testing::Test {
 protected:
  Status feed_all(const std::vector<std::string_view>& pieces) {
    for (std::string_view piece : pieces) {
      Status status = parser_.feed(piece, collect_);
      if (!status.is_ok()) {
        return status;
      }
    }
    return parser_.finish(collect_);
  }

  SseParser parser_;
  std::vector<SseEvent> events_;
  SseParser::EventHandler collect_ = [this](const SseEvent& event) {
    events_.push_back(event);
    return Status::ok();
  };
};

TEST_F(SseParserTest, DataEvents) {
  ASSERT_TRUE(feed_all({"data: {\"a\":1}\n\ndata: [DONE]\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].type, "message");
  EXPECT_EQ(events_[0].data, "{\"a\":1}");
  EXPECT_EQ(events_[0].source, SseEvent::Source::kField);
  EXPECT_FALSE(events_[0].is_done());
  EXPECT_TRUE(events_[1].is_done());
}

TEST_F(SseParserTest, MultiLineDataJoined) {
  ASSERT_TRUE(feed_all({"data: first\ndata:second\ndata:  third\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].data, "first\nsecond\n third");
}

TEST_F(SseParserTest, EventTypeAndIdFields) {
  ASSERT_TRUE(feed_all({"event: update\nid: 7\ndata: x\n\ndata: y\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].type, "update");
  EXPECT_EQ(events_[0].id, "7");
  EXPECT_EQ(events_[1].type, "message");
  EXPECT_EQ(events_[1].id, "7");
}

TEST_F(SseParserTest, CommentsIgnored) {
  ASSERT_TRUE(feed_all({": ping\n:\ndata: x\n: another\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].data, "x");
  EXPECT_EQ(parser_.comments(), 3u);
}

TEST_F(SseParserTest, CrlfAndCrLineEnds) {
  ASSERT_TRUE(feed_all({"data: a\r\n\r\ndata: b\r\rdata: c\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0].data, "a");
  EXPECT_EQ(events_[1].data, "b");
  EXPECT_EQ(events_[2].data, "c");
}

TEST_F(SseParserTest, SplitBetweenCrAndLf) {
  ASSERT_TRUE(feed_all({"data: a\r", "\n\r", "\ndata: b\r\n\r\n"}).is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].data, "a");
  EXPECT_EQ(events_[1].data, "b");
}

TEST_F(SseParserTest, BlankLineWithoutDataDispatchesNothing) {
  ASSERT_TRUE(feed_all({"event: ping\n\n\n\ndata: x\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].type, "message");
}

TEST_F(SseParserTest, EmptyDataFieldDispatches) {
  ASSERT_TRUE(feed_all({"data\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].data, "");
}

TEST_F(SseParserTest, RetryField) {
  ASSERT_TRUE(feed_all({"retry: 1500\ndata: a\n\nretry: soon\ndata: b\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].retry_ms, 1500);
  EXPECT_FALSE(events_[1].retry_ms.has_value());
}

TEST_F(SseParserTest, UnknownFieldIgnored) {
  ASSERT_TRUE(feed_all({"foo: bar\ndata: a\n\n"}).is_ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].data, "a");
}

TEST_F(SseParserTest, ByteOrderMarkSkipped) {
  ASSERT_TRUE(feed_all({"\xEF\xBB",
                        "\xBF"
                        "data: a\n\n"})
                  .is_ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].data, "a");
}

TEST_F(SseParserTest, FinishDispatchesUnterminatedEvent) {
  ASSERT_TRUE(feed_all({"data: a\n\ndata: [DONE]"}).is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_TRUE(events_[1].is_done());
}

TEST_F(SseParserTest, HandlerErrorStopsFeed) {
  const Status status = parser_.feed("data: a\n\ndata: b\n\n", [](const SseEvent&) {
    return Status(ErrorCode::kServerError, "stop");
  });
  EXPECT_EQ(status.code(), ErrorCode::kServerError);
}

TEST_F(SseParserTest, MaxLineSize) {
  SseParser parser(/*max_line_bytes=*/8);
  auto ignore = [](const SseEvent&) { return Status::ok(); };
  EXPECT_TRUE(parser.feed("data: 12", ignore).is_ok());
  EXPECT_EQ(parser.feed("3", ignore).code(), ErrorCode::kParseError);
}

// The five shapes in which servers report a failure inside a 200 event stream.
TEST_F(SseParserTest, BareErrorFieldDialect) {
  ASSERT_TRUE(feed_all({"error: {\"code\":400,\"message\":\"the request exceeds the available "
                        "context size. try increasing the context size or enable context "
                        "shift\",\"type\":\"invalid_request_error\"}\n\ndata: [DONE]\n\n"})
                  .is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].type, "error");
  EXPECT_EQ(events_[0].source, SseEvent::Source::kErrorField);
  EXPECT_NE(events_[0].data.find("exceeds the available context size"), std::string::npos);
  EXPECT_TRUE(events_[1].is_done());
}

TEST_F(SseParserTest, ErrorObjectInDataDialect) {
  ASSERT_TRUE(feed_all({"data: {\"error\": {\"message\": \"TimeoutError\", \"type\": "
                        "\"GatewayTimeout\", \"code\": 504}}\n\ndata: [DONE]\n\n"})
                  .is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].type, "message");
  EXPECT_NE(events_[0].data.find("GatewayTimeout"), std::string::npos);
}

TEST_F(SseParserTest, ErrorEventTypeDialect) {
  ASSERT_TRUE(feed_all({"event: error\ndata: {\"code\":400,\"details\":\"Requested sample "
                        "logprobs of 21, which is greater than max allowed: 20\"}\n\n"})
                  .is_ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].type, "error");
  EXPECT_EQ(events_[0].source, SseEvent::Source::kField);
  EXPECT_NE(events_[0].data.find("max allowed: 20"), std::string::npos);
}

TEST_F(SseParserTest, ErrorWithoutTypeDialect) {
  ASSERT_TRUE(feed_all({"data: {\"error\":{\"message\":\"Compute error.\"},\"message\":\"Compute "
                        "error.\"}\n\n"})
                  .is_ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].data,
            "{\"error\":{\"message\":\"Compute error.\"},\"message\":\"Compute error.\"}");
}

TEST_F(SseParserTest, RawJsonDialect) {
  ASSERT_TRUE(feed_all({"data: {\"choices\":[]}\n\n{\"error\":{\"code\":400,\"message\":"
                        "\"request (6009 tokens) exceeds the available context size (4096 "
                        "tokens), try increasing it\",\"type\":\"exceed_context_size_error\","
                        "\"n_prompt_tokens\":6009,\"n_ctx\":4096}}"})
                  .is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[1].source, SseEvent::Source::kRawJson);
  EXPECT_EQ(events_[1].type, "message");
  EXPECT_NE(events_[1].data.find("exceed_context_size_error"), std::string::npos);
}

TEST_F(SseParserTest, RawJsonEndsPendingEvent) {
  ASSERT_TRUE(feed_all({"data: a\n{\"error\":\"x\"}\n"}).is_ok());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].data, "a");
  EXPECT_EQ(events_[1].data, "{\"error\":\"x\"}");
}

TEST_F(SseParserTest, EveryTwoWaySplitMatchesWholeStream) {
  const std::string stream =
      "\xEF\xBB\xBF: keep-alive\r\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\r\n\r\n"
      "event: chunk\r\nid: 2\r\ndata: line one\r\ndata: line two\r\n\r\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5}}\r\r"
      "error: {\"message\":\"boom\"}\n\n"
      "{\"error\":{\"message\":\"raw\"}}\n"
      "data: [DONE]\n\n";
  const std::string_view view(stream);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser parser;
    std::vector<SseEvent> events;
    auto collect = [&](const SseEvent& event) {
      events.push_back(event);
      return Status::ok();
    };
    ASSERT_TRUE(parser.feed(view.substr(0, cut), collect).is_ok());
    ASSERT_TRUE(parser.feed(view.substr(cut), collect).is_ok());
    ASSERT_TRUE(parser.finish(collect).is_ok());
    ASSERT_EQ(events.size(), 6u) << "cut " << cut;
    EXPECT_EQ(events[0].data, "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}") << "cut " << cut;
    EXPECT_EQ(events[1].type, "chunk") << "cut " << cut;
    EXPECT_EQ(events[1].id, "2") << "cut " << cut;
    EXPECT_EQ(events[1].data, "line one\nline two") << "cut " << cut;
    EXPECT_EQ(events[2].data, "{\"choices\":[],\"usage\":{\"prompt_tokens\":5}}") << "cut " << cut;
    EXPECT_EQ(events[3].type, "error") << "cut " << cut;
    EXPECT_EQ(events[4].source, SseEvent::Source::kRawJson) << "cut " << cut;
    EXPECT_TRUE(events[5].is_done()) << "cut " << cut;
    EXPECT_EQ(parser.comments(), 1u) << "cut " << cut;
  }
}

}  // namespace
}  // namespace ollamaflow::llm
