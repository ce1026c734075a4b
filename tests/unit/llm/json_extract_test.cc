#include "llm/json_extract.h"

#include <gtest/gtest.h>

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

TEST(ExtractJsonTest, PlainObject) {
  Result<json> result = extract_json(R"({"a": 1})");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"a", 1}}));
}

TEST(ExtractJsonTest, DeepNestingIsAParseError) {
  const std::string reply =
      "{\"files\": " + std::string(50000, '[') + std::string(50000, ']') + "}";
  Result<json> result = extract_json(reply);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParseError);
  EXPECT_NE(result.status().message().find("nests deeper than 128 levels"), std::string::npos)
      << result.status().message();
}

TEST(ExtractJsonTest, NestingAtTheLimitParses) {
  const std::string reply = std::string(128, '[') + std::string(128, ']');
  EXPECT_TRUE(extract_json(reply).is_ok());
}

TEST(ExtractJsonTest, PlainArray) {
  Result<json> result = extract_json("  [1, 2, 3]  ");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({1, 2, 3}));
}

TEST(ExtractJsonTest, CodeFenceWithLanguage) {
  Result<json> result = extract_json("```json\n{\n    \"label\": \"x\"\n}\n```");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"label", "x"}}));
}

TEST(ExtractJsonTest, CodeFenceAfterProse) {
  Result<json> result =
      extract_json("Here is the result:\n```\n{\"label\": \"x\"}\n```\nHope this helps.");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"label", "x"}}));
}

TEST(ExtractJsonTest, TrailingTextIgnored) {
  Result<json> result = extract_json("{\"valid\": true, \"message\": \"ok\"}\nSome closing words.");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"valid", true}, {"message", "ok"}}));
}

TEST(ExtractJsonTest, SecondObjectIgnored) {
  Result<json> result = extract_json(R"({"a": 1} {"b": 2})");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"a", 1}}));
}

TEST(ExtractJsonTest, ThinkSectionSkipped) {
  Result<json> result =
      extract_json("<think>\nThe user wants {\"a\": 2}, maybe [x]?\n</think>\n{\"a\": 1}");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"a", 1}}));
}

TEST(ExtractJsonTest, LoneThinkCloseSkipped) {
  Result<json> result = extract_json("reasoning with {braces}\n</think>\n{\"a\": 1}");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"a", 1}}));
}

TEST(ExtractJsonTest, UnclosedThinkIsTruncated) {
  Result<json> result = extract_json("<think>\nLet me consider {\"a\": 1}");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kTruncated);
  EXPECT_NE(result.status().message().find("<think>"), std::string::npos);
}

TEST(ExtractJsonTest, ThinkTagInsideValueKept) {
  Result<json> result = extract_json(R"({"content": "<think>x</think>"})");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ((*result)["content"], "<think>x</think>");
}

TEST(ExtractJsonTest, ProseBracketBeforeValueSkipped) {
  Result<json> result = extract_json("See [the docs] for details: {\"a\": [1]}");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"a", {1}}}));
}

TEST(ExtractJsonTest, ApostropheInProseIgnored) {
  Result<json> result = extract_json("Here's [what's needed]: {\"a\": \"it's\"}");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ((*result)["a"], "it's");
}

TEST(ExtractJsonTest, BracesInsideStringsKept) {
  Result<json> result = extract_json(R"({"code": "int main() { return [0]; }", "n": 1})");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ((*result)["code"], "int main() { return [0]; }");
  EXPECT_EQ((*result)["n"], 1);
}

TEST(ExtractJsonTest, EscapedQuoteInsideString) {
  Result<json> result = extract_json(R"({"q": "say \"}\" now"})");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ((*result)["q"], "say \"}\" now");
}

TEST(ExtractJsonTest, SingleQuotesRejected) {
  const std::string text =
      "{\"todos\": [{'content': 'Add field', 'status': 'completed', 'id': '1'}]}";
  Result<json> result = extract_json(text);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParseError);
  EXPECT_NE(result.status().message().find("single quotes at line 1 column 13"), std::string::npos)
      << result.status().message();
}

TEST(ExtractJsonTest, SingleQuotesRepairedWhenLenient) {
  const std::string text =
      "{\"todos\": [{'content': 'Add \"x\" field', 'status': 'completed', 'id': '1'}]}";
  Result<json> result = extract_json(text, /*lenient=*/true);
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  const json& todo = (*result)["todos"][0];
  EXPECT_EQ(todo["content"], "Add \"x\" field");
  EXPECT_EQ(todo["status"], "completed");
  EXPECT_EQ(todo["id"], "1");
}

TEST(ExtractJsonTest, EscapedSingleQuoteRepaired) {
  Result<json> result = extract_json(R"({'a': 'it\'s'})", /*lenient=*/true);
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ((*result)["a"], "it's");
}

TEST(ExtractJsonTest, RawNewlineRejectedWithPosition) {
  const std::string text = "{\n  \"a\": \"ok\",\n  \"body\": \"line one\nline two\"\n}";
  Result<json> result = extract_json(text);
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParseError);
  EXPECT_NE(result.status().message().find("raw control character at line 3 column 20"),
            std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("U+000A"), std::string::npos);
}

TEST(ExtractJsonTest, RawTabRejected) {
  Result<json> result = extract_json("{\"a\": \"x\ty\"}");
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.status().message().find("raw control character at line 1 column 9"),
            std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("U+0009"), std::string::npos);
}

TEST(ExtractJsonTest, RawControlCharactersEscapedWhenLenient) {
  Result<json> result = extract_json("{\"a\": \"x\ty\nz\x01\"}", /*lenient=*/true);
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ((*result)["a"], "x\ty\nz\x01");
}

TEST(ExtractJsonTest, FirstProblemReported) {
  Result<json> result = extract_json("{\"a\": \"x\ny\", 'b': 1}");
  ASSERT_FALSE(result.is_ok());
  EXPECT_NE(result.status().message().find("raw control character"), std::string::npos);
}

TEST(ExtractJsonTest, TrailingCommaRejected) {
  Result<json> result = extract_json(R"({"a": [1, 2,], })");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParseError);
}

TEST(ExtractJsonTest, TrailingCommaRemovedWhenLenient) {
  Result<json> result = extract_json(R"({"a": [1, 2,], "s": ",]", })", /*lenient=*/true);
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ((*result)["a"], json({1, 2}));
  EXPECT_EQ((*result)["s"], ",]");
}

TEST(ExtractJsonTest, SingleQuotedTruncatedIsTruncated) {
  for (bool lenient : {false, true}) {
    Result<json> result = extract_json("{'name': 'x', 'args': {'a': 1", lenient);
    ASSERT_FALSE(result.is_ok());
    EXPECT_EQ(result.status().code(), ErrorCode::kTruncated) << result.status().to_string();
    EXPECT_NE(result.status().message().find("2 bracket(s) still open"), std::string::npos)
        << result.status().message();
  }
}

TEST(ExtractJsonTest, EndInsideStringIsTruncated) {
  Result<json> result = extract_json(R"({"files": [{"path": "a.py", "content": "import o)");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kTruncated);
  EXPECT_NE(result.status().message().find("inside a string"), std::string::npos);
}

TEST(ExtractJsonTest, TruncatedNeverReturnsNestedValue) {
  Result<json> result = extract_json(R"({"files": [{"path": "a"}, {"path": "b")");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kTruncated);
}

TEST(ExtractJsonTest, MismatchedBracketRejected) {
  Result<json> result = extract_json(R"({"a": [1, 2}, {"b": 3})");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParseError);
  EXPECT_NE(result.status().message().find("mismatched '}' at line 1 column 12"), std::string::npos)
      << result.status().message();
}

TEST(ExtractJsonTest, InvalidLiteralNamesPosition) {
  Result<json> result = extract_json("{\n\"a\": tru}");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParseError);
  EXPECT_NE(result.status().message().find("invalid JSON at line 2"), std::string::npos)
      << result.status().message();
}

TEST(ExtractJsonTest, NoValueRejected) {
  Result<json> result = extract_json("I cannot help with that.");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParseError);
  EXPECT_NE(result.status().message().find("I cannot help"), std::string::npos);
}

TEST(ExtractJsonTest, EmptyReplyRejected) {
  Result<json> result = extract_json("  \n ");
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParseError);
  EXPECT_NE(result.status().message().find("empty"), std::string::npos);
}

TEST(ExtractJsonTest, InlineFence) {
  Result<json> result = extract_json("```json{\"a\":1}```");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ(*result, json({{"a", 1}}));
}

TEST(ExtractJsonTest, UnicodeContentKept) {
  Result<json> result = extract_json("{\"t\": \"Grüße \\u00e9\"}");
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_EQ((*result)["t"], "Grüße é");
}

}  // namespace
}  // namespace ollamaflow::llm
