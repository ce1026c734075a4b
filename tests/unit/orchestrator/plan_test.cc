#include "orchestrator/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "llm/schema.h"

namespace ollamaflow::orchestrator {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

PlanTask make_task(std::string id, std::vector<std::string> depends_on = {},
                   std::vector<std::string> files = {}) {
  PlanTask task;
  task.id = id;
  task.title = "Title of " + id;
  task.role = "developer";
  task.description = "Build " + id;
  task.depends_on = std::move(depends_on);
  task.files = std::move(files);
  return task;
}

Plan make_plan(std::vector<PlanTask> tasks) {
  Plan plan;
  plan.goal = "Create a Python web app";
  plan.summary = "A small Flask app with tests";
  plan.tasks = std::move(tasks);
  return plan;
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const std::string& error : errors) {
    out += error + "\n";
  }
  return out;
}

class PlanJsonTest : public ::testing::Test {};

TEST_F(PlanJsonTest, RoundTripKeepsEveryField) {
  Plan plan = make_plan({make_task("api", {}, {"app.py"}),
                         make_task("tests", {"api"}, {"tests/test_app.py", "pytest.ini"})});
  plan.tasks[1].role = "analyst";

  Result<Plan> read = plan_from_json(plan_to_json(plan));

  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_EQ(read->goal, plan.goal);
  EXPECT_EQ(read->summary, plan.summary);
  ASSERT_THAT(read->tasks, SizeIs(2));
  EXPECT_EQ(read->tasks[1].id, "tests");
  EXPECT_EQ(read->tasks[1].title, "Title of tests");
  EXPECT_EQ(read->tasks[1].role, "analyst");
  EXPECT_EQ(read->tasks[1].description, "Build tests");
  EXPECT_EQ(read->tasks[1].depends_on, std::vector<std::string>{"api"});
  EXPECT_EQ(read->tasks[1].files, (std::vector<std::string>{"tests/test_app.py", "pytest.ini"}));
  EXPECT_EQ(plan_to_json(*read), plan_to_json(plan));
}

TEST_F(PlanJsonTest, SimulatedFlagRoundTrips) {
  Plan plan = make_plan({make_task("api", {}, {"app.py"})});
  EXPECT_FALSE(plan_to_json(plan).contains("simulated"));

  plan.simulated = true;
  const nlohmann::json document = plan_to_json(plan);
  EXPECT_EQ(document["simulated"], true);
  Result<Plan> read = plan_from_json(document);
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_TRUE(read->simulated);
}

TEST_F(PlanJsonTest, SimulatedFlagMustBeBoolean) {
  nlohmann::json document = plan_to_json(make_plan({make_task("api", {}, {"app.py"})}));
  document["simulated"] = "yes";

  Result<Plan> read = plan_from_json(document);

  ASSERT_FALSE(read.is_ok());
  EXPECT_THAT(read.status().message(), HasSubstr("simulated"));
}

TEST_F(PlanJsonTest, AcceptsDocumentWithOnlyTasks) {
  json document = json::parse(R"({"tasks": [{"id": "a", "role": "analyst",
                                             "description": "Write the spec"}]})");

  Result<Plan> plan = plan_from_json(document);

  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_EQ(plan->goal, "");
  ASSERT_THAT(plan->tasks, SizeIs(1));
  EXPECT_EQ(plan->tasks[0].title, "a");
  EXPECT_THAT(plan->tasks[0].depends_on, IsEmpty());
  EXPECT_THAT(plan->tasks[0].files, IsEmpty());
}

TEST_F(PlanJsonTest, AcceptsReportWrappingPlan) {
  json document = {
      {"run_id", "r1"}, {"backend", "sim"}, {"plan", plan_to_json(make_plan({make_task("a")}))}};

  Result<Plan> plan = plan_from_json(document);

  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  ASSERT_THAT(plan->tasks, SizeIs(1));
  EXPECT_EQ(plan->tasks[0].id, "a");
}

TEST_F(PlanJsonTest, MergesRepeatedDependencies) {
  json document = plan_to_json(make_plan({make_task("a"), make_task("b", {"a", "a"})}));

  Result<Plan> plan = plan_from_json(document);

  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_EQ(plan->tasks[1].depends_on, std::vector<std::string>{"a"});
}

TEST_F(PlanJsonTest, ErrorsNameTheField) {
  struct Case {
    std::string document;
    std::string expected;
  };
  std::vector<Case> cases = {
      {R"([1, 2])", "plan: expected an object"},
      {R"({"goal": "x"})", "tasks: missing required field"},
      {R"({"tasks": {"id": "a"}})", "tasks: expected a list of tasks, got object"},
      {R"({"tasks": [{"role": "developer", "description": "d"}]})",
       "tasks[0].id: missing required field"},
      {R"({"tasks": [{"id": "a", "description": "d"}]})", "tasks[0].role: missing required field"},
      {R"({"tasks": [{"id": "a", "role": "developer"}]})",
       "tasks[0].description: missing required field"},
      {R"({"tasks": [{"id": "a", "role": "developer", "description": "d"},
                     {"id": "b", "role": "developer", "description": "d", "depends_on": [3]}]})",
       "tasks[1].depends_on[0]: expected a string, got number"},
      {R"({"tasks": [{"id": 7, "role": "developer", "description": "d"}]})",
       "tasks[0].id: expected a string, got number"},
      {R"({"tasks": [{"id": "a", "role": "developer", "description": "d", "files": "x.py"}]})",
       "tasks[0].files: expected a list of strings, got string"},
      {R"({"tasks": [{"id": "a", "role": "developer", "description": "d", "depend_on": ["b"]}]})",
       "tasks[0]: unknown field 'depend_on'"},
      {R"({"tasks": [], "owner": "me"})", "plan: unknown field 'owner'"},
      {R"({"tasks": ["a"]})", "tasks[0]: expected an object, got string"},
  };
  for (const Case& c : cases) {
    Result<Plan> plan = plan_from_json(json::parse(c.document));
    ASSERT_FALSE(plan.is_ok()) << c.document;
    EXPECT_EQ(plan.status().code(), ErrorCode::kInvalidArgument) << c.document;
    EXPECT_THAT(plan.status().message(), HasSubstr(c.expected)) << c.document;
  }
}

TEST_F(PlanJsonTest, SingleTaskRoundTrip) {
  PlanTask task = make_task("api", {"spec"}, {"app.py"});

  Result<PlanTask> read = plan_task_from_json(plan_task_to_json(task));

  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_EQ(read->id, "api");
  EXPECT_EQ(read->depends_on, std::vector<std::string>{"spec"});
  EXPECT_EQ(read->files, std::vector<std::string>{"app.py"});
  EXPECT_THAT(plan_task_from_json(json::object()).status().message(),
              HasSubstr("task.id: missing required field"));
}

class PlanSchemaTest : public ::testing::Test {
 protected:
  Status validate(const json& reply) {
    return llm::validate_json_schema(reply, plan_schema(RoleSet::builtin(), limits_));
  }

  json valid_reply() {
    return plan_to_json(make_plan({make_task("api", {}, {"src/app.py", ".gitignore"}),
                                   make_task("T-1", {"api"}, {"docs/readme.md"})}));
  }

  PlanLimits limits_;
};

TEST_F(PlanSchemaTest, AcceptsValidPlan) {
  Status status = validate(valid_reply());
  EXPECT_TRUE(status.is_ok()) << status.to_string();
}

TEST_F(PlanSchemaTest, RoleIsEnumOfKnownRoles) {
  json schema = plan_schema(RoleSet::builtin());
  json roles = schema["properties"]["tasks"]["items"]["properties"]["role"]["enum"];
  EXPECT_EQ(roles, json({"developer", "analyst", "data_scientist", "it_architect",
                         "security_specialist"}));

  json reply = valid_reply();
  reply["tasks"][0]["role"] = "coder";
  EXPECT_EQ(validate(reply).code(), ErrorCode::kSchemaViolation);
}

TEST_F(PlanSchemaTest, RejectsUnsafeIds) {
  for (std::string id :
       std::vector<std::string>{"", "../../../../etc", "a b", "-a", std::string(33, 'a')}) {
    json reply = valid_reply();
    reply["tasks"][0]["id"] = id;
    EXPECT_EQ(validate(reply).code(), ErrorCode::kSchemaViolation) << id;
  }
  json reply = valid_reply();
  reply["tasks"][0]["id"] = std::string(32, 'a');
  reply["tasks"][1]["depends_on"] = {std::string(32, 'a')};
  EXPECT_TRUE(validate(reply).is_ok());
}

TEST_F(PlanSchemaTest, RejectsUnsafeFilePaths) {
  for (std::string path : {"../x.py", "/etc/passwd", "a/../b", "..\\..\\x", "C:/x", "a//b", "a/",
                           "./a", "a/.", ".."}) {
    json reply = valid_reply();
    reply["tasks"][0]["files"] = {path};
    EXPECT_EQ(validate(reply).code(), ErrorCode::kSchemaViolation) << path;
  }
  json reply = valid_reply();
  reply["tasks"][0]["files"] = {"notes/sub/out.md", ".env.example", "a..b/c_d-e.txt"};
  Status status = validate(reply);
  EXPECT_TRUE(status.is_ok()) << status.to_string();
}

TEST_F(PlanSchemaTest, RejectsMissingAndExtraFields) {
  json missing = valid_reply();
  missing["tasks"][0].erase("files");
  EXPECT_EQ(validate(missing).code(), ErrorCode::kSchemaViolation);

  json extra = valid_reply();
  extra["tasks"][0]["priority"] = 1;
  EXPECT_EQ(validate(extra).code(), ErrorCode::kSchemaViolation);

  json extra_top = valid_reply();
  extra_top["notes"] = "x";
  EXPECT_EQ(validate(extra_top).code(), ErrorCode::kSchemaViolation);
}

TEST_F(PlanSchemaTest, TaskCountBoundedByLimit) {
  limits_.max_tasks = 2;
  EXPECT_TRUE(validate(valid_reply()).is_ok());

  json three = valid_reply();
  three["tasks"].push_back(plan_to_json(make_plan({make_task("c")}))["tasks"][0]);
  EXPECT_EQ(validate(three).code(), ErrorCode::kSchemaViolation);

  json none = valid_reply();
  none["tasks"] = json::array();
  EXPECT_EQ(validate(none).code(), ErrorCode::kSchemaViolation);
}

class ValidatePlanTest : public ::testing::Test {
 protected:
  std::vector<std::string> validate(const Plan& plan) {
    return validate_plan(plan, RoleSet::builtin(), limits_);
  }

  PlanLimits limits_;
};

TEST_F(ValidatePlanTest, AcceptsValidPlan) {
  Plan plan = make_plan({make_task("spec", {}, {"docs/spec.md"}),
                         make_task("api", {"spec"}, {"src/app.py"}),
                         make_task("tests", {"api", "spec"}, {"tests/test_app.py"})});
  EXPECT_THAT(validate(plan), IsEmpty());
}

TEST_F(ValidatePlanTest, ReportsThreeTaskCycleWithPath) {
  // A -> B -> C -> A: B depends on A, C on B, and A on C.
  Plan plan = make_plan({make_task("A", {"C"}), make_task("B", {"A"}), make_task("C", {"B"})});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("A -> B -> C -> A"));
}

TEST_F(ValidatePlanTest, CycleStartsAtFirstTaskOfPlan) {
  Plan plan = make_plan(
      {make_task("x"), make_task("B", {"A"}), make_task("C", {"B"}), make_task("A", {"C", "x"})});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("B -> C -> A -> B"));
}

TEST_F(ValidatePlanTest, ReportsEachSeparateCycle) {
  Plan plan = make_plan(
      {make_task("a", {"b"}), make_task("b", {"a"}), make_task("c", {"d"}), make_task("d", {"c"})});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(2)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("a -> b -> a"));
  EXPECT_THAT(errors[1], HasSubstr("c -> d -> c"));
}

TEST_F(ValidatePlanTest, ReportsSelfDependency) {
  Plan plan = make_plan({make_task("t45", {"t45"})});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("task \"t45\" depends on itself"));
}

TEST_F(ValidatePlanTest, ReportsDuplicateId) {
  Plan plan = make_plan({make_task("T-1"), make_task("T-1")});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("task id \"T-1\" is used by 2 tasks"));
}

TEST_F(ValidatePlanTest, DuplicateIdDependencyIsNotSelfDependency) {
  // The second "a" may mean the first one, so only the repeated id is an error.
  Plan plan = make_plan({make_task("a"), make_task("a", {"a"})});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("task id \"a\" is used by 2 tasks"));
}

TEST_F(ValidatePlanTest, ReportsUnknownDependency) {
  Plan plan = make_plan({make_task("a"), make_task("b", {"a", "ghost"})});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("task \"b\" depends on \"ghost\", which is not a task"));
}

TEST_F(ValidatePlanTest, RepeatedDependencyIsOneEdge) {
  Plan plan = make_plan({make_task("a"), make_task("b", {"a", "a"})});
  EXPECT_THAT(validate(plan), IsEmpty());

  // A repeated edge inside a cycle yields one report, not one per copy.
  Plan cyclic = make_plan({make_task("a", {"b", "b"}), make_task("b", {"a", "a"})});
  EXPECT_THAT(validate(cyclic), SizeIs(1));
}

TEST_F(ValidatePlanTest, ReportsEmptyPlan) {
  std::vector<std::string> errors = validate(make_plan({}));

  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0], HasSubstr("no tasks"));
}

TEST_F(ValidatePlanTest, TaskLimitProbedAtBoundary) {
  limits_.max_tasks = 3;
  EXPECT_THAT(validate(make_plan({make_task("a"), make_task("b"), make_task("c")})), IsEmpty());

  std::vector<std::string> errors =
      validate(make_plan({make_task("a"), make_task("b"), make_task("c"), make_task("d")}));
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0], HasSubstr("4 tasks, more than the limit of 3"));
}

TEST_F(ValidatePlanTest, ReportsUnknownRoleAndEmptyDescription) {
  Plan plan = make_plan({make_task("a")});
  plan.tasks[0].role = "coder";
  plan.tasks[0].description = "";

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(2)) << joined(errors);
  EXPECT_THAT(errors[0],
              HasSubstr("task \"a\" has the unknown role 'coder': use one of developer"));
  EXPECT_THAT(errors[1], HasSubstr("task \"a\" has an empty description"));
}

TEST_F(ValidatePlanTest, ExtendedRoleIsKnown) {
  Result<RoleSet> roles = RoleSet::builtin().extended({{"tester", "tests", "You test."}});
  ASSERT_TRUE(roles.is_ok());
  Plan plan = make_plan({make_task("a")});
  plan.tasks[0].role = "tester";

  EXPECT_THAT(validate_plan(plan, *roles), IsEmpty());
  EXPECT_THAT(validate_plan(plan, RoleSet::builtin()), SizeIs(1));
}

TEST_F(ValidatePlanTest, ReportsInvalidIdByPosition) {
  Plan plan = make_plan({make_task("ok"), make_task("../../../../etc")});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("task 2 has the invalid id '../../../../etc'"));
}

TEST_F(ValidatePlanTest, LongValuesAreCutInErrors) {
  const std::string long_id(100000, 'x');
  Plan plan = make_plan({make_task("a", {long_id + "\n"}), make_task(long_id)});
  plan.tasks[0].role = std::string(5000, 'r');

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(3)) << joined(errors).substr(0, 400);
  for (const std::string& error : errors) {
    EXPECT_LT(error.size(), 400u) << error.substr(0, 400);
  }
  // 39 columns of the value and an ellipsis.
  EXPECT_THAT(errors, Contains(HasSubstr("task 2 has the invalid id '" + std::string(39, 'x') +
                                         "\u2026'")));
}

TEST_F(ValidatePlanTest, ReportsUnsafeFilePaths) {
  for (std::string path : {"../../../../tmp/malicious.py", "../../../etc/passwd",
                           "/etc/cron.d/evil", "..\\..\\x", "C:\\evil.txt", "a/./b", "a//b", ""}) {
    Plan plan = make_plan({make_task("a", {}, {path})});
    std::vector<std::string> errors = validate(plan);
    ASSERT_THAT(errors, SizeIs(1)) << path;
    EXPECT_THAT(errors[0], HasSubstr("task \"a\": path")) << path;
  }
}

TEST_F(ValidatePlanTest, PathLengthProbedAtBoundary) {
  limits_.max_path_length = 10;
  EXPECT_THAT(validate(make_plan({make_task("a", {}, {"abcdef.txt"})})), IsEmpty());
  EXPECT_THAT(validate(make_plan({make_task("a", {}, {"abcdefg.txt"})})), SizeIs(1));
}

TEST_F(ValidatePlanTest, FileLimitProbedAtBoundary) {
  limits_.max_files_per_task = 2;
  EXPECT_THAT(validate(make_plan({make_task("a", {}, {"x", "y"})})), IsEmpty());

  std::vector<std::string> errors = validate(make_plan({make_task("a", {}, {"x", "y", "z"})}));
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0], HasSubstr("declares 3 files, more than the limit of 2"));
}

TEST_F(ValidatePlanTest, ReportsFileDeclaredByTwoTasks) {
  Plan plan = make_plan({make_task("a", {}, {"src/app.py"}), make_task("b", {}, {"src/app.py"})});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("file 'src/app.py' is declared by task \"a\" and task \"b\""));
}

TEST_F(ValidatePlanTest, ReportsFileDeclaredTwiceInOneTask) {
  std::vector<std::string> errors = validate(make_plan({make_task("a", {}, {"x.py", "x.py"})}));

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0], HasSubstr("declares 'x.py' twice"));
}

TEST_F(ValidatePlanTest, ReportsFileUsedAsFolder) {
  Plan plan = make_plan({make_task("a", {}, {"docs"}), make_task("b", {}, {"docs/api.md"})});

  std::vector<std::string> errors = validate(plan);

  ASSERT_THAT(errors, SizeIs(1)) << joined(errors);
  EXPECT_THAT(errors[0],
              HasSubstr("file 'docs' of task \"a\" is also the folder of 'docs/api.md'"));
}

TEST_F(ValidatePlanTest, ReportsEveryProblemAtOnce) {
  Plan plan = make_plan({make_task("T-1", {"T-1"}), make_task("T-1", {"ghost"}, {"/abs"})});
  plan.tasks[1].role = "coder";

  std::vector<std::string> errors = validate(plan);

  // The repeated id, the role, the unknown dependency and the path. "T-1" depending on "T-1" may
  // mean the other task of that id, so it is not reported as a self-dependency.
  EXPECT_THAT(errors, SizeIs(4)) << joined(errors);
  EXPECT_THAT(joined(errors), Not(HasSubstr("depends on itself")));
}

TEST_F(ValidatePlanTest, LongChainValidatesWithoutDeepRecursion) {
  limits_.max_tasks = 20000;
  std::vector<PlanTask> tasks = {make_task("t0")};
  for (int i = 1; i < 20000; ++i) {
    tasks.push_back(make_task("t" + std::to_string(i), {"t" + std::to_string(i - 1)}));
  }
  Plan plan = make_plan(std::move(tasks));
  EXPECT_THAT(validate(plan), IsEmpty());

  plan.tasks[0].depends_on = {"t19999"};
  std::vector<std::string> errors = validate(plan);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0], HasSubstr("t0 -> t1 -> t2"));
}

}  // namespace
}  // namespace ollamaflow::orchestrator
