#include "core/config.h"

#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include <limits>

#include "fakes/test_paths.h"

namespace ollamaflow {
namespace {

using nlohmann::json;

class ConfigTest : public ::testing::Test {
 protected:
  std::string write_file(const json& document) {
    const std::string path = (dir_.path() / "config.json").string();
    std::ofstream(path) << document.dump(2);
    return path;
  }

  EnvLookup env() const {
    return [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      return it == env_.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  }

  testing::TempDir dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DefaultsMatchSeedValues) {
  Result<Config> config = load_config(std::nullopt, env(), {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->gpu_scaling.min_agents, 1);
  EXPECT_FALSE(config->gpu_scaling.max_agents.has_value());
  EXPECT_DOUBLE_EQ(config->gpu_scaling.memory_buffer_mb, 1024);
  EXPECT_DOUBLE_EQ(config->gpu_scaling.memory_safety_margin, 0.15);
  EXPECT_DOUBLE_EQ(config->gpu_scaling.scale_up_threshold, 0.75);
  EXPECT_DOUBLE_EQ(config->gpu_scaling.scale_down_threshold, 0.40);
  EXPECT_DOUBLE_EQ(config->gpu_scaling.scale_check_interval, 15);
  EXPECT_DOUBLE_EQ(config->gpu_scaling.cooldown_period, 30);
  EXPECT_EQ(config->workload.high_queue_length, 10);
  EXPECT_DOUBLE_EQ(config->workload.scale_down_cooldown, 120);
  EXPECT_EQ(config->agent_management.batch_creation_size, 3);
  EXPECT_DOUBLE_EQ(config->agent_management.idle_timeout_seconds, 600);
  EXPECT_EQ(config->sources.at("gpu_scaling.min_agents"), "default");
}

TEST_F(ConfigTest, FlagBeatsEnvBeatsFileBeatsDefault) {
  const std::string path = write_file({{"server", {{"model", "file-model"}}},
                                       {"gpu_scaling", {{"max_agents", 3}, {"min_agents", 2}}},
                                       {"auto_scaling", {{"strategy", "CONSERVATIVE"}}}});
  env_["OLLAMA_FLOW_MODEL"] = "env-model";
  env_["SCALING_STRATEGY"] = "aggressive";
  const std::vector<FlagValue> flags = {{"server.model", "flag-model", "--model"}};
  Result<Config> config = load_config(path, env(), flags);
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->server.model, "flag-model");
  EXPECT_EQ(config->sources.at("server.model"), "flag:--model");
  EXPECT_EQ(config->strategy, "AGGRESSIVE");
  EXPECT_EQ(config->sources.at("auto_scaling.strategy"), "env:SCALING_STRATEGY");
  EXPECT_EQ(config->gpu_scaling.max_agents, 3);
  EXPECT_EQ(config->sources.at("gpu_scaling.max_agents"), "file:" + path);
  EXPECT_EQ(config->sources.at("gpu_scaling.memory_buffer_mb"), "default");
}

TEST(DescribeSourceTest, NamesEachKindInWords) {
  const std::pair<std::string, std::string> cases[] = {
      {"flag:--agents", "flag --agents"},
      {"file:/etc/flow.json", "file /etc/flow.json"},
      {"env:OLLAMA_HOST", "environment variable OLLAMA_HOST"},
      {"profile:production", "profile production"},
      {"interactive", "interactive session"},
      {"default", "default"},
      {"", "default"},
      {"file:/a:b.json", "file /a:b.json"},
      {"other:x", "other:x"},
  };
  for (const auto& [source, words] : cases) {
    EXPECT_EQ(describe_source(source), words) << source;
  }
}

TEST_F(ConfigTest, DescribeSourceOfLoadedKeys) {
  const std::string path = write_file({{"gpu_scaling", {{"max_agents", 3}}}});
  env_["SCALING_STRATEGY"] = "aggressive";
  const std::vector<FlagValue> flags = {{"server.model", "flag-model", "--model"}};
  Result<Config> config = load_config(path, env(), flags);
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(describe_source_of(*config, "server.model"), "flag --model");
  EXPECT_EQ(describe_source_of(*config, "auto_scaling.strategy"),
            "environment variable SCALING_STRATEGY");
  EXPECT_EQ(describe_source_of(*config, "gpu_scaling.max_agents"), "file " + path);
  EXPECT_EQ(describe_source_of(*config, "gpu_scaling.memory_buffer_mb"), "default");
  EXPECT_EQ(describe_source_of(*config, "no.such_key"), "default");
}

TEST_F(ConfigTest, EnvironmentVariablesMapToKeys) {
  env_["OLLAMA_HOST"] = "0.0.0.0";
  env_["AUTO_SCALING"] = "true";
  env_["GPU_LAYERS"] = "35";
  env_["OLLAMA_KV_CACHE_TYPE"] = "q8_0";
  Result<Config> config = load_config(std::nullopt, env(), {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->server.host, "http://127.0.0.1:11434");
  EXPECT_TRUE(config->auto_scaling);
  EXPECT_EQ(config->server.gpu_layers, 35);
  EXPECT_EQ(config->kv_cache_type_k, "q8_0");
  EXPECT_EQ(config->kv_cache_type_v, "q8_0");
}

TEST_F(ConfigTest, OllamaHostWithPortKeepsPort) {
  env_["OLLAMA_HOST"] = "gpu-box:9999";
  Result<Config> config = load_config(std::nullopt, env(), {});
  ASSERT_TRUE(config.is_ok());
  EXPECT_EQ(config->server.host, "http://gpu-box:9999");
}

TEST_F(ConfigTest, OllamaHostFormsReadAsOllamaDoes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"gpu-box", "http://gpu-box:11434"},
      {"gpu-box:9999", "http://gpu-box:9999"},
      {"http://gpu-box", "http://gpu-box:80"},
      {"https://gpu-box", "https://gpu-box:443"},
      {"HTTPS://gpu-box", "https://gpu-box:443"},
      {"https://gpu-box:8443", "https://gpu-box:8443"},
      {"https://gpu-box/ollama/", "https://gpu-box:443/ollama"},
      {"http://gpu-box:8080/", "http://gpu-box:8080"},
      {":9", "http://127.0.0.1:9"},
      {"http://:9", "http://127.0.0.1:9"},
      {"0.0.0.0", "http://127.0.0.1:11434"},
      {"0.0.0.0:8000", "http://127.0.0.1:8000"},
      {"[::1]", "http://[::1]:11434"},
      {"[::1]:9", "http://[::1]:9"},
      {"::1", "http://[::1]:11434"},
      {"[::]:11434", "http://[::1]:11434"},
      {" \"gpu-box:1234\" ", "http://gpu-box:1234"},
      {"gpu-box:", "http://gpu-box:11434"},
  };
  for (const auto& [variable, url] : cases) {
    env_["OLLAMA_HOST"] = variable;
    Result<Config> config = load_config(std::nullopt, env(), {});
    ASSERT_TRUE(config.is_ok()) << variable << ": " << config.status().to_string();
    EXPECT_EQ(config->server.host, url) << variable;
    EXPECT_EQ(config->sources.at("server.host"), "env:OLLAMA_HOST") << variable;
  }
}

// Ollama reads OLLAMA_HOST=":PORT" as this machine, and so do --host and the configuration file.
TEST_F(ConfigTest, HostFlagPortAloneMeansLocalHost) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {":9", "127.0.0.1:9"},
      {"http://:9", "http://127.0.0.1:9"},
      {"https://:8443/ollama", "https://127.0.0.1:8443/ollama"},
      {"gpu-box:9", "gpu-box:9"},
      {"http://gpu-box:9", "http://gpu-box:9"},
      {"http://[::1]:9", "http://[::1]:9"},
  };
  for (const auto& [flag, url] : cases) {
    const std::vector<FlagValue> flags = {{"server.host", flag, "--host"}};
    Result<Config> config = load_config(std::nullopt, env(), flags);
    ASSERT_TRUE(config.is_ok()) << flag << ": " << config.status().to_string();
    EXPECT_EQ(config->server.host, url) << flag;
    EXPECT_EQ(config->sources.at("server.host"), "flag:--host") << flag;
  }
  const std::string path = write_file({{"server", {{"host", ":9"}}}});
  Result<Config> from_file = load_config(path, env(), {});
  ASSERT_TRUE(from_file.is_ok()) << from_file.status().to_string();
  EXPECT_EQ(from_file->server.host, "127.0.0.1:9");
}

// The listen-all addresses mean this machine whether the flag, the file or OLLAMA_HOST gives
// them, and the value as given is kept for `config show`.
TEST_F(ConfigTest, HostListenAllMapsFromEverySource) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0.0.0.0:9", "127.0.0.1:9"},
      {"0.0.0.0", "127.0.0.1"},
      {"http://0.0.0.0:9/ollama", "http://127.0.0.1:9/ollama"},
      {"https://0.0.0.0", "https://127.0.0.1"},
      {"[::]:9", "[::1]:9"},
      {"http://[::]:9", "http://[::1]:9"},
  };
  for (const auto& [given, url] : cases) {
    const std::vector<FlagValue> flags = {{"server.host", given, "--host"}};
    Result<Config> from_flag = load_config(std::nullopt, env(), flags);
    ASSERT_TRUE(from_flag.is_ok()) << given << ": " << from_flag.status().to_string();
    EXPECT_EQ(from_flag->server.host, url) << given;
    EXPECT_EQ(from_flag->given_values.at("server.host"), given) << given;

    const std::string path = write_file({{"server", {{"host", given}}}});
    Result<Config> from_file = load_config(path, env(), {});
    ASSERT_TRUE(from_file.is_ok()) << given << ": " << from_file.status().to_string();
    EXPECT_EQ(from_file->server.host, url) << given;
    EXPECT_EQ(from_file->given_values.at("server.host"), given) << given;
  }
  env_["OLLAMA_HOST"] = "0.0.0.0:9";
  Result<Config> from_env = load_config(std::nullopt, env(), {});
  ASSERT_TRUE(from_env.is_ok()) << from_env.status().to_string();
  EXPECT_EQ(from_env->server.host, "http://127.0.0.1:9");
  EXPECT_EQ(from_env->given_values.at("server.host"), "0.0.0.0:9");

  // A flag that needs no mapping replaces the environment's value and its given form.
  const std::vector<FlagValue> flags = {{"server.host", "http://gpu-box:9", "--host"}};
  Result<Config> overridden = load_config(std::nullopt, env(), flags);
  ASSERT_TRUE(overridden.is_ok()) << overridden.status().to_string();
  EXPECT_EQ(overridden->server.host, "http://gpu-box:9");
  EXPECT_EQ(overridden->given_values.count("server.host"), 0u);
}

// Hosts that only look like the listen-all address, and a host left empty without a port,
// stay as given.
TEST_F(ConfigTest, HostMappingLeavesOtherHosts) {
  for (const std::string given :
       {"http://0.0.0.01:9", "http://10.0.0.0:9", "gpu-box:9", "http://[::1]:9", "http://"}) {
    const std::vector<FlagValue> flags = {{"server.host", given, "--host"}};
    Result<Config> config = load_config(std::nullopt, env(), flags);
    ASSERT_TRUE(config.is_ok()) << given << ": " << config.status().to_string();
    EXPECT_EQ(config->server.host, given) << given;
    EXPECT_EQ(config->given_values.count("server.host"), 0u) << given;
  }
}

// A value that a profile replaces is no longer the value as given.
TEST_F(ConfigTest, ProfileDropsReplacedGivenValue) {
  const std::string path =
      write_file({{"auto_scaling", {{"strategy", "hybrid"}, {"profile", "production"}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->strategy, "CONSERVATIVE");
  EXPECT_EQ(config->sources.at("auto_scaling.strategy"), "profile:production");
  EXPECT_EQ(config->given_values.count("auto_scaling.strategy"), 0u);
}

TEST_F(ConfigTest, ParseConfigTextChecksTypeAndRange) {
  Result<json> agents = parse_config_text("run.agents", "4", "flag --agents");
  ASSERT_TRUE(agents.is_ok()) << agents.status().to_string();
  EXPECT_EQ(*agents, 4);
  for (const std::string text : {"abc", "", "1.5", "0", "1025"}) {
    Result<json> rejected = parse_config_text("run.agents", text, "flag --agents");
    ASSERT_FALSE(rejected.is_ok()) << text;
    EXPECT_EQ(rejected.status().code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(rejected.status().message().find("for run.agents (flag --agents): expected an "
                                               "integer from 1 to 1024"),
              std::string::npos)
        << rejected.status().message();
  }
  Result<json> nan = parse_config_text("server.temperature", "nan", "flag --temperature");
  ASSERT_FALSE(nan.is_ok());
  EXPECT_NE(nan.status().message().find("expected a value from 0 to 2"), std::string::npos)
      << nan.status().message();
}

TEST_F(ConfigTest, ThresholdsOutOfOrderNameValuesAndSources) {
  const std::string path =
      write_file({{"gpu_scaling", {{"scale_up_threshold", 0.3}, {"scale_down_threshold", 0.6}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "gpu_scaling.scale_down_threshold (0.6, from file " + path +
                ") must be below gpu_scaling.scale_up_threshold (0.3, from file " + path +
                "): lower gpu_scaling.scale_down_threshold or raise "
                "gpu_scaling.scale_up_threshold");
}

TEST_F(ConfigTest, ScaleDownAtVramCriticalIsRejected) {
  const std::string path = write_file({{"gpu_scaling", {{"vram_critical_threshold", 0.4}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find(
                "gpu_scaling.scale_down_threshold (0.4, from default) must be below "
                "gpu_scaling.vram_critical_threshold (0.4, from file "),
            std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, TemperaturesOutOfOrderNameValues) {
  const std::string path = write_file({{"gpu_scaling", {{"temperature_critical_c", 99}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find(
                "gpu_scaling.temperature_critical_c (99, from file " + path +
                ") must not exceed gpu_scaling.temperature_emergency_c (95, from default)"),
            std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, ZeroOverloadThresholdNamesRange) {
  const std::string path = write_file({{"workload_scaling", {{"agent_overload_threshold", 0}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find(
                "invalid value 0 for workload_scaling.agent_overload_threshold (file " + path +
                "): expected a value from 0.01 to 1"),
            std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, UnknownKeyIsNamed) {
  const std::string path = write_file({{"gpu_scaling", {{"max_agentz", 3}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("gpu_scaling.max_agentz"), std::string::npos);
}

TEST_F(ConfigTest, WrongTypeNamesKeyValueAndRange) {
  const std::string path = write_file({{"gpu_scaling", {{"min_agents", "two"}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  const std::string message = config.status().message();
  EXPECT_NE(message.find("gpu_scaling.min_agents"), std::string::npos);
  EXPECT_NE(message.find("\"two\""), std::string::npos) << message;
  EXPECT_NE(message.find("integer from 0 to 1024"), std::string::npos);
}

TEST_F(ConfigTest, RangeLimitsAreInclusive) {
  const std::vector<FlagValue> at_limit = {{"gpu_scaling.memory_safety_margin", 0.9, "--m"}};
  EXPECT_TRUE(load_config(std::nullopt, env(), at_limit).is_ok());
  const std::vector<FlagValue> above = {{"gpu_scaling.memory_safety_margin", 0.91, "--m"}};
  Result<Config> config = load_config(std::nullopt, env(), above);
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find("0.91"), std::string::npos);
  EXPECT_NE(config.status().message().find("flag --m"), std::string::npos);
}

TEST_F(ConfigTest, RangeMessageWritesLargeLimitsInFull) {
  const std::vector<FlagValue> flags = {{"server.num_ctx", 5000000, "--ctx"}};
  Result<Config> config = load_config(std::nullopt, env(), flags);
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find("from 256 to 4194304"), std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, NotANumberIsNamedAsSuch) {
  const std::vector<FlagValue> flags = {
      {"server.temperature", std::numeric_limits<double>::quiet_NaN(), "--temperature"}};
  Result<Config> config = load_config(std::nullopt, env(), flags);
  ASSERT_FALSE(config.is_ok());
  const std::string message = config.status().message();
  EXPECT_NE(message.find("invalid value nan for server.temperature"), std::string::npos) << message;
  EXPECT_EQ(message.find("null"), std::string::npos) << message;
}

TEST_F(ConfigTest, SyncFilesDefaultsOnAndReadsFromFile) {
  Result<Config> defaults = load_config(std::nullopt, env(), {});
  ASSERT_TRUE(defaults.is_ok());
  EXPECT_TRUE(defaults->run.sync_files);
  const std::string path = write_file({{"run", {{"sync_files", false}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_FALSE(config->run.sync_files);
}

TEST_F(ConfigTest, BadEnvironmentValueNamesVariable) {
  env_["GPU_LAYERS"] = "many";
  Result<Config> config = load_config(std::nullopt, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find("GPU_LAYERS"), std::string::npos);
  EXPECT_NE(config.status().message().find("\"many\""), std::string::npos);
}

TEST_F(ConfigTest, UnknownStrategyShownAsWritten) {
  env_["SCALING_STRATEGY"] = "bad";
  Result<Config> config = load_config(std::nullopt, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find("\"bad\""), std::string::npos)
      << config.status().message();
  EXPECT_EQ(config.status().message().find("\"BAD\""), std::string::npos)
      << config.status().message();
}

TEST_F(ConfigTest, BlankModelIsRejected) {
  for (const std::string blank : {" ", "\t", "  \n"}) {
    const std::vector<FlagValue> flags = {{"server.model", blank, "--model"}};
    Result<Config> config = load_config(std::nullopt, env(), flags);
    ASSERT_FALSE(config.is_ok()) << "'" << blank << "'";
    EXPECT_NE(config.status().message().find("server.model"), std::string::npos)
        << config.status().message();
  }
}

// A blank variable counts as unset, like an empty one, so the default server stays unnamed.
TEST_F(ConfigTest, BlankEnvironmentVariableIsUnset) {
  env_["OLLAMA_HOST"] = "  ";
  env_["OLLAMA_FLOW_MODEL"] = " ";
  Result<Config> config = load_config(std::nullopt, env(), {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->sources.at("server.host"), "default");
  EXPECT_EQ(config->sources.at("server.model"), "default");
}

TEST_F(ConfigTest, UnknownStrategyListsChoices) {
  const std::vector<FlagValue> flags = {{"auto_scaling.strategy", "FAST", "--strategy"}};
  Result<Config> config = load_config(std::nullopt, env(), flags);
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find("HYBRID"), std::string::npos);
}

TEST_F(ConfigTest, MinAboveMaxIsRejected) {
  const std::vector<FlagValue> flags = {{"gpu_scaling.min_agents", 5, "--min-agents"},
                                        {"gpu_scaling.max_agents", 2, "--max-agents"}};
  Result<Config> config = load_config(std::nullopt, env(), flags);
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "gpu_scaling.min_agents (5, from flag --min-agents) is above gpu_scaling.max_agents "
            "(2, from flag --max-agents): lower --min-agents, or raise --max-agents");
}

TEST_F(ConfigTest, MinAboveMaxNamesFileAndFlag) {
  const std::string path = write_file({{"gpu_scaling", {{"min_agents", 4}}}});
  const std::vector<FlagValue> flags = {{"gpu_scaling.max_agents", 2, "--max-agents"}};
  Result<Config> config = load_config(path, env(), flags);
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().message(),
            "gpu_scaling.min_agents (4, from file " + path +
                ") is above gpu_scaling.max_agents (2, from flag --max-agents): lower "
                "gpu_scaling.min_agents in " +
                path + ", or raise --max-agents");
}

TEST_F(ConfigTest, MinAboveMaxInFileNamesFile) {
  const std::string path = write_file({{"gpu_scaling", {{"min_agents", 4}, {"max_agents", 3}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  const std::string message = config.status().message();
  EXPECT_NE(message.find("(4, from file " + path + ")"), std::string::npos) << message;
  EXPECT_NE(message.find("(3, from file " + path + ")"), std::string::npos) << message;
  EXPECT_NE(message.find("lower gpu_scaling.min_agents in " + path), std::string::npos) << message;
  EXPECT_NE(message.find("raise gpu_scaling.max_agents in " + path), std::string::npos) << message;
  EXPECT_EQ(message.find("--min-agents"), std::string::npos) << message;
  EXPECT_EQ(message.find("--max-agents"), std::string::npos) << message;
}

TEST_F(ConfigTest, MinAboveManagerCapIsRejected) {
  const std::string path = write_file(
      {{"gpu_scaling", {{"min_agents", 5}}}, {"dynamic_agent_management", {{"max_agents", 3}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "gpu_scaling.min_agents (5, from file " + path +
                ") is above dynamic_agent_management.max_agents (3, from file " + path +
                "): lower gpu_scaling.min_agents in " + path +
                ", or raise dynamic_agent_management.max_agents in " + path);
}

TEST_F(ConfigTest, MinFlagAboveDefaultManagerCapIsRejected) {
  const std::vector<FlagValue> flags = {{"gpu_scaling.min_agents", 17, "--min-agents"},
                                        {"gpu_scaling.max_agents", 20, "--max-agents"}};
  Result<Config> config = load_config(std::nullopt, env(), flags);
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().message(),
            "gpu_scaling.min_agents (17, from flag --min-agents) is above "
            "dynamic_agent_management.max_agents (16, from default): lower --min-agents, or "
            "raise dynamic_agent_management.max_agents in the configuration file");
}

TEST_F(ConfigTest, ProfileFillsKeysNotSetByUser) {
  env_["SCALING_STRATEGY"] = "WORKLOAD_BASED";
  const std::vector<FlagValue> flags = {{"auto_scaling.profile", "production", "--profile"}};
  Result<Config> config = load_config(std::nullopt, env(), flags);
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->strategy, "WORKLOAD_BASED");
  EXPECT_DOUBLE_EQ(config->gpu_scaling.scale_check_interval, 30);
  EXPECT_DOUBLE_EQ(config->gpu_scaling.cooldown_period, 60);
  EXPECT_DOUBLE_EQ(config->gpu_scaling.memory_safety_margin, 0.20);
  EXPECT_EQ(config->sources.at("gpu_scaling.cooldown_period"), "profile:production");
}

TEST_F(ConfigTest, FileProfileKeepsValuesItDoesNotSet) {
  // A profile from the file that sets only the strategy leaves the margin and the cooldowns. A
  // null field, as `config show --json` prints an unset one, is not set either.
  const std::string path =
      write_file({{"environments",
                   {{"staging", {{"strategy", "aggressive"}, {"cooldown_period", nullptr}}}}}});
  const std::vector<FlagValue> flags = {{"auto_scaling.profile", "staging", "--profile"}};
  Result<Config> config = load_config(path, env(), flags);
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->strategy, "AGGRESSIVE");
  EXPECT_EQ(config->sources.at("auto_scaling.strategy"), "profile:staging");
  EXPECT_DOUBLE_EQ(config->gpu_scaling.memory_safety_margin, 0.15);
  EXPECT_DOUBLE_EQ(config->gpu_scaling.cooldown_period, 30);
  EXPECT_EQ(config->sources.at("gpu_scaling.memory_safety_margin"), "default");
}

TEST_F(ConfigTest, BlankModelRequirementNameIsRejected) {
  for (const std::string name : {"", "  "}) {
    const std::string path =
        write_file({{"model_requirements", {{name, {{"min_memory_mb", 1024}}}}}});
    Result<Config> config = load_config(path, env(), {});
    ASSERT_FALSE(config.is_ok()) << "name \"" << name << "\"";
    EXPECT_EQ(config.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(config.status().message().find("the blank name \"" + name + "\""), std::string::npos)
        << config.status().message();
  }
}

TEST_F(ConfigTest, UnknownProfileListsNames) {
  const std::vector<FlagValue> flags = {{"auto_scaling.profile", "staging", "--profile"}};
  Result<Config> config = load_config(std::nullopt, env(), flags);
  ASSERT_FALSE(config.is_ok());
  EXPECT_NE(config.status().message().find("development"), std::string::npos);
}

TEST_F(ConfigTest, SeedFileIsAccepted) {
  const json seed = {
      {"auto_scaling", {{"enabled", true}, {"strategy", "HYBRID"}, {"model", "phi3:mini"}}},
      {"gpu_scaling",
       {{"min_agents", 1},
        {"max_agents", 8},
        {"memory_buffer_mb", 1024},
        {"memory_safety_margin", 0.15},
        {"scale_up_threshold", 0.75},
        {"scale_down_threshold", 0.40},
        {"scale_check_interval", 15.0},
        {"cooldown_period", 30.0}}},
      {"workload_scaling",
       {{"high_queue_length", 10},
        {"high_wait_time", 30.0},
        {"high_cpu_usage", 80.0},
        {"high_memory_usage", 85.0},
        {"low_idle_agents", 0.2},
        {"agent_overload_threshold", 0.8},
        {"scale_up_cooldown", 60.0},
        {"scale_down_cooldown", 120.0}}},
      {"dynamic_agent_management",
       {{"max_agents", 16},
        {"min_agents", 1},
        {"agent_timeout_seconds", 300},
        {"idle_timeout_seconds", 600},
        {"cleanup_interval_seconds", 60},
        {"batch_creation_size", 3},
        {"graceful_shutdown_timeout", 30}}},
      {"strategies", {{"HYBRID", {{"description", "x"}, {"priority", "consensus"}}}}},
      {"model_requirements",
       {{"phi3:mini",
         {{"min_memory_mb", 2048},
          {"recommended_memory_mb", 3072},
          {"context_length", 4096},
          {"parameters", "3.8B"}}}}},
      {"environments",
       {{"development",
         {{"strategy", "AGGRESSIVE"},
          {"scale_check_interval", 10.0},
          {"cooldown_period", 15.0},
          {"memory_safety_margin", 0.10}}}}},
      {"monitoring", {{"log_scaling_events", true}}},
      {"advanced", {{"enable_predictive_scaling", false}}}};
  Result<Config> config = load_config(write_file(seed), env(), {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_TRUE(config->auto_scaling);
  EXPECT_EQ(config->server.model, "phi3:mini");
  EXPECT_EQ(config->gpu_scaling.max_agents, 8);
  EXPECT_DOUBLE_EQ(config->model_requirements.at("phi3:mini").recommended_memory_mb, 3072);
}

TEST_F(ConfigTest, MalformedFileIsParseError) {
  const std::string path = (dir_.path() / "bad.json").string();
  std::ofstream(path) << "{\"server\": ";
  Result<Config> config = load_config(path, env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), ErrorCode::kParseError);
  EXPECT_NE(config.status().message().find(path), std::string::npos);
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  Result<Config> config = load_config((dir_.path() / "none.json").string(), env(), {});
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), ErrorCode::kNotFound);
}

TEST_F(ConfigTest, RoleModelsAcceptNameOrList) {
  const std::string path = write_file(
      {{"server",
        {{"role_models",
          {{"developer", {"qwen2.5-coder:7b", "llama3.1:8b"}}, {"analyst", "llama3.1:8b"}}}}}});
  Result<Config> config = load_config(path, env(), {});
  ASSERT_TRUE(config.is_ok()) << config.status().to_string();
  EXPECT_EQ(config->server.role_models.at("developer").size(), 2u);
  EXPECT_EQ(config->server.role_models.at("analyst").front(), "llama3.1:8b");
}

TEST_F(ConfigTest, ApiKeyIsMaskedInOutput) {
  const std::vector<FlagValue> flags = {{"server.api_key", "secret-token", "--api-key"}};
  Result<Config> config = load_config(std::nullopt, env(), flags);
  ASSERT_TRUE(config.is_ok());
  EXPECT_EQ(config->to_json()["server"]["api_key"], "***");
}

}  // namespace
}  // namespace ollamaflow
