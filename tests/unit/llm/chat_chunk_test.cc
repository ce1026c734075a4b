// parse_chat_chunk: the fields of Ollama's chat chunks, the type rules, and agreement with the
// tree parser on valid, invalid and mutated lines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "llm/chat_chunk.h"
#include "llm/json_scan.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The result of the slow path alone: nlohmann::json's tree, then the same field rules.
Result<ChatChunk> parse_with_tree(std::string_view line) {
  try {
    return chat_chunk_from_json(json::parse(line), 1);
  } catch (const json::exception& error) {
    return Status(ErrorCode::kParseError, error.what());
  }
}

void expect_same_as_tree(std::string_view line) {
  Result<ChatChunk> fast = parse_chat_chunk(line, 1);
  Result<ChatChunk> tree = parse_with_tree(line);
  ASSERT_EQ(fast.is_ok(), tree.is_ok())
      << "line: " << line << "\nfast: " << fast.status().to_string()
      << "\ntree: " << tree.status().to_string();
  if (fast.is_ok()) {
    EXPECT_EQ(*fast, *tree) << "line: " << line;
  } else {
    EXPECT_EQ(fast.status().code(), ErrorCode::kParseError) << line;
  }
}

class ChatChunkTest : public ::testing::Test {};

TEST_F(ChatChunkTest, ContentChunk) {
  Result<ChatChunk> chunk =
      parse_chat_chunk(R"({"model":"llama3.1:8b","created_at":"2026-01-01T00:00:00Z",)"
                       R"("message":{"role":"assistant","content":" the"},"done":false})",
                       1);
  ASSERT_TRUE(chunk.is_ok()) << chunk.status().to_string();
  EXPECT_EQ(chunk->content, " the");
  EXPECT_FALSE(chunk->done);
  EXPECT_EQ(chunk->model, "llama3.1:8b");
  EXPECT_FALSE(chunk->error.has_value());
}

TEST_F(ChatChunkTest, FinalChunkCountsAndDurations) {
  Result<ChatChunk> chunk = parse_chat_chunk(
      R"({"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",)"
      R"("total_duration":9123456789,"load_duration":12345678,"prompt_eval_count":812,)"
      R"("prompt_eval_duration":345678901,"eval_count":2000,"eval_duration":8765432109})",
      1);
  ASSERT_TRUE(chunk.is_ok()) << chunk.status().to_string();
  EXPECT_TRUE(chunk->done);
  EXPECT_EQ(chunk->done_reason, "stop");
  EXPECT_EQ(chunk->prompt_eval_count, 812);
  EXPECT_EQ(chunk->eval_count, 2000);
  EXPECT_DOUBLE_EQ(chunk->total_duration_ns, 9123456789.0);
  EXPECT_DOUBLE_EQ(chunk->load_duration_ns, 12345678.0);
  EXPECT_DOUBLE_EQ(chunk->prompt_eval_duration_ns, 345678901.0);
  EXPECT_DOUBLE_EQ(chunk->eval_duration_ns, 8765432109.0);
}

TEST_F(ChatChunkTest, EscapesAndUnicodeDecoded) {
  Result<ChatChunk> chunk = parse_chat_chunk(
      R"({"message":{"content":"a\"b\\c\/\n\t\u00e9\ud83d\ude00 \u20ac","thinking":"x"}})", 1);
  ASSERT_TRUE(chunk.is_ok()) << chunk.status().to_string();
  EXPECT_EQ(chunk->content, "a\"b\\c/\n\t\xC3\xA9\xF0\x9F\x98\x80 \xE2\x82\xAC");
  EXPECT_EQ(chunk->thinking, "x");
}

TEST_F(ChatChunkTest, RawUtf8KeptAsSent) {
  Result<ChatChunk> chunk = parse_chat_chunk(
      "{\"message\":{\"content\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}}", 1);
  ASSERT_TRUE(chunk.is_ok()) << chunk.status().to_string();
  EXPECT_EQ(chunk->content, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST_F(ChatChunkTest, ErrorMemberAsTextOrJson) {
  Result<ChatChunk> text =
      parse_chat_chunk(R"({"error":"model runner has unexpectedly stopped"})", 1);
  ASSERT_TRUE(text.is_ok());
  EXPECT_EQ(text->error, "model runner has unexpectedly stopped");
  Result<ChatChunk> object = parse_chat_chunk(R"({"error": {"code": 500, "text": "x"}})", 1);
  ASSERT_TRUE(object.is_ok());
  EXPECT_EQ(object->error, R"({"code":500,"text":"x"})");
}

TEST_F(ChatChunkTest, WrongTypesAreParseErrors) {
  for (const char* line : {R"({"done":"yes"})", R"({"done":1})", R"({"done_reason":5})",
                           R"({"message":{"content":42}})", R"({"message":{"thinking":[]}})"}) {
    Result<ChatChunk> chunk = parse_chat_chunk(line, 7);
    ASSERT_FALSE(chunk.is_ok()) << line;
    EXPECT_EQ(chunk.status().code(), ErrorCode::kParseError);
    EXPECT_THAT(chunk.status().message(), HasSubstr("stream line 7"));
    EXPECT_THAT(chunk.status().message(), HasSubstr("is not"));
  }
}

TEST_F(ChatChunkTest, OddTypesOfOptionalFieldsCountAsAbsent) {
  Result<ChatChunk> chunk = parse_chat_chunk(
      R"({"model":7,"eval_count":1.5,"prompt_eval_count":"9","total_duration":null,"message":"x"})",
      1);
  ASSERT_TRUE(chunk.is_ok()) << chunk.status().to_string();
  EXPECT_FALSE(chunk->model.has_value());
  EXPECT_EQ(chunk->eval_count, 0);
  EXPECT_EQ(chunk->prompt_eval_count, 0);
  EXPECT_EQ(chunk->total_duration_ns, 0);
  EXPECT_EQ(chunk->content, "");
}

TEST_F(ChatChunkTest, NotAnObjectIsParseError) {
  for (const char* line : {"[1,2]", "\"text\"", "42", "null"}) {
    Result<ChatChunk> chunk = parse_chat_chunk(line, 3);
    ASSERT_FALSE(chunk.is_ok()) << line;
    EXPECT_THAT(chunk.status().message(), HasSubstr("not an object"));
  }
}

TEST_F(ChatChunkTest, SyntaxErrorNamesLine) {
  Result<ChatChunk> chunk = parse_chat_chunk(R"({"message":{"content":"a"},)", 12);
  ASSERT_FALSE(chunk.is_ok());
  EXPECT_EQ(chunk.status().code(), ErrorCode::kParseError);
  EXPECT_THAT(chunk.status().message(), HasSubstr("stream line 12 is not valid JSON"));
}

TEST_F(ChatChunkTest, NumberTooLargeForDoubleIsParseError) {
  // nlohmann::json reports this one as out_of_range rather than parse_error.
  Result<ChatChunk> chunk = parse_chat_chunk(R"({"total_duration":1e999})", 1);
  ASSERT_FALSE(chunk.is_ok());
  EXPECT_EQ(chunk.status().code(), ErrorCode::kParseError);
}

TEST_F(ChatChunkTest, AgreesWithTreeOnEdgeCases) {
  const std::vector<std::string> lines = {
      R"({})",
      R"(  {"done":true}  )",
      R"({"done":true,"done":false})",
      R"({"message":{"content":"a"},"message":{"role":"x"}})",
      R"({"message":{"content":"a"},"message":5})",
      R"({"done":"x","done":true})",
      R"({"message":{"content":1,"content":"ok"}})",
      R"({"error":null})",
      R"({"error":[1,{"a":[]}]})",
      R"({"model":"a","model":null})",
      R"({"eval_count":-3,"prompt_eval_count":9223372036854775807})",
      R"({"eval_count":9223372036854775808,"prompt_eval_count":18446744073709551616})",
      R"({"eval_count":-0,"total_duration":1e-400,"load_duration":-1.5E+3})",
      R"({"a":[1,2,3,[4,[5,{"b":true}]]],"c":{"d":{"e":null}}})",
      "\xEF\xBB\xBF{\"done\":true}",
      R"({"done":true}x)",
      R"({"done":true}{})",
      R"({"done":tru})",
      R"({"done":true,})",
      R"({,"done":true})",
      R"({"a" "b"})",
      R"({"a":01})",
      R"({"a":1.})",
      R"({"a":.5})",
      R"({"a":+1})",
      R"({"a":1e})",
      R"({"a":-})",
      R"({"a":"\x"})",
      R"({"a":"\u12"})",
      R"({"a":"\ud800"})",
      R"({"a":"\udc00"})",
      R"({"a":"\ud800\u0041"})",
      "{\"a\":\"\x01\"}",
      "{\"a\":\"\xC0\xAF\"}",
      "{\"a\":\"\xED\xA0\x80\"}",
      "{\"a\":\"\xF4\x90\x80\x80\"}",
      "{\"a\":\"\xE2\x82\"}",
      "{\"a\":\"\x80\"}",
      "{\"a\":\"\xF0\x9F\x98\x80\"}",
      R"({"a":"unterminated)",
      R"({"a":[1,2)",
      R"({"a":[1,]})",
      R"({"a":nul})",
      R"([{"done":true}])",
      "",
      " ",
      "{\"a\":1}\n"};
  for (const std::string& line : lines) {
    expect_same_as_tree(line);
  }
}

TEST_F(ChatChunkTest, DeepNestingAgreesWithTree) {
  std::string deep = R"({"a":)";
  for (int i = 0; i < JsonScanner::kMaxDepth + 10; ++i)
    deep += "[";
  for (int i = 0; i < JsonScanner::kMaxDepth + 10; ++i)
    deep += "]";
  deep += R"(,"done":true})";
  expect_same_as_tree(deep);
  Result<ChatChunk> chunk = parse_chat_chunk(deep, 1);
  ASSERT_TRUE(chunk.is_ok());
  EXPECT_TRUE(chunk->done);
}

// Mutates recorded chunk lines byte by byte (deleting, duplicating, replacing with JSON's
// structural characters) and checks that both paths accept and reject the same lines with the
// same fields.
TEST_F(ChatChunkTest, MutatedLinesAgreeWithTree) {
  const std::vector<std::string> seeds = {
      R"({"model":"m","message":{"role":"assistant","content":"a\"b\u00e9"},"done":false})",
      R"({"done":true,"done_reason":"length","eval_count":12,"total_duration":1.5e9})",
      R"({"error":"boom","message":{"thinking":"t"},"x":[1,{"y":null}]})"};
  const std::string alphabet = "{}[]:,\"\\0123456789.-+eEtrufalsn \x01\x80\xC3\xA9u";
  std::mt19937 random(20261204);
  for (const std::string& seed : seeds) {
    for (int round = 0; round < 1500; ++round) {
      std::string line = seed;
      const int edits = 1 + static_cast<int>(random() % 3);
      for (int e = 0; e < edits && !line.empty(); ++e) {
        const size_t at = random() % line.size();
        switch (random() % 3) {
          case 0:
            line.erase(at, 1);
            break;
          case 1:
            line.insert(at, 1, line[at]);
            break;
          default:
            line[at] = alphabet[random() % alphabet.size()];
            break;
        }
      }
      expect_same_as_tree(line);
    }
  }
}

}  // namespace
}  // namespace ollamaflow::llm
