// A Ctrl-C that lands after an agent took a task but before the client sent its request: the task
// ends as one that no agent started, with no attempt.
#include <gtest/gtest.h>

#include <atomic>

#include "fakes/test_paths.h"
#include "flow/execution.h"
#include "llm/sim_client.h"
#include "orchestrator/workspace.h"

namespace ollamaflow::flow {
namespace {

// Forwards to the simulated backend, except that the first agent request sets the run's token
// and fails unsent, as the HTTP client does when the token is set before it sends.
class CancelOnFirstTaskClient final : public llm::LlmClient {
 public:
  CancelOnFirstTaskClient(llm::LlmClientPtr inner, CancelTokenPtr run_cancel)
      : inner_(std::move(inner)), run_cancel_(std::move(run_cancel)) {}

  Result<llm::ChatResponse> chat(const llm::ChatRequest& request, const CancelToken& cancel,
                                 const llm::TokenCallback& on_token,
                                 llm::ChatProgress* progress) override {
    if (request.schema_name == "agent_reply" && !cancelled_.exchange(true)) {
      run_cancel_->cancel();
      return Status(ErrorCode::kCancelled, "request was cancelled");
    }
    return inner_->chat(request, cancel, on_token, progress);
  }
  Result<std::vector<llm::ModelInfo>> list_models() override { return inner_->list_models(); }
  Result<std::string> version() override { return inner_->version(); }
  Result<std::vector<llm::LoadedModel>> loaded_models() override { return inner_->loaded_models(); }
  std::string backend_name() const override { return inner_->backend_name(); }
  std::string endpoint() const override { return inner_->endpoint(); }

 private:
  const llm::LlmClientPtr inner_;
  const CancelTokenPtr run_cancel_;
  std::atomic<bool> cancelled_{false};
};

TEST(CancelBeforeSendTest, TaskEndsAsNotStarted) {
  testing::TempDir temp;
  Result<orchestrator::Workspace> workspace = orchestrator::Workspace::open(temp.path() / "ws");
  ASSERT_TRUE(workspace.is_ok()) << workspace.status().to_string();
  auto clock = std::make_shared<FakeClock>(/*auto_advance=*/true);
  Result<std::shared_ptr<llm::SimClient>> sim = llm::SimClient::create(llm::SimSettings{}, clock);
  ASSERT_TRUE(sim.is_ok()) << sim.status().to_string();

  ExecutionSetup setup;
  setup.config.run.agents = 1;
  setup.clock = clock;
  setup.run_id = "r-test";
  setup.cancel = std::make_shared<CancelToken>();
  CancelOnFirstTaskClient client(*sim, setup.cancel);
  setup.client = &client;
  setup.workspace = &*workspace;
  setup.default_model = "llama3.1:8b";
  setup.plan.goal = "Write a note";
  orchestrator::PlanTask task;
  task.id = "note";
  task.title = "Write the note";
  task.role = "analyst";
  task.description = "Write a short note.";
  task.files = {"note.md"};
  setup.plan.tasks.push_back(task);

  Result<ExecutionResult> result = execute_plan(std::move(setup));

  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_TRUE(result->cancelled);
  ASSERT_EQ(result->tasks.size(), 1u);
  const TaskReport& report = result->tasks[0];
  EXPECT_EQ(report.status, "cancelled");
  EXPECT_EQ(report.attempts, 0);
  EXPECT_EQ(report.agent, "");
  EXPECT_EQ(report.error, "run cancelled before the task started");
}

}  // namespace
}  // namespace ollamaflow::flow
