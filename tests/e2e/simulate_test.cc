// End-to-end checks of `ollama-flow simulate`: the table, the output files and bad input.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "e2e/e2e_support.h"

namespace ollamaflow::testing {
namespace {

class SimulateTest : public E2eTest {
 protected:
  // Returns the scenario settings of a `simulate --json` run.
  nlohmann::json simulated_settings(const ProcessResult& result) const {
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return parse_json(result)["settings"];
  }
};

TEST_F(SimulateTest, TablePerStrategyAndOutputFiles) {
  const std::filesystem::path out = dir_.path() / "sim-out";
  ProcessResult result = run_cli({"simulate", "--pattern", "step", "--duration", "600",
                                  "--strategy", "HYBRID,hpa", "--out", out.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("SIMULATED"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("HYBRID"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("hpa"), std::string::npos) << result.out;
  const nlohmann::json json = nlohmann::json::parse(read(out / "simulation.json"));
  EXPECT_TRUE(json.at("simulated").get<bool>());
  EXPECT_EQ(json.at("runs").size(), 2u);
  EXPECT_NE(read(out / "simulation.svg").find("</svg>"), std::string::npos);
}

TEST_F(SimulateTest, CtrlCExits130WithoutFiles) {
  const std::filesystem::path out = dir_.path() / "sim-out";
  ChildProcess child(
      cli_argv({"simulate", "--pattern", "steady", "--rate-scale", "100", "--duration", "20000",
                "--strategy", "all", "--log-level", "info", "--out", out.string()}),
      cli_options({}));
  // The interrupt handler is in place before the first agent is created.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (child.read_err().find("agent created") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_NE(child.read_err().find("agent created"), std::string::npos) << child.read_err();
  child.send_signal(SIGINT);
  const int code = child.wait(std::chrono::seconds(60));
  EXPECT_EQ(code, 130) << child.read_err().substr(0, 2000);
  EXPECT_NE(child.read_err().find("interrupted: simulation of"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out / "simulation.json"));
  // The queue drops the tasks that the stop takes from agents, so none is logged as lost.
  const std::string err = child.read_err();
  size_t lost_lines = 0;
  for (size_t at = err.find("task lost: agent"); at != std::string::npos;
       at = err.find("task lost: agent", at + 1)) {
    ++lost_lines;
  }
  EXPECT_EQ(lost_lines, 0u) << err.substr(0, 4000);
}

TEST_F(SimulateTest, JsonOutputParses) {
  ProcessResult result = run_cli(
      {"simulate", "--pattern", "steady", "--duration", "300", "--strategy", "oracle", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = parse_json(result);
  EXPECT_EQ(json.at("runs").at(0).at("figures").at("policy"), "oracle");
}

TEST_F(SimulateTest, StaleMetricDelayIsNoted) {
  ProcessResult stale = run_cli({"simulate", "--pattern", "bursty", "--duration", "600",
                                 "--strategy", "HYBRID,hpa", "--delay-metrics", "60"});
  ASSERT_EQ(stale.exit_code, 0) << stale.err;
  EXPECT_NE(stale.err.find("note: --delay-metrics 60 s is not below the 45 s"), std::string::npos)
      << stale.err;

  ProcessResult fresh = run_cli({"simulate", "--pattern", "bursty", "--duration", "600",
                                 "--strategy", "HYBRID", "--delay-metrics", "10"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(fresh.err.find("note: --delay-metrics"), std::string::npos) << fresh.err;
}

TEST_F(SimulateTest, UnknownStrategyExitsTwo) {
  ProcessResult result = run_cli({"simulate", "--strategy", "keda"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unknown strategy \"keda\""), std::string::npos) << result.err;
}

TEST_F(SimulateTest, PatternAboveRequestLimitExitsTwo) {
  // About 363 million requests: the pattern is rejected before any is generated.
  ProcessResult result = run_cli({"simulate", "--duration", "604800", "--rate-scale", "1000"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("pattern steady at up to 600 requests/s for 604800 s"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("more than the limit of 16777216: lower --rate-scale or --duration"),
            std::string::npos)
      << result.err;
}

TEST_F(SimulateTest, InvalidFaultWindowExitsTwo) {
  ProcessResult result = run_cli({"simulate", "--fail-503", "20:10"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--fail-503"), std::string::npos) << result.err;
}

// Every task of the hour fails with 503, thousands of them in under a second of wall time. Each
// policy's run logs its first failure in full at its virtual time and counts the rest at its end.
TEST_F(SimulateTest, RepeatedTaskFailuresAreCounted) {
  ProcessResult result = run_cli({"simulate", "--fail-503", "0:3600", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json figures = parse_json(result)["runs"][0]["figures"];
  ASSERT_EQ(figures["policy"], "HYBRID") << figures.dump();
  const int64_t failed = figures["tasks_failed"].get<int64_t>();
  ASSERT_GT(failed, 1000) << figures.dump();
  // The oracle runs first, for the ratios, and fails its tasks too.
  std::map<std::string, std::vector<double>> failure_times;
  std::map<std::string, std::vector<std::string>> count_lines;
  const std::regex line_start(R"(sim=(\S+) t=(-?[0-9.]+)s warning \[agents\] (.*))");
  std::istringstream lines(result.err);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(line, match, line_start)) << line;
    if (match[3].str().find("task failed: agent=") == 0) {
      failure_times[match[1]].push_back(std::stod(match[2]));
    } else {
      count_lines[match[1]].push_back(match[2].str() + " " + match[3].str());
    }
  }
  for (const std::string policy : {"oracle", "HYBRID"}) {
    ASSERT_EQ(failure_times[policy].size(), 1u) << result.err;
    // A task fails after its five attempts, which take 7.5 s of retry delays.
    EXPECT_GE(failure_times[policy][0], 7.5) << result.err;
    EXPECT_LT(failure_times[policy][0], 60) << result.err;
    ASSERT_EQ(count_lines[policy].size(), 1u) << result.err;
    EXPECT_NE(count_lines[policy][0].find("task failed: "), std::string::npos) << result.err;
    EXPECT_NE(count_lines[policy][0].find(" more lines suppressed (only the first is logged)"),
              std::string::npos)
        << result.err;
    // The count comes when the run ends, after the hour of the trace.
    EXPECT_GE(std::stod(count_lines[policy][0]), 3600) << result.err;
  }
  EXPECT_NE(count_lines["HYBRID"][0].find(
                fmt::format("task failed: {} more lines suppressed", failed - 1)),
            std::string::npos)
      << result.err;

  const ProcessResult table = run_cli({"simulate", "--fail-503", "0:3600"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("SIMULATED"), std::string::npos) << table.out;
  // The table counts the failed requests, since the waits cover only the started ones.
  EXPECT_NE(table.out.find(" 503  fail  unst  oom "), std::string::npos) << table.out;
  // The requests that arrived in the last seconds of the window started after it, on a retry.
  EXPECT_NE(table.out.find(fmt::format("HYBRID {} of {} ({} failed without starting)",
                                       figures["wait_count"].get<int>(),
                                       figures["requests"].get<int>(), failed)),
            std::string::npos)
      << table.out;
}

// A request that failed without starting has no wait, so the JSON counts the requests that the
// wait percentiles cover.
TEST_F(SimulateTest, WaitsCoverOnlyStartedRequests) {
  ProcessResult result =
      run_cli({"simulate", "--fail-503", "0:600", "--duration", "600", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json figures = parse_json(result)["runs"][0]["figures"];
  const int requests = figures["requests"].get<int>();
  const int wait_count = figures["wait_count"].get<int>();
  const int failed = figures["tasks_failed"].get<int>();
  ASSERT_GT(failed, 0) << figures.dump();
  EXPECT_LT(wait_count, requests) << figures.dump();
  EXPECT_EQ(wait_count + failed, requests) << figures.dump();
}

// Four agents cannot keep up with 1.8 requests per second, so requests are left when the run
// ends at the drain limit. The table shows them, and the normal end logs no error or warning.
TEST_F(SimulateTest, UnstartedRequestsShownAndEndIsQuiet) {
  ProcessResult result = run_cli(
      {"simulate", "--rate-scale", "3", "--max-agents", "4", "--duration", "600", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json figures = parse_json(result)["runs"][0]["figures"];
  const int unstarted = figures["tasks_unstarted"].get<int>();
  ASSERT_GT(unstarted, 0) << figures.dump();

  ProcessResult table = run_cli({"simulate", "--rate-scale", "3", "--max-agents", "4", "--duration",
                                 "600", "--log-level", "info"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(" unst "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(" " + std::to_string(unstarted) + " "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("for at most 1800 s: HYBRID ended at 2400 s"), std::string::npos)
      << table.out;
  EXPECT_EQ(table.err.find(" error "), std::string::npos) << table.err.substr(0, 2000);
  EXPECT_EQ(table.err.find(" warning "), std::string::npos) << table.err.substr(0, 2000);
  EXPECT_EQ(table.err.find("task lost"), std::string::npos) << table.err.substr(0, 2000);
  EXPECT_NE(table.err.find(std::to_string(unstarted) + " requests never started"),
            std::string::npos)
      << table.err.substr(0, 2000);
}

TEST_F(SimulateTest, ConfigWaitTargetAppliesUnlessFlagged) {
  const std::filesystem::path config = dir_.path() / "wait.json";
  std::ofstream(config) << R"({"workload_scaling":{"wait_target":60}})";
  const std::vector<std::string> base = {"simulate", "--duration", "300",
                                         "--json",   "--config",   config.string()};
  const nlohmann::json from_file = simulated_settings(run_cli(base));
  EXPECT_DOUBLE_EQ(from_file["wait_target_s"].get<double>(), 60);

  std::vector<std::string> flagged = base;
  flagged.insert(flagged.end(), {"--wait-target", "7"});
  EXPECT_DOUBLE_EQ(simulated_settings(run_cli(flagged))["wait_target_s"].get<double>(), 7);

  const nlohmann::json defaults =
      simulated_settings(run_cli({"simulate", "--duration", "300", "--json"}));
  EXPECT_DOUBLE_EQ(defaults["wait_target_s"].get<double>(), 5);
  EXPECT_EQ(defaults["max_agents"].get<int>(), 32);
}

TEST_F(SimulateTest, ConfigMaxAgentsAppliesUnlessFlagged) {
  const std::filesystem::path config = dir_.path() / "max.json";
  std::ofstream(config) << R"({"dynamic_agent_management":{"max_agents":2},)"
                        << R"("gpu_scaling":{"max_agents":3}})";
  const std::vector<std::string> base = {"simulate", "--duration", "300",      "--initial-agents",
                                         "1",        "--json",     "--config", config.string()};
  ProcessResult from_file = run_cli(base);
  EXPECT_EQ(simulated_settings(from_file)["max_agents"].get<int>(), 2);
  EXPECT_LE(parse_json(from_file)["runs"][0]["figures"]["peak_agents"].get<int>(), 2);

  std::vector<std::string> flagged = base;
  flagged.insert(flagged.end(), {"--max-agents", "5"});
  EXPECT_EQ(simulated_settings(run_cli(flagged))["max_agents"].get<int>(), 5);

  // The default of 4 initial agents is lowered to the configured maximum.
  ProcessResult lowered =
      run_cli({"simulate", "--duration", "300", "--json", "--config", config.string()});
  EXPECT_EQ(lowered.exit_code, 0) << lowered.err;
  EXPECT_EQ(simulated_settings(lowered)["max_agents"].get<int>(), 2);
  // A given --initial-agents above the maximum is an error that names both.
  ProcessResult too_many =
      run_cli({"simulate", "--config", config.string(), "--initial-agents", "4"});
  EXPECT_EQ(too_many.exit_code, 2) << too_many.err;
  EXPECT_NE(too_many.err.find("--initial-agents 4 is above dynamic_agent_management.max_agents 2"),
            std::string::npos)
      << too_many.err;
}

TEST_F(SimulateTest, ConfigMinAgentsAboveMaxExitsTwo) {
  const std::filesystem::path config = dir_.path() / "min.json";
  std::ofstream(config) << R"({"dynamic_agent_management":{"min_agents":8,"max_agents":16}})";
  ProcessResult result = run_cli({"simulate", "--duration", "300", "--config", config.string(),
                                  "--max-agents", "4", "--initial-agents", "4"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("dynamic_agent_management.min_agents 8 (from file " + config.string() +
                            ") is above --max-agents 4"),
            std::string::npos)
      << result.err;
}

TEST_F(SimulateTest, FaultWindowAfterTraceIsNoted) {
  ProcessResult late = run_cli({"simulate", "--fail-503", "700:800", "--duration", "600"});
  EXPECT_EQ(late.exit_code, 0) << late.err;
  EXPECT_NE(late.err.find("note: --fail-503 700:800 starts at 700 s, at or after the end of the "
                          "trace at --duration 600 s"),
            std::string::npos)
      << late.err;

  ProcessResult inside = run_cli({"simulate", "--fail-503", "100:200", "--duration", "600"});
  EXPECT_EQ(inside.exit_code, 0) << inside.err;
  EXPECT_EQ(inside.err.find("note: --fail-503"), std::string::npos) << inside.err;
}

TEST_F(SimulateTest, EmptyOutFolderExitsTwo) {
  ProcessResult result = run_cli({"simulate", "--out", ""});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("the output folder path of --out is empty"), std::string::npos)
      << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST_F(SimulateTest, TraceWithoutRequestsExitsTwo) {
  ProcessResult pattern = run_cli({"simulate", "--duration", "1"});
  EXPECT_EQ(pattern.exit_code, 2) << pattern.out << pattern.err;
  EXPECT_NE(pattern.err.find("the steady pattern has no request within --duration 1 s"),
            std::string::npos)
      << pattern.err;

  const std::filesystem::path trace = dir_.path() / "late.csv";
  std::ofstream(trace) << "arrival_s,prompt_tokens,output_tokens\n0,10,10\n";
  ProcessResult file = run_cli({"simulate", "--trace", trace.string(), "--duration", "1"});
  EXPECT_EQ(file.exit_code, 0) << file.err;
}

TEST_F(SimulateTest, MissingTraceFileExitsTwo) {
  ProcessResult result = run_cli({"simulate", "--trace", (dir_.path() / "none.csv").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("not found"), std::string::npos) << result.err;
}

TEST_F(SimulateTest, TraceFolderExitsTwo) {
  ProcessResult result = run_cli({"simulate", "--trace", dir_.path().string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find(dir_.path().string() + " is a folder, expected a CSV file"),
            std::string::npos)
      << result.err;
}

TEST_F(SimulateTest, TraceTokensAboveLimitExitTwo) {
  const std::filesystem::path trace = dir_.path() / "trace.csv";
  std::ofstream(trace) << "arrival_s,prompt_tokens,output_tokens\n0,10,10\n1,99999999999,5\n";
  ProcessResult result = run_cli({"simulate", "--trace", trace.string(), "--duration", "10"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(
      result.err.find("line 3 column 2: prompt_tokens 99999999999 is above the limit of 4194304"),
      std::string::npos)
      << result.err;
}

TEST_F(SimulateTest, NonFiniteAndHugeValuesExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"--duration", "inf"},     {"--duration", "1e12"},    {"--rate-scale", "1e9"},
      {"--startup-time", "nan"}, {"--delay-metrics", "-1"}, {"--max-agents", "0"}};
  for (const std::vector<std::string>& flag : cases) {
    ProcessResult result = run_cli({"simulate", flag[0], flag[1]});
    EXPECT_EQ(result.exit_code, 2) << flag[0] << " " << flag[1];
    EXPECT_NE(result.err.find(flag[0]), std::string::npos) << result.err;
  }
}

TEST_F(SimulateTest, OutOfRangeSeedsExitTwo) {
  for (const std::string seed : {"-1", "18446744073709551616", "99999999999999999999", "1e3"}) {
    ProcessResult result = run_cli({"simulate", "--seed", seed, "--duration", "10"});
    EXPECT_EQ(result.exit_code, 2) << seed << ": " << result.out;
    EXPECT_NE(result.err.find("'" + seed + "'"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("0 to 18446744073709551615"), std::string::npos) << result.err;
  }
}

TEST_F(SimulateTest, LargestSeedIsKept) {
  ProcessResult result =
      run_cli({"simulate", "--seed", "18446744073709551615", "--duration", "10", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(parse_json(result).at("seed").get<uint64_t>(), 18446744073709551615u);
}

TEST_F(SimulateTest, BinaryTraceIsNotEchoed) {
  const std::filesystem::path trace = dir_.path() / "trace.bin";
  std::string bytes =
      "\x7f"
      "ELF\x02\x01\x01";
  bytes += std::string(4, '\0') + "\x1b[31m" + std::string(300, '\xff') + "\n1,2,3\n";
  std::ofstream(trace, std::ios::binary) << bytes;
  ProcessResult result = run_cli({"simulate", "--trace", trace.string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("unknown header \"\\x7fELF\\x02"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("(first 40 of"), std::string::npos) << result.err;
  for (const char c : result.err) {
    const unsigned char byte = static_cast<unsigned char>(c);
    ASSERT_TRUE(byte == '\n' || (byte >= 0x20 && byte < 0x7f))
        << "raw byte " << static_cast<int>(byte) << " in: " << result.err;
  }
}

TEST_F(SimulateTest, UnsortedTraceIsSortedAndSaysSo) {
  const std::filesystem::path trace = dir_.path() / "trace.csv";
  std::ofstream(trace) << "arrival_s,prompt_tokens,output_tokens\n0,10,10\n5,10,10\n3,10,10\n";
  ProcessResult result = run_cli({"simulate", "--trace", trace.string(), "--duration", "10"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("sorted by arrival time"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("the first at line 4"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace ollamaflow::testing
