// End-to-end check against a real llama-server whose slots are smaller than the run's num_ctx:
// 4 slots sharing 2048 tokens give each slot 512. The run warns at the start, and the queen's
// reply that fills its slot names the slot's context and the fix, not the output limit.
#include "e2e/e2e_support.h"
#include "fakes/llama_server.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

class LlamaSlotContextTest : public E2eTest {
 protected:
  void SetUp() override {
    OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(location_);
    LlamaServerOptions options;
    options.slots = 4;
    options.total_ctx = 2048;
    Result<std::unique_ptr<LlamaServer>> server = LlamaServer::start(options);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
  }

  LlamaServerLocation location_ = locate_llama_server();
  std::unique_ptr<LlamaServer> server_;
};

// Without a logit bias the random model's noise never closes a JSON string, so the plan fills
// the 512-token slot long before the output limit of 2048 tokens.
TEST_F(LlamaSlotContextTest, FullSlotNamesSlotContext) {
  ProcessResult result =
      run_cli({"run", "Create a Python web app", "--backend", "openai", "--host", server_->url(),
               "--num-ctx", "8192", "--num-predict", "2048", "--max-plan-attempts", "1",
               "--workspace", workspace().string(), "--db", db().string(), "--json"});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const json report = parse_json(result);

  const std::string notes = report["notes"].dump();
  EXPECT_NE(notes.find("server.num_ctx is 8192 tokens"), std::string::npos) << notes;
  EXPECT_NE(notes.find("512 tokens of context per slot"), std::string::npos) << notes;

  ASSERT_EQ(report["plan_errors"].size(), 1u) << report.dump();
  const std::string error = report["plan_errors"][0].get<std::string>();
  EXPECT_NE(error.find("context of 512 tokens per slot"), std::string::npos) << error;
  EXPECT_NE(error.find("larger -c or fewer -np"), std::string::npos) << error;
  EXPECT_EQ(error.find("cut at the output limit"), std::string::npos) << error;
}

}  // namespace
}  // namespace ollamaflow::testing
