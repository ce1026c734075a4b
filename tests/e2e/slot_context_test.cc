// End-to-end checks of a run against an OpenAI-compatible server whose context per slot
// (/props n_ctx, llama-server's -c divided by -np) is smaller than the run's num_ctx. The run
// warns at the start, and a reply that fills the slot names the slot's context and the fix.
#include <gtest/gtest.h>

#include "e2e/e2e_support.h"
#include "fakes/fake_script.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

// The fake server reports this context per slot in /props.
constexpr int kFakeSlotCtx = 4096;

class SlotContextTest : public E2eTest {
 protected:
  std::vector<std::string> run_args(const std::string& num_ctx) {
    return {"run",         "Create a Python web app",
            "--backend",   "openai",
            "--host",      server_.url(),
            "--num-ctx",   num_ctx,
            "--agents",    "1",
            "--workspace", workspace().string(),
            "--db",        db().string(),
            "--json"};
  }

  static std::string notes_of(const json& report) { return report["notes"].dump(); }

  FakeOpenAiServer server_;
};

TEST_F(SlotContextTest, LargerNumCtxIsWarned) {
  play_cooperative_model(server_, sample_plan());
  ProcessResult result = run_cli(run_args("8192"));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::string notes = notes_of(parse_json(result));
  EXPECT_NE(notes.find("server.num_ctx is 8192 tokens"), std::string::npos) << notes;
  EXPECT_NE(notes.find("4096 tokens of context per slot"), std::string::npos) << notes;
  EXPECT_NE(notes.find("larger -c or fewer -np"), std::string::npos) << notes;
  EXPECT_NE(result.err.find("4096 tokens of context per slot"), std::string::npos) << result.err;
}

TEST_F(SlotContextTest, MatchingNumCtxIsNotWarned) {
  play_cooperative_model(server_, sample_plan());
  ProcessResult result = run_cli(run_args(std::to_string(kFakeSlotCtx)));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::string notes = notes_of(parse_json(result));
  EXPECT_EQ(notes.find("context per slot"), std::string::npos) << notes;
}

TEST_F(SlotContextTest, FullSlotNamesSlotContext) {
  FakeReply cut_reply;
  cut_reply.content = R"({"files": [{"path": ")";
  cut_reply.done_reason = "length";
  cut_reply.prompt_tokens = 3000;
  cut_reply.output_tokens = kFakeSlotCtx - 1 - 3000;
  play_agent_reply(server_, sample_plan(), cut_reply);

  std::vector<std::string> args = run_args("8192");
  args.insert(args.end(), {"--max-task-attempts", "1"});
  ProcessResult result = run_cli(args);

  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const json report = parse_json(result);
  const json& failed = report["tasks"][0];
  EXPECT_EQ(failed["status"], "failed") << failed.dump();
  const std::string error = failed["error"].get<std::string>();
  EXPECT_NE(error.find("context of 4096 tokens per slot"), std::string::npos) << error;
  EXPECT_NE(error.find("larger -c or fewer -np"), std::string::npos) << error;
  EXPECT_EQ(error.find("raise num_ctx"), std::string::npos) << error;

  // A larger output limit was not tried, because the slot, not num_predict, cut the reply.
  int agent_requests = 0;
  for (const json& body : server_.chat_requests()) {
    agent_requests += script_kind(body) == "agent_reply" ? 1 : 0;
  }
  EXPECT_EQ(agent_requests, 1);
}

}  // namespace
}  // namespace ollamaflow::testing
