// End-to-end checks that invalid flags and values are usage errors: exit code 2, a message on
// stderr that names the value and the fix, and no model call before the check.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "e2e/e2e_support.h"

namespace ollamaflow::testing {
namespace {

class UsageErrorsTest : public E2eTest {};

TEST_F(UsageErrorsTest, GpuIntervalRejectsNonFinite) {
  for (const std::string value : {"nan", "NaN", "-nan", "inf", "0", "0.01", "3601"}) {
    ProcessOptions options = cli_options({});
    options.timeout = std::chrono::seconds(10);
    ProcessResult result =
        run_process(cli_argv({"gpu", "--watch", "--interval", value}), options);
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

}  // namespace
}  // namespace ollamaflow::testing
