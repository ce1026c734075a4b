// Shared pieces of the end-to-end tests: a temp home for the binary, a fake server that plays a
// whole run, and helpers to read what the run left behind.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_model_server.h"
#include "fakes/process.h"
#include "fakes/test_paths.h"

#include <gtest/gtest.h>

namespace ollamaflow::testing {

// The plan the fake queen returns: four tasks in three levels.
nlohmann::json sample_plan();

// Makes `server` reply to plan, agent, summary and warm-up requests like a cooperative model:
// the plan is `plan`, agents return every declared file.
void play_cooperative_model(FakeModelServer& server, const nlohmann::json& plan);

// Makes `server` reply like play_cooperative_model, except that a reply for which
// `hold(kind, body)` returns true waits at the server's gate before it is written. `kind` is
// script_kind(body): "plan", "agent_reply", "summary", "warm_up" or "other".
using HoldRule = std::function<bool(const std::string& kind, const nlohmann::json& body)>;
void play_gated_model(FakeModelServer& server, const nlohmann::json& plan, HoldRule hold);

// Makes `server` reply to plan requests with `plan`, to every agent request with `agent_reply`,
// and to summary and warm-up requests with short fixed replies.
void play_agent_reply(FakeModelServer& server, const nlohmann::json& plan,
                      const FakeReply& agent_reply);

class E2eTest : public ::testing::Test {
 protected:
  // Runs the ollama-flow binary with `args`, with HOME and XDG_DATA_HOME inside the temp folder
  // and OLLAMA_HOST removed unless `env` sets it.
  ProcessResult run_cli(const std::vector<std::string>& args,
                        std::map<std::string, std::string> env = {},
                        const std::string& stdin_text = "");
  ProcessOptions cli_options(std::map<std::string, std::string> env);
  std::vector<std::string> cli_argv(const std::vector<std::string>& args) const;

  std::filesystem::path workspace() const { return dir_.path() / "ws"; }
  std::filesystem::path db() const { return dir_.path() / "journal.db"; }
  std::string read(const std::filesystem::path& path) const;
  // Parses stdout as JSON; fails the test when it is not.
  nlohmann::json parse_json(const ProcessResult& result) const;
  // Returns the check named `name` of doctor's --json output, or null when there is none.
  static nlohmann::json doctor_check(const nlohmann::json& document, const std::string& name);
  // Sends Ctrl-C (SIGINT) to `child`, expects exit code 130 within 30 s and returns the report
  // on stdout, which is discarded when it is not JSON.
  nlohmann::json interrupt_run(ChildProcess& child) const;

  TempDir dir_;
};

}  // namespace ollamaflow::testing
