// A client for execute_plan tests: an override function returns the reply or error of the
// requests it picks, and the simulated backend replies to the others.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <utility>

#include "fakes/test_paths.h"
#include "flow/execution.h"
#include "llm/sim_client.h"
#include "orchestrator/workspace.h"

namespace ollamaflow::flow {

// Returns the reply or error for a request, or nullopt to let the simulated backend reply.
// Called from the agents' threads.
using ReplyOverride =
    std::function<std::optional<Result<llm::ChatResponse>>(const llm::ChatRequest& request)>;

class OverrideClient final : public llm::LlmClient {
 public:
  OverrideClient(llm::LlmClientPtr inner, ReplyOverride override_reply)
      : inner_(std::move(inner)), override_reply_(std::move(override_reply)) {}

  Result<llm::ChatResponse> chat(const llm::ChatRequest& request, const CancelToken& cancel,
                                 const llm::TokenCallback& on_token,
                                 llm::ChatProgress* progress) override {
    if (std::optional<Result<llm::ChatResponse>> reply = override_reply_(request)) {
      if (progress != nullptr) {
        progress->sent = true;
      }
      return *reply;
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
  const ReplyOverride override_reply_;
};

// Returns a reply with `content` and the given token counts.
inline llm::ChatResponse reply_of(std::string content, int64_t prompt_tokens,
                                  int64_t output_tokens) {
  llm::ChatResponse response;
  response.content = std::move(content);
  response.done_reason = "stop";
  response.model = "llama3.1:8b";
  response.usage.prompt_tokens = prompt_tokens;
  response.usage.output_tokens = output_tokens;
  return response;
}

// A workspace in a temporary folder and the setup of a fixed-pool run on `client`, with the
// tasks `ids`, each of role analyst and with one file <id>.md, independent of each other.
class PlanRunFixture {
 public:
  PlanRunFixture() {
    Result<orchestrator::Workspace> opened = orchestrator::Workspace::open(temp_.path() / "ws");
    EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
    workspace_.emplace(std::move(opened).value());
    Result<std::shared_ptr<llm::SimClient>> sim =
        llm::SimClient::create(llm::SimSettings{}, clock_);
    EXPECT_TRUE(sim.is_ok()) << sim.status().to_string();
    sim_ = *sim;
  }

  ExecutionSetup setup(llm::LlmClient& client, const std::vector<std::string>& ids, int agents) {
    ExecutionSetup setup;
    setup.config.run.agents = agents;
    setup.clock = clock_;
    setup.run_id = "r-test";
    setup.cancel = std::make_shared<CancelToken>();
    setup.client = &client;
    setup.workspace = &*workspace_;
    setup.default_model = "llama3.1:8b";
    setup.plan.goal = "Write notes";
    for (const std::string& id : ids) {
      orchestrator::PlanTask task;
      task.id = id;
      task.title = "Write " + id;
      task.role = "analyst";
      task.description = "Write a short note.";
      task.files = {id + ".md"};
      setup.plan.tasks.push_back(task);
    }
    return setup;
  }

  llm::LlmClientPtr sim() const { return sim_; }
  const std::filesystem::path& folder() const { return temp_.path(); }

 private:
  testing::TempDir temp_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
  std::optional<orchestrator::Workspace> workspace_;
  llm::LlmClientPtr sim_;
};

}  // namespace ollamaflow::flow
