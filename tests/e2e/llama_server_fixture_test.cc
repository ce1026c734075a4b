// Checks of the llama-server test fixture itself: start, health, slots, restart, stop.
#include <signal.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "fakes/llama_server.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

class LlamaServerFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override { OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(location_); }

  std::unique_ptr<LlamaServer> start(const LlamaServerOptions& options) {
    Result<std::unique_ptr<LlamaServer>> server = LlamaServer::start(options);
    EXPECT_TRUE(server.is_ok()) << server.status().to_string();
    return server.is_ok() ? std::move(server).value() : nullptr;
  }

  LlamaServerLocation location_ = locate_llama_server();
};

json get_json(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  httplib::Result reply = client.Get(path);
  if (!reply || reply->status != 200) {
    return nullptr;
  }
  return json::parse(reply->body, nullptr, false);
}

TEST_F(LlamaServerFixtureTest, StartsWithRequestedSlots) {
  LlamaServerOptions options;
  options.slots = 3;
  options.total_ctx = 3072;
  std::unique_ptr<LlamaServer> server = start(options);
  ASSERT_NE(server, nullptr);
  const json props = get_json(server->port(), "/props");
  ASSERT_TRUE(props.is_object()) << server->log_tail();
  EXPECT_EQ(props.value("total_slots", 0), 3);
  EXPECT_GT(server->pid(), 0);
  EXPECT_NE(server->read_log().find("llama-server"), std::string::npos) << server->log_path();
}

TEST_F(LlamaServerFixtureTest, RestartKeepsPortAndNewPid) {
  std::unique_ptr<LlamaServer> server = start({});
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  const pid_t first = server->pid();
  ASSERT_TRUE(server->restart().is_ok()) << server->log_tail();
  EXPECT_EQ(server->port(), port);
  EXPECT_NE(server->pid(), first);
  EXPECT_TRUE(get_json(port, "/health").is_object());
}

TEST_F(LlamaServerFixtureTest, StopEndsTheChild) {
  std::unique_ptr<LlamaServer> server = start({});
  ASSERT_NE(server, nullptr);
  const pid_t pid = server->pid();
  server->stop();
  EXPECT_EQ(server->pid(), -1);
  // The child was reaped, so no process with that pid belongs to this test any more.
  EXPECT_NE(kill(pid, 0), 0);
  EXPECT_TRUE(get_json(server->port(), "/health").is_null());
}

TEST_F(LlamaServerFixtureTest, BadFlagFailsWithLog) {
  LlamaServerOptions options;
  options.cache_type_k = "not_a_type";
  Result<std::unique_ptr<LlamaServer>> server = LlamaServer::start(options);
  ASSERT_FALSE(server.is_ok());
  EXPECT_NE(server.status().message().find("exited"), std::string::npos)
      << server.status().message();
  EXPECT_NE(server.status().message().find("not_a_type"), std::string::npos)
      << server.status().message();
}

class LlamaServerLocationTest : public ::testing::Test {};

TEST_F(LlamaServerLocationTest, NamedBinaryMissingIsReported) {
  const char* saved = std::getenv("OLLAMA_FLOW_LLAMA_SERVER");
  const std::string previous = saved ? saved : "";
  setenv("OLLAMA_FLOW_LLAMA_SERVER", "/nonexistent/llama-server", 1);
  const LlamaServerLocation location = locate_llama_server();
  if (saved) {
    setenv("OLLAMA_FLOW_LLAMA_SERVER", previous.c_str(), 1);
  } else {
    unsetenv("OLLAMA_FLOW_LLAMA_SERVER");
  }
  EXPECT_FALSE(location.found());
  EXPECT_NE(location.missing.find("/nonexistent/llama-server"), std::string::npos);
}

}  // namespace
}  // namespace ollamaflow::testing
