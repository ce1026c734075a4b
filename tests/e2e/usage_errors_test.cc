// End-to-end checks that invalid flags and values are usage errors: exit code 2, a message on
// stderr that names the value and the fix, and no model call before the check.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
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

TEST_F(UsageErrorsTest, RunTemperatureRejectsNan) {
  ProcessResult result = run_cli({"run", "x", "--backend", "sim", "--temperature", "nan"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("server.temperature"), std::string::npos) << result.err;
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

}  // namespace
}  // namespace ollamaflow::testing
