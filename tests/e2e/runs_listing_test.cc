// End-to-end checks of the `runs` listing: one line per run whatever the goal, and a hint when
// the limit hides runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "core/terminal_text.h"
#include "e2e/e2e_support.h"
#include "store/journal.h"
#include "store/sqlite.h"

namespace ollamaflow::testing {
namespace {

class RunsListingTest : public E2eTest {
 protected:
  // Stores finished runs with these goals in the test's journal, the last one newest.
  void store_runs(const std::vector<std::string>& goals) {
    Result<std::unique_ptr<store::Journal>> journal = store::Journal::open(db().string());
    ASSERT_TRUE(journal.is_ok()) << journal.status().to_string();
    for (const std::string& goal : goals) {
      store::RunRecord record;
      record.goal = goal;
      record.backend = "sim";
      Result<store::RunRecord> run = (*journal)->create_run(record);
      ASSERT_TRUE(run.is_ok()) << run.status().to_string();
      Status finished = (*journal)->finish_run(run->id, store::RunStatus::kSucceeded, 0, {});
      ASSERT_TRUE(finished.is_ok()) << finished.to_string();
    }
  }

  // Returns the terminal column at which `text` starts in `line`, or npos when it is missing.
  static size_t column_of(const std::string& line, const std::string& text) {
    const size_t offset = line.find(text);
    return offset == std::string::npos ? offset : printed_width(line.substr(0, offset));
  }

  // Returns the lines of `text`.
  static std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t begin = 0;
    while (begin < text.size()) {
      const size_t end = text.find('\n', begin);
      lines.push_back(text.substr(begin, end - begin));
      begin = end == std::string::npos ? text.size() : end + 1;
    }
    return lines;
  }

  // Returns the lines of the text listing.
  std::vector<std::string> list(const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> args = {"runs", "--db", db().string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    ProcessResult result = run_cli(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return split_lines(result.out);
  }
};

// A 32-character task id, a long model name and scaling actions of different lengths leave the
// tables of `runs show` aligned under their header rows, and a model name past 40 columns is cut.
TEST_F(RunsListingTest, ShowTablesAlignLongValues) {
  const std::string long_id = "implement-the-http-request-layer";  // 32 characters
  const std::string long_model = "hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M-\u65e5";
  std::string run_id;
  {
    Result<std::unique_ptr<store::Journal>> journal = store::Journal::open(db().string());
    ASSERT_TRUE(journal.is_ok()) << journal.status().to_string();
    store::RunRecord record;
    record.goal = "Build a web app";
    record.backend = "ollama";
    Result<store::RunRecord> run = (*journal)->create_run(record);
    ASSERT_TRUE(run.is_ok()) << run.status().to_string();
    run_id = run->id;
    const std::vector<std::tuple<std::string, std::string, std::string>> tasks = {
        {long_id, long_model, "src/http.py"}, {"docs", "m", "docs/design.md"}};
    for (const auto& [id, model, file] : tasks) {
      store::TaskRecord task;
      task.run_id = run_id;
      task.task_id = id;
      task.role = "developer";
      task.status = std::string(store::kTaskSucceeded);
      task.agent_id = "agent-1";
      task.model = model;
      task.files = {file};
      ASSERT_TRUE((*journal)->upsert_task(task).is_ok());
    }
    for (const auto& [action, from, to] :
         std::vector<std::tuple<std::string, int, int>>{{"scale_up", 1, 12}, {"hold", 12, 12}}) {
      store::ScalingEventRecord event;
      event.run_id = run_id;
      event.time = "2026-12-04T15:51:07.123Z";
      event.action = action;
      event.from_count = from;
      event.to_count = to;
      event.reason = "reason of " + action;
      ASSERT_TRUE((*journal)->add_scaling_event(event).is_ok());
    }
    ASSERT_TRUE((*journal)->flush().is_ok());
    Status finished = (*journal)->finish_run(run_id, store::RunStatus::kSucceeded, 0, {});
    ASSERT_TRUE(finished.is_ok()) << finished.to_string();
  }
  const ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const std::vector<std::string> lines = split_lines(shown.out);
  const auto tasks_title = std::find(lines.begin(), lines.end(), "Tasks:");
  ASSERT_NE(tasks_title, lines.end()) << shown.out;
  ASSERT_GE(lines.end() - tasks_title, 4) << shown.out;
  const std::string& header = *(tasks_title + 1);
  EXPECT_EQ(header.rfind("  id", 0), 0u) << header;
  const std::vector<std::string> rows = {*(tasks_title + 2), *(tasks_title + 3)};
  EXPECT_EQ(column_of(rows[0], long_id), column_of(header, "id")) << shown.out;
  for (const std::string& row : rows) {
    EXPECT_EQ(column_of(row, "succeeded"), column_of(header, "status")) << shown.out;
    EXPECT_EQ(column_of(row, "developer"), column_of(header, "role")) << shown.out;
    EXPECT_EQ(column_of(row, "agent-1"), column_of(header, "agent")) << shown.out;
  }
  EXPECT_EQ(column_of(rows[0], "src/http.py"), column_of(header, "files written")) << shown.out;
  EXPECT_EQ(column_of(rows[1], "docs/design.md"), column_of(header, "files written")) << shown.out;
  // The model is cut to 39 columns and an ellipsis.
  const std::string cut_model = long_model.substr(0, 39) + "\u2026";
  EXPECT_EQ(column_of(rows[0], cut_model), column_of(header, "model")) << shown.out;
  EXPECT_EQ(rows[0].find(long_model), std::string::npos) << rows[0];
  EXPECT_EQ(column_of(rows[1], " m ") + 1, column_of(header, "model")) << shown.out;

  const auto scaling_title = std::find(lines.begin(), lines.end(), "Scaling events:");
  ASSERT_NE(scaling_title, lines.end()) << shown.out;
  ASSERT_GE(lines.end() - scaling_title, 4) << shown.out;
  const std::string& scaling_header = *(scaling_title + 1);
  EXPECT_EQ(scaling_header.rfind("  time", 0), 0u) << scaling_header;
  for (const auto& [offset, action, agents] :
       std::vector<std::tuple<int, std::string, std::string>>{{2, "scale_up", "1 -> 12"},
                                                              {3, "hold", "12 -> 12"}}) {
    const std::string& row = *(scaling_title + offset);
    EXPECT_EQ(column_of(row, action), column_of(scaling_header, "action")) << shown.out;
    EXPECT_EQ(column_of(row, agents), column_of(scaling_header, "agents")) << shown.out;
    EXPECT_EQ(column_of(row, "reason of " + action), column_of(scaling_header, "reason"))
        << shown.out;
  }
}

// A plan that another program damaged is named as unreadable, and the tasks still show.
TEST_F(RunsListingTest, ShowNamesUnreadablePlan) {
  const ProcessResult first =
      run_cli({"run", "Write a note", "--backend", "sim", "--db", db().string(), "--workspace",
               workspace().string(), "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string run_id = parse_json(first)["run_id"];
  {
    Result<store::Database> database = store::Database::open(db().string());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database->exec("UPDATE plans SET plan = '{broken'").is_ok());
  }
  for (const bool json_output : {false, true}) {
    std::vector<std::string> args = {"runs", "show", run_id, "--db", db().string()};
    if (json_output) {
      args.push_back("--json");
    }
    const ProcessResult shown = run_cli(args);
    EXPECT_EQ(shown.exit_code, 1) << shown.err;
    EXPECT_NE(shown.err.find("cannot read the run's accepted plan: journal '" + db().string() +
                             "': plan attempt 1 of run '" + run_id + "' is not valid JSON"),
              std::string::npos)
        << shown.err;
    EXPECT_NE(shown.out.find("docs/design.md"), std::string::npos) << "tasks are missing";
  }
}

// A --plan-only run names no workspace, and `runs show` prints that instead of a path.
TEST_F(RunsListingTest, PlanOnlyRunShowsNoWorkspace) {
  const ProcessResult planned =
      run_cli({"run", "Write a note", "--backend", "sim", "--plan-only", "--db", db().string(),
               "--workspace", workspace().string(), "--json"});
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  const ProcessResult ran = run_cli({"run", "Write a note", "--backend", "sim", "--db",
                                     db().string(), "--workspace", workspace().string(), "--json"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const nlohmann::json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  ASSERT_EQ(runs.size(), 2u) << runs.dump();
  const std::string ran_id = runs[0]["id"];
  const std::string planned_id = runs[1]["id"];
  ASSERT_EQ(runs[1]["status"], "planned") << runs.dump();
  EXPECT_TRUE(runs[1]["workspace"].is_null()) << runs.dump();

  const ProcessResult shown = run_cli({"runs", "show", planned_id, "--db", db().string()});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("\n  workspace: none, because a --plan-only run writes no files\n"),
            std::string::npos)
      << shown.out;
  const nlohmann::json document =
      parse_json(run_cli({"runs", "show", planned_id, "--db", db().string(), "--json"}));
  EXPECT_TRUE(document["workspace"].is_null()) << document.dump();
  EXPECT_EQ(document["no_workspace_reason"], "a --plan-only run writes no files");

  // A run that opened its workspace names it.
  const ProcessResult full = run_cli({"runs", "show", ran_id, "--db", db().string()});
  EXPECT_NE(full.out.find("\n  workspace: " + workspace().string() + "\n"), std::string::npos)
      << full.out;
  const nlohmann::json full_document =
      parse_json(run_cli({"runs", "show", ran_id, "--db", db().string(), "--json"}));
  EXPECT_EQ(full_document["workspace"], workspace().string());
  EXPECT_FALSE(full_document.contains("no_workspace_reason")) << full_document.dump();
}

// A backend name longer than the old fixed column of 8 leaves the goals in one column.
TEST_F(RunsListingTest, ListAlignsLongBackend) {
  {
    Result<std::unique_ptr<store::Journal>> journal = store::Journal::open(db().string());
    ASSERT_TRUE(journal.is_ok()) << journal.status().to_string();
    for (const std::string backend : {"openai-compatible-server", "sim"}) {
      store::RunRecord record;
      record.goal = "goal on " + backend;
      record.backend = backend;
      Result<store::RunRecord> run = (*journal)->create_run(record);
      ASSERT_TRUE(run.is_ok()) << run.status().to_string();
    }
  }
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 3u) << "a header and two rows";
  const size_t goal_column = column_of(lines[0], "goal");
  ASSERT_NE(goal_column, std::string::npos) << lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(column_of(lines[i], "goal on "), goal_column) << lines[0] << "\n" << lines[i];
  }
}

// A run without an end time states why instead of printing an empty "finished:" line.
TEST_F(RunsListingTest, UnfinishedRunSaysNotFinished) {
  Result<std::unique_ptr<store::Journal>> journal = store::Journal::open(db().string());
  ASSERT_TRUE(journal.is_ok()) << journal.status().to_string();
  store::RunRecord record;
  record.goal = "open goal";
  record.backend = "sim";
  Result<store::RunRecord> run = (*journal)->create_run(record);
  ASSERT_TRUE(run.is_ok()) << run.status().to_string();
  journal->reset();
  const ProcessResult shown = run_cli({"runs", "show", run->id, "--db", db().string()});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  // The test process that created the run is alive, so the run is still running.
  EXPECT_NE(shown.out.find("\n  finished:  not finished (running)\n"), std::string::npos)
      << shown.out;
}

// A long run id from an edited journal stays whole in `runs`, so that it can be copied into
// `runs show`, and a stored backend with a bidirectional control character is escaped there.
TEST_F(RunsListingTest, LongIdStaysWholeAndBackendIsEscaped) {
  store_runs({"edited goal"});
  const std::string long_id = "r-" + std::string(60, 'x');
  {
    Result<store::Database> database = store::Database::open(db().string());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database
                    ->exec("UPDATE runs SET id = '" + long_id +
                           "', backend = 'open\u202eai' WHERE goal = 'edited goal'")
                    .is_ok());
  }
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 2u) << "a header and one row";
  EXPECT_NE(lines[1].find(long_id), std::string::npos) << lines[1];
  const ProcessResult shown = run_cli({"runs", "show", long_id, "--db", db().string()});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(shown.out.find("\u202e"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("backend:   open\\u202Eai"), std::string::npos) << shown.out;
}

// One row with a status that this version does not know leaves the other runs listed.
TEST_F(RunsListingTest, UnknownStatusIsListedAsUnknown) {
  store_runs({"older goal", "odd goal", "newer goal"});
  {
    Result<store::Database> database = store::Database::open(db().string());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(database->exec("PRAGMA ignore_check_constraints = ON").is_ok());
    ASSERT_TRUE(
        database->exec("UPDATE runs SET status = 'paused' WHERE goal = 'odd goal'").is_ok());
  }
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 4u) << "a header and three rows";
  EXPECT_NE(lines[1].find("succeeded"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("unknown (\"paused\")"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("odd goal"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("older goal"), std::string::npos) << lines[3];
  // The status column widens for the stored text, so the start times stay in one column.
  const size_t started_column = lines[0].find("started");
  ASSERT_NE(started_column, std::string::npos) << lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].find(" 20"), started_column - 1) << lines[0] << "\n" << lines[i];
  }

  const ProcessResult listed = run_cli({"runs", "--db", db().string(), "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const nlohmann::json runs = parse_json(listed);
  ASSERT_EQ(runs.size(), 3u) << runs.dump();
  EXPECT_EQ(runs[1]["status"], "unknown");
  EXPECT_EQ(runs[1]["stored_status"], "paused");
  EXPECT_FALSE(runs[0].contains("stored_status")) << runs[0].dump();

  const std::string run_id = runs[1]["id"];
  const ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string()});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("Run " + run_id + ": unknown (\"paused\")"), std::string::npos)
      << shown.out;

  // Resuming would replace a status that this version cannot interpret.
  const ProcessResult resumed =
      run_cli({"run", "--resume", run_id, "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(resumed.exit_code, 2) << resumed.err;
  EXPECT_NE(resumed.err.find("has the status \"paused\""), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("start a new run"), std::string::npos) << resumed.err;
}

TEST_F(RunsListingTest, DamagedReportKeepsOtherRuns) {
  store_runs({"older goal", "damaged goal", "newer goal"});
  {
    Result<store::Database> database = store::Database::open(db().string());
    ASSERT_TRUE(database.is_ok()) << database.status().to_string();
    ASSERT_TRUE(
        database->exec("UPDATE runs SET report = '{broken' WHERE goal = 'damaged goal'").is_ok());
  }
  const ProcessResult listed = run_cli({"runs", "--db", db().string()});
  EXPECT_EQ(listed.exit_code, 1) << listed.out << listed.err;
  EXPECT_NE(listed.out.find("older goal"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("damaged goal"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("newer goal"), std::string::npos) << listed.out;

  const ProcessResult as_json = run_cli({"runs", "--db", db().string(), "--json"});
  EXPECT_EQ(as_json.exit_code, 1) << as_json.err;
  const nlohmann::json runs = parse_json(as_json);
  ASSERT_EQ(runs.size(), 3u) << runs.dump();
  const std::string run_id = runs[1]["id"];
  EXPECT_NE(listed.err.find("cannot read the report of run '" + run_id + "': "), std::string::npos)
      << listed.err;

  const ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string()});
  EXPECT_EQ(shown.exit_code, 1) << shown.err;
  EXPECT_NE(shown.out.find("Run " + run_id), std::string::npos) << shown.out;
  EXPECT_NE(shown.err.find("cannot read the run's report"), std::string::npos) << shown.err;
}

TEST_F(RunsListingTest, ControlCharactersInGoalAreEscaped) {
  store_runs({"first line\nsecond\tline\r\x1b[31mred\x7f\xc2\x9b"});
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 2u) << "a header and one row";
  EXPECT_NE(lines[1].find("first line\\nsecond\\tline\\r\\x1B[31mred\\x7F\\u009B"),
            std::string::npos)
      << lines[1];
  EXPECT_EQ(lines[1].find('\x1b'), std::string::npos) << lines[1];
}

// A right-to-left override would show the rest of the line reversed, and a line separator could
// start a new line on some terminals.
TEST_F(RunsListingTest, BidiControlsInGoalAreEscaped) {
  store_runs({"rename \u202Etxt.exe\u2028next\u2029end\u2066x\u2069"});
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 2u) << "a header and one row";
  EXPECT_NE(lines[1].find("rename \\u202Etxt.exe\\u2028next\\u2029end\\u2066x\\u2069"),
            std::string::npos)
      << lines[1];
  EXPECT_EQ(lines[1].find("\u202E"), std::string::npos) << lines[1];
}

TEST_F(RunsListingTest, LongGoalIsCutWithEllipsis) {
  const std::string goal = "Write " + std::string(100, 'g') + " end";
  store_runs({goal});
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 2u);
  const std::string cell = "Write " + std::string(53, 'g') + "\u2026";
  ASSERT_GE(lines[1].size(), cell.size());
  EXPECT_EQ(lines[1].substr(lines[1].size() - cell.size()), cell) << lines[1];
}

TEST_F(RunsListingTest, UnicodeGoalIsCutAtCharacters) {
  std::string goal;
  for (int i = 0; i < 70; ++i) {
    goal += "\u00e9";  // two bytes in UTF-8, one column
  }
  store_runs({goal});
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 2u);
  std::string cell;
  for (int i = 0; i < 59; ++i) {
    cell += "\u00e9";
  }
  cell += "\u2026";
  ASSERT_GE(lines[1].size(), cell.size());
  EXPECT_EQ(lines[1].substr(lines[1].size() - cell.size()), cell) << lines[1];
}

// Wide characters take two columns and combining marks none, so the cut falls at 60 columns.
TEST_F(RunsListingTest, WideAndCombiningGoalsAreCutAtColumns) {
  std::string wide;
  for (int i = 0; i < 45; ++i) {
    wide += "\u65e5";  // a CJK ideograph: two columns
  }
  std::string combining;
  for (int i = 0; i < 70; ++i) {
    combining += "e\u0301";  // e and a combining acute accent: one column
  }
  store_runs({wide, combining});
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 3u);
  std::string wide_cell;
  for (int i = 0; i < 29; ++i) {
    wide_cell += "\u65e5";
  }
  wide_cell += "\u2026";
  std::string combining_cell;
  for (int i = 0; i < 59; ++i) {
    combining_cell += "e\u0301";
  }
  combining_cell += "\u2026";
  // The newest run comes first.
  ASSERT_GE(lines[1].size(), combining_cell.size());
  EXPECT_EQ(lines[1].substr(lines[1].size() - combining_cell.size()), combining_cell) << lines[1];
  ASSERT_GE(lines[2].size(), wide_cell.size());
  EXPECT_EQ(lines[2].substr(lines[2].size() - wide_cell.size()), wide_cell) << lines[2];
}

TEST_F(RunsListingTest, DefaultLimitNamesHiddenRuns) {
  std::vector<std::string> goals;
  for (int i = 0; i < 22; ++i) {
    goals.push_back("goal " + std::to_string(i));
  }
  store_runs(goals);
  const std::vector<std::string> lines = list();
  ASSERT_EQ(lines.size(), 22u) << "a header, 20 rows and the hint";
  EXPECT_EQ(lines[21],
            "2 more runs are not shown: `ollama-flow runs --limit 22` lists all of them");
}

TEST_F(RunsListingTest, LimitNamesOneHiddenRun) {
  store_runs({"one", "two", "three"});
  const std::vector<std::string> lines = list({"--limit", "2"});
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3], "1 more run is not shown: `ollama-flow runs --limit 3` lists all of them");
}

TEST_F(RunsListingTest, AllRunsShownHasNoHint) {
  store_runs({"one", "two"});
  const std::vector<std::string> lines = list({"--limit", "2"});
  EXPECT_EQ(lines.size(), 3u) << "a header and two rows";
}

}  // namespace
}  // namespace ollamaflow::testing
