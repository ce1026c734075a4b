// Finding a key that appears twice in one JSON object.
#include "core/json_keys.h"

#include <gtest/gtest.h>

namespace ollamaflow {
namespace {

TEST(JsonErrorTest, ParseErrorNamesLineAndColumn) {
  const std::string text = "{\n  \"a\": tru\n}";
  try {
    const nlohmann::json parsed = nlohmann::json::parse(text);
    FAIL() << "the text parsed: " << parsed.dump();
  } catch (const nlohmann::json::exception& error) {
    const std::string described = describe_json_error(text, error);
    EXPECT_EQ(described.rfind("parse error at line 2 column ", 0), 0u) << described;
    EXPECT_NE(described.find("invalid literal"), std::string::npos) << described;
    EXPECT_EQ(described.find("json.exception"), std::string::npos) << described;
  }
}

TEST(JsonErrorTest, NumberOutOfRangeHasNoPrefix) {
  try {
    const nlohmann::json parsed = nlohmann::json::parse("[1e999]");
    FAIL() << "the text parsed: " << parsed.dump();
  } catch (const nlohmann::json::exception& error) {
    const std::string described = describe_json_error("[1e999]", error);
    EXPECT_EQ(described.find("json.exception"), std::string::npos) << described;
    EXPECT_NE(described.find("1e999"), std::string::npos) << described;
  }
}

TEST(JsonKeysTest, DistinctKeysPass) {
  EXPECT_FALSE(find_duplicate_key(R"({"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]})"));
  EXPECT_FALSE(find_duplicate_key(R"(["a", "a", {"a": "a"}])"));
  EXPECT_FALSE(find_duplicate_key(R"({"a": "b:c", "b": "\"a\":"})"));
}

TEST(JsonKeysTest, DuplicateInNestedObjectIsFound) {
  const std::string text = R"({"x": [{"k": 1}, {"k": 2, "k": 3}]})";
  const std::optional<DuplicateKey> duplicate = find_duplicate_key(text);
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->key, "k");
  EXPECT_EQ(duplicate->first_offset, text.find("\"k\": 2"));
  EXPECT_EQ(duplicate->second_offset, text.find("\"k\": 3"));
}

TEST(JsonKeysTest, EscapedSpellingsAreOneKey) {
  const std::string text = "{\"a\\\"b\": 1, \"\\u0061\\\"b\" : 2}";
  const std::optional<DuplicateKey> duplicate = find_duplicate_key(text);
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->key, "a\"b");
  EXPECT_EQ(describe_duplicate_key(text, *duplicate),
            "the key \"a\\\"b\" twice in one object, at line 1 column 2 and line 1 column 13");
}

TEST(JsonKeysTest, KeyAfterClosedObjectBelongsToOuterObject) {
  EXPECT_FALSE(find_duplicate_key(R"({"a": {"b": 1}, "b": 2})"));
  EXPECT_TRUE(find_duplicate_key(R"({"a": {"b": 1}, "a": 2})"));
}

}  // namespace
}  // namespace ollamaflow
