// End-to-end runs of the real binary on the built-in simulated backend.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "e2e/e2e_support.h"
#include "fakes/process.h"
#include "store/sqlite.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

class SimRunTest : public E2eTest {
 protected:
  // Runs the sample plan on the simulated backend and returns the run's id.
  std::string run_sample_plan() {
    const auto plan_path = dir_.path() / "plan.json";
    std::ofstream(plan_path) << sample_plan().dump();
    ProcessResult first =
        run_cli({"run", "--plan", plan_path.string(), "--backend", "sim", "--workspace",
                 workspace().string(), "--db", db().string(), "--json"});
    EXPECT_EQ(first.exit_code, 0) << first.out << first.err;
    return parse_json(first).value("run_id", "");
  }

  // Starts the sample plan on the simulated backend with replies of `tokens_per_s`, slow enough
  // that the test can act while the run goes on.
  std::unique_ptr<ChildProcess> start_slow_run(int tokens_per_s, bool json_report) {
    const std::filesystem::path config = dir_.path() / "slow.json";
    std::ofstream(config) << json{{"server", {{"sim_output_tokens_per_s", tokens_per_s}}}}.dump();
    const std::filesystem::path plan = dir_.path() / "plan.json";
    std::ofstream(plan) << sample_plan().dump();
    std::vector<std::string> args = {
        "run",           "--plan",      plan.string(),        "--backend", "sim",        "--config",
        config.string(), "--workspace", workspace().string(), "--db",      db().string()};
    if (json_report) {
      args.push_back("--json");
    }
    return std::make_unique<ChildProcess>(cli_argv(args), cli_options({}));
  }

  // Polls the journal for up to 10 s and returns the first column of the first row of `sql`, or
  // "" when no row came. The journal is opened only once the run has created it.
  std::string wait_for_journal_row(const std::string& sql) {
    for (int i = 0; i < 400; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      if (!std::filesystem::exists(db())) {
        continue;
      }
      Result<store::Database> database = store::Database::open(db().string());
      if (!database.is_ok()) {
        continue;
      }
      Result<store::Statement> query = database->prepare(sql);
      if (query.is_ok() && query->step().value_or(false)) {
        return query->column_text(0);
      }
    }
    return "";
  }
};

TEST_F(SimRunTest, GoalRunsToFilesAndJournal) {
  ProcessResult result =
      run_cli({"run", "Create a Python web app", "--backend", "sim", "--workspace",
               workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["status"], "succeeded");
  EXPECT_TRUE(report["simulated"].get<bool>());
  ASSERT_FALSE(report["tasks"].empty());
  for (const json& task : report["tasks"]) {
    EXPECT_EQ(task["status"], "succeeded") << task.dump();
    for (const json& file : task["files"]) {
      const auto path = workspace() / file.get<std::string>();
      EXPECT_TRUE(std::filesystem::exists(path)) << path;
      EXPECT_NE(read(path).find("simulated"), std::string::npos) << path;
    }
  }
  ProcessResult runs = run_cli({"runs", "--db", db().string(), "--json"});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  json list = parse_json(runs);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], report["run_id"]);
  EXPECT_EQ(list[0]["status"], "succeeded");
}

// --db may name a path in folders that do not exist yet. The run creates them and names the
// topmost one, once. A second run creates nothing and logs no such line.
TEST_F(SimRunTest, JournalFolderCreationIsNoted) {
  const std::filesystem::path top = dir_.path() / "journals";
  const std::filesystem::path journal = top / "project" / "journal.db";
  const std::vector<std::string> args = {"run",  "Write a note",  "--backend",
                                         "sim",  "--workspace",   workspace().string(),
                                         "--db", journal.string()};
  const ProcessResult first = run_cli(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(std::filesystem::exists(journal));
  const std::string note =
      "created the folder '" + top.string() + "' for the journal '" + journal.string() + "'";
  EXPECT_NE(first.err.find(note), std::string::npos) << first.err;

  std::filesystem::remove_all(workspace());
  const ProcessResult second = run_cli(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.err.find("created the folder"), std::string::npos) << second.err;
}

// A journal that fails in the middle of a run cannot record the run's end, so the run exits 2, as
// for a journal that fails at the start, although its tasks succeed and its files are written.
TEST_F(SimRunTest, JournalFailureMidRunExitsTwo) {
  const std::unique_ptr<ChildProcess> child = start_slow_run(40, true);
  const std::string run_id = wait_for_journal_row("SELECT id FROM runs LIMIT 1");
  ASSERT_FALSE(run_id.empty()) << "the run was not journaled";

  // Another program removes a table that the run writes to. The run may hold the write lock a
  // moment, so the drop is tried again.
  {
    Result<store::Database> database = store::Database::open(db().string());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    Status dropped = database->exec("DROP TABLE events");
    for (int i = 0; i < 40 && !dropped.is_ok(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      dropped = database->exec("DROP TABLE events");
    }
    ASSERT_TRUE(dropped.is_ok()) << dropped.to_string();
  }

  EXPECT_EQ(child->wait(std::chrono::seconds(120)), 2) << child->read_err();
  const json report = json::parse(child->read_out(), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << child->read_out();
  EXPECT_EQ(report["exit_code"], 2) << report.dump();
  EXPECT_NE(report["notes"].dump().find("the journal does not record their tasks or the run's end"),
            std::string::npos)
      << report["notes"].dump();
  for (const json& task : report["tasks"]) {
    EXPECT_EQ(task["status"], "succeeded") << task.dump();
  }

  // Each later write is dropped, and the log shows the first few and a count.
  const std::string log = child->read_err();
  size_t dropped_lines = 0;
  for (size_t at = log.find("journal write dropped path="); at != std::string::npos;
       at = log.find("journal write dropped path=", at + 1)) {
    ++dropped_lines;
  }
  EXPECT_LE(dropped_lines, 3u) << log;
}

// A run killed with SIGKILL leaves its running tasks as they were in the journal; `runs show`
// shows them as interrupted, like the run.
TEST_F(SimRunTest, KilledRunShowsTasksInterrupted) {
  const std::unique_ptr<ChildProcess> child = start_slow_run(20, false);
  const std::string run_id =
      wait_for_journal_row("SELECT run_id FROM tasks WHERE status = 'running' LIMIT 1");
  ASSERT_FALSE(run_id.empty()) << "no task started";
  child->send_signal(SIGKILL);
  child->wait(std::chrono::seconds(10));

  const ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string(), "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const json run = parse_json(shown);
  EXPECT_EQ(run["status"], "interrupted");
  bool interrupted_task = false;
  for (const json& task : run["tasks"]) {
    EXPECT_NE(task["status"], "running") << task.dump();
    interrupted_task = interrupted_task || task["status"] == "interrupted";
  }
  EXPECT_TRUE(interrupted_task) << run["tasks"].dump();
}

// Returns true when something accepts connections on 127.0.0.1:`port`.
bool port_open(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool open = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return open;
}

TEST_F(SimRunTest, UnreachableDefaultServerFallsBackToSim) {
  if (port_open(11434)) {
    GTEST_SKIP() << "a server listens on 127.0.0.1:11434, so the default host is reachable";
  }
  ProcessResult result =
      run_cli({"run", "Create a Python web app", "--auto-scaling", "--strategy", "HYBRID",
               "--workspace", workspace().string(), "--db", db().string()});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("SIMULATED"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("no model server answered at http://127.0.0.1:11434"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("Auto-scaling (HYBRID)"), std::string::npos) << result.out;
}

// The demo's configuration paces the simulated backend like a small GPU, so that the README's
// main command shows the pool growing.
TEST_F(SimRunTest, PacedDemoConfigurationScalesThePoolUp) {
  const std::filesystem::path config = source_dir() / "examples" / "paced-simulation.json";
  ProcessResult result =
      run_cli({"run", "Create a Python web app", "--backend", "sim", "--auto-scaling", "--strategy",
               "HYBRID", "--config", config.string(), "--workspace", workspace().string(), "--db",
               db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const json report = parse_json(result);
  ASSERT_TRUE(report.contains("scaling_events")) << result.out;
  const auto up = std::find_if(report["scaling_events"].begin(), report["scaling_events"].end(),
                               [](const json& event) { return event["action"] == "scale_up"; });
  EXPECT_NE(up, report["scaling_events"].end()) << result.out;
}

TEST_F(SimRunTest, JournaledSimulatedRunIsLabelled) {
  ProcessResult result = run_cli({"run", "Write a note", "--backend", "sim", "--workspace",
                                  workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string run_id = parse_json(result)["run_id"];

  const ProcessResult listed = run_cli({"runs", "--db", db().string()});
  EXPECT_NE(listed.err.find("note: backend sim is the built-in simulated backend"),
            std::string::npos)
      << listed.err;
  const json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["simulated"], true) << runs.dump();

  const ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string()});
  EXPECT_NE(shown.out.find("backend:   sim [SIMULATED"), std::string::npos) << shown.out;
  const json document =
      parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  EXPECT_EQ(document["simulated"], true) << document.dump();
}

TEST_F(SimRunTest, UnreachableOllamaHostIsAnError) {
  const std::string host = "127.0.0.1:" + std::to_string(closed_port());
  ProcessResult result = run_cli({"run", "Create a Python web app", "--workspace",
                                  workspace().string(), "--db", db().string()},
                                 {{"OLLAMA_HOST", host}});
  EXPECT_EQ(result.exit_code, 1) << result.out;
  EXPECT_NE(result.err.find(host), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(workspace()));
}

TEST_F(SimRunTest, PreexistingFileReplacementIsReported) {
  std::filesystem::create_directories(workspace() / "docs");
  std::ofstream(workspace() / "docs" / "design.md") << "my own notes\n";
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << sample_plan().dump();
  ProcessResult result =
      run_cli({"run", "--plan", plan_path.string(), "--backend", "sim", "--workspace",
               workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  ASSERT_EQ(report["conflicts"].size(), 1u) << report.dump();
  EXPECT_NE(report["conflicts"][0].get<std::string>().find("docs/design.md"), std::string::npos);
}

TEST_F(SimRunTest, ExplicitUnreachableHostIsAnError) {
  const std::string host = "http://127.0.0.1:" + std::to_string(closed_port());
  ProcessResult result = run_cli({"run", "Create a Python web app", "--host", host, "--workspace",
                                  workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("127.0.0.1"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(workspace()));
}

TEST_F(SimRunTest, PlanOnlyJsonRunsAsPlanFile) {
  ProcessResult planned = run_cli({"run", "Create a Python web app", "--backend", "sim",
                                   "--plan-only", "--json", "--db", db().string()});
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  json plan = parse_json(planned);
  ASSERT_TRUE(plan.contains("tasks"));
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << plan.dump(2);
  EXPECT_FALSE(std::filesystem::exists(workspace()));
  // The plan-only run wrote no files, names no workspace in the journal and is journaled as
  // planned, with its plan.
  json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_TRUE(runs[0]["workspace"].is_null()) << runs.dump();
  EXPECT_EQ(runs[0].value("status", ""), "planned") << runs.dump();
  EXPECT_EQ(runs[0]["exit_code"], 0) << runs.dump();
  const std::string run_id = runs[0]["id"];
  // The JSON on stdout is the plan alone, so the run id is named on stderr.
  EXPECT_NE(planned.err.find("run '" + run_id + "' journaled this plan: `ollama-flow runs show " +
                             run_id + " --plan`"),
            std::string::npos)
      << planned.err;
  json shown = parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  EXPECT_EQ(shown.value("status", ""), "planned") << shown.dump();
  EXPECT_EQ(shown["report"].value("status", ""), "planned") << shown.dump();
  ProcessResult shown_text = run_cli({"runs", "show", run_id, "--db", db().string()});
  EXPECT_EQ(shown_text.exit_code, 0) << shown_text.err;
  EXPECT_NE(shown_text.out.find("Run " + run_id + ": planned"), std::string::npos)
      << shown_text.out;
  ProcessResult listed = run_cli({"runs", "--db", db().string()});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(" planned "), std::string::npos) << listed.out;
  ProcessResult saved = run_cli({"runs", "show", run_id, "--plan", "--db", db().string()});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_EQ(parse_json(saved), plan);

  ProcessResult result =
      run_cli({"run", "--plan", plan_path.string(), "--backend", "sim", "--workspace",
               workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["tasks"].size(), plan["tasks"].size());
  EXPECT_EQ(report["plan"]["tasks"], plan["tasks"]);
}

TEST_F(SimRunTest, EachTaskUsesItsRoleModel) {
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << sample_plan().dump();
  const auto config_path = dir_.path() / "roles.json";
  std::ofstream(config_path)
      << json({{"server",
                {{"backend", "sim"},
                 {"role_models", {{"developer", {"coder:7b"}}, {"it_architect", {"arch:8b"}}}}}}})
             .dump();
  ProcessResult result = run_cli({"run", "--plan", plan_path.string(), "--agents", "2", "--config",
                                  config_path.string(), "--workspace", workspace().string(), "--db",
                                  db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  for (const json& task : report["tasks"]) {
    const std::string role = task["role"];
    const std::string expected = role == "developer"      ? "coder:7b"
                                 : role == "it_architect" ? "arch:8b"
                                                          : report["model"].get<std::string>();
    EXPECT_EQ(task["model"], expected) << task.dump();
  }
}

// A fixed pool larger than the plan starts one agent per task, and a report note states it.
TEST_F(SimRunTest, AgentsAbovePlanTasksAreNoted) {
  const auto plan_path = dir_.path() / "plan.json";
  const json plan = sample_plan();
  std::ofstream(plan_path) << plan.dump();
  ProcessResult result =
      run_cli({"run", "--plan", plan_path.string(), "--backend", "sim", "--agents", "1024",
               "--workspace", workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const json report = parse_json(result);
  const size_t tasks = plan["tasks"].size();
  const std::string expected = fmt::format(
      "--agents requests 1024 agents, but the plan has only {} tasks, so the run "
      "starts {} agents, one per task",
      tasks, tasks);
  bool noted = false;
  for (const json& note : report["notes"]) {
    noted = noted || note.get<std::string>() == expected;
  }
  EXPECT_TRUE(noted) << expected << "\n" << report["notes"].dump();

  // A pool no larger than the plan gets no such note.
  ProcessResult fitting =
      run_cli({"run", "--plan", plan_path.string(), "--backend", "sim", "--agents", "2",
               "--workspace", (dir_.path() / "second").string(), "--db", db().string(), "--json"});
  ASSERT_EQ(fitting.exit_code, 0) << fitting.out << fitting.err;
  EXPECT_EQ(parse_json(fitting)["notes"].dump().find("one per task"), std::string::npos)
      << parse_json(fitting)["notes"].dump();
}

TEST_F(SimRunTest, ResumeNamesTheRunsBackend) {
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << sample_plan().dump();
  ProcessResult first = run_cli({"run", "--plan", plan_path.string(), "--backend", "sim",
                                 "--workspace", workspace().string(), "--db", db().string()});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  // No server listens at the default address, which a new run would replace with simulation.
  // The resume names the simulated backend the run used instead of mixing real output in.
  ProcessResult result =
      run_cli({"run", "--resume", runs[0]["id"].get<std::string>(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("ran on the sim backend"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--backend sim"), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("SIMULATED"), std::string::npos) << result.out;
}

TEST_F(SimRunTest, RelativeWorkspaceIsStoredAbsolute) {
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << sample_plan().dump();
  const std::filesystem::path relative =
      std::filesystem::relative(workspace(), std::filesystem::current_path());
  ProcessResult result = run_cli({"run", "--plan", plan_path.string(), "--backend", "sim",
                                  "--workspace", relative.string(), "--db", db().string()});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_TRUE(std::filesystem::path(runs[0]["workspace"].get<std::string>()).is_absolute())
      << runs.dump();
}

TEST_F(SimRunTest, UnreadablePlanFilesExitTwoWithTheReason) {
  const auto broken = dir_.path() / "broken.json";
  std::ofstream(broken) << "{\"tasks\": [";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {(dir_.path() / "missing.json").string(), "No such file"},
      {dir_.path().string(), "is a folder"},
      {broken.string(), "not valid JSON"}};
  for (const auto& [path, reason] : cases) {
    ProcessResult result = run_cli({"run", "--plan", path, "--backend", "sim", "--workspace",
                                    workspace().string(), "--db", db().string()});
    EXPECT_EQ(result.exit_code, 2) << path;
    EXPECT_NE(result.err.find(reason), std::string::npos) << result.err;
    EXPECT_FALSE(std::filesystem::exists(workspace())) << path;
  }
}

TEST_F(SimRunTest, BlankGoalIsUsageError) {
  ProcessResult result = run_cli({"run", "  \t ", "--backend", "sim", "--workspace",
                                  workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("the goal is blank"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(workspace()));
}

TEST_F(SimRunTest, NonUtf8GoalIsUsageError) {
  ProcessResult result = run_cli({"run", "caf\xE9 app", "--backend", "sim", "--workspace",
                                  workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("not valid UTF-8: byte 0xE9 at offset 3"), std::string::npos)
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(workspace()));
}

TEST_F(SimRunTest, ResumeWithGoalIsUsageError) {
  ProcessResult result = run_cli({"run", "Another goal", "--resume", "r-20260101-000000-abcd",
                                  "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("continues that run's own goal"), std::string::npos) << result.err;
}

// Planning again would rewrite the resumed run's journaled status and report.
TEST_F(SimRunTest, ResumeWithPlanOnlyIsUsageError) {
  const std::string run_id = run_sample_plan();
  ASSERT_FALSE(run_id.empty());
  const json before =
      parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  ProcessResult result = run_cli(
      {"run", "--resume", run_id, "--plan-only", "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("runs show " + run_id + " --plan"), std::string::npos) << result.err;
  const json after = parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  EXPECT_EQ(after, before);
}

TEST_F(SimRunTest, RunReportAsPlanFileNamesTheFix) {
  ProcessResult report =
      run_cli({"run", "Create a Python web app", "--backend", "sim", "--workspace",
               workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const auto report_path = dir_.path() / "report.json";
  std::ofstream(report_path) << report.out;
  ProcessResult result = run_cli({"run", "--plan", report_path.string(), "--backend", "sim",
                                  "--workspace", workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("holds a run report, not a plan"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("runs show ID --plan"), std::string::npos) << result.err;
}

TEST_F(SimRunTest, InvalidPlanFileNamesTheProblem) {
  json plan = sample_plan();
  plan["tasks"][0]["depends_on"] = {"review"};  // design -> app -> review -> design
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << plan.dump();
  ProcessResult result = run_cli({"run", "--plan", plan_path.string(), "--backend", "sim",
                                  "--workspace", workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("cycle"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(workspace()));
}

// Every task request carries the goal and the task's text, so a task that cannot fit in the
// context is a usage error before the run starts, on the simulated backend too.
TEST_F(SimRunTest, PlanTaskLargerThanContextIsUsageError) {
  json plan = sample_plan();
  plan["tasks"][1]["description"] = std::string(40000, 'x');
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << plan.dump();
  ProcessResult result =
      run_cli({"run", "--plan", plan_path.string(), "--backend", "sim", "--num-ctx", "4096",
               "--workspace", workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  const std::string task_id = plan["tasks"][1]["id"];
  EXPECT_NE(result.err.find("task '" + task_id + "'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--num-ctx"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(plan_path.string()), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(workspace()));
  json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  EXPECT_TRUE(runs.empty()) << runs.dump();

  ProcessResult larger =
      run_cli({"run", "--plan", plan_path.string(), "--backend", "sim", "--num-ctx", "16384",
               "--workspace", workspace().string(), "--db", db().string()});
  EXPECT_EQ(larger.exit_code, 0) << larger.out << larger.err;
}

TEST_F(SimRunTest, GoalFlagReplacingPlanGoalIsNoted) {
  json plan = sample_plan();
  plan["goal"] = "Create a Python web app";
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << plan.dump();
  ProcessResult result =
      run_cli({"run", "Write a CLI instead", "--plan", plan_path.string(), "--backend", "sim",
               "--workspace", workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["goal"], "Write a CLI instead");
  bool noted = false;
  for (const json& note : report["notes"]) {
    noted = noted ||
            note.get<std::string>().find(
                "replaces the plan file's goal \"Create a Python web app\"") != std::string::npos;
  }
  EXPECT_TRUE(noted) << report["notes"].dump();
  // The log warns as well, since a report's notes are easy to miss.
  EXPECT_NE(result.err.find("warning [flow] the goal on the command line replaces"),
            std::string::npos)
      << result.err;
}

TEST_F(SimRunTest, TraversalPathsInPlanWriteNothingOutside) {
  const std::vector<std::string> hostile = {"../../../../tmp/malicious.py", "../../../etc/passwd",
                                            "/etc/cron.d/evil", "..\\..\\x", ".git/config"};
  for (const std::string& path : hostile) {
    json plan = sample_plan();
    plan["tasks"][0]["files"] = {path};
    const auto plan_path = dir_.path() / "plan.json";
    std::ofstream(plan_path) << plan.dump();
    ProcessResult result = run_cli({"run", "--plan", plan_path.string(), "--backend", "sim",
                                    "--workspace", workspace().string(), "--db", db().string()});
    EXPECT_EQ(result.exit_code, 2) << path;
    EXPECT_NE(result.err.find("design"), std::string::npos) << result.err;
    EXPECT_FALSE(std::filesystem::exists(workspace())) << path;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "etc"));
}

TEST_F(SimRunTest, GoalLargerThanContextIsUsageError) {
  const std::string goal(4 * 1024, 'x');
  ProcessResult result = run_cli({"run", goal, "--backend", "sim", "--num-ctx", "256", "--db",
                                  db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.err.find("the goal is about 1024 tokens"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--num-ctx"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "a usage error journals nothing";
}

TEST_F(SimRunTest, LargeGoalIsReportedInNotes) {
  const std::string goal = "Write notes about " + std::string(4 * 7000, 'x');
  ProcessResult result = run_cli({"run", goal, "--backend", "sim", "--db", db().string(),
                                  "--workspace", workspace().string(), "--json"});
  const json report = parse_json(result);
  EXPECT_NE(report["notes"].dump().find("server.num_predict"), std::string::npos)
      << report["notes"].dump();
}

TEST_F(SimRunTest, ConfigShowNamesSources) {
  const auto config_path = dir_.path() / "config.json";
  std::ofstream(config_path) << R"({"gpu_scaling": {"max_agents": 5}})";
  ProcessResult result =
      run_cli({"config", "show", "--config", config_path.string(), "--min-agents", "2", "--json"},
              {{"SCALING_STRATEGY", "CONSERVATIVE"}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json shown = parse_json(result);
  EXPECT_EQ(shown["values"]["gpu_scaling"]["max_agents"], 5);
  EXPECT_EQ(shown["values"]["gpu_scaling"]["min_agents"], 2);
  EXPECT_EQ(shown["sources"]["gpu_scaling.max_agents"], "file:" + config_path.string());
  EXPECT_EQ(shown["sources"]["gpu_scaling.min_agents"], "flag:--min-agents");
  EXPECT_EQ(shown["sources"]["auto_scaling.strategy"], "env:SCALING_STRATEGY");
}

TEST_F(SimRunTest, WrongFlagValueIsUsageError) {
  ProcessResult result = run_cli({"run", "x", "--backend", "sim", "--strategy", "FASTEST"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("FASTEST"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("HYBRID"), std::string::npos) << result.err;
}

TEST_F(SimRunTest, InteractiveLoopRunsCommands) {
  const std::string input =
      "help\nstrategy aggressive\nstrategy\nCreate a CLI tool\nhistory\nstatus\nquit\n";
  ProcessResult result = run_cli({"interactive", "--backend", "sim", "--auto-scaling", "--db",
                                  db().string(), "--workspace", workspace().string()},
                                 {}, input);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("strategy NAME"), std::string::npos);
  EXPECT_NE(result.out.find("strategy set to AGGRESSIVE"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("current strategy: AGGRESSIVE"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("1. Create a CLI tool"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("succeeded"), std::string::npos) << result.out;
  // status prints a summary of the last run, not its JSON.
  EXPECT_NE(result.out.find("Strategy AGGRESSIVE for the next goals, auto-scaling on; the last "
                            "run (SIMULATED: on the simulated backend):"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("  scaling:  AGGRESSIVE"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  queue:    "), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("\"scaling\""), std::string::npos) << result.out;
}

// Each goal's line is escaped and cut as in the runs listing, so that a goal cannot send escape
// sequences to the terminal or fill the screen.
TEST_F(SimRunTest, InteractiveHistoryEscapesAndCutsGoals) {
  const std::string long_goal = "Write " + std::string(100, 'x');
  const std::string input = std::string("Build\n\x1b[2J evil \x07 goal\nnul ") + '\0' +
                            " and \xFF byte\n" + long_goal + "\nhistory\nquit\n";
  ProcessResult result = run_cli({"interactive", "--backend", "sim", "--db", db().string(),
                                  "--workspace", workspace().string()},
                                 {}, input);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("  1. Build  ["), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  2. \\x1B[2J evil \\x07 goal  ["), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  3. nul \\x00 and \\xFF byte  ["), std::string::npos) << result.out;
  // 60 columns: 59 characters of the goal and the ellipsis.
  EXPECT_NE(result.out.find("  4. " + long_goal.substr(0, 59) + "\u2026  ["), std::string::npos)
      << result.out;
  for (const char raw : {'\x1b', '\x07', '\0', '\xFF'}) {
    EXPECT_EQ(result.out.find(raw), std::string::npos)
        << "raw byte " << static_cast<int>(static_cast<unsigned char>(raw)) << " in:\n"
        << result.out;
  }
}

// A goal that starts with a command word is a goal; only a command alone is a command.
TEST_F(SimRunTest, InteractiveGoalMayStartWithCommandWord) {
  const std::string input =
      "status page for my website\nexit interview survey app\nstrategy document for Q3\n"
      "history\nquit\n";
  ProcessResult result = run_cli({"interactive", "--backend", "sim", "--db", db().string(),
                                  "--workspace", workspace().string()},
                                 {}, input);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("  1. status page for my website  ["), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  2. exit interview survey app  ["), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  3. strategy document for Q3  ["), std::string::npos) << result.out;
  EXPECT_EQ((result.out + result.err).find("unknown strategy"), std::string::npos)
      << result.out << result.err;
}

// With --json, standard output carries one JSON document per line and nothing else: the banner,
// the prompts, the help and the notes go to standard error.
TEST_F(SimRunTest, InteractiveJsonStdoutIsOnlyJson) {
  const std::string input =
      "history\nhelp\nstrategy\nstrategy bogus\nstrategy hybrid\nCreate a CLI tool\nstatus\n"
      "agents\nhistory\nquit\n";
  ProcessResult result = run_cli({"interactive", "--backend", "sim", "--json", "--db",
                                  db().string(), "--workspace", workspace().string()},
                                 {}, input);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<json> documents;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    const json document = json::parse(line, nullptr, false);
    ASSERT_FALSE(document.is_discarded()) << "not a JSON line: " << line << "\nstdout:\n"
                                          << result.out;
    ASSERT_TRUE(document.is_object()) << line;
    documents.push_back(document);
  }
  ASSERT_EQ(documents.size(), 6u) << result.out;
  EXPECT_EQ(documents[0], json({{"history", json::array()}}));
  EXPECT_EQ(documents[1]["strategy"], "HYBRID");
  EXPECT_EQ(documents[2]["status"], "succeeded");
  EXPECT_EQ(documents[3]["strategy"], "HYBRID");
  EXPECT_EQ(documents[3]["simulated"], true) << documents[3].dump();
  EXPECT_TRUE(documents[4].contains("agents")) << documents[4].dump();
  ASSERT_EQ(documents[5]["history"].size(), 1u) << documents[5].dump();
  EXPECT_EQ(documents[5]["history"][0]["goal"], "Create a CLI tool");
  EXPECT_EQ(documents[5]["history"][0]["run_id"], documents[2]["run_id"]);
  EXPECT_EQ(documents[5]["history"][0]["status"], "succeeded");

  EXPECT_NE(result.err.find("ollama-flow interactive: type a goal"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("ollama-flow> "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("strategy NAME"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("unknown strategy 'bogus'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("strategy set to HYBRID"), std::string::npos) << result.err;
}

TEST_F(SimRunTest, InteractiveJsonStatusIsJson) {
  ProcessResult result = run_cli({"interactive", "--backend", "sim", "--json", "--db",
                                  db().string(), "--workspace", workspace().string()},
                                 {}, "status\nquit\n");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const json status = parse_json(result);
  EXPECT_EQ(status["strategy"], "HYBRID") << result.out;
  // The simulated backend was chosen, so the goals of the session are simulated before any ran.
  EXPECT_EQ(status["simulated"], true) << result.out;
  EXPECT_EQ(result.out.find("for the next goals"), std::string::npos) << result.out;

  ProcessResult text = run_cli({"interactive", "--backend", "sim", "--db", db().string(),
                                "--workspace", workspace().string()},
                               {}, "agents\nstatus\nquit\n");
  ASSERT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_NE(text.out.find("  agents:   none"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("no goal has run in this session yet"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("queued (oldest - s)"), std::string::npos) << text.out;
}

TEST_F(SimRunTest, InteractiveBannerNamesBackend) {
  ProcessResult sim =
      run_cli({"interactive", "--backend", "sim", "--db", db().string()}, {}, "quit\n");
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  EXPECT_NE(sim.out.find("Backend sim (simulated)"), std::string::npos) << sim.out;

  const std::string host = "http://127.0.0.1:" + std::to_string(closed_port());
  ProcessResult named =
      run_cli({"interactive", "--host", host, "--db", db().string()}, {}, "quit\n");
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_NE(named.out.find("Backend ollama at " + host + ","), std::string::npos) << named.out;

  ProcessResult fallback = run_cli({"interactive", "--db", db().string()}, {}, "quit\n");
  ASSERT_EQ(fallback.exit_code, 0) << fallback.err;
  EXPECT_NE(fallback.out.find("Backend ollama at http://127.0.0.1:11434 (each goal runs on the "
                              "simulated backend when it does not respond)"),
            std::string::npos)
      << fallback.out;
}

TEST_F(SimRunTest, ResumeRedoesTasksWhoseFilesAreGone) {
  const std::string run_id = run_sample_plan();
  ASSERT_FALSE(run_id.empty());
  std::filesystem::remove(workspace() / "app/main.py");
  // The run's own workspace, written with a trailing separator, is the same folder.
  ProcessResult resumed = run_cli({"run", "--resume", run_id, "--backend", "sim", "--workspace",
                                   workspace().string() + "/", "--db", db().string(), "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  json report = parse_json(resumed);
  EXPECT_TRUE(std::filesystem::exists(workspace() / "app/main.py"));
  // The app task ran again and rewrote its other file, which is not a conflict.
  EXPECT_TRUE(report["conflicts"].empty()) << report["conflicts"].dump();
  bool noted = false;
  for (const json& note : report["notes"]) {
    noted = noted || note.get<std::string>().find("app/main.py is no longer in the workspace") !=
                         std::string::npos;
  }
  EXPECT_TRUE(noted) << report["notes"].dump();
  for (const json& task : report["tasks"]) {
    EXPECT_EQ(task.value("resumed", false), task["id"] != "app") << task.dump();
  }
}

TEST_F(SimRunTest, PlanFileWithDuplicateKeyExitsTwo) {
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << R"({"tasks": [{"id": "a", "role": "developer", "id": "b",
                                             "description": "d"}]})";
  ProcessResult result = run_cli({"run", "--plan", plan_path.string(), "--backend", "sim",
                                  "--workspace", workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("has the key \"id\" twice in one object, at line 1 column 13 and "
                            "line 1 column 45"),
            std::string::npos)
      << result.err;
}

TEST_F(SimRunTest, DeeplyNestedPlanFileExitsTwo) {
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << "{\"tasks\": " << std::string(50000, '[') << std::string(50000, ']')
                           << "}";
  ProcessResult result = run_cli({"run", "--plan", plan_path.string(), "--backend", "sim",
                                  "--workspace", workspace().string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("nests deeper than 128 levels"), std::string::npos) << result.err;
}

TEST_F(SimRunTest, ResumeThatCannotStartKeepsTheRunsStatus) {
  const std::string run_id = run_sample_plan();
  ASSERT_FALSE(run_id.empty());
  const std::filesystem::path other = dir_.path() / "other-ws";
  ProcessResult moved = run_cli({"run", "--resume", run_id, "--backend", "sim", "--workspace",
                                 other.string(), "--db", db().string()});
  EXPECT_EQ(moved.exit_code, 2) << moved.err;
  EXPECT_NE(moved.err.find("a resumed run continues in its own workspace"), std::string::npos)
      << moved.err;
  EXPECT_NE(moved.err.find("the workspace '" + other.string() + "' (from flag --workspace)"),
            std::string::npos)
      << moved.err;
  EXPECT_FALSE(std::filesystem::exists(other));

  ProcessResult planned = run_cli(
      {"run", "Write a note", "--plan-only", "--backend", "sim", "--db", db().string(), "--json"});
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  ASSERT_EQ(runs.size(), 2u);
  std::string plan_only_id;
  for (const json& run : runs) {
    if (run["id"] != run_id) {
      plan_only_id = run["id"];
    }
  }
  ProcessResult plan_only =
      run_cli({"run", "--resume", plan_only_id, "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(plan_only.exit_code, 2) << plan_only.err;
  EXPECT_NE(plan_only.err.find("only planned"), std::string::npos) << plan_only.err;

  ProcessResult missing = run_cli(
      {"run", "--resume", "r-20260101-000000-abcd", "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("'r-20260101-000000-abcd' not found"), std::string::npos)
      << missing.err;

  // A file where the run's folder was: the fix is to restore the folder, as --workspace cannot
  // move a resumed run.
  std::filesystem::rename(workspace(), dir_.path() / "ws-moved");
  std::ofstream(workspace()) << "not a folder\n";
  ProcessResult replaced =
      run_cli({"run", "--resume", run_id, "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(replaced.exit_code, 2) << replaced.err;
  EXPECT_NE(replaced.err.find("exists but is not a folder: run '" + run_id +
                              "' resumes only in its own workspace"),
            std::string::npos)
      << replaced.err;
  EXPECT_EQ(replaced.err.find("--workspace"), std::string::npos) << replaced.err;

  for (const json& run : parse_json(run_cli({"runs", "--db", db().string(), "--json"}))) {
    EXPECT_EQ(run["status"], run["id"] == run_id ? "succeeded" : "planned") << run.dump();
  }
}

// Each attempt row keeps the time its request was sent, before the time its reply came back.
TEST_F(SimRunTest, AttemptStartsBeforeItFinishes) {
  std::unique_ptr<ChildProcess> child = start_slow_run(400, /*json_report=*/true);
  ASSERT_EQ(child->wait(std::chrono::seconds(60)), 0) << child->read_err();
  Result<store::Database> database = store::Database::open(db().string());
  ASSERT_TRUE(database.is_ok()) << database.status().to_string();
  Result<store::Statement> rows =
      database->prepare("SELECT task_id, started_at, finished_at FROM attempts");
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  int count = 0;
  while (rows->step().value_or(false)) {
    ++count;
    const std::string started = rows->column_text(1);
    const std::string finished = rows->column_text(2);
    // ISO 8601 times of one format and zone sort as text.
    EXPECT_LT(started, finished) << rows->column_text(0);
  }
  EXPECT_EQ(count, 4);
}

// A stored plan that is JSON but fails the plan checks is a damaged journal: the resume exits 2
// before the run is reopened, and `runs show` names the plan as unreadable.
TEST_F(SimRunTest, ResumeOfInvalidStoredPlanKeepsTheRun) {
  const std::string run_id = run_sample_plan();
  ASSERT_FALSE(run_id.empty());
  const json before =
      parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  json escaping = sample_plan();
  escaping["tasks"][0]["files"] = {"../../escape.txt"};
  // A valid plan whose first task has another id, with its dependencies renamed to match.
  json renamed = sample_plan();
  const std::string old_id = renamed["tasks"][0]["id"];
  for (json& task : renamed["tasks"]) {
    if (task["id"] == old_id) {
      task["id"] = old_id + "x";
    }
    for (json& dependency : task["depends_on"]) {
      if (dependency == old_id) {
        dependency = old_id + "x";
      }
    }
  }
  const std::vector<std::pair<json, std::string>> cases = {
      {json{{"tasks", 5}}, "tasks: expected a list"},
      {escaping, "../../escape.txt"},
      {renamed, "task \"" + old_id + "\" is journaled for the run but is not in the plan"},
  };
  for (const auto& [stored, problem] : cases) {
    {
      Result<store::Database> database = store::Database::open(db().string());
      ASSERT_TRUE(database.is_ok()) << database.status().to_string();
      Result<store::Statement> update =
          database->prepare("UPDATE plans SET plan = ? WHERE accepted = 1");
      ASSERT_TRUE(update.is_ok()) << update.status().to_string();
      ASSERT_TRUE(update->bind_all(stored.dump()).is_ok());
      ASSERT_TRUE(update->run().is_ok());
    }
    const std::string invalid = "the accepted plan of run '" + run_id + "' is not a valid plan";
    ProcessResult resume =
        run_cli({"run", "--resume", run_id, "--backend", "sim", "--db", db().string()});
    EXPECT_EQ(resume.exit_code, 2) << resume.err;
    EXPECT_NE(resume.err.find(invalid), std::string::npos) << resume.err;
    EXPECT_NE(resume.err.find(problem), std::string::npos) << resume.err;
    EXPECT_NE(resume.err.find("start its goal again as a new run"), std::string::npos)
        << resume.err;
    EXPECT_EQ(resume.err.find("planning failed"), std::string::npos) << resume.err;
    EXPECT_FALSE(std::filesystem::exists(dir_.path().parent_path() / "escape.txt"));

    ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string(), "--json"});
    EXPECT_EQ(shown.exit_code, 1) << shown.err;
    EXPECT_NE(shown.err.find("cannot read the run's accepted plan"), std::string::npos)
        << shown.err;
    EXPECT_NE(shown.err.find(invalid), std::string::npos) << shown.err;
    const json after = parse_json(shown);
    EXPECT_EQ(after["status"], "succeeded") << after.dump();
    EXPECT_EQ(after["finished_at"], before["finished_at"]) << after.dump();

    ProcessResult plan = run_cli({"runs", "show", run_id, "--plan", "--db", db().string()});
    EXPECT_EQ(plan.exit_code, 1) << plan.err;
    EXPECT_NE(plan.err.find(invalid), std::string::npos) << plan.err;
    EXPECT_EQ(plan.out, "") << plan.out;
  }
}

// A run planned under a higher run.max_tasks resumes under a lower one, because its journaled
// plan passed the limit of its own run and is not damaged by the new one.
TEST_F(SimRunTest, ResumeKeepsPlanAboveLowerMaxTasks) {
  const std::string run_id = run_sample_plan();
  ASSERT_FALSE(run_id.empty());
  ASSERT_GT(sample_plan()["tasks"].size(), 2u);
  std::filesystem::remove(workspace() / "app/main.py");
  const std::filesystem::path config = dir_.path() / "two-tasks.json";
  std::ofstream(config) << json{{"run", {{"max_tasks", 2}}}}.dump();

  ProcessResult resumed = run_cli({"run", "--resume", run_id, "--backend", "sim", "--config",
                                   config.string(), "--db", db().string(), "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(resumed.err.find("not a valid plan"), std::string::npos) << resumed.err;
  EXPECT_TRUE(std::filesystem::exists(workspace() / "app/main.py"));
  EXPECT_EQ(parse_json(resumed)["tasks"].size(), sample_plan()["tasks"].size());

  ProcessResult shown = run_cli(
      {"runs", "show", run_id, "--config", config.string(), "--db", db().string(), "--json"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(shown.err.find("not a valid plan"), std::string::npos) << shown.err;
}

// A workspace folder replaced by a symbolic link since the run began is rejected on resume, and
// nothing is written into the link's target.
TEST_F(SimRunTest, ResumeRejectsWorkspaceReplacedByLink) {
  const std::string run_id = run_sample_plan();
  ASSERT_FALSE(run_id.empty());
  std::filesystem::rename(workspace(), dir_.path() / "ws-moved");
  const std::filesystem::path elsewhere = dir_.path() / "elsewhere";
  std::filesystem::create_directories(elsewhere);
  std::filesystem::create_directory_symlink(elsewhere, workspace());

  ProcessResult resumed =
      run_cli({"run", "--resume", run_id, "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(resumed.exit_code, 2) << resumed.out << resumed.err;
  EXPECT_NE(resumed.err.find("the workspace '" + workspace().string() +
                             "' is a symbolic link to '" + elsewhere.string() + "'"),
            std::string::npos)
      << resumed.err;
  EXPECT_NE(resumed.err.find("restore the folder, or start a new run"), std::string::npos)
      << resumed.err;
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
  const json shown = parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  EXPECT_EQ(shown["status"], "succeeded") << shown.dump();
}

// A link that replaced a folder above the workspace would also lead the resume elsewhere.
TEST_F(SimRunTest, ResumeRejectsParentReplacedByLink) {
  const std::filesystem::path parent = dir_.path() / "parent";
  const std::filesystem::path nested = parent / "ws";
  const auto plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << sample_plan().dump();
  const ProcessResult first =
      run_cli({"run", "--plan", plan_path.string(), "--backend", "sim", "--workspace",
               nested.string(), "--db", db().string(), "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::string run_id = parse_json(first).value("run_id", "");
  std::filesystem::rename(parent, dir_.path() / "parent-moved");
  const std::filesystem::path elsewhere = dir_.path() / "elsewhere";
  std::filesystem::create_directories(elsewhere);
  std::filesystem::create_directory_symlink(elsewhere, parent);

  ProcessResult resumed =
      run_cli({"run", "--resume", run_id, "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(resumed.exit_code, 2) << resumed.out << resumed.err;
  EXPECT_NE(resumed.err.find("because a folder above it became a symbolic link"), std::string::npos)
      << resumed.err;
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
}

// A run started through a symbolic link to its folder stores the folder itself, so its resume
// writes there without following the link.
TEST_F(SimRunTest, RunThroughLinkStoresItsFolder) {
  const std::filesystem::path folder = dir_.path() / "real-ws";
  std::filesystem::create_directories(folder);
  std::filesystem::create_directory_symlink(folder, workspace());
  const std::string run_id = run_sample_plan();
  ASSERT_FALSE(run_id.empty());
  const json shown = parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  EXPECT_EQ(shown["workspace"], std::filesystem::canonical(folder).string()) << shown.dump();

  std::filesystem::remove(folder / "app/main.py");
  ProcessResult resumed = run_cli({"run", "--resume", run_id, "--backend", "sim", "--workspace",
                                   workspace().string(), "--db", db().string()});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_TRUE(std::filesystem::exists(folder / "app/main.py"));
}

// Returns the text between the `n`-th pair of backticks of `text`, counting from 0, or "".
std::string quoted_command(const std::string& text, int n) {
  size_t start = 0;
  for (int i = 0; i <= n; ++i) {
    start = text.find('`', start);
    if (start == std::string::npos) {
      return "";
    }
    ++start;
    const size_t end = text.find('`', start);
    if (end == std::string::npos) {
      return "";
    }
    if (i == n) {
      return text.substr(start, end - start);
    }
    start = end + 1;
  }
  return "";
}

// The text output of a plan-only run ends with the run id, which `runs show ID --plan` takes.
TEST_F(SimRunTest, PlanOnlyTextNamesTheRun) {
  const ProcessResult text = run_cli(
      {"run", "Create a Python web app", "--backend", "sim", "--plan-only", "--db", db().string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("journaled this plan: `ollama-flow runs show r-"), std::string::npos)
      << text.out;
}

TEST_F(SimRunTest, PlanOnlyResumeHintRunsThePlan) {
  // A journal path with a space, so that the hint must quote it for the shell.
  const std::filesystem::path journal = dir_.path() / "my journal.db";
  ProcessResult planned = run_cli({"run", "Write a note", "--plan-only", "--backend", "sim", "--db",
                                   journal.string(), "--json"});
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  const json plan = parse_json(planned);
  json runs = parse_json(run_cli({"runs", "--db", journal.string(), "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  const std::string run_id = runs[0]["id"];

  ProcessResult resume =
      run_cli({"run", "--resume", run_id, "--backend", "sim", "--db", journal.string()});
  ASSERT_EQ(resume.exit_code, 2) << resume.err;
  const std::string save = quoted_command(resume.err, 0);
  const std::string rerun = quoted_command(resume.err, 1);
  ASSERT_NE(save.find("ollama-flow runs show " + run_id), std::string::npos) << resume.err;
  ASSERT_NE(rerun.find("ollama-flow run --plan"), std::string::npos) << resume.err;
  runs = parse_json(run_cli({"runs", "--db", journal.string(), "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "planned") << runs.dump();

  // The hint's commands run in a shell that finds ollama-flow on PATH, as a user's would.
  const std::string path =
      binary_path().parent_path().string() + ":" + std::string(std::getenv("PATH"));
  ProcessResult saved = run_process({"/bin/sh", "-c", save}, cli_options({{"PATH", path}}));
  ASSERT_EQ(saved.exit_code, 0) << save << ": " << saved.err;
  const json saved_plan = json::parse(read(dir_.path() / "plan.json"), nullptr, false);
  EXPECT_EQ(saved_plan, plan) << read(dir_.path() / "plan.json");

  // The hint leaves the backend to the user, so this test chooses the simulated one.
  const std::string rerun_here =
      rerun + " --backend sim --workspace " + workspace().string() + " --json";
  ProcessResult ran = run_process({"/bin/sh", "-c", rerun_here}, cli_options({{"PATH", path}}));
  ASSERT_EQ(ran.exit_code, 0) << rerun_here << ": " << ran.err;
  const json report = parse_json(ran);
  EXPECT_EQ(report["status"], "succeeded") << ran.out;
  EXPECT_EQ(report["tasks"].size(), plan["tasks"].size()) << ran.out;
}

}  // namespace
}  // namespace ollamaflow::testing
