#include "fakes/fake_script.h"

#include <gtest/gtest.h>

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

json ollama_body(const json& schema) {
  return {{"model", "m"}, {"messages", json::array()}, {"format", schema}};
}

json openai_body(const std::string& name, const json& schema) {
  return {{"model", "m"},
          {"response_format",
           {{"type", "json_schema"}, {"json_schema", {{"name", name}, {"schema", schema}}}}}};
}

json files_schema(const std::vector<std::string>& paths) {
  return {
      {"type", "object"},
      {"properties",
       {{"files",
         {{"type", "array"},
          {"items", {{"properties", {{"path", {{"enum", paths}}}, {"content", json::object()}}}}}}},
        {"summary", {{"type", "string"}}}}}};
}

class FakeScriptTest : public ::testing::Test {
 protected:
  static FakeScript parse(const std::string& text) {
    Result<FakeScript> script = parse_fake_script(json::parse(text));
    EXPECT_TRUE(script.is_ok()) << script.status().to_string();
    return script.value_or(FakeScript());
  }

  static Status parse_error(const std::string& text) {
    return parse_fake_script(json::parse(text)).status();
  }
};

TEST_F(FakeScriptTest, ParsesRepliesFailuresModels) {
  const FakeScript script = parse(R"({
    "replies": {
      "plan": {"json": {"tasks": []}},
      "agent_reply": {"mode": "echo_files"},
      "summary": [{"content": "first"}, {"content": "second", "done_reason": "length"}]
    },
    "failures": [{"kind": "agent_reply", "nth": 2, "fail": "busy"}],
    "models": ["tiny"]})");
  EXPECT_EQ(script.replies.at("plan")[0].content, R"({"tasks":[]})");
  EXPECT_TRUE(script.replies.at("agent_reply")[0].echo_files);
  ASSERT_EQ(script.replies.at("summary").size(), 2u);
  EXPECT_EQ(script.replies.at("summary")[1].done_reason, "length");
  ASSERT_EQ(script.failures.size(), 1u);
  EXPECT_EQ(script.failures[0].nth, 2u);
  EXPECT_EQ(script.failures[0].fail, "busy");
  EXPECT_EQ(script.models, std::vector<std::string>{"tiny"});
}

TEST_F(FakeScriptTest, RejectsInvalidScripts) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"replies": {"planning": {"content": "x"}}})", "$.replies.planning: unknown kind"},
      {R"({"replies": {"plan": {"mode": "echo"}}})", "$.replies.plan[0].mode"},
      {R"({"replies": {"plan": {}}})", "a reply needs"},
      {R"({"failures": [{"kind": "plan", "fail": "explode"}]})", "unknown failure 'explode'"},
      {R"({"failures": [{"kind": "plan", "fail": "busy", "nth": 0}]})", "$.failures[0].nth"},
      {R"({"failures": {"kind": "plan"}})", "$.failures: expected a list"},
      {R"({"reply": {}})", "$.reply: unknown field"},
      {R"([1])", "$: expected an object"},
  };
  for (const auto& [text, expected] : cases) {
    const Status status = parse_error(text);
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(status.message().find(expected), std::string::npos)
        << text << " gave: " << status.message();
  }
}

TEST_F(FakeScriptTest, MissingFileNotFound) {
  EXPECT_EQ(load_fake_script("/nonexistent/script.json").status().code(), ErrorCode::kNotFound);
}

TEST_F(FakeScriptTest, KindFromNameOrShape) {
  const json plan = {{"properties", {{"tasks", json::object()}}}};
  EXPECT_EQ(script_kind(openai_body("plan", json::object())), "plan");
  EXPECT_EQ(script_kind(openai_body("reply", files_schema({"a"}))), "agent_reply");
  EXPECT_EQ(script_kind(ollama_body(plan)), "plan");
  EXPECT_EQ(script_kind(ollama_body(files_schema({"a"}))), "agent_reply");
  EXPECT_EQ(script_kind(ollama_body({{"properties", {{"ready", json::object()}}}})), "warm_up");
  EXPECT_EQ(script_kind(ollama_body({{"properties", {{"summary", json::object()}}}})), "summary");
  EXPECT_EQ(script_kind(ollama_body(
                {{"properties", {{"summary", json::object()}, {"score", json::object()}}}})),
            "other");
  EXPECT_EQ(script_kind({{"model", "m"}}), "other");
}

TEST_F(FakeScriptTest, EchoFilesListsEveryPath) {
  const json reply = echo_files_reply(ollama_body(files_schema({"app/main.py", "docs/a.md"})));
  ASSERT_EQ(reply["files"].size(), 2u);
  EXPECT_EQ(reply["files"][0]["path"], "app/main.py");
  EXPECT_EQ(reply["files"][0]["content"], "Fake content for app/main.py\n");
  EXPECT_EQ(reply["files"][1]["path"], "docs/a.md");
  EXPECT_EQ(reply["summary"], "Fake reply: wrote 2 file(s).");
}

TEST_F(FakeScriptTest, FailsNthRequestOnce) {
  ScriptRunner runner(
      parse(R"({"failures": [{"kind": "agent_reply", "nth": 2, "fail": "busy"}]})"));
  const json body = openai_body("agent_reply", files_schema({"x.py"}));
  EXPECT_EQ(runner.next(body).http_status, 200);
  const FakeReply failed = runner.next(body);
  EXPECT_EQ(failed.http_status, 503);
  EXPECT_NE(failed.error_message.find("server busy"), std::string::npos);
  const FakeReply retried = runner.next(body);
  EXPECT_EQ(retried.http_status, 200);
  EXPECT_EQ(json::parse(retried.content)["files"][0]["path"], "x.py");
  EXPECT_EQ(runner.count("agent_reply"), 3u);
  EXPECT_EQ(runner.count("plan"), 0u);
}

TEST_F(FakeScriptTest, EveryFailureShape) {
  const std::vector<std::string> names = {"busy",    "server_error", "not_found", "stream_error",
                                          "context", "length",       "no_done",   "malformed"};
  for (const std::string& name : names) {
    ScriptRunner runner(
        parse(R"({"failures": [{"kind": "other", "fail": ")" + name + R"(", "message": "m"}]})"));
    const FakeReply reply = runner.next({{"model", "m"}});
    const bool changed = reply.http_status != 200 ||
                         reply.stream_error != StreamErrorShape::kNone ||
                         reply.done_reason == "length" || reply.omit_done || reply.content == "m";
    EXPECT_TRUE(changed) << name;
  }
}

TEST_F(FakeScriptTest, RepliesInOrderLastRepeats) {
  ScriptRunner runner(parse(R"({"replies": {"summary": [{"content": "a"}, {"content": "b"}]}})"));
  const json body = openai_body("summary", json::object());
  EXPECT_EQ(runner.next(body).content, "a");
  EXPECT_EQ(runner.next(body).content, "b");
  EXPECT_EQ(runner.next(body).content, "b");
}

TEST_F(FakeScriptTest, DefaultRepliesPerKind) {
  ScriptRunner runner{FakeScript()};
  const json plan = json::parse(runner.next(openai_body("plan", json::object())).content);
  ASSERT_EQ(plan["tasks"].size(), 1u);
  EXPECT_EQ(plan["tasks"][0]["files"][0], "app/main.py");
  EXPECT_EQ(json::parse(runner.next(openai_body("warm_up", json::object())).content)["ready"],
            true);
  EXPECT_TRUE(
      json::parse(runner.next(openai_body("summary", json::object())).content).contains("summary"));
  EXPECT_EQ(runner.next({{"model", "m"}}).content, "Fake reply.");
}

}  // namespace
}  // namespace ollamaflow::testing
