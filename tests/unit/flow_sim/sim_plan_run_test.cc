// The simulated backend against the real planner and agent request loops: its plans and file
// replies must be accepted as they are, so a run on the simulated backend succeeds end to end.
#include <gtest/gtest.h>

#include <set>

#include "llm/factory.h"
#include "llm/json_extract.h"
#include "llm/schema.h"
#include "llm/sim_client.h"
#include "orchestrator/drone.h"
#include "orchestrator/plan.h"
#include "orchestrator/planner.h"

namespace ollamaflow {
namespace {

using nlohmann::json;
using orchestrator::Plan;
using orchestrator::PlanLimits;
using orchestrator::RoleSet;

class SimPlanRunTest : public ::testing::Test {
 protected:
  SimPlanRunTest() {
    settings_.backend = "sim";
    settings_.model = "llama3.1:8b";
  }

  llm::LlmClientPtr client() {
    Result<llm::LlmClientPtr> created = llm::make_client(settings_, clock_);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.value_or(nullptr);
  }

  // Asks the simulated backend for a plan reply under the real plan schema.
  Result<json> plan_reply(const PlanLimits& limits) {
    llm::ChatRequest request;
    request.model = settings_.model;
    request.schema_name = "plan";
    request.schema = orchestrator::plan_schema(RoleSet::builtin(), limits);
    request.messages = {{"user", "Goal: write a to-do list app\n\nReturn the plan as JSON."}};
    Result<llm::ChatResponse> response = client()->chat(request, cancel_);
    if (!response.is_ok()) {
      return response.status();
    }
    EXPECT_TRUE(response->simulated);
    return llm::extract_json(response->content);
  }

  ServerSettings settings_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
  CancelToken cancel_;
};

TEST_F(SimPlanRunTest, PlanPassesValidation) {
  for (int max_tasks : {1, 2, 3, 32}) {
    PlanLimits limits;
    limits.max_tasks = max_tasks;
    Result<json> reply = plan_reply(limits);
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_TRUE(llm::validate_json_schema(*reply, plan_schema(RoleSet::builtin(), limits)).is_ok());
    Result<Plan> plan = orchestrator::plan_from_json(*reply);
    ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
    const std::vector<std::string> problems =
        orchestrator::validate_plan(*plan, RoleSet::builtin(), limits);
    EXPECT_TRUE(problems.empty()) << problems.front();
    EXPECT_EQ(plan->tasks.size(), static_cast<size_t>(std::min(max_tasks, 5)));
    for (const orchestrator::PlanTask& task : plan->tasks) {
      EXPECT_NE(task.description.find("Simulated"), std::string::npos) << task.description;
      EXPECT_FALSE(task.files.empty()) << task.id;
    }
  }
}

TEST_F(SimPlanRunTest, PlannerAcceptsFirstReply) {
  llm::LlmClientPtr sim = client();
  orchestrator::PlannerOptions options;
  options.model = settings_.model;
  orchestrator::PlanOutcome outcome =
      orchestrator::make_plan("write a to-do list app", *sim, options, cancel_);
  ASSERT_TRUE(outcome.status.is_ok()) << outcome.status.to_string();
  ASSERT_TRUE(outcome.plan.has_value());
  EXPECT_EQ(outcome.attempts.size(), 1u);
  EXPECT_TRUE(outcome.simulated);
  EXPECT_EQ(outcome.plan->goal, "write a to-do list app");
  EXPECT_NE(outcome.plan->summary.find("Simulated plan"), std::string::npos);
}

TEST_F(SimPlanRunTest, AgentsAcceptEveryTaskReply) {
  llm::LlmClientPtr sim = client();
  orchestrator::PlannerOptions options;
  options.model = settings_.model;
  orchestrator::PlanOutcome planned =
      orchestrator::make_plan("write a to-do list app", *sim, options, cancel_);
  ASSERT_TRUE(planned.plan.has_value()) << planned.status.to_string();
  for (const orchestrator::PlanTask& task : planned.plan->tasks) {
    orchestrator::DroneRequest request;
    request.goal = planned.plan->goal;
    request.role_prompt = RoleSet::builtin().find(task.role)->prompt;
    request.model = settings_.model;
    request.task = task;
    orchestrator::DroneOutcome outcome = orchestrator::execute_task(*sim, request, cancel_);
    ASSERT_TRUE(outcome.status.is_ok()) << task.id << ": " << outcome.status.to_string();
    EXPECT_EQ(outcome.attempts.size(), 1u) << task.id;
    EXPECT_TRUE(outcome.simulated);
    ASSERT_EQ(outcome.files.size(), task.files.size());
    for (size_t i = 0; i < task.files.size(); ++i) {
      EXPECT_EQ(outcome.files[i].path, task.files[i]);
      EXPECT_NE(outcome.files[i].content.find("Simulated content for " + task.files[i]),
                std::string::npos);
    }
    EXPECT_NE(outcome.summary.find("no model was run"), std::string::npos);
  }
}

}  // namespace
}  // namespace ollamaflow
