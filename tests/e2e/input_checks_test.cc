// End-to-end checks of input that the user hands over: files over their size limit or that never
// end, empty values, flags that would be ignored, and text with control characters. Each is a
// usage error (exit 2) whose message names the value and the fix, or, for text, is printed
// escaped.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/e2e_support.h"

namespace ollamaflow::testing {
namespace {

namespace fs = std::filesystem;

// Address space of a binary run under limited_argv(): enough for every command here, and far
// less than a file read whole without a size limit would take.
constexpr const char* kAddressSpaceKiB = "1048576";

class InputChecksTest : public E2eTest {
 protected:
  // Returns the argv that runs the binary with `args` under a limit on its address space, so
  // that a read without a size limit fails fast instead of filling the machine's memory.
  std::vector<std::string> limited_argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {
        "/bin/sh", "-c", std::string("ulimit -v ") + kAddressSpaceKiB + " && exec \"$0\" \"$@\""};
    const std::vector<std::string> binary = cli_argv(args);
    argv.insert(argv.end(), binary.begin(), binary.end());
    return argv;
  }

  ProcessResult run_limited(const std::vector<std::string>& args) {
    return run_process(limited_argv(args), cli_options({}));
  }

  // Creates a sparse file of `size` bytes, which takes no disk space.
  fs::path sparse_file(const std::string& name, uintmax_t size) const {
    const fs::path path = dir_.path() / name;
    std::ofstream(path).close();
    fs::resize_file(path, size);
    return path;
  }

  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }
};

TEST_F(InputChecksTest, LargePlanFileNamesSizeAndLimit) {
  const fs::path plan = sparse_file("plan.json", 300 * 1024 * 1024);
  const ProcessResult result =
      run_limited({"run", "--plan", plan.string(), "--backend", "sim", "--db", db().string(),
                   "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "plan file '" + plan.string() + "' is 300 MiB")) << result.err;
  EXPECT_TRUE(contains(result.err, "more than the limit of 8 MiB")) << result.err;
}

TEST_F(InputChecksTest, EndlessPlanFileIsRejected) {
  const ProcessResult result =
      run_limited({"run", "--plan", "/dev/zero", "--backend", "sim", "--db", db().string(),
                   "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "plan file '/dev/zero' is not a regular file")) << result.err;
  EXPECT_TRUE(contains(result.err, "limit of 8 MiB")) << result.err;
}

TEST_F(InputChecksTest, PlanFromPipeIsRead) {
  // A FIFO is not a regular file, but a plan within the limit is read from it.
  const fs::path fifo = dir_.path() / "plan.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const nlohmann::json plan = sample_plan();
  const std::vector<std::string> argv =
      limited_argv({"run", "--plan", fifo.string(), "--backend", "sim", "--db", db().string(),
                    "--workspace", workspace().string(), "--json"});
  ChildProcess run(argv, cli_options({}));
  std::ofstream(fifo) << plan.dump();
  EXPECT_EQ(run.wait(std::chrono::seconds(60)), 0) << run.read_err();
}

TEST_F(InputChecksTest, EndlessConfigFileIsRejected) {
  const ProcessResult result = run_limited({"config", "show", "--config", "/dev/zero"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "configuration file '/dev/zero' is not a regular file"))
      << result.err;
  EXPECT_TRUE(contains(result.err, "limit of 1 MiB")) << result.err;
  EXPECT_FALSE(contains(result.err, "unexpected end of input")) << result.err;
}

TEST_F(InputChecksTest, LargeConfigFileNamesSizeAndLimit) {
  const fs::path config = sparse_file("config.json", 2 * 1024 * 1024);
  const ProcessResult result = run_limited({"config", "show", "--config", config.string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "'" + config.string() + "' is 2 MiB")) << result.err;
  EXPECT_TRUE(contains(result.err, "more than the limit of 1 MiB")) << result.err;
}

TEST_F(InputChecksTest, EndlessTraceIsRejected) {
  const ProcessResult result = run_limited({"simulate", "--trace", "/dev/zero"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(
      contains(result.err, "trace /dev/zero: line 1 is longer than the limit of 4096 bytes"))
      << result.err;
  EXPECT_TRUE(contains(result.err, "/dev/zero is not a regular file")) << result.err;
}

TEST_F(InputChecksTest, LargeTraceNamesSizeAndLimit) {
  const fs::path trace = sparse_file("trace.csv", uintmax_t{3} << 30);
  const ProcessResult result = run_limited({"simulate", "--trace", trace.string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, trace.string() + " is 3 GiB")) << result.err;
  EXPECT_TRUE(contains(result.err, "more than the limit of 1 GiB")) << result.err;
}

TEST_F(InputChecksTest, EndlessInteractiveInputIsRejected) {
  std::vector<std::string> argv =
      limited_argv({"interactive", "--backend", "sim", "--db", db().string(), "--workspace",
                    workspace().string()});
  argv[2] += " < /dev/zero";
  const ProcessResult result = run_process(argv, cli_options({}));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err,
                       "input line 1 has no line break within 1 GiB, so the session "
                       "ends"))
      << result.err;
}

// A line over 16 MiB is skipped with an error that names the limit, and the session goes on
// with the next line. The address space limit shows that the line is not read whole.
TEST_F(InputChecksTest, LongInteractiveLineIsSkipped) {
  const fs::path input = dir_.path() / "input.txt";
  {
    std::ofstream out(input, std::ios::binary);
    out << "history\n";
    const std::string block(1 << 20, 'x');
    for (int i = 0; i < 40; ++i) {
      out << block;
    }
    out << "\nstrategy aggressive\nhistory\nquit\n";
  }
  for (const bool json : {false, true}) {
    std::vector<std::string> args = {
        "interactive", "--backend",         "sim", "--db", db().string(),
        "--workspace", workspace().string()};
    if (json) {
      args.push_back("--json");
    }
    std::vector<std::string> argv = limited_argv(args);
    argv[2] += " < '" + input.string() + "'";
    const ProcessResult result = run_process(argv, cli_options({}));
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_TRUE(contains(result.err,
                         "input line 2 is longer than the limit of 16 MiB and was "
                         "skipped"))
        << result.err;
    EXPECT_TRUE(contains(json ? result.err : result.out, "strategy set to AGGRESSIVE"))
        << result.out << result.err;
    if (json) {
      std::vector<std::string> lines;
      std::istringstream stream(result.out);
      for (std::string line; std::getline(stream, line);) {
        lines.push_back(line);
      }
      ASSERT_EQ(lines.size(), 3u) << result.out;
      const nlohmann::json rejected = nlohmann::json::parse(lines[1], nullptr, false);
      ASSERT_TRUE(rejected.is_object()) << lines[1];
      EXPECT_EQ(rejected["line"], 2) << lines[1];
      EXPECT_TRUE(contains(rejected["error"].get<std::string>(), "limit of 16 MiB")) << lines[1];
    }
  }
}

TEST_F(InputChecksTest, EmptyValuesNameTheValue) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "", "--backend", "sim"}, "the goal is empty"},
      {{"run", "--plan", "", "--backend", "sim"}, "the plan file path is empty"},
      {{"config", "show", "--config", ""}, "the configuration file path is empty"},
  };
  for (const auto& [args, message] : cases) {
    const ProcessResult result = run_cli(args);
    EXPECT_EQ(result.exit_code, 2) << args[1] << ": " << result.err;
    EXPECT_TRUE(contains(result.err, message)) << args[1] << ": " << result.err;
  }
}

TEST_F(InputChecksTest, EmptyModelIsUsageError) {
  const ProcessResult flag = run_cli({"run", "x", "--backend", "sim", "--model", "", "--db",
                                      db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(flag.exit_code, 2) << flag.err;
  EXPECT_TRUE(contains(flag.err, "invalid value \"\" for server.model (flag --model)")) << flag.err;
  EXPECT_FALSE(fs::exists(db())) << "the run was journaled";

  const fs::path config = dir_.path() / "config.json";
  std::ofstream(config) << R"({"server": {"model": ""}})";
  const ProcessResult file = run_cli({"run", "x", "--backend", "sim", "--config", config.string(),
                                      "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(file.exit_code, 2) << file.err;
  EXPECT_TRUE(
      contains(file.err, "invalid value \"\" for server.model (file " + config.string() + ")"))
      << file.err;
  EXPECT_FALSE(fs::exists(db())) << "the run was journaled";
}

TEST_F(InputChecksTest, ServerArgsNeedStartServer) {
  for (const std::string command : {"run", "doctor"}) {
    std::vector<std::string> args = {command, "--server-args", "--threads 8", "--backend", "sim"};
    if (command == "run") {
      args.push_back("x");
    }
    const ProcessResult result = run_cli(args, {}, "quit\n");
    EXPECT_EQ(result.exit_code, 2) << command << ": " << result.err;
    EXPECT_TRUE(contains(result.err, "add --start-server BIN, or drop --server-args"))
        << command << ": " << result.err;
  }
  // Commands without --start-server do not take --server-args at all.
  for (const std::string command : {"models", "interactive"}) {
    const ProcessResult result =
        run_cli({command, "--server-args", "--threads 8", "--backend", "sim"}, {}, "quit\n");
    EXPECT_EQ(result.exit_code, 2) << command << ": " << result.err;
    EXPECT_TRUE(contains(result.err, "--server-args")) << command << ": " << result.err;
  }
}

// A command that drops options of the shared set must drop their bindings too. CLI11 destroys a
// removed option, and reading a binding to it is a use after free that only a memory checker
// finds. scripts/install-deps.sh installs valgrind.
TEST_F(InputChecksTest, DroppedOptionsLeaveNoDanglingBinding) {
  for (const std::string command : {"models", "interactive"}) {
    std::vector<std::string> argv = {"/usr/bin/valgrind", "-q", "--error-exitcode=97"};
    for (const std::string& word : cli_argv({command, "--backend", "sim"})) {
      argv.push_back(word);
    }
    ProcessOptions options = cli_options({});
    options.stdin_text = "quit\n";
    const ProcessResult result = run_process(argv, options);
    EXPECT_EQ(result.exit_code, 0) << command << ": " << result.err;
    EXPECT_FALSE(contains(result.err, "Invalid read")) << command << ": " << result.err;
  }
}

TEST_F(InputChecksTest, ModelsRejectsRunOnlyOptions) {
  const ProcessResult help = run_cli({"models", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* name : {"--agents", "--workspace", "--strategy", "--dry-run", "--server-args"}) {
    EXPECT_FALSE(contains(help.out, name)) << name << " is listed:\n" << help.out;
  }
  EXPECT_TRUE(contains(help.out, "--max-agents")) << help.out;
  const ProcessResult with_agents = run_cli({"models", "--agents", "3", "--backend", "sim"});
  EXPECT_EQ(with_agents.exit_code, 2) << with_agents.err;
  EXPECT_TRUE(contains(with_agents.err, "--agents")) << with_agents.err;
}

TEST_F(InputChecksTest, JournalPathNotAJournal) {
  const fs::path text_file = dir_.path() / "notes.txt";
  std::ofstream(text_file) << "these are notes, not a journal\n";
  const fs::path folder = dir_.path() / "journals";
  fs::create_directory(folder);
  // /proc takes no new files, so SQLite cannot create the journal there, even as root.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {text_file.string(), "is not an SQLite database"},
      {folder.string(), "is a folder"},
      {"/proc/ollama-flow-journal.db", "cannot be opened"},
  };
  for (const auto& [path, problem] : cases) {
    const ProcessResult run = run_cli({"run", "Write a note", "--backend", "sim", "--db", path,
                                       "--workspace", workspace().string()});
    EXPECT_EQ(run.exit_code, 2) << path << ": " << run.err;
    EXPECT_TRUE(contains(run.err, "journal '" + path + "' " + problem)) << path << ": " << run.err;
    EXPECT_TRUE(contains(run.err, "choose another path with --db")) << path << ": " << run.err;
    EXPECT_FALSE(contains(run.err, "move the file aside")) << path << ": " << run.err;
  }
  EXPECT_EQ(read(text_file), "these are notes, not a journal\n");

  for (const fs::path& path : {text_file, folder}) {
    const ProcessResult runs = run_cli({"runs", "--db", path.string()});
    EXPECT_EQ(runs.exit_code, 2) << path << ": " << runs.err;
    EXPECT_TRUE(contains(runs.err, "journal '" + path.string() + "'")) << path << ": " << runs.err;
    EXPECT_TRUE(contains(runs.err, "choose another path with --db")) << path << ": " << runs.err;
  }
}

TEST_F(InputChecksTest, DamagedJournalIsUsageError) {
  const ProcessResult first = run_cli({"run", "Write a note", "--backend", "sim", "--db",
                                       db().string(), "--workspace", workspace().string()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // The first 3000 bytes keep the SQLite header but cut the pages that the header lists.
  const std::string whole = read(db());
  ASSERT_GT(whole.size(), 3000u);
  const fs::path damaged = dir_.path() / "damaged.db";
  std::ofstream(damaged, std::ios::binary) << whole.substr(0, 3000);
  const std::vector<std::vector<std::string>> commands = {
      {"runs", "--db", damaged.string()},
      {"run", "Write a note", "--backend", "sim", "--db", damaged.string(), "--workspace",
       (dir_.path() / "ws2").string()}};
  for (const std::vector<std::string>& args : commands) {
    const ProcessResult result = run_cli(args);
    EXPECT_EQ(result.exit_code, 2) << args[0] << ": " << result.err;
    EXPECT_TRUE(contains(result.err, "journal '" + damaged.string() + "' is damaged (SQLite: "))
        << args[0] << ": " << result.err;
    EXPECT_TRUE(contains(result.err, "move it aside so that a new journal is created"))
        << args[0] << ": " << result.err;
    EXPECT_FALSE(contains(result.err, "statement")) << args[0] << ": " << result.err;
  }
}

TEST_F(InputChecksTest, GoalControlCharactersAreEscaped) {
  const std::string goal = "line1\nline2\x1b[31mred\tend";
  const ProcessResult result = run_cli({"run", goal, "--backend", "sim", "--db", db().string(),
                                        "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const std::string escaped = "line1\\nline2\\x1B[31mred\\tend";
  EXPECT_TRUE(contains(result.err, escaped)) << result.err;
  EXPECT_TRUE(contains(result.out, "goal:      " + escaped + "\n")) << result.out;
  for (const std::string& output : {result.out, result.err}) {
    EXPECT_FALSE(contains(output, "\x1b")) << output;
    EXPECT_FALSE(contains(output, "line1\n")) << output;
    EXPECT_FALSE(contains(output, "red\t")) << output;
  }
}

TEST_F(InputChecksTest, GoalStaysExactInJson) {
  const std::string goal = "line1\nline2\x1b[31mred";
  const ProcessResult result = run_cli({"run", goal, "--backend", "sim", "--db", db().string(),
                                        "--workspace", workspace().string(), "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(parse_json(result).value("goal", ""), goal);
}

TEST_F(InputChecksTest, ConfigSubcommandsAreNamed) {
  const ProcessResult unknown = run_cli({"config", "bogus"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "unknown subcommand 'config bogus': use one of show"))
      << unknown.err;

  const ProcessResult missing = run_cli({"config"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_TRUE(contains(missing.err, "config needs a subcommand: use one of show")) << missing.err;
}

TEST_F(InputChecksTest, PlanWithoutTasksGivesFix) {
  const fs::path plan = dir_.path() / "plan.json";
  std::ofstream(plan) << "{}";
  const ProcessResult result = run_cli({"run", "--plan", plan.string(), "--backend", "sim", "--db",
                                        db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "plan file '" + plan.string() +
                                       "': tasks: missing required field: write it as "
                                       "`ollama-flow run GOAL --plan-only --json` prints it"))
      << result.err;
}

// A plan file with a syntax error gets the position and the cause, as a configuration file does,
// without nlohmann::json's "[json.exception...]" prefix.
TEST_F(InputChecksTest, PlanFileSyntaxErrorNamesPosition) {
  const fs::path plan = dir_.path() / "plan.json";
  std::ofstream(plan) << "{\n  \"tasks\": [\n    {\"id\": \"a\",}\n  ]\n}\n";
  const ProcessResult result = run_cli({"run", "--plan", plan.string(), "--backend", "sim", "--db",
                                        db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "plan file '" + plan.string() +
                                       "' is not valid JSON: parse error at line 3 column 16: "
                                       "syntax error while parsing object key"))
      << result.err;
  EXPECT_TRUE(contains(result.err, "expected string literal")) << result.err;
  EXPECT_FALSE(contains(result.err, "json.exception")) << result.err;
}

TEST_F(InputChecksTest, PlanCapacityWithoutModelGivesFix) {
  const ProcessResult result = run_cli({"plan-capacity", "--backend", "sim"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err,
                       "plan-capacity needs a model: pass --model with an Ollama "
                       "model name such as llama3:8b or the path of a .gguf file"))
      << result.err;
}

TEST_F(InputChecksTest, RunsShowWithoutIdSaysWhereIdsAre) {
  const ProcessResult result = run_cli({"runs", "show", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "runs show needs a run id")) << result.err;
  EXPECT_TRUE(contains(result.err, "`ollama-flow runs`")) << result.err;
}

TEST_F(InputChecksTest, RunsShowUnknownIdExitsTwo) {
  const ProcessResult first = run_cli({"run", "Write a note", "--backend", "sim", "--workspace",
                                       (dir_.path() / "ws").string(), "--db", db().string()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const ProcessResult result = run_cli({"runs", "show", "r-x\x1b[31m", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "'r-x\\x1B[31m' not found")) << result.err;
  EXPECT_FALSE(contains(result.err, "\x1b")) << result.err;
}

TEST_F(InputChecksTest, SimulateInitialAgentsChecks) {
  const ProcessResult zero = run_cli({"simulate", "--initial-agents", "0"});
  EXPECT_EQ(zero.exit_code, 2) << zero.err;
  EXPECT_TRUE(contains(zero.err, "invalid value '0': expected an integer from 1 to 4096"))
      << zero.err;
  EXPECT_FALSE(contains(zero.err, "--startup-time")) << zero.err;

  const ProcessResult above = run_cli({"simulate", "--max-agents", "1", "--initial-agents", "50"});
  EXPECT_EQ(above.exit_code, 2) << above.err;
  EXPECT_TRUE(contains(above.err, "--initial-agents 50 is above --max-agents 1")) << above.err;
  EXPECT_EQ(above.out, "");

  const ProcessResult help = run_cli({"simulate", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_TRUE(contains(help.out, "[1 - 4096]")) << help.out;
  EXPECT_FALSE(contains(help.out, "[0 - 4096]")) << help.out;
}

TEST_F(InputChecksTest, SimulateTraceWithOneRequest) {
  const fs::path trace = dir_.path() / "one.csv";
  std::ofstream(trace) << "\xEF\xBB\xBF"
                       << "arrival_s,prompt_tokens,output_tokens\n0,100,20\n";
  const ProcessResult result = run_cli({"simulate", "--trace", trace.string(), "--duration", "60"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out + result.err, "1 request,")) << result.out << result.err;
  EXPECT_FALSE(contains(result.out + result.err, "1 requests")) << result.out << result.err;
}

}  // namespace
}  // namespace ollamaflow::testing
