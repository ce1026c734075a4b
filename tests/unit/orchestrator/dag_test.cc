#include "orchestrator/dag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ollamaflow::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

PlanTask make_task(std::string id, std::vector<std::string> depends_on = {}) {
  PlanTask task;
  task.id = std::move(id);
  task.title = task.id;
  task.role = "developer";
  task.description = "do " + task.id;
  task.depends_on = std::move(depends_on);
  return task;
}

Plan make_plan(std::vector<PlanTask> tasks) {
  Plan plan;
  plan.goal = "goal";
  plan.tasks = std::move(tasks);
  return plan;
}

// [a, b <- a, c <- b]: the chain from the failed-parent case.
Plan chain_plan() {
  return make_plan({make_task("a"), make_task("b", {"a"}), make_task("c", {"b"})});
}

TaskDag create(const Plan& plan, const std::set<std::string>& succeeded = {}) {
  Result<TaskDag> dag = TaskDag::create(plan, succeeded);
  EXPECT_TRUE(dag.is_ok()) << dag.status().to_string();
  return std::move(dag).value();
}

class TaskStatusTest : public ::testing::Test {};

TEST_F(TaskStatusTest, NamesRoundTrip) {
  for (TaskStatus status : {TaskStatus::kPending, TaskStatus::kReady, TaskStatus::kRunning,
                            TaskStatus::kSucceeded, TaskStatus::kFailed, TaskStatus::kCancelled}) {
    std::optional<TaskStatus> parsed = task_status_from_name(task_status_name(status));
    ASSERT_TRUE(parsed.has_value()) << task_status_name(status);
    EXPECT_EQ(*parsed, status);
  }
  EXPECT_EQ(task_status_name(TaskStatus::kCancelled), "CANCELLED");
  EXPECT_FALSE(task_status_from_name("cancelled").has_value());
  EXPECT_FALSE(task_status_from_name("").has_value());
}

TEST_F(TaskStatusTest, FinalStates) {
  EXPECT_FALSE(is_final(TaskStatus::kPending));
  EXPECT_FALSE(is_final(TaskStatus::kReady));
  EXPECT_FALSE(is_final(TaskStatus::kRunning));
  EXPECT_TRUE(is_final(TaskStatus::kSucceeded));
  EXPECT_TRUE(is_final(TaskStatus::kFailed));
  EXPECT_TRUE(is_final(TaskStatus::kCancelled));
}

class TaskDagTest : public ::testing::Test {};

TEST_F(TaskDagTest, OnlyTasksWithoutDependenciesStartReady) {
  TaskDag dag = create(make_plan({make_task("a"), make_task("b", {"a"}), make_task("c")}));

  EXPECT_THAT(dag.ready_tasks(), ElementsAre("a", "c"));
  EXPECT_EQ(dag.find("b")->status, TaskStatus::kPending);
  EXPECT_FALSE(dag.done());
}

TEST_F(TaskDagTest, SuccessReleasesDependents) {
  TaskDag dag = create(chain_plan());

  ASSERT_TRUE(dag.mark_running("a").is_ok());
  EXPECT_THAT(dag.ready_tasks(), IsEmpty());
  Result<std::vector<StatusChange>> ready = dag.mark_succeeded("a");

  ASSERT_TRUE(ready.is_ok());
  ASSERT_THAT(*ready, SizeIs(1));
  EXPECT_EQ((*ready)[0].id, "b");
  EXPECT_EQ((*ready)[0].status, TaskStatus::kReady);
  EXPECT_THAT(dag.ready_tasks(), ElementsAre("b"));
}

TEST_F(TaskDagTest, TaskWaitsForEveryDependency) {
  TaskDag dag = create(make_plan({make_task("a"), make_task("b"), make_task("c", {"a", "b"})}));

  ASSERT_TRUE(dag.mark_running("a").is_ok());
  ASSERT_TRUE(dag.mark_running("b").is_ok());
  ASSERT_TRUE(dag.mark_succeeded("a").is_ok());
  EXPECT_EQ(dag.find("c")->status, TaskStatus::kPending);

  Result<std::vector<StatusChange>> ready = dag.mark_succeeded("b");
  ASSERT_TRUE(ready.is_ok());
  EXPECT_THAT(*ready, SizeIs(1));
  EXPECT_EQ(dag.find("c")->status, TaskStatus::kReady);
}

TEST_F(TaskDagTest, RepeatedDependencyCountsOnce) {
  TaskDag dag = create(make_plan({make_task("a"), make_task("b", {"a", "a"})}));

  ASSERT_TRUE(dag.mark_running("a").is_ok());
  ASSERT_TRUE(dag.mark_succeeded("a").is_ok());

  EXPECT_THAT(dag.ready_tasks(), ElementsAre("b"));
}

TEST_F(TaskDagTest, FailureCancelsDependentsInSameUpdate) {
  TaskDag dag = create(chain_plan());
  ASSERT_TRUE(dag.mark_running("a").is_ok());

  Result<std::vector<StatusChange>> changes = dag.mark_failed("a", "the model returned no files");

  ASSERT_TRUE(changes.is_ok());
  ASSERT_THAT(*changes, SizeIs(3));
  EXPECT_EQ((*changes)[0].id, "a");
  EXPECT_EQ((*changes)[0].status, TaskStatus::kFailed);
  EXPECT_EQ((*changes)[0].reason, "the model returned no files");
  EXPECT_EQ((*changes)[1].id, "b");
  EXPECT_EQ((*changes)[1].status, TaskStatus::kCancelled);
  EXPECT_EQ((*changes)[1].reason, "dependency \"a\" failed");
  EXPECT_EQ((*changes)[2].id, "c");
  EXPECT_EQ((*changes)[2].status, TaskStatus::kCancelled);
  EXPECT_EQ((*changes)[2].reason, "dependency \"a\" failed");
  EXPECT_TRUE(dag.done());
  EXPECT_FALSE(dag.all_succeeded());
  std::map<TaskStatus, int> counts = dag.counts();
  EXPECT_EQ(counts[TaskStatus::kFailed], 1);
  EXPECT_EQ(counts[TaskStatus::kCancelled], 2);
}

TEST_F(TaskDagTest, FailureLeavesIndependentTasksAlone) {
  TaskDag dag = create(make_plan(
      {make_task("a"), make_task("b", {"a"}), make_task("x"), make_task("y", {"x", "b"})}));
  ASSERT_TRUE(dag.mark_running("x").is_ok());
  ASSERT_TRUE(dag.mark_running("a").is_ok());

  Result<std::vector<StatusChange>> changes = dag.mark_failed("a", "boom");

  ASSERT_TRUE(changes.is_ok());
  EXPECT_THAT(*changes, SizeIs(3));
  EXPECT_EQ(dag.find("x")->status, TaskStatus::kRunning);
  EXPECT_EQ(dag.find("y")->status, TaskStatus::kCancelled);
  EXPECT_FALSE(dag.done());
  ASSERT_TRUE(dag.mark_succeeded("x").is_ok());
  EXPECT_TRUE(dag.done());
}

TEST_F(TaskDagTest, DiamondDependentCancelledOnce) {
  TaskDag dag = create(make_plan(
      {make_task("a"), make_task("b", {"a"}), make_task("c", {"a"}), make_task("d", {"b", "c"})}));
  ASSERT_TRUE(dag.mark_running("a").is_ok());

  Result<std::vector<StatusChange>> changes = dag.mark_failed("a", "boom");

  ASSERT_TRUE(changes.is_ok());
  EXPECT_THAT(*changes, SizeIs(4));
  EXPECT_TRUE(dag.done());
}

TEST_F(TaskDagTest, CancelledTaskCancelsDependents) {
  TaskDag dag = create(chain_plan());
  ASSERT_TRUE(dag.mark_running("a").is_ok());

  Result<std::vector<StatusChange>> changes = dag.mark_cancelled("a", "interrupted by Ctrl-C");

  ASSERT_TRUE(changes.is_ok());
  ASSERT_THAT(*changes, SizeIs(3));
  EXPECT_EQ((*changes)[0].status, TaskStatus::kCancelled);
  EXPECT_EQ((*changes)[2].reason, "dependency \"a\" was cancelled");
}

TEST_F(TaskDagTest, CancelAllWaitsForRunningTasks) {
  TaskDag dag = create(make_plan({make_task("a"), make_task("b", {"a"}), make_task("c")}));
  ASSERT_TRUE(dag.mark_running("a").is_ok());

  std::vector<StatusChange> changes = dag.cancel_all("run cancelled");

  ASSERT_THAT(changes, SizeIs(2));
  EXPECT_EQ(changes[0].id, "b");
  EXPECT_EQ(changes[1].id, "c");
  EXPECT_EQ(dag.find("c")->reason, "run cancelled");
  EXPECT_EQ(dag.find("a")->status, TaskStatus::kRunning);
  EXPECT_FALSE(dag.done());
  ASSERT_TRUE(dag.mark_cancelled("a", "request cancelled").is_ok());
  EXPECT_TRUE(dag.done());
}

TEST_F(TaskDagTest, FailAllFailsWaitingTasks) {
  TaskDag dag = create(make_plan({make_task("a"), make_task("b", {"a"}), make_task("c")}));
  ASSERT_TRUE(dag.mark_running("a").is_ok());

  std::vector<StatusChange> changes = dag.fail_all("no agent could start");

  ASSERT_THAT(changes, SizeIs(2));
  EXPECT_EQ(changes[0].id, "b");
  EXPECT_EQ(changes[0].status, TaskStatus::kFailed);
  EXPECT_EQ(changes[1].id, "c");
  EXPECT_EQ(dag.find("b")->status, TaskStatus::kFailed);
  EXPECT_EQ(dag.find("c")->status, TaskStatus::kFailed);
  EXPECT_EQ(dag.find("c")->reason, "no agent could start");
  EXPECT_EQ(dag.find("a")->status, TaskStatus::kRunning);
  EXPECT_FALSE(dag.done());
  ASSERT_TRUE(dag.mark_failed("a", "request failed").is_ok());
  EXPECT_TRUE(dag.done());
}

TEST_F(TaskDagTest, RequeuedTaskIsReadyAgain) {
  TaskDag dag = create(chain_plan());
  ASSERT_TRUE(dag.mark_running("a").is_ok());

  ASSERT_TRUE(dag.mark_requeued("a").is_ok());

  EXPECT_THAT(dag.ready_tasks(), ElementsAre("a"));
  ASSERT_TRUE(dag.mark_running("a").is_ok());
  EXPECT_EQ(dag.find("a")->runs, 2);
}

TEST_F(TaskDagTest, RejectsTransitionsFromWrongState) {
  TaskDag dag = create(chain_plan());

  Status not_ready = dag.mark_running("b");
  EXPECT_EQ(not_ready.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(not_ready.message(), HasSubstr("task \"b\" cannot be started while it is PENDING"));
  EXPECT_EQ(dag.mark_succeeded("a").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(dag.mark_requeued("a").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(dag.mark_failed("b", "x").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(dag.mark_running("ghost").message(), HasSubstr("\"ghost\" is not in the plan"));

  ASSERT_TRUE(dag.mark_running("a").is_ok());
  ASSERT_TRUE(dag.mark_succeeded("a").is_ok());
  EXPECT_EQ(dag.mark_failed("a", "late").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(dag.find("a")->status, TaskStatus::kSucceeded);
}

TEST_F(TaskDagTest, ResumeSkipsSucceededTasks) {
  TaskDag dag = create(chain_plan(), {"a"});

  EXPECT_EQ(dag.find("a")->status, TaskStatus::kSucceeded);
  EXPECT_THAT(dag.ready_tasks(), ElementsAre("b"));
  EXPECT_EQ(dag.find("a")->runs, 0);
  ASSERT_TRUE(dag.mark_running("b").is_ok());
  ASSERT_TRUE(dag.mark_succeeded("b").is_ok());
  ASSERT_TRUE(dag.mark_running("c").is_ok());
  ASSERT_TRUE(dag.mark_succeeded("c").is_ok());
  EXPECT_TRUE(dag.done());
  EXPECT_TRUE(dag.all_succeeded());
}

TEST_F(TaskDagTest, ResumeOfFinishedRunIsDone) {
  TaskDag dag = create(chain_plan(), {"a", "b", "c"});

  EXPECT_TRUE(dag.done());
  EXPECT_TRUE(dag.all_succeeded());
  EXPECT_THAT(dag.ready_tasks(), IsEmpty());
}

TEST_F(TaskDagTest, ResumeRejectsUnknownSucceededId) {
  Result<TaskDag> dag = TaskDag::create(chain_plan(), {"z"});

  ASSERT_FALSE(dag.is_ok());
  EXPECT_THAT(dag.status().message(), HasSubstr("task \"z\" is recorded as succeeded"));
}

TEST_F(TaskDagTest, CreateRejectsBrokenGraphs) {
  struct Case {
    Plan plan;
    std::string expected;
  };
  std::vector<Case> cases = {
      {make_plan({make_task("A", {"C"}), make_task("B", {"A"}), make_task("C", {"B"})}),
       "dependency cycle; these tasks could never start: A, B, C"},
      {make_plan({make_task("t45", {"t45"})}), "task \"t45\" depends on itself"},
      {make_plan({make_task("T-1"), make_task("T-1")}), "task id \"T-1\" appears twice"},
      {make_plan({make_task("a", {"ghost"})}), "depends on \"ghost\", which is not in the plan"},
  };
  for (const Case& c : cases) {
    Result<TaskDag> dag = TaskDag::create(c.plan);
    ASSERT_FALSE(dag.is_ok()) << c.expected;
    EXPECT_EQ(dag.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(dag.status().message(), HasSubstr(c.expected));
  }
}

TEST_F(TaskDagTest, GivesAccessToPlanTasks) {
  TaskDag dag = create(chain_plan());

  ASSERT_NE(dag.task("b"), nullptr);
  EXPECT_EQ(dag.task("b")->depends_on, std::vector<std::string>{"a"});
  EXPECT_EQ(dag.task("nope"), nullptr);
  EXPECT_EQ(dag.find("nope"), nullptr);
  EXPECT_THAT(dag.states(), SizeIs(3));
}

}  // namespace
}  // namespace ollamaflow::orchestrator
