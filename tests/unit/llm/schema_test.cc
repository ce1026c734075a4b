#include "llm/schema.h"

#include <gtest/gtest.h>

#include "llm/json_extract.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

// Expects a kSchemaViolation whose message contains `fragment`.
void expect_violation(const json& value, const json& schema, const std::string& fragment) {
  const Status status = validate_json_schema(value, schema);
  ASSERT_EQ(status.code(), ErrorCode::kSchemaViolation)
      << "value " << value.dump() << ": " << status.to_string();
  EXPECT_NE(status.message().find(fragment), std::string::npos)
      << "expected '" << fragment << "' in: " << status.message();
}

void expect_valid(const json& value, const json& schema) {
  const Status status = validate_json_schema(value, schema);
  EXPECT_TRUE(status.is_ok()) << "value " << value.dump() << ": " << status.to_string();
}

TEST(ValidateJsonSchemaTest, TypeNames) {
  expect_valid(json::object(), {{"type", "object"}});
  expect_valid(json::array(), {{"type", "array"}});
  expect_valid("s", {{"type", "string"}});
  expect_valid(3, {{"type", "integer"}});
  expect_valid(2.0, {{"type", "integer"}});
  expect_valid(2.5, {{"type", "number"}});
  expect_valid(3, {{"type", "number"}});
  expect_valid(true, {{"type", "boolean"}});
  expect_valid(nullptr, {{"type", "null"}});
  expect_violation(2.5, {{"type", "integer"}},
                   "$: value 2.5 has type number, expected type integer");
  expect_violation("3", {{"type", "number"}}, "has type string, expected type number");
  expect_violation(1, {{"type", "boolean"}}, "expected type boolean");
  expect_violation(json::array(), {{"type", "object"}}, "has type array");
}

TEST(ValidateJsonSchemaTest, TypeArray) {
  const json schema = {{"type", {"string", "null"}}};
  expect_valid("x", schema);
  expect_valid(nullptr, schema);
  expect_violation(1, schema, R"(expected type ["string","null"])");
}

TEST(ValidateJsonSchemaTest, UnknownTypeIsInvalidSchema) {
  const Status status = validate_json_schema(1, {{"type", "int"}});
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("unknown type 'int'"), std::string::npos) << status.message();
}

TEST(ValidateJsonSchemaTest, RequiredAndProperties) {
  const json schema = json::parse(R"({
    "type": "object",
    "required": ["path", "content"],
    "properties": {"path": {"type": "string"}, "content": {"type": "string"}}
  })");
  expect_valid({{"path", "a"}, {"content", "b"}}, schema);
  expect_violation({{"path", "a"}}, schema, "$: required property 'content' is missing");
  expect_violation({{"path", 1}, {"content", "b"}}, schema, "$.path: value 1 has type integer");
}

TEST(ValidateJsonSchemaTest, AdditionalPropertiesFalse) {
  const json schema =
      json::parse(R"({"type": "object", "properties": {"a": {}}, "additionalProperties": false})");
  expect_valid({{"a", 1}}, schema);
  expect_violation({{"a", 1}, {"extra", 2}}, schema,
                   "$: property 'extra' is not allowed (additionalProperties false)");
}

TEST(ValidateJsonSchemaTest, AdditionalPropertiesSchema) {
  const json schema =
      json::parse(R"({"type": "object", "additionalProperties": {"type": "integer"}})");
  expect_valid({{"a", 1}, {"b", 2}}, schema);
  expect_violation({{"a", 1}, {"b", "x"}}, schema, "$.b: value 'x' has type string");
}

TEST(ValidateJsonSchemaTest, EnumWithPath) {
  const json schema = json::parse(R"({
    "type": "object",
    "properties": {"files": {"type": "array", "items": {
      "type": "object", "properties": {"path": {"enum": ["a", "b"]}}}}}
  })");
  const json value = json::parse(R"({"files": [{"path": "a"}, {"path": "b"}, {"path": "x"}]})");
  expect_violation(value, schema, R"($.files[2].path: value 'x' not in enum ["a","b"])");
  expect_valid(json::parse(R"({"files": [{"path": "b"}]})"), schema);
}

TEST(ValidateJsonSchemaTest, PathQuotesUnusualKeys) {
  const json schema = json::parse(R"({"properties": {"file name": {"type": "string"}}})");
  expect_violation({{"file name", 3}}, schema, R"($["file name"]: value 3)");
}

TEST(ValidateJsonSchemaTest, Const) {
  const json schema = {{"const", "v1"}};
  expect_valid("v1", schema);
  expect_violation("v2", schema, "$: value 'v2' is not the const \"v1\"");
}

TEST(ValidateJsonSchemaTest, MinAndMaxItems) {
  const json schema = {{"type", "array"}, {"minItems", 2}, {"maxItems", 3}};
  expect_violation({1}, schema, "1 item(s), fewer than minItems 2");
  expect_valid({1, 2}, schema);
  expect_valid({1, 2, 3}, schema);
  expect_violation({1, 2, 3, 4}, schema, "4 item(s), more than maxItems 3");
}

TEST(ValidateJsonSchemaTest, FourNamesBreakMaxItems) {
  const json schema = json::parse(R"({
    "type": "object",
    "properties": {"names": {"type": "array", "items": {"type": "string"},
                             "minItems": 2, "maxItems": 2}},
    "required": ["names"]
  })");
  Result<json> reply = extract_json(R"({"names": ["Ada", "Grace", "Linus", "Ken"]})");
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  expect_violation(*reply, schema, "$.names: 4 item(s), more than maxItems 2");
  expect_valid(json::parse(R"({"names": ["Ada", "Grace"]})"), schema);
}

TEST(ValidateJsonSchemaTest, ItemsTupleForms) {
  const json prefix = json::parse(
      R"({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": {"type": "boolean"}})");
  expect_valid(json::parse(R"(["a", 1, true, false])"), prefix);
  expect_violation(json::parse(R"(["a", "b"])"), prefix, "$[1]: value 'b' has type string");
  expect_violation(json::parse(R"(["a", 1, 2])"), prefix, "$[2]: value 2 has type integer");
  const json draft7 = json::parse(R"({"items": [{"type": "string"}]})");
  expect_valid(json::parse(R"(["a", 2])"), draft7);
  expect_violation(json::parse(R"([1])"), draft7, "$[0]");
}

TEST(ValidateJsonSchemaTest, UniqueItems) {
  const json schema = {{"uniqueItems", true}};
  expect_valid({1, 2, 3}, schema);
  expect_violation({1, 2, 1}, schema, "items 0 and 2 are equal, but uniqueItems is true");
}

TEST(ValidateJsonSchemaTest, MinAndMaxLengthCountCodePoints) {
  const json schema = {{"type", "string"}, {"minLength", 2}, {"maxLength", 3}};
  expect_violation("a", schema, "string of 1 character(s), shorter than minLength 2");
  expect_valid("ab", schema);
  expect_valid("äöü", schema);
  expect_violation("abcd", schema, "string of 4 character(s), longer than maxLength 3");
}

TEST(ValidateJsonSchemaTest, PatternWithMaxLength) {
  const json schema = json::parse(R"({
    "type": "object",
    "properties": {"k": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3}}
  })");
  expect_valid({{"k", "abc"}}, schema);
  expect_violation({{"k", "abcdef"}}, schema,
                   "$.k: string of 6 character(s), longer than maxLength 3");
  expect_violation({{"k", "AB"}}, schema, "$.k: value 'AB' does not match pattern '^[a-z]+$'");
}

TEST(ValidateJsonSchemaTest, PatternIsUnanchored) {
  expect_valid("xx-abc-yy", {{"pattern", "abc"}});
  expect_violation("xyz", {{"pattern", "abc"}}, "does not match pattern");
}

TEST(ValidateJsonSchemaTest, InvalidPatternIsInvalidSchema) {
  const Status status = validate_json_schema("x", {{"pattern", "([a-z"}});
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("pattern '([a-z' is not a valid"), std::string::npos)
      << status.message();
}

TEST(ValidateJsonSchemaTest, MinimumAndMaximum) {
  const json schema = {{"minimum", 1}, {"maximum", 5}};
  expect_violation(0, schema, "$: 0 is less than minimum 1");
  expect_valid(1, schema);
  expect_valid(5, schema);
  expect_violation(5.5, schema, "5.5 is greater than maximum 5");
  expect_valid("not a number", schema);
}

TEST(ValidateJsonSchemaTest, ExclusiveBounds) {
  const json schema = {{"exclusiveMinimum", 0}, {"exclusiveMaximum", 1}};
  expect_violation(0, schema, "0 is not greater than exclusiveMinimum 0");
  expect_valid(0.5, schema);
  expect_violation(1, schema, "1 is not less than exclusiveMaximum 1");
}

TEST(ValidateJsonSchemaTest, AnyOfAndOneOf) {
  const json any = json::parse(R"({"anyOf": [{"type": "string"}, {"type": "integer"}]})");
  expect_valid("x", any);
  expect_valid(1, any);
  expect_violation(true, any, "matches none of the anyOf schemas");
  const json one = json::parse(R"({"oneOf": [{"type": "number"}, {"type": "integer"}]})");
  expect_valid(1.5, one);
  expect_violation(1, one, "matches 2 of the oneOf schemas, expected exactly 1");
}

TEST(ValidateJsonSchemaTest, AllOfAndNot) {
  const json schema =
      json::parse(R"({"allOf": [{"minimum": 1}, {"maximum": 3}], "not": {"const": 2}})");
  expect_valid(1, schema);
  expect_violation(4, schema, "greater than maximum 3");
  expect_violation(2, schema, "matches the schema under not");
}

TEST(ValidateJsonSchemaTest, LocalRefs) {
  const json schema = json::parse(R"({
    "$defs": {"file": {"type": "object", "required": ["path"]}},
    "type": "array", "items": {"$ref": "#/$defs/file"}
  })");
  expect_valid(json::parse(R"([{"path": "a"}])"), schema);
  expect_violation(json::parse(R"([{"path": "a"}, {}])"), schema,
                   "$[1]: required property 'path' is missing");
}

TEST(ValidateJsonSchemaTest, RecursiveRef) {
  const json schema = json::parse(R"({
    "type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}
  })");
  expect_valid(json::parse(R"({"children": [{"children": []}]})"), schema);
  expect_violation(json::parse(R"({"children": [{"children": [1]}]})"), schema,
                   "$.children[0].children[0]: value 1 has type integer");
}

TEST(ValidateJsonSchemaTest, UnresolvedRefIsInvalidSchema) {
  const Status status = validate_json_schema(1, {{"$ref", "#/$defs/missing"}});
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("#/$defs/missing"), std::string::npos);
}

TEST(ValidateJsonSchemaTest, LoopingRefIsInvalidSchema) {
  const Status status = validate_json_schema(1, {{"$ref", "#"}});
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
}

TEST(ValidateJsonSchemaTest, BooleanAndNullSchemas) {
  expect_valid(1, json());
  expect_valid(1, true);
  expect_violation(1, false, "no value is allowed here");
  expect_violation({{"a", 1}}, {{"properties", {{"a", false}}}}, "$.a: no value is allowed");
}

TEST(ValidateJsonSchemaTest, AnnotationsIgnored) {
  expect_valid("x", {{"type", "string"}, {"format", "uri"}, {"description", "d"}, {"title", "t"}});
}

TEST(ValidateJsonSchemaTest, SeveralViolationsListed) {
  const json schema = json::parse(
      R"({"type": "object", "required": ["a", "b"], "properties": {"c": {"type": "string"}}})");
  const Status status = validate_json_schema({{"c", 1}}, schema);
  ASSERT_EQ(status.code(), ErrorCode::kSchemaViolation);
  EXPECT_NE(status.message().find("'a' is missing; $: required property 'b' is missing; $.c:"),
            std::string::npos)
      << status.message();
}

TEST(ValidateJsonSchemaTest, ViolationListCapped) {
  json value = json::array();
  for (int i = 0; i < 15; ++i) {
    value.push_back("s");
  }
  const Status status = validate_json_schema(value, {{"items", {{"type", "integer"}}}});
  ASSERT_EQ(status.code(), ErrorCode::kSchemaViolation);
  EXPECT_NE(status.message().find("$[9]"), std::string::npos);
  EXPECT_EQ(status.message().find("$[10]"), std::string::npos);
  EXPECT_NE(status.message().find("and 5 more"), std::string::npos) << status.message();
}

class StripUnsupportedKeywordsTest : public ::testing::Test {
 protected:
  const json names_schema_ = json::parse(R"({
    "type": "object",
    "properties": {
      "names": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]"},
                "minItems": 2, "maxItems": 2},
      "minItems": {"type": "integer"}
    },
    "required": ["names"]
  })");
};

TEST_F(StripUnsupportedKeywordsTest, RemovesKeywordsEverywhere) {
  std::vector<std::string> dropped;
  const json stripped =
      strip_unsupported_keywords(names_schema_, {"minItems", "maxItems", "pattern"}, &dropped);
  const json& names = stripped["properties"]["names"];
  EXPECT_FALSE(names.contains("minItems"));
  EXPECT_FALSE(names.contains("maxItems"));
  EXPECT_FALSE(names["items"].contains("pattern"));
  EXPECT_EQ(names["items"]["type"], "string");
  EXPECT_EQ(stripped["required"], json({"names"}));
  const std::vector<std::string> expected = {"/properties/names/items/pattern",
                                             "/properties/names/maxItems",
                                             "/properties/names/minItems"};
  EXPECT_EQ(dropped, expected);
}

TEST_F(StripUnsupportedKeywordsTest, KeepsPropertyNamedLikeKeyword) {
  const json stripped = strip_unsupported_keywords(names_schema_, {"minItems"}, nullptr);
  ASSERT_TRUE(stripped["properties"].contains("minItems"));
  EXPECT_EQ(stripped["properties"]["minItems"]["type"], "integer");
}

TEST_F(StripUnsupportedKeywordsTest, LocalValidationKeepsFullSchema) {
  const json stripped =
      strip_unsupported_keywords(names_schema_, {"minItems", "maxItems"}, nullptr);
  const json four = json::parse(R"({"names": ["Ada", "Grace", "Linus", "Ken"]})");
  expect_valid(four, stripped);
  expect_violation(four, names_schema_, "$.names: 4 item(s), more than maxItems 2");
}

TEST_F(StripUnsupportedKeywordsTest, WalksCombinatorsAndDefs) {
  const json schema = json::parse(R"({
    "$defs": {"a": {"propertyNames": {"pattern": "^x"}}},
    "anyOf": [{"format": "uri"}, {"type": "null"}]
  })");
  std::vector<std::string> dropped;
  const json stripped = strip_unsupported_keywords(schema, {"propertyNames", "format"}, &dropped);
  EXPECT_EQ(stripped["$defs"]["a"], json::object());
  EXPECT_EQ(stripped["anyOf"][0], json::object());
  const std::vector<std::string> expected = {"/$defs/a/propertyNames", "/anyOf/0/format"};
  EXPECT_EQ(dropped, expected);
}

TEST_F(StripUnsupportedKeywordsTest, EscapesPointerTokens) {
  const json schema = json::parse(R"({"properties": {"a/b": {"format": "uri"}}})");
  std::vector<std::string> dropped;
  strip_unsupported_keywords(schema, {"format"}, &dropped);
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0], "/properties/a~1b/format");
}

}  // namespace
}  // namespace ollamaflow::llm
