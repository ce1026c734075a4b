#include "llm/sim_output.h"

#include <gtest/gtest.h>

#include <set>

#include "llm/schema.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

// The agent reply schema as the orchestrator builds it: every declared path once.
json agent_reply_schema(const std::vector<std::string>& paths) {
  json path = {{"type", "string"}};
  if (!paths.empty()) {
    path["enum"] = paths;
  }
  json files = {{"type", "array"},
                {"items",
                 {{"type", "object"},
                  {"properties", {{"path", path}, {"content", {{"type", "string"}}}}},
                  {"required", {"path", "content"}},
                  {"additionalProperties", false}}},
                {"maxItems", paths.size()}};
  if (!paths.empty()) {
    files["minItems"] = paths.size();
  }
  return {{"type", "object"},
          {"properties", {{"files", files}, {"summary", {{"type", "string"}}}}},
          {"required", {"files", "summary"}},
          {"additionalProperties", false}};
}

// The plan schema's shape: ids and paths with patterns, roles from an enum.
json plan_schema(const std::vector<std::string>& roles, int max_tasks, int max_files) {
  const json id = {{"type", "string"}, {"pattern", "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"}};
  const json path = {
      {"type", "string"},
      {"pattern", "^(\\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*/)*\\.?[A-Za-z0-9_-][A-Za-z0-9_.-]*$"},
      {"maxLength", 200}};
  const json task = {{"type", "object"},
                     {"properties",
                      {{"id", id},
                       {"title", {{"type", "string"}}},
                       {"role", {{"type", "string"}, {"enum", roles}}},
                       {"description", {{"type", "string"}}},
                       {"depends_on", {{"type", "array"}, {"items", id}}},
                       {"files", {{"type", "array"}, {"items", path}, {"maxItems", max_files}}}}},
                     {"required", {"id", "title", "role", "description", "depends_on", "files"}},
                     {"additionalProperties", false}};
  return {
      {"type", "object"},
      {"properties",
       {{"goal", {{"type", "string"}}},
        {"summary", {{"type", "string"}}},
        {"tasks", {{"type", "array"}, {"items", task}, {"minItems", 1}, {"maxItems", max_tasks}}}}},
      {"required", {"goal", "summary", "tasks"}},
      {"additionalProperties", false}};
}

const std::vector<std::string> kRoles = {"developer", "analyst", "data_scientist", "it_architect",
                                         "security_specialist"};

class SimOutputTest : public ::testing::Test {
 protected:
  static json generate(const json& schema) {
    Result<json> value = simulated_value(schema, "build a calculator");
    EXPECT_TRUE(value.is_ok()) << value.status().to_string() << " for " << schema.dump();
    return value.value_or(json());
  }

  // Checks the plan rules that plan validation enforces, for a generated plan.
  static void expect_coherent_plan(const json& plan, const std::vector<std::string>& roles) {
    std::set<std::string> ids;
    std::set<std::string> files;
    for (const json& task : plan["tasks"]) {
      const std::string id = task["id"];
      for (const json& dependency : task["depends_on"]) {
        EXPECT_EQ(ids.count(dependency.get<std::string>()), 1u)
            << id << " depends on " << dependency << ", which is not an earlier task";
      }
      EXPECT_TRUE(ids.insert(id).second) << "repeated id " << id;
      EXPECT_NE(std::find(roles.begin(), roles.end(), task["role"].get<std::string>()), roles.end())
          << task["role"];
      for (const json& file : task["files"]) {
        EXPECT_TRUE(files.insert(file.get<std::string>()).second) << "repeated file " << file;
      }
      EXPECT_NE(task["description"].get<std::string>().find("Simulated"), std::string::npos);
    }
  }
};

TEST_F(SimOutputTest, AgentReplyListsEveryDeclaredPath) {
  const std::vector<std::string> paths = {"app/main.py", "docs/design.md", "web/index.html"};
  const json schema = agent_reply_schema(paths);
  const json reply = generate(schema);
  EXPECT_TRUE(validate_json_schema(reply, schema).is_ok()) << reply.dump();
  ASSERT_EQ(reply["files"].size(), 3u);
  for (size_t i = 0; i < paths.size(); ++i) {
    EXPECT_EQ(reply["files"][i]["path"], paths[i]);
    const std::string content = reply["files"][i]["content"];
    EXPECT_NE(content.find("Simulated content for " + paths[i]), std::string::npos) << content;
  }
  EXPECT_EQ(reply["files"][0]["content"].get<std::string>().rfind("# ", 0), 0u);
  EXPECT_EQ(reply["files"][2]["content"].get<std::string>().rfind("<!-- ", 0), 0u);
  EXPECT_NE(reply["summary"].get<std::string>().find("no model was run"), std::string::npos);
}

TEST_F(SimOutputTest, AgentReplyWithoutFiles) {
  const json schema = agent_reply_schema({});
  const json reply = generate(schema);
  EXPECT_TRUE(validate_json_schema(reply, schema).is_ok()) << reply.dump();
  EXPECT_TRUE(reply["files"].empty());
}

TEST_F(SimOutputTest, PlanIsCoherent) {
  const json schema = plan_schema(kRoles, 32, 16);
  const json plan = generate(schema);
  EXPECT_TRUE(validate_json_schema(plan, schema).is_ok()) << plan.dump(2);
  ASSERT_EQ(plan["tasks"].size(), 5u);
  expect_coherent_plan(plan, kRoles);
  EXPECT_EQ(plan["goal"], "build a calculator");
  EXPECT_NE(plan["summary"].get<std::string>().find("Simulated plan"), std::string::npos);
  EXPECT_EQ(plan["tasks"][1]["role"], "developer");
  EXPECT_EQ(plan["tasks"][1]["files"], json({"app/main.py"}));
  EXPECT_EQ(plan["tasks"][1]["depends_on"], json({plan["tasks"][0]["id"]}));
}

TEST_F(SimOutputTest, PlanRespectsTaskLimit) {
  for (int max_tasks : {1, 2, 3}) {
    const json schema = plan_schema(kRoles, max_tasks, 16);
    const json plan = generate(schema);
    EXPECT_TRUE(validate_json_schema(plan, schema).is_ok()) << plan.dump(2);
    EXPECT_EQ(plan["tasks"].size(), static_cast<size_t>(max_tasks));
    expect_coherent_plan(plan, kRoles);
  }
}

TEST_F(SimOutputTest, PlanAboveTemplatesWhenMinItemsAsks) {
  json schema = plan_schema(kRoles, 32, 16);
  schema["properties"]["tasks"]["minItems"] = 7;
  const json plan = generate(schema);
  EXPECT_TRUE(validate_json_schema(plan, schema).is_ok()) << plan.dump(2);
  EXPECT_EQ(plan["tasks"].size(), 7u);
  expect_coherent_plan(plan, kRoles);
}

TEST_F(SimOutputTest, PlanRolesFromCustomEnum) {
  const std::vector<std::string> roles = {"writer", "reviewer"};
  const json schema = plan_schema(roles, 32, 16);
  const json plan = generate(schema);
  EXPECT_TRUE(validate_json_schema(plan, schema).is_ok()) << plan.dump(2);
  expect_coherent_plan(plan, roles);
}

TEST_F(SimOutputTest, PlanWithoutFilesAllowed) {
  const json schema = plan_schema(kRoles, 32, 0);
  const json plan = generate(schema);
  EXPECT_TRUE(validate_json_schema(plan, schema).is_ok()) << plan.dump(2);
  for (const json& task : plan["tasks"]) {
    EXPECT_TRUE(task["files"].empty());
  }
}

TEST_F(SimOutputTest, ArbitrarySchemasValidate) {
  const std::vector<std::string> schemas = {
      R"({"type": "integer", "minimum": 5, "maximum": 10})",
      R"({"type": "integer", "exclusiveMinimum": 7})",
      R"({"type": "integer", "maximum": -3})",
      R"({"type": "number", "exclusiveMaximum": 0.25})",
      R"({"type": "boolean"})",
      R"({"type": "null"})",
      R"({"type": ["null", "string"], "minLength": 12})",
      R"({"const": {"fixed": [1, 2]}})",
      R"({"enum": [3, "x"]})",
      R"({"type": "string", "minLength": 40, "maxLength": 45})",
      R"({"type": "string", "pattern": "^[a-z]+$", "maxLength": 3})",
      R"({"type": "string", "pattern": "^[0-9]+$"})",
      R"({"type": "string", "format": "date-time"})",
      R"({"type": "array", "items": {"type": "array", "items": {"type": "integer"},
          "minItems": 3}, "minItems": 2, "maxItems": 2})",
      R"({"type": "array", "maxItems": 0})",
      R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]})",
      R"({"anyOf": [{"type": "integer", "minimum": 2}, {"type": "string"}]})",
      R"({"allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]},
          {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]})",
      R"({"$defs": {"item": {"type": "object", "properties": {"n": {"type": "integer"}},
          "required": ["n"], "additionalProperties": false}},
          "type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 2})",
      R"({"type": "object", "required": ["undeclared"]})",
      R"({})",
  };
  for (const std::string& text : schemas) {
    const json schema = json::parse(text);
    const json value = generate(schema);
    EXPECT_TRUE(validate_json_schema(value, schema).is_ok())
        << value.dump() << " for " << schema.dump();
  }
}

TEST_F(SimOutputTest, EnumValuesTakenInTurn) {
  const json schema =
      json::parse(R"({"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 4})");
  EXPECT_EQ(generate(schema), json({"a", "b", "c", "a"}));
}

TEST_F(SimOutputTest, UnmatchablePatternIsUnsupported) {
  Result<json> value = simulated_value({{"type", "string"}, {"pattern", "^Q{5}z$"}}, "");
  ASSERT_FALSE(value.is_ok());
  EXPECT_EQ(value.status().code(), ErrorCode::kSchemaUnsupported);
  EXPECT_NE(value.status().message().find("simulated backend"), std::string::npos);
}

TEST_F(SimOutputTest, InvalidSchemaIsInvalidArgument) {
  Result<json> value = simulated_value({{"type", "string"}, {"pattern", "(["}}, "");
  ASSERT_FALSE(value.is_ok());
  EXPECT_EQ(value.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(SimOutputTest, FileContentBySyntax) {
  EXPECT_EQ(simulated_file_content("app/main.py").rfind("# Simulated content for app/main.py", 0),
            0u);
  EXPECT_EQ(simulated_file_content("src/x.cc").rfind("// ", 0), 0u);
  EXPECT_EQ(simulated_file_content("db/schema.sql").rfind("-- ", 0), 0u);
  EXPECT_EQ(simulated_file_content("style.css").rfind("/* ", 0), 0u);
  EXPECT_EQ(simulated_file_content("README.md").rfind("# Simulated file\n\n", 0), 0u);
  EXPECT_EQ(simulated_file_content("notes").rfind("Simulated content for notes", 0), 0u);
  EXPECT_EQ(simulated_file_content(".gitignore").rfind("Simulated content", 0), 0u);
  const json parsed = json::parse(simulated_file_content("config/settings.json"));
  EXPECT_EQ(parsed["simulated"], true);
  EXPECT_EQ(parsed["path"], "config/settings.json");
}

TEST_F(SimOutputTest, GoalFromMessages) {
  ChatRequest request;
  request.messages = {{"system", "Goal: not this one"},
                      {"user", "Goal: write a parser\n\nReturn the plan."}};
  EXPECT_EQ(goal_of(request), "write a parser");
  request.messages = {{"user", "first\nsecond"}, {"user", "Fix the bug\nDetails"}};
  EXPECT_EQ(goal_of(request), "Fix the bug");
  request.messages = {{"user", "Goal: " + std::string(200, 'g')}};
  EXPECT_EQ(goal_of(request).size(), 120u);
  request.messages.clear();
  EXPECT_EQ(goal_of(request), "");
}

TEST_F(SimOutputTest, GoalCutKeepsUtf8Whole) {
  ChatRequest request;
  // 119 ASCII bytes, then a 2-byte character that would straddle the 120-byte cut.
  request.messages = {{"user", "Goal: " + std::string(119, 'a') + "\xc3\xa9" + "tail"}};
  EXPECT_EQ(goal_of(request), std::string(119, 'a'));
}

TEST_F(SimOutputTest, FreeTextNamesGoal) {
  EXPECT_NE(simulated_text("ship it").find("\"ship it\""), std::string::npos);
  EXPECT_NE(simulated_text("").find("no model was run"), std::string::npos);
}

}  // namespace
}  // namespace ollamaflow::llm
