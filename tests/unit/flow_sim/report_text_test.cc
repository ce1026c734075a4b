// The text report and plan: control characters from the goal, the model or the server are shown
// escaped, never sent to the terminal as they are.
#include <gtest/gtest.h>

#include "flow/run_types.h"

namespace ollamaflow::flow {
namespace {

class ReportTextTest : public ::testing::Test {
 protected:
  static RunReport report_with(const std::string& goal, const std::string& summary) {
    RunReport report;
    report.run_id = "r-1";
    report.status = "succeeded";
    report.goal = goal;
    report.summary = summary;
    TaskReport task;
    task.id = "t1";
    task.status = "failed";
    task.error = "server said \x1b]0;owned\x07";
    report.tasks.push_back(task);
    return report;
  }
};

TEST_F(ReportTextTest, EscapeSequencesAreShownEscaped) {
  const std::string text =
      format_report(report_with("Build \x1b[2Ja web app\r", "Done.\nLine two\tcolumn"));
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find('\x07'), std::string::npos);
  EXPECT_NE(text.find("Build \\x1B[2Ja web app\\r"), std::string::npos) << text;
  EXPECT_NE(text.find("server said \\x1B]0;owned\\x07"), std::string::npos) << text;
  // Newlines and tabs keep their meaning.
  EXPECT_NE(text.find("Done.\nLine two\tcolumn"), std::string::npos) << text;
}

// A right-to-left override or a line separator in the model's summary would reorder or break
// the report's text on the terminal.
TEST_F(ReportTextTest, BidiControlsInSummaryAreEscaped) {
  const std::string text =
      format_report(report_with("goal", "Wrote \u202Etxt.exe\u2028and\u2029more.\nNext line"));
  EXPECT_NE(text.find("Wrote \\u202Etxt.exe\\u2028and\\u2029more.\nNext line"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("\u202E"), std::string::npos) << text;
}

TEST_F(ReportTextTest, OneLineFieldsEscapeNewlinesAndTabs) {
  RunReport report = report_with("line1\nline2\tend", "Done.\nLine two");
  report.tasks[0].error = "first\nforged: line";
  report.notes.push_back("note\nforged");
  const std::string text = format_report(report);
  EXPECT_NE(text.find("  goal:      line1\\nline2\\tend\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  t1: first\\nforged: line\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  note:      note\\nforged\n"), std::string::npos) << text;
  // The summary is a block of text, so its lines stay lines.
  EXPECT_NE(text.find("Done.\nLine two"), std::string::npos) << text;
}

TEST_F(ReportTextTest, ScalingEventCountAgreesWithItsNoun) {
  RunReport report = report_with("goal", "Done.");
  report.auto_scaling = true;
  report.strategy = "HYBRID";
  ScalingEventReport event;
  event.action = "scale_up";
  event.from_count = 1;
  event.to_count = 3;
  report.scaling_events.push_back(event);
  EXPECT_NE(format_report(report).find("Auto-scaling (HYBRID): 1 scaling event\n"),
            std::string::npos)
      << format_report(report);
  report.scaling_events.push_back(event);
  EXPECT_NE(format_report(report).find("Auto-scaling (HYBRID): 2 scaling events\n"),
            std::string::npos)
      << format_report(report);
  report.scaling_events.clear();
  EXPECT_NE(format_report(report).find("Auto-scaling (HYBRID): 0 scaling events\n"),
            std::string::npos)
      << format_report(report);
}

TEST_F(ReportTextTest, TokenLineNamesFailedAndWarmUpParts) {
  RunReport report = report_with("goal", "Done.");
  report.prompt_tokens = 1200;
  report.output_tokens = 340;
  report.failed_prompt_tokens = 400;
  report.failed_output_tokens = 90;
  report.warm_up_prompt_tokens = 30;
  report.warm_up_output_tokens = 6;
  const std::string text = format_report(report);
  EXPECT_NE(text.find("tokens in/out 1200/340 (failed requests 400/90, warm-ups 30/6)\n"),
            std::string::npos)
      << text;

  const nlohmann::json document = report_to_json(report);
  EXPECT_EQ(document["failed_prompt_tokens"], 400);
  EXPECT_EQ(document["failed_output_tokens"], 90);
  EXPECT_EQ(document["warm_up_prompt_tokens"], 30);
  EXPECT_EQ(document["warm_up_output_tokens"], 6);
}

TEST_F(ReportTextTest, PlanFieldsEscapeNewlines) {
  nlohmann::json plan = {{"goal", "g1\ng2"},
                         {"summary", "s1\ns2"},
                         {"tasks",
                          {{{"id", "a"},
                            {"title", "T1\nT2"},
                            {"role", "developer"},
                            {"description", "d1\nd2"},
                            {"depends_on", nlohmann::json::array()},
                            {"files", {"x.py"}}}}}};
  const std::string text = format_plan(plan);
  for (const std::string part : {"Plan for: g1\\ng2\n", "s1\\ns2\n", "T1\\nT2", "d1\\nd2\n"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  }
}

TEST_F(ReportTextTest, C1ControlsAreEscapedAndOtherUtf8Kept) {
  const std::string text =
      format_report(report_with("caf\xC3\xA9 \xC2\x9B"
                                "2J \xE2\x82\xAC",
                                ""));
  EXPECT_NE(text.find("caf\xC3\xA9 \\u009B2J \xE2\x82\xAC"), std::string::npos) << text;
}

TEST_F(ReportTextTest, PlanTextIsEscapedToo) {
  nlohmann::json plan = {{"goal", "g\x1b[31m"},
                         {"summary", ""},
                         {"tasks",
                          {{{"id", "a"},
                            {"title", "T\x08"},
                            {"role", "developer"},
                            {"description", "d"},
                            {"depends_on", nlohmann::json::array()},
                            {"files", {"x.py"}}}}}};
  const std::string text = format_plan(plan);
  EXPECT_NE(text.find("Plan for: g\\x1B[31m"), std::string::npos) << text;
  EXPECT_NE(text.find("T\\x08"), std::string::npos) << text;
}

}  // namespace
}  // namespace ollamaflow::flow
