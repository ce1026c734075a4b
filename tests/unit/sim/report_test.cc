#include "sim/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/scenario.h"

namespace ollamaflow::sim {
namespace {

class ReportTest : public ::testing::Test {
 protected:
  ReportTest() {
    report_.trace = "steady";
    report_.trace_description = "steady Poisson arrivals at 0.6/s";
    report_.seed = 3;
    report_.startup_s = 10;
    PolicyRun entry;
    entry.run.policy = "HYBRID";
    entry.run.duration_s = 100;
    entry.run.points = {{0, 0.5, 1, 4, 3}, {50, 1.0, 5, 6, 6}, {100, 0.2, 0, 5, 1}};
    entry.figures.policy = "HYBRID";
    entry.figures.wait_p95_s = 6.5;
    entry.goals = {{"p95 wait <= 5 s", 6.5, 5, false}, {"0 tasks killed", 0, 0, true}};
    report_.runs.push_back(entry);
  }

  SimulationReport report_;
};

TEST_F(ReportTest, TableNamesPolicyAndMissedGoals) {
  const std::string table = format_table(report_);
  EXPECT_NE(table.find("HYBRID"), std::string::npos);
  EXPECT_NE(table.find("p95 wait <= 5 s (is 6.50)"), std::string::npos);
  EXPECT_EQ(table.find("0 tasks killed (is"), std::string::npos);
}

TEST_F(ReportTest, EventCountsPrintWhole) {
  report_.runs[0].goals.push_back({"0 server 503s", 270, 0, false});
  const std::string table = format_table(report_);
  EXPECT_NE(table.find("0 server 503s (is 270)"), std::string::npos) << table;
  EXPECT_NE(table.find("p95 wait <= 5 s (is 6.50)"), std::string::npos) << table;
}

TEST_F(ReportTest, TableShowsUnstartedAndDrainLimit) {
  report_.drain_limit_s = 1800;
  const std::string quiet = format_table(report_);
  EXPECT_NE(quiet.find(" fail  unst "), std::string::npos) << quiet;
  EXPECT_EQ(quiet.find("unst counts"), std::string::npos) << quiet;

  report_.runs[0].figures.unstarted = 219;
  report_.runs[0].run.ended_at_s = 1900;
  const std::string table = format_table(report_);
  EXPECT_NE(table.find("   219 "), std::string::npos) << table;
  EXPECT_NE(table.find("unst counts requests that had not started"), std::string::npos) << table;
  EXPECT_NE(table.find("for at most 1800 s: HYBRID ended at 1900 s."), std::string::npos) << table;
}

// Each short column header is explained in a legend under the table.
TEST_F(ReportTest, TableExplainsEachColumn) {
  const std::string table = format_table(report_);
  const size_t legend = table.find("\ncolumns:\n");
  ASSERT_NE(legend, std::string::npos) << table;
  for (const std::string header : {"agent-s", "x orc", "flips", "gap s", "react s", "peak", "x pk",
                                   "kill", "503", "fail", "unst", "oom", "rec %"}) {
    EXPECT_NE(table.find("\n  " + header + " ", legend), std::string::npos)
        << header << " is not explained:\n"
        << table;
  }
  EXPECT_NE(table.find("  flips    direction changes of the pool per 10 minutes"),
            std::string::npos)
      << table;
}

TEST_F(ReportTest, TableNamesQueueWait) {
  report_.runs[0].figures.requests = 10;
  report_.runs[0].figures.wait_count = 10;
  const std::string table = format_table(report_);
  EXPECT_NE(table.find("policy            wait p50 wait p95 wait p99 "), std::string::npos)
      << table;
  EXPECT_NE(table.find("percentiles of the queue wait in seconds, from a request's arrival until "
                       "a server slot starts it, not of the time to complete it"),
            std::string::npos)
      << table;
  EXPECT_EQ(table.find("failed without starting"), std::string::npos) << table;
}

// 361 of 362 requests failed on 503 replies without starting, so the waits are those of one
// request, and the table states that.
TEST_F(ReportTest, TableSaysWaitsLeaveOutFailed) {
  Figures& figures = report_.runs[0].figures;
  figures.requests = 362;
  figures.wait_count = 1;
  figures.failed = 361;
  figures.wait_p50_s = 0.5;
  const std::string table = format_table(report_);
  EXPECT_NE(table.find("A request that failed without starting has no queue wait and is left out "
                       "of the waits, so the waits cover only part of the requests: HYBRID 1 of "
                       "362 (361 failed without starting)."),
            std::string::npos)
      << table;

  // Without a wait, the table shows none instead of 0.
  figures.wait_count = 0;
  figures.failed = 362;
  figures.wait_p50_s = 0;
  const std::string none = format_table(report_);
  EXPECT_NE(none.find("HYBRID                   -        -        - "), std::string::npos) << none;
  EXPECT_NE(none.find("HYBRID 0 of 362 (362 failed without starting)"), std::string::npos) << none;
}

TEST_F(ReportTest, CheapCostMissedByWaitsSaysWhy) {
  report_.runs[0].goals.push_back(
      {"agent-seconds <= 1.25x oracle, wait goal met", 0.85, 1.25, false});
  const std::string table = format_table(report_);
  EXPECT_NE(table.find("wait goal met (is 0.85, but the wait goal is missed)"), std::string::npos)
      << table;
  EXPECT_NE(table.find("p95 wait <= 5 s (is 6.50);"), std::string::npos) << table;
}

TEST_F(ReportTest, JsonHasFiguresGoalsAndPoints) {
  const nlohmann::json json = report_json(report_);
  EXPECT_TRUE(json.at("simulated").get<bool>());
  EXPECT_EQ(json.at("seed"), 3);
  const nlohmann::json& run = json.at("runs").at(0);
  EXPECT_DOUBLE_EQ(run.at("figures").at("wait_p95_s").get<double>(), 6.5);
  EXPECT_FALSE(run.at("goals").at(0).at("met").get<bool>());
  EXPECT_EQ(run.at("points").size(), 3u);
}

TEST_F(ReportTest, SvgHasOnePathPerSeries) {
  const std::string svg = render_svg(report_);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  size_t paths = 0;
  for (size_t at = svg.find("<path"); at != std::string::npos; at = svg.find("<path", at + 1)) {
    ++paths;
  }
  EXPECT_EQ(paths, 3u);
  EXPECT_NE(svg.find("Simulated"), std::string::npos);
}

TEST_F(ReportTest, WriteReportCreatesBothFiles) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "ollamaflow-sim-report-test";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(write_report(report_, dir.string()).is_ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "simulation.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "simulation.svg"));
  std::ifstream file(dir / "simulation.json");
  const nlohmann::json json = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(json.is_discarded());
  std::filesystem::remove_all(dir);
}

TEST_F(ReportTest, AllExpandsToEveryPolicy) {
  Result<std::vector<std::string>> all = resolve_policies({"all"});
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), 11u);
  Result<std::vector<std::string>> named = resolve_policies({"hybrid", "hpa", "HYBRID"});
  ASSERT_TRUE(named.is_ok());
  EXPECT_EQ(*named, (std::vector<std::string>{"HYBRID", "hpa"}));
}

TEST_F(ReportTest, UnknownPolicyIsRejected) {
  Result<std::vector<std::string>> policies = resolve_policies({"hpa", "keda"});
  ASSERT_FALSE(policies.is_ok());
  EXPECT_NE(policies.status().message().find("keda"), std::string::npos);
  EXPECT_FALSE(resolve_policies({}).is_ok());
}

}  // namespace
}  // namespace ollamaflow::sim
