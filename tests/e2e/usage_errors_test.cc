// End-to-end checks that invalid flags and values are usage errors: exit code 2, a message on
// stderr that names the value and the fix, and no model call before the check.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_support.h"

namespace ollamaflow::testing {
namespace {

class UsageErrorsTest : public E2eTest {
 protected:
  // Runs a goal against the fake Ollama server with `workspace_path` as the workspace.
  ProcessResult run_in(const std::filesystem::path& workspace_path) {
    play_cooperative_model(server_, sample_plan());
    return run_cli({"run", "x", "--host", server_.url(), "--workspace", workspace_path.string(),
                    "--db", db().string()});
  }

  FakeOllamaServer server_;
};

TEST_F(UsageErrorsTest, GpuIntervalRejectsNonFinite) {
  for (const std::string value : {"nan", "NaN", "-nan", "inf", "0", "0.01", "3601"}) {
    ProcessOptions options = cli_options({});
    options.timeout = std::chrono::seconds(10);
    ProcessResult result = run_process(cli_argv({"gpu", "--watch", "--interval", value}), options);
    EXPECT_FALSE(result.timed_out) << value;
    EXPECT_EQ(result.exit_code, 2) << value << ": " << result.err;
    EXPECT_NE(result.err.find("--interval"), std::string::npos) << value << ": " << result.err;
  }
}

TEST_F(UsageErrorsTest, GpuIntervalNeedsWatch) {
  ProcessResult result = run_cli({"gpu", "--interval", "5"});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("--watch"), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

// Output into a pipe carries no terminal codes: each snapshot starts with a plain header line.
TEST_F(UsageErrorsTest, GpuWatchIntoPipeHasNoClearCodes) {
  ChildProcess watch(cli_argv({"gpu", "--watch", "--interval", "0.1"}), cli_options({}));
  std::string out;
  for (int i = 0; i < 100 && out.find("=== ", out.find("=== ") + 1) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    out = watch.read_out();
  }
  watch.send_signal(SIGINT);
  EXPECT_EQ(watch.wait(std::chrono::seconds(10)), 0) << watch.read_err();
  out = watch.read_out();
  EXPECT_EQ(out.find('\033'), std::string::npos) << out;
  EXPECT_EQ(out.rfind("=== ", 0), 0u) << out;
  EXPECT_NE(out.find("=== ", 4), std::string::npos) << out;
}

TEST_F(UsageErrorsTest, EmptyPathFlagsExitTwo) {
  for (const std::string flag : {"--workspace", "--db"}) {
    ProcessResult result = run_cli({"run", "x", "--backend", "sim", flag, ""});
    EXPECT_EQ(result.exit_code, 2) << flag << ": " << result.err;
    EXPECT_NE(result.err.find("non-empty"), std::string::npos) << flag << ": " << result.err;
    EXPECT_NE(result.err.find(flag), std::string::npos) << flag << ": " << result.err;
  }
}

TEST_F(UsageErrorsTest, DryRunNeedsAutoScaling) {
  ProcessResult result = run_cli({"run", "x", "--backend", "sim", "--dry-run", "--db",
                                  db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("--auto-scaling"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(db()));
  ProcessResult scaled = run_cli({"run", "x", "--backend", "sim", "--dry-run", "--auto-scaling",
                                  "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(scaled.exit_code, 0) << scaled.out << scaled.err;
}

// The scaling flags act only with auto-scaling, so without it each is a usage error, as
// --dry-run is. The same values from a configuration file stay allowed.
TEST_F(UsageErrorsTest, ScalingFlagsNeedAutoScaling) {
  const std::vector<std::vector<std::string>> flag_sets = {
      {"--strategy", "HYBRID"}, {"--min-agents", "2"}, {"--max-agents", "3"}};
  int case_number = 0;
  for (const std::string command : {"run", "interactive"}) {
    for (const std::vector<std::string>& flag : flag_sets) {
      const std::string case_workspace = workspace().string() + std::to_string(++case_number);
      std::vector<std::string> args = {command,       "--backend",   "sim",         "--db",
                                       db().string(), "--workspace", case_workspace};
      if (command == "run") {
        args.push_back("x");
      }
      args.insert(args.end(), flag.begin(), flag.end());
      const ProcessResult result = run_cli(args, {}, "quit\n");
      const std::string name = command + " " + flag[0];
      EXPECT_EQ(result.exit_code, 2) << name << ": " << result.out << result.err;
      EXPECT_NE(result.err.find(flag[0]), std::string::npos) << name << ": " << result.err;
      EXPECT_NE(result.err.find("add --auto-scaling"), std::string::npos)
          << name << ": " << result.err;
      EXPECT_NE(result.err.find("--agents N"), std::string::npos) << name << ": " << result.err;
      EXPECT_FALSE(std::filesystem::exists(db())) << name << ": the run was journaled";

      args.push_back("--auto-scaling");
      const ProcessResult scaled = run_cli(args, {}, "quit\n");
      EXPECT_EQ(scaled.exit_code, 0) << name << ": " << scaled.out << scaled.err;
      std::filesystem::remove(db());
    }
  }
  const std::filesystem::path config = dir_.path() / "config.json";
  std::ofstream(config) << R"({"auto_scaling": {"strategy": "HYBRID"},
                                "gpu_scaling": {"min_agents": 2, "max_agents": 3}})";
  const ProcessResult from_file =
      run_cli({"run", "x", "--backend", "sim", "--config", config.string(), "--db", db().string(),
               "--workspace", workspace().string()});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.out << from_file.err;
}

// A profile without auto-scaling keeps only its memory safety margin, and the run prints a note
// instead of dropping the profile's strategy without a word. The report keeps the note for a
// later reader.
TEST_F(UsageErrorsTest, ProfileWithoutAutoScalingIsNoted) {
  const ProcessResult fixed = run_cli({"run", "x", "--backend", "sim", "--profile", "production",
                                       "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
  EXPECT_NE(fixed.err.find("note: --profile production sets the strategy"), std::string::npos)
      << fixed.err;
  EXPECT_NE(fixed.err.find("only its memory safety margin of 0.2 applies"), std::string::npos)
      << fixed.err;
  EXPECT_NE(fixed.out.find("note:      --profile production sets the strategy"), std::string::npos)
      << fixed.out;
  const ProcessResult listed = run_cli({"runs", "--db", db().string(), "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const nlohmann::json runs = parse_json(listed);
  ASSERT_EQ(runs.size(), 1u) << listed.out;
  const ProcessResult shown =
      run_cli({"runs", "show", runs[0]["id"], "--db", db().string(), "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const std::string notes = parse_json(shown)["report"]["notes"].dump();
  EXPECT_NE(notes.find("--profile production sets the strategy, check interval and cooldown of "
                       "auto-scaling, which is off, so the pool stays fixed; only its memory "
                       "safety margin of 0.2 applies"),
            std::string::npos)
      << notes;

  const std::filesystem::path config = dir_.path() / "profile.json";
  std::ofstream(config) << R"({"environments": {"lab": {"strategy": "AGGRESSIVE"}}})";
  const ProcessResult no_margin =
      run_cli({"run", "x", "--backend", "sim", "--profile", "lab", "--config", config.string(),
               "--db", db().string(), "--workspace", workspace().string() + "2"});
  EXPECT_EQ(no_margin.exit_code, 0) << no_margin.out << no_margin.err;
  EXPECT_NE(no_margin.err.find("sets no memory safety margin, so nothing of it applies"),
            std::string::npos)
      << no_margin.err;
  EXPECT_NE(no_margin.out.find("sets no memory safety margin, so nothing of it applies"),
            std::string::npos)
      << no_margin.out;

  const ProcessResult scaled =
      run_cli({"run", "x", "--backend", "sim", "--profile", "production", "--auto-scaling", "--db",
               db().string(), "--workspace", workspace().string() + "3"});
  EXPECT_EQ(scaled.exit_code, 0) << scaled.out << scaled.err;
  EXPECT_EQ(scaled.err.find("note: --profile"), std::string::npos) << scaled.err;
  EXPECT_EQ(scaled.out.find("--profile"), std::string::npos) << scaled.out;
}

// A flag that the command lacks is named as an unknown option, not as a word of a goal.
TEST_F(UsageErrorsTest, UnknownFlagIsNamedAsOption) {
  const ProcessResult result = run_cli({"run", "x", "--bogus", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("unknown option '--bogus' for `run`: see `ollama-flow run --help`"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("quote a goal"), std::string::npos) << result.err;
}

TEST_F(UsageErrorsTest, UnquotedGoalNeedsQuotes) {
  const ProcessResult result =
      run_cli({"run", "Create", "a", "web", "app", "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("quote a goal of several words"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(db()));
}

// doctor takes the run flags for its advice, so the same combinations are usage errors there.
TEST_F(UsageErrorsTest, DoctorChecksScalingFlags) {
  const ProcessResult strategy = run_cli({"doctor", "--backend", "sim", "--strategy", "HYBRID"});
  EXPECT_EQ(strategy.exit_code, 2) << strategy.out << strategy.err;
  EXPECT_NE(strategy.err.find("add --auto-scaling"), std::string::npos) << strategy.err;

  const ProcessResult agents =
      run_cli({"doctor", "--backend", "sim", "--auto-scaling", "--agents", "2"});
  EXPECT_EQ(agents.exit_code, 2) << agents.out << agents.err;
  EXPECT_NE(agents.err.find("--min-agents and --max-agents"), std::string::npos) << agents.err;

  const ProcessResult scaled =
      run_cli({"doctor", "--backend", "sim", "--auto-scaling", "--strategy", "HYBRID"});
  EXPECT_NE(scaled.exit_code, 2) << scaled.out << scaled.err;
}

// --agents sets a fixed pool, so with auto-scaling on it is a usage error, wherever auto-scaling
// was turned on. The key in a configuration file stays allowed.
TEST_F(UsageErrorsTest, AgentsWithAutoScalingIsUsageError) {
  int case_number = 0;
  for (const std::string command : {"run", "interactive"}) {
    const std::string case_workspace = workspace().string() + std::to_string(++case_number);
    std::vector<std::string> args = {command,        "--backend",   "sim",
                                     "--db",         db().string(), "--workspace",
                                     case_workspace, "--agents",    "2"};
    if (command == "run") {
      args.push_back("x");
    }
    std::vector<std::string> scaled = args;
    scaled.push_back("--auto-scaling");
    const ProcessResult result = run_cli(scaled, {}, "quit\n");
    EXPECT_EQ(result.exit_code, 2) << command << ": " << result.out << result.err;
    EXPECT_NE(result.err.find("--agents"), std::string::npos) << command << ": " << result.err;
    EXPECT_NE(result.err.find("auto-scaling (auto_scaling.enabled from flag --auto-scaling)"),
              std::string::npos)
        << command << ": " << result.err;
    EXPECT_NE(result.err.find("--min-agents and --max-agents"), std::string::npos)
        << command << ": " << result.err;
    EXPECT_FALSE(std::filesystem::exists(db())) << command << ": the run was journaled";

    const ProcessResult from_env = run_cli(args, {{"AUTO_SCALING", "true"}}, "quit\n");
    EXPECT_EQ(from_env.exit_code, 2) << command << ": " << from_env.out << from_env.err;
    EXPECT_NE(from_env.err.find("(auto_scaling.enabled from environment variable AUTO_SCALING)"),
              std::string::npos)
        << command << ": " << from_env.err;
    EXPECT_FALSE(std::filesystem::exists(db())) << command << ": the run was journaled";

    const ProcessResult fixed = run_cli(args, {}, "quit\n");
    EXPECT_EQ(fixed.exit_code, 0) << command << ": " << fixed.out << fixed.err;
    std::filesystem::remove(db());
  }
  const std::filesystem::path config = dir_.path() / "config.json";
  std::ofstream(config) << R"({"run": {"agents": 2}})";
  const ProcessResult from_file =
      run_cli({"run", "x", "--backend", "sim", "--auto-scaling", "--config", config.string(),
               "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.out << from_file.err;
}

// `models` and `interactive` start no llama-server, so they take no --server-args.
TEST_F(UsageErrorsTest, ServerArgsOnlyWhereServerStarts) {
  for (const std::string command : {"models", "interactive"}) {
    const ProcessResult help = run_cli({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command << ": " << help.err;
    EXPECT_EQ(help.out.find("--server-args"), std::string::npos) << command << ": " << help.out;
  }
  for (const std::string command : {"run", "doctor"}) {
    const ProcessResult help = run_cli({command, "--help"});
    EXPECT_NE(help.out.find("--server-args"), std::string::npos) << command << ": " << help.out;
  }
}

// Ollama reads OLLAMA_HOST=":PORT" as port PORT of this machine, and --host reads it the same.
TEST_F(UsageErrorsTest, HostPortAloneMeansLocalHost) {
  const ProcessResult flag = run_cli({"config", "show", "--host", ":9", "--json"});
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(parse_json(flag)["values"]["server"]["host"], "http://127.0.0.1:9") << flag.out;
  const ProcessResult variable = run_cli({"config", "show", "--json"}, {{"OLLAMA_HOST", ":9"}});
  ASSERT_EQ(variable.exit_code, 0) << variable.err;
  EXPECT_EQ(parse_json(variable)["values"]["server"]["host"], "http://127.0.0.1:9") << variable.out;
}

// The listen-all address 0.0.0.0 means this machine from every source of server.host, and
// `config show` prints the URL that ollama-flow connects to beside the value as given. The JSON
// keeps the stored source, and the text names it in words.
TEST_F(UsageErrorsTest, HostListenAllMapsToLocalHost) {
  const std::filesystem::path file = dir_.path() / "host.json";
  std::ofstream(file) << R"({"server": {"host": "0.0.0.0:9"}})";
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string source;
    std::string source_words;
  };
  const std::vector<Case> cases = {
      {{"--host", "0.0.0.0:9"}, {}, "flag:--host", "flag --host"},
      {{"--config", file.string()}, {}, "file:" + file.string(), "file " + file.string()},
      {{}, {{"OLLAMA_HOST", "0.0.0.0:9"}}, "env:OLLAMA_HOST", "environment variable OLLAMA_HOST"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> json_args = {"config", "show", "--json"};
    json_args.insert(json_args.end(), c.args.begin(), c.args.end());
    const ProcessResult result = run_cli(json_args, c.env);
    ASSERT_EQ(result.exit_code, 0) << c.source << ": " << result.err;
    const nlohmann::json document = parse_json(result);
    EXPECT_EQ(document["values"]["server"]["host"], "http://127.0.0.1:9") << c.source;
    EXPECT_EQ(document["sources"]["server.host"], c.source) << c.source;
    EXPECT_EQ(document["given_values"]["server.host"], "0.0.0.0:9") << c.source;

    std::vector<std::string> text_args = {"config", "show"};
    text_args.insert(text_args.end(), c.args.begin(), c.args.end());
    const ProcessResult text = run_cli(text_args, c.env);
    ASSERT_EQ(text.exit_code, 0) << c.source << ": " << text.err;
    const size_t at = text.out.find("\nserver.host ");
    ASSERT_NE(at, std::string::npos) << c.source << "\n" << text.out;
    const std::string line = text.out.substr(at + 1, text.out.find('\n', at + 1) - at - 1);
    EXPECT_NE(line.find("\"http://127.0.0.1:9\""), std::string::npos) << line;
    EXPECT_NE(line.find(c.source_words + ", given as \"0.0.0.0:9\""), std::string::npos) << line;
  }
  // The openai backend's default port is 8080, and a URL that needs no change gets no label.
  const ProcessResult openai =
      run_cli({"config", "show", "--json", "--backend", "openai", "--host", "0.0.0.0"});
  ASSERT_EQ(openai.exit_code, 0) << openai.err;
  EXPECT_EQ(parse_json(openai)["values"]["server"]["host"], "http://127.0.0.1:8080") << openai.out;
  const ProcessResult plain = run_cli({"config", "show", "--json", "--host", "http://127.0.0.1:9"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(parse_json(plain)["values"]["server"]["host"], "http://127.0.0.1:9") << plain.out;
  EXPECT_TRUE(parse_json(plain)["given_values"].empty()) << plain.out;
}

TEST_F(UsageErrorsTest, RunTemperatureRejectsNan) {
  ProcessResult result = run_cli({"run", "x", "--backend", "sim", "--temperature", "nan"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("server.temperature"), std::string::npos) << result.err;
}

TEST_F(UsageErrorsTest, AgentsNotIntegerNamesRange) {
  for (const std::string value : {"abc", "", "1.5", "nan"}) {
    ProcessResult result = run_cli({"run", "x", "--backend", "sim", "--agents", value});
    EXPECT_EQ(result.exit_code, 2) << value << ": " << result.err;
    EXPECT_NE(result.err.find("invalid value \"" + value +
                              "\" for run.agents (flag --agents): "
                              "expected an integer from 1 to 1024"),
              std::string::npos)
        << value << ": " << result.err;
  }
}

TEST_F(UsageErrorsTest, AgentsOutOfRangeNamesRange) {
  for (const std::string value : {"0", "-1", "1025"}) {
    ProcessResult result = run_cli({"run", "x", "--backend", "sim", "--agents", value});
    EXPECT_EQ(result.exit_code, 2) << value << ": " << result.err;
    EXPECT_NE(result.err.find("invalid value " + value +
                              " for run.agents (flag --agents): "
                              "expected an integer from 1 to 1024"),
              std::string::npos)
        << value << ": " << result.err;
  }
}

// An option that another option must accompany, or must not, names the fix, and the conflict
// comes before a range error of either value.
TEST_F(UsageErrorsTest, OptionPairsNameTheFix) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"gpu", "--interval", "1"},
       "--interval: needs --watch, whose refresh period it sets: add --watch, or drop --interval"},
      {{"plan-capacity", "--model", "llama3:8b", "--ctx", "10", "--total-ctx", "10"},
       "--ctx and --total-ctx exclude each other"},
      {{"plan-capacity", "--model", "llama3:8b", "--total-ctx", "9000", "--ctx", "8192"},
       "--ctx and --total-ctx exclude each other"},
  };
  for (const auto& [args, message] : cases) {
    ProcessResult result = run_cli(args);
    EXPECT_EQ(result.exit_code, 2) << args[0] << ": " << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << args[0] << ": " << result.err;
    EXPECT_EQ(result.err.find("256"), std::string::npos) << args[0] << ": " << result.err;
  }
}

TEST_F(UsageErrorsTest, IntegerOptionsNameExpectedValue) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"runs", "--limit", "abc"}, "invalid value 'abc': expected an integer from 1 to"},
      {{"runs", "--limit", ""}, "invalid value '': expected an integer from 1 to"},
      {{"simulate", "--max-agents", "many"},
       "invalid value 'many': expected an integer from 1 to 4096"},
      {{"simulate", "--initial-agents", ""},
       "invalid value '': expected an integer from 1 to 4096"},
      {{"plan-capacity", "--model", "llama3:8b", "--parallel", "abc"},
       "invalid value 'abc': expected an integer from 1 to 4096"},
      {{"plan-capacity", "--model", "llama3:8b", "--parallel", "0"},
       "invalid value '0': expected an integer from 1 to 4096"},
      {{"plan-capacity", "--model", "llama3:8b", "--parallel", "99999999999"},
       "invalid value '99999999999': expected an integer from 1 to 4096"},
      {{"plan-capacity", "--model", "llama3:8b", "--total-ctx", "1e3"},
       "invalid value '1e3': expected an integer from 1 to 2147483647"},
      {{"plan-capacity", "--model", "llama3:8b", "--total-ctx", "99999999999"},
       "invalid value '99999999999': expected an integer from 1 to 2147483647"},
      {{"plan-capacity", "--model", "llama3:8b", "--total-ctx", "0"},
       "invalid value '0': expected an integer from 1 to 2147483647"},
      {{"plan-capacity", "--model", "llama3:8b", "--ctx", ""},
       "invalid value \"\" for server.num_ctx (flag --ctx): expected an integer from 256"},
      {{"run", "x", "--backend", "sim", "--max-agents", "lots"},
       "invalid value \"lots\" for gpu_scaling.max_agents (flag --max-agents): expected an "
       "integer from 1 to 1024"},
      {{"run", "x", "--backend", "sim", "--temperature", "warm"},
       "invalid value \"warm\" for server.temperature (flag --temperature): expected a number "
       "from 0 to 2"},
  };
  for (const auto& [args, message] : cases) {
    ProcessResult result = run_cli(args);
    EXPECT_EQ(result.exit_code, 2) << args[0] << ": " << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << args[0] << ": " << result.err;
  }
}

TEST_F(UsageErrorsTest, WorkspaceFileFailsBeforePlanning) {
  const std::filesystem::path file = dir_.path() / "afile";
  std::ofstream(file) << "not a folder";
  ProcessResult result = run_in(file);
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find(file.string()), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("not a folder"), std::string::npos) << result.err;
  EXPECT_TRUE(server_.chat_requests().empty());
}

TEST_F(UsageErrorsTest, WorkspaceBelowFileFailsBeforePlanning) {
  const std::filesystem::path file = dir_.path() / "afile";
  std::ofstream(file) << "not a folder";
  ProcessResult result = run_in(file / "sub");
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find(file.string()), std::string::npos) << result.err;
  EXPECT_TRUE(server_.chat_requests().empty());
}

// /proc accepts no new folders, even from root, whom the permission check lets through.
TEST_F(UsageErrorsTest, WorkspaceUnderProcFailsBeforePlanning) {
  ProcessResult result = run_in("/proc/ollama-flow-no-such-folder/ws");
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("/proc/ollama-flow-no-such-folder/ws"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("--workspace"), std::string::npos) << result.err;
  EXPECT_TRUE(server_.chat_requests().empty());
  EXPECT_FALSE(std::filesystem::exists(db())) << "the run was journaled";
}

// sysfs folders exist and pass the permission check for root, yet take no files.
TEST_F(UsageErrorsTest, WorkspaceOnSysfsFailsBeforePlanning) {
  if (!std::filesystem::is_directory("/sys/kernel")) {
    GTEST_SKIP() << "this host has no /sys/kernel";
  }
  ProcessResult result = run_in("/sys/kernel");
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("the workspace '/sys/kernel' is on the kernel's sysfs file system"),
            std::string::npos)
      << result.err;
  EXPECT_TRUE(server_.chat_requests().empty());
  EXPECT_FALSE(std::filesystem::exists(db())) << "the run was journaled";
}

TEST_F(UsageErrorsTest, ReadOnlyWorkspaceFailsBeforePlanning) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root may write to any folder, so a read-only mode cannot be tested";
  }
  const std::filesystem::path folder = dir_.path() / "read-only";
  std::filesystem::create_directory(folder);
  ::chmod(folder.c_str(), 0555);
  ProcessResult result = run_in(folder / "ws");
  ::chmod(folder.c_str(), 0755);
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("not writable"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(folder.string()), std::string::npos) << result.err;
  EXPECT_TRUE(server_.chat_requests().empty());
  EXPECT_FALSE(std::filesystem::exists(folder / "ws"));
}

TEST_F(UsageErrorsTest, StartServerMissingBinaryExitsTwo) {
  ProcessResult result = run_cli({"run", "x", "--start-server", "/nonexistent/llama-server",
                                  "--model", "G", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("/nonexistent/llama-server"), std::string::npos) << result.err;
}

TEST_F(UsageErrorsTest, StartServerWithoutModelExitsTwo) {
  ProcessResult result =
      run_cli({"run", "x", "--start-server", "/bin/true", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("--model FILE.gguf"), std::string::npos) << result.err;
}

TEST_F(UsageErrorsTest, StartServerWithNonGgufModelExitsTwo) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model) << "this is not a GGUF file";
  ProcessResult result = run_cli({"run", "x", "--start-server", "/bin/true", "--model",
                                  model.string(), "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find(model.string()), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("pass a GGUF model file to --model"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "the run was journaled";
}

TEST_F(UsageErrorsTest, RunsLimitZeroExitsTwo) {
  ProcessResult result = run_cli({"runs", "--limit", "0", "--db", db().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("--limit"), std::string::npos) << result.err;
}

TEST_F(UsageErrorsTest, SimulateOutFileFailsBeforeSimulating) {
  const std::filesystem::path file = dir_.path() / "afile";
  std::ofstream(file) << "not a folder";
  ProcessResult result = run_cli({"simulate", "--out", file.string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find(file.string()), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--out"), std::string::npos) << result.err;
  // The table is printed only after a simulation, so an empty stdout shows that none ran.
  EXPECT_EQ(result.out, "");
}

TEST_F(UsageErrorsTest, SimulateOutInProcFailsBeforeSimulating) {
  // access(2) reports /proc as writable for root, but /proc takes no new folders or files.
  for (const std::string out : {"/proc/ollama-flow-out", "/proc/self"}) {
    ProcessResult result = run_cli({"simulate", "--out", out});
    EXPECT_EQ(result.exit_code, 2) << out << ": " << result.out << result.err;
    EXPECT_NE(result.err.find("output folder '" + out + "'"), std::string::npos)
        << out << ": " << result.err;
    EXPECT_NE(result.err.find("with --out"), std::string::npos) << out << ": " << result.err;
    EXPECT_EQ(result.out, "") << out;
  }
}

TEST_F(UsageErrorsTest, SimulateOutFolderIsCreated) {
  const std::filesystem::path out = dir_.path() / "results" / "bursty";
  ProcessResult result =
      run_cli({"simulate", "--pattern", "bursty", "--duration", "60", "--out", out.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(std::filesystem::exists(out / "simulation.json"));
  EXPECT_TRUE(std::filesystem::exists(out / "simulation.svg"));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(out)) {
    ++entries;
  }
  EXPECT_EQ(entries, 2u) << "the write check left its file behind";
}

TEST_F(UsageErrorsTest, PlanCapacityEmptyModelSkipsServer) {
  ProcessResult result = run_cli({"plan-capacity", "--model", "", "--host", server_.url()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("model name is empty"), std::string::npos) << result.err;
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(UsageErrorsTest, RunHostNotUrlExitsTwo) {
  ProcessResult result = run_cli({"run", "x", "--host", "not a url", "--db", db().string(),
                                  "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("'not a url'"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "the journal was created for a usage error";
}

TEST_F(UsageErrorsTest, RunHostPortOutOfRangeExitsTwo) {
  ProcessResult result = run_cli({"run", "x", "--host", "http://127.0.0.1:99999", "--db",
                                  db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("invalid port '99999'"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "the journal was created for a usage error";
  EXPECT_FALSE(std::filesystem::exists(workspace())) << "the workspace was created";
}

TEST_F(UsageErrorsTest, PlanFlagsRejectedWhereIgnored) {
  const std::vector<std::vector<std::string>> cases = {
      {"interactive", "--backend", "sim", "--plan-only"},
      {"interactive", "--backend", "sim", "--plan", "plan.json"},
      {"doctor", "--plan", "nonexist.json"},
      {"models", "--plan-only"},
  };
  for (const std::vector<std::string>& args : cases) {
    ProcessResult result = run_cli(args, {}, "Create a file\nquit\n");
    EXPECT_EQ(result.exit_code, 2) << args[0] << " " << args.back() << ": " << result.err;
    EXPECT_NE(result.err.find("--plan"), std::string::npos) << args[0] << ": " << result.err;
  }
}

TEST_F(UsageErrorsTest, FlagValueNotUtf8ExitsTwo) {
  ProcessResult result =
      run_cli({"run", "Write a note", "--backend", "\xff", "--workspace",
               (dir_.path() / "ws").string(), "--db", (dir_.path() / "j.db").string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("server.backend (flag --backend) is not valid UTF-8: byte 0xFF"),
            std::string::npos)
      << result.err;
  ProcessResult env = run_cli({"config", "show"}, {{"SCALING_STRATEGY", "\x9b"}});
  EXPECT_EQ(env.exit_code, 2) << env.err;
  EXPECT_NE(env.err.find("is not valid UTF-8: byte 0x9B"), std::string::npos) << env.err;
}

TEST_F(UsageErrorsTest, UnknownSubcommandListsCommands) {
  ProcessResult result = run_cli({"bogus"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("unknown subcommand 'bogus'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("plan-capacity"), std::string::npos) << result.err;
}

TEST_F(UsageErrorsTest, ControlCharactersInValuesAreEscaped) {
  const ProcessResult strategy = run_cli({"config", "show", "--strategy", "bad\x1b[31m"});
  EXPECT_EQ(strategy.exit_code, 2) << strategy.err;
  EXPECT_EQ(strategy.err.find('\x1b'), std::string::npos) << strategy.err;

  const ProcessResult command = run_cli({"bo\x1bgus"});
  EXPECT_EQ(command.exit_code, 2) << command.err;
  EXPECT_NE(command.err.find("'bo\\x1Bgus'"), std::string::npos) << command.err;

  const ProcessResult pattern = run_cli({"simulate", "--pattern", "p\x1b[2J"});
  EXPECT_EQ(pattern.exit_code, 2) << pattern.err;
  EXPECT_EQ(pattern.err.find('\x1b'), std::string::npos) << pattern.err;
}

TEST_F(UsageErrorsTest, ServerUrlErrorNamesItsSource) {
  struct Case {
    std::vector<std::string> flags;
    std::map<std::string, std::string> env;
    std::string problem;
    std::string source;
  };
  const std::vector<Case> cases = {
      {{"--host", "ftp://127.0.0.1:11434"}, {}, "unsupported scheme 'ftp'", "flag --host"},
      {{"--host", "http://127.0.0.1:99999"}, {}, "invalid port '99999'", "flag --host"},
      {{},
       {{"OLLAMA_HOST", "ftp://127.0.0.1"}},
       "unsupported scheme 'ftp'",
       "environment variable OLLAMA_HOST"},
      {{},
       {{"OLLAMA_HOST", "127.0.0.1:99999"}},
       "invalid port '99999'",
       "environment variable OLLAMA_HOST"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> config_show = {"config", "show"};
    config_show.insert(config_show.end(), c.flags.begin(), c.flags.end());
    std::vector<std::string> run = {"run",         "Write a note", "--db",
                                    db().string(), "--workspace",  workspace().string()};
    run.insert(run.end(), c.flags.begin(), c.flags.end());
    std::vector<std::string> doctor = {"doctor"};
    doctor.insert(doctor.end(), c.flags.begin(), c.flags.end());
    std::vector<std::string> models = {"models"};
    models.insert(models.end(), c.flags.begin(), c.flags.end());
    for (const std::vector<std::string>& args : {config_show, run, doctor, models}) {
      const std::string label = args[0] + " with " + c.source + ": ";
      const ProcessResult result = run_cli(args, c.env);
      EXPECT_EQ(result.exit_code, 2) << label << result.err;
      EXPECT_NE(result.err.find(c.problem), std::string::npos) << label << result.err;
      EXPECT_NE(result.err.find("invalid server.host (from " + c.source + "): "), std::string::npos)
          << label << result.err;
      EXPECT_EQ(result.out, "") << label;
    }
    EXPECT_FALSE(std::filesystem::exists(db())) << c.source << ": the run was journaled";
  }
}

// A password in the server URL is rejected, and no output shows it.
TEST_F(UsageErrorsTest, ServerUrlWithPasswordIsRejectedUnshown) {
  struct Case {
    std::vector<std::string> flags;
    std::map<std::string, std::string> env;
    std::string shown;  // the URL as the message shows it
  };
  const std::vector<Case> cases = {
      {{"--host", "http://alice:s3cr3t-pw@127.0.0.1:11434"}, {}, "'http://***@127.0.0.1:11434'"},
      {{}, {{"OLLAMA_HOST", "alice:s3cr3t-pw@127.0.0.1:11434"}}, "'http://***@127.0.0.1:11434'"},
      {{}, {{"OLLAMA_HOST", "http://alice:s3cr3t-pw@127.0.0.1"}}, "'http://***@127.0.0.1'"},
  };
  for (const auto& [flags, env, shown] : cases) {
    std::vector<std::vector<std::string>> commands = {
        {"config", "show"},
        {"run", "Write a note", "--db", db().string(), "--workspace", workspace().string()},
        {"doctor"},
        {"models"}};
    for (std::vector<std::string> args : commands) {
      args.insert(args.end(), flags.begin(), flags.end());
      const std::string label = args[0] + (env.empty() ? " with --host: " : " with OLLAMA_HOST: ");
      const ProcessResult result = run_cli(args, env);
      EXPECT_NE(result.exit_code, 0) << label << result.out << result.err;
      EXPECT_EQ(result.out.find("s3cr3t-pw"), std::string::npos) << label << result.out;
      EXPECT_EQ(result.err.find("s3cr3t-pw"), std::string::npos) << label << result.err;
      EXPECT_NE((result.out + result.err).find(shown + " contains a user name or password"),
                std::string::npos)
          << label << result.out << result.err;
    }
    EXPECT_FALSE(std::filesystem::exists(db())) << "the run was journaled";
  }
}

// The simulated backend connects nowhere, yet its host still appears in `config show` and the
// report, so a password in it is rejected as for the other backends.
TEST_F(UsageErrorsTest, ServerUrlPasswordRejectedForEachBackend) {
  for (const std::string backend : {"sim", "openai", "ollama"}) {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"config", "show"},
             {"run", "Write a note", "--db", db().string(), "--workspace", workspace().string()}}) {
      args.insert(args.end(), {"--backend", backend, "--host", "http://user:pw-77@127.0.0.1:1"});
      const std::string label = args[0] + " with --backend " + backend + ": ";
      const ProcessResult result = run_cli(args);
      EXPECT_EQ(result.exit_code, 2) << label << result.out << result.err;
      EXPECT_EQ((result.out + result.err).find("pw-77"), std::string::npos)
          << label << result.out << result.err;
      EXPECT_NE(result.err.find("'http://***@127.0.0.1:1' contains a user name or password"),
                std::string::npos)
          << label << result.err;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(db())) << "the run was journaled";
}

// Messages quote values from the environment and from files, so their control characters and
// invalid UTF-8 reach the terminal escaped.
TEST_F(UsageErrorsTest, ErrorsEscapeControlAndInvalidBytes) {
  const ProcessResult host = run_cli({"config", "show"}, {{"OLLAMA_HOST", "127.0.0.1\x1b[2J:9"}});
  EXPECT_EQ(host.exit_code, 2) << host.err;
  EXPECT_EQ(host.err.find('\x1b'), std::string::npos) << host.err;
  EXPECT_NE(host.err.find("\\x1B[2J"), std::string::npos) << host.err;

  const std::filesystem::path plan = dir_.path() / "plan.json";
  std::ofstream(plan) << "{\"goal\": \"a\xff\"}";
  const ProcessResult bad = run_cli({"run", "--plan", plan.string(), "--backend", "sim", "--db",
                                     db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_EQ(bad.err.find('\xff'), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("ollama-flow: plan file"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("\\xFF"), std::string::npos) << bad.err;
}

// Paths come from model output, so a workspace that contains the journal could lose it.
TEST_F(UsageErrorsTest, JournalInsideWorkspaceIsRejected) {
  const std::filesystem::path folder = dir_.path() / "project";
  std::filesystem::create_directories(folder);
  const std::filesystem::path journal = folder / "runs" / "journal.db";
  for (const std::filesystem::path& workspace : {folder, folder / "runs"}) {
    const ProcessResult result = run_cli({"run", "Write a note", "--backend", "sim", "--workspace",
                                          workspace.string(), "--db", journal.string()});
    EXPECT_EQ(result.exit_code, 2) << workspace << result.err;
    EXPECT_NE(result.err.find("journal '" + journal.string() + "' is inside the workspace '" +
                              workspace.string() + "'"),
              std::string::npos)
        << result.err;
    EXPECT_FALSE(std::filesystem::exists(journal)) << "the run was journaled";
  }
  // A link to the folder is the folder.
  const std::filesystem::path link = dir_.path() / "link";
  std::filesystem::create_directory_symlink(folder, link);
  const ProcessResult linked = run_cli({"run", "Write a note", "--backend", "sim", "--workspace",
                                        link.string(), "--db", journal.string()});
  EXPECT_EQ(linked.exit_code, 2) << linked.err;

  // A journal beside the workspace is fine.
  const ProcessResult beside = run_cli({"run", "Write a note", "--backend", "sim", "--workspace",
                                        (folder / "ws").string(), "--db", journal.string()});
  EXPECT_EQ(beside.exit_code, 0) << beside.err;
}

// A message that lists one cause per line keeps its line breaks.
TEST_F(UsageErrorsTest, MultiLineErrorKeepsLineBreaks) {
  const ProcessResult result =
      run_cli({"plan-capacity", "--model", "nosuch:1b", "--backend", "sim"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("ollama-flow: no metadata for model 'nosuch:1b'"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("\n  table: no entry for this name\n"), std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("\\n"), std::string::npos) << result.err;

  // A line break inside a value is escaped.
  const ProcessResult host = run_cli({"config", "show"}, {{"OLLAMA_HOST", "127.0.0.1\nfake:9"}});
  EXPECT_EQ(host.exit_code, 2) << host.err;
  EXPECT_NE(host.err.find("127.0.0.1\\nfake"), std::string::npos) << host.err;
  EXPECT_EQ(host.err.find("127.0.0.1\nfake"), std::string::npos) << host.err;
}

TEST_F(UsageErrorsTest, GpuMemoryOverrideInvalidExitsTwo) {
  for (const std::string value : {"abc", "0", "gpu0=24576,16GB"}) {
    const std::map<std::string, std::string> env = {{"OLLAMA_FLOW_GPU_MEMORY_MB", value}};
    const std::string named = "environment variable OLLAMA_FLOW_GPU_MEMORY_MB=\"" + value + "\"";
    const ProcessResult run = run_cli({"run", "Write a note", "--backend", "sim", "--db",
                                       db().string(), "--workspace", workspace().string()},
                                      env);
    EXPECT_EQ(run.exit_code, 2) << value << ": " << run.err;
    EXPECT_NE(run.err.find(named), std::string::npos) << value << ": " << run.err;
    EXPECT_NE(run.err.find("expected MiB or DEVICE=MiB"), std::string::npos)
        << value << ": " << run.err;
    EXPECT_FALSE(std::filesystem::exists(db())) << value << ": the run was journaled";

    const ProcessResult gpu = run_cli({"gpu"}, env);
    EXPECT_EQ(gpu.exit_code, 2) << value << ": " << gpu.err;
    EXPECT_NE(gpu.err.find(named), std::string::npos) << value << ": " << gpu.err;
  }
}

TEST_F(UsageErrorsTest, MinAgentsAboveMaxNamesSources) {
  const std::filesystem::path config = dir_.path() / "config.json";
  std::ofstream(config) << R"({"gpu_scaling": {"min_agents": 4}})";
  const ProcessResult result =
      run_cli({"run", "Write a note", "--backend", "sim", "--config", config.string(),
               "--max-agents", "2", "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("gpu_scaling.min_agents (4, from file " + config.string() + ")"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("gpu_scaling.max_agents (2, from flag --max-agents)"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("lower gpu_scaling.min_agents in " + config.string() +
                            ", or raise --max-agents"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("lower --min-agents"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "the run was journaled";
}

TEST_F(UsageErrorsTest, MinAgentsAboveManagerCapNamesSources) {
  const std::filesystem::path config = dir_.path() / "config.json";
  std::ofstream(config)
      << R"({"gpu_scaling": {"min_agents": 5}, "dynamic_agent_management": {"max_agents": 3}})";
  const ProcessResult result =
      run_cli({"run", "Write a note", "--backend", "sim", "--auto-scaling", "--config",
               config.string(), "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("gpu_scaling.min_agents (5, from file " + config.string() + ")"),
            std::string::npos)
      << result.err;
  EXPECT_NE(
      result.err.find("dynamic_agent_management.max_agents (3, from file " + config.string() + ")"),
      std::string::npos)
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "the run was journaled";
}

}  // namespace
}  // namespace ollamaflow::testing
