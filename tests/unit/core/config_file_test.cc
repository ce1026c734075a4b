// Reading the configuration file: each way a file can be unusable gets its own message that
// names the file and the cause.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.h"
#include "fakes/test_paths.h"

namespace ollamaflow {
namespace {

class ConfigFileTest : public ::testing::Test {
 protected:
  // Writes `text` to a file in the temp folder and returns its path.
  std::string write_text(const std::string& text) {
    const std::string path = (dir_.path() / "config.json").string();
    std::ofstream(path) << text;
    return path;
  }

  // Loads `path` and returns the error message; fails the test when loading succeeds.
  std::string load_error(const std::string& path) {
    Result<Config> config = load_config(path, [](const std::string&) { return std::nullopt; }, {});
    EXPECT_FALSE(config.is_ok()) << path;
    return config.is_ok() ? "" : config.status().message();
  }

  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }

  testing::TempDir dir_;
};

TEST_F(ConfigFileTest, FolderIsNamedAsFolder) {
  const std::string path = dir_.path().string();
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "'" + path + "' is a folder")) << message;
  EXPECT_TRUE(contains(message, "--config")) << message;
}

// Dumping or comparing a value recurses once per level, so 50,000 levels would overflow the
// stack. The file is rejected before it is parsed.
TEST_F(ConfigFileTest, DeepNestingIsRejected) {
  const std::string path = write_text("{\"server\": {\"model\": " + std::string(50000, '[') +
                                      std::string(50000, ']') + "}}");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "nests deeper than 128 levels at line 1 column 148")) << message;
  EXPECT_LT(message.size(), 400u) << message;
}

// A parser keeps the last of two equal keys without a word, so a setting typed twice is named.
TEST_F(ConfigFileTest, DuplicateKeyNamesBothPlaces) {
  const std::string path =
      write_text("{\"server\": {\"num_ctx\": 4096,\n            \"num_ctx\": 8192}}");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message,
                       "the key \"num_ctx\" twice in one object, at line 1 column 13 "
                       "and line 2 column 13"))
      << message;
  EXPECT_TRUE(contains(message, "remove the other")) << message;
}

TEST_F(ConfigFileTest, TruncatedFileNamesLineAndColumn) {
  const std::string path = write_text("{\n  \"server\": ");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "line 2 column 13")) << message;
  EXPECT_TRUE(contains(message, "unexpected end of input")) << message;
}

TEST_F(ConfigFileTest, BadNumberNamesTheNumber) {
  const std::string path = write_text("{\"run\": {\"agents\": 1.}}");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "line 1 column 22")) << message;
  EXPECT_TRUE(contains(message, "invalid number; expected digit after '.'")) << message;
}

TEST_F(ConfigFileTest, OverflowingNumberIsNamed) {
  const std::string path = write_text("{\"run\": {\"agents\": 1e999}}");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "number overflow")) << message;
  EXPECT_TRUE(contains(message, "1e999")) << message;
}

TEST_F(ConfigFileTest, SocketNamesSystemError) {
  // A Unix socket exists but cannot be opened as a file (ENXIO), also for root, who may read
  // every file whatever its permissions.
  const std::string path = (dir_.path() / "config.sock").string();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(address.sun_path));
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const std::string message = load_error(path);
  ::close(fd);
  EXPECT_TRUE(contains(message, "'" + path + "' cannot be read: No such device or address"))
      << message;
}

TEST_F(ConfigFileTest, PathBelowFileIsNotFound) {
  const std::string path = write_text("{}") + "/inner.json";
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "'" + path + "' not found")) << message;
}

TEST_F(ConfigFileTest, UnknownGroupIsUnknownWhateverItsValue) {
  for (const std::string value : {"1", "{}", "{\"x\": 1}", "[]"}) {
    const std::string path = write_text("{\"foo\": " + value + "}");
    const std::string message = load_error(path);
    EXPECT_TRUE(contains(message, "unknown configuration group 'foo'")) << value << ": " << message;
  }
}

TEST_F(ConfigFileTest, EmptyModelNamesKeyAndFile) {
  for (const std::string key : {"server.model", "auto_scaling.model"}) {
    const size_t dot = key.find('.');
    const std::string path =
        write_text("{\"" + key.substr(0, dot) + "\": {\"" + key.substr(dot + 1) + "\": \"\"}}");
    const std::string message = load_error(path);
    EXPECT_TRUE(contains(message, "invalid value \"\" for " + key + " (file " + path + ")"))
        << message;
  }
}

TEST_F(ConfigFileTest, EmptyRoleModelIsRejected) {
  const std::string path = write_text(R"({"server": {"role_models": {"developer": ""}}})");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "server.role_models.developer")) << message;
}

TEST_F(ConfigFileTest, EndlessDeviceNamesLimit) {
  const std::string message = load_error("/dev/zero");
  EXPECT_TRUE(contains(message, "'/dev/zero' is not a regular file")) << message;
  EXPECT_TRUE(contains(message, "limit of 1 MiB")) << message;
}

TEST_F(ConfigFileTest, ArrayIsNotAnObjectOfGroups) {
  const std::string path = write_text("[1, 2]");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "contains a JSON array")) << message;
}

TEST_F(ConfigFileTest, EachFailureHasItsOwnMessage) {
  const std::string folder = load_error(dir_.path().string());
  const std::string truncated = load_error(write_text("{\"server\": "));
  const std::string number = load_error(write_text("{\"run\": {\"agents\": 1.}}"));
  EXPECT_NE(folder, truncated);
  EXPECT_NE(truncated, number);
  EXPECT_NE(folder, number);
}

TEST_F(ConfigFileTest, UnknownStrategyNameIsRejected) {
  const std::string path = write_text(R"({"strategies": {"FASTEST": {"description": "x"}}})");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "unknown strategy 'FASTEST'")) << message;
  EXPECT_TRUE(contains(message, R"({"description":"x"})")) << message;
  EXPECT_TRUE(contains(message, "GPU_MEMORY_BASED, WORKLOAD_BASED, HYBRID")) << message;
}

TEST_F(ConfigFileTest, UnknownStrategyFieldIsRejected) {
  const std::string path = write_text(R"({"strategies": {"HYBRID": {"weight": 3}}})");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "strategies.HYBRID.weight = 3")) << message;
  EXPECT_TRUE(contains(message, "description, priority")) << message;
}

TEST_F(ConfigFileTest, StrategyNotesAreKept) {
  const std::string path =
      write_text(R"({"strategies": {"hybrid": {"description": "both", "priority": "consensus"}}})");
  Result<Config> config = load_config(path, [](const std::string&) { return std::nullopt; }, {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->strategy_notes["hybrid"]["priority"], "consensus");
}

TEST_F(ConfigFileTest, UnknownMonitoringKeyIsRejected) {
  const std::string path = write_text(R"({"monitoring": {"zzz": 1}})");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "unknown key 'zzz' in monitoring = 1 (file " + path + ")"))
      << message;
  EXPECT_TRUE(contains(message, "log_scaling_events (true or false)")) << message;
  EXPECT_TRUE(contains(message, "metrics_collection_interval (seconds > 0)")) << message;
}

TEST_F(ConfigFileTest, UnknownAdvancedKeyIsRejected) {
  const std::string path = write_text(R"({"advanced": {"anything": 1}})");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "unknown key 'anything' in advanced = 1")) << message;
  EXPECT_TRUE(contains(message, "enable_predictive_scaling (true or false)")) << message;
}

TEST_F(ConfigFileTest, MonitoringAndAdvancedTypesChecked) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"monitoring": {"log_scaling_events": "yes"}})",
       "invalid monitoring.log_scaling_events = \"yes\""},
      {R"({"monitoring": {"status_report_interval": 0}})",
       "invalid monitoring.status_report_interval = 0"},
      {R"({"advanced": {"enable_cost_optimization": 1}})",
       "invalid advanced.enable_cost_optimization = 1"},
      {R"({"advanced": []})", "advanced (file"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string message = load_error(write_text(text));
    EXPECT_TRUE(contains(message, expected)) << text << ": " << message;
  }
}

TEST_F(ConfigFileTest, MonitoringAndAdvancedKeysAreKept) {
  const std::string path = write_text(
      R"({"monitoring": {"enable_detailed_logging": false, "log_scaling_events": true,
                         "log_agent_lifecycle": true, "metrics_collection_interval": 5.0,
                         "status_report_interval": 60},
          "advanced": {"enable_custom_callbacks": false, "enable_external_scaling_api": false,
                       "enable_predictive_scaling": false, "enable_cost_optimization": false}})");
  Result<Config> config = load_config(path, [](const std::string&) { return std::nullopt; }, {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->monitoring["metrics_collection_interval"], 5.0);
  EXPECT_EQ(config->advanced["enable_predictive_scaling"], false);
}

TEST_F(ConfigFileTest, UnknownRoleInRoleModelsIsRejected) {
  const std::string path = write_text(R"({"server": {"role_models": {"tester": "qwen3:8b"}}})");
  const std::string message = load_error(path);
  EXPECT_TRUE(contains(message, "unknown role 'tester'")) << message;
  EXPECT_TRUE(contains(message, R"({"tester":"qwen3:8b"})")) << message;
  EXPECT_TRUE(contains(message, "queen, developer, analyst")) << message;
}

}  // namespace
}  // namespace ollamaflow
