// End-to-end runs of the real binary against the fake Ollama server.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "e2e/e2e_support.h"
#include "fakes/fake_script.h"
#include "store/sqlite.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

class OllamaRunTest : public E2eTest {
 protected:
  std::vector<std::string> run_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "run",         "Create a Python web app", "--host", server_.url(),
        "--workspace", workspace().string(),      "--db",   db().string(),
        "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::vector<json> requests_of(const std::string& kind) const {
    std::vector<json> out;
    for (const json& body : server_.chat_requests()) {
      if (script_kind(body) == kind) {
        out.push_back(body);
      }
    }
    return out;
  }

  // Sends Ctrl-C to `child` as interrupt_run() does, then opens the server's gate.
  json interrupt(ChildProcess& child) {
    const json report = interrupt_run(child);
    server_.gate().open_all();
    return report;
  }

  FakeOllamaServer server_;
};

TEST_F(OllamaRunTest, GoalProducesFilesExitZeroAndJournal) {
  play_cooperative_model(server_, sample_plan());
  ProcessResult result = run_cli(run_args({"--agents", "3"}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["status"], "succeeded");
  EXPECT_FALSE(report["simulated"].get<bool>());
  for (const char* file : {"docs/design.md", "app/main.py", "app/routes.py", "tests/test_app.py",
                           "docs/security.md"}) {
    EXPECT_TRUE(std::filesystem::exists(workspace() / file)) << file;
    EXPECT_NE(read(workspace() / file).find(file), std::string::npos) << file;
  }
  ASSERT_EQ(report["tasks"].size(), 4u);
  for (const json& task : report["tasks"]) {
    EXPECT_GT(task["prompt_tokens"].get<int64_t>(), 0) << task.dump();
    EXPECT_GT(task["output_tokens"].get<int64_t>(), 0) << task.dump();
    // An agent takes tasks of every role, so its id names none; the task names its own.
    EXPECT_TRUE(std::regex_match(task["agent"].get<std::string>(), std::regex("agent-[0-9]+")))
        << task.dump();
    EXPECT_FALSE(task["role"].get<std::string>().empty()) << task.dump();
  }
  EXPECT_EQ(report["summary"], "The app, its tests and a review were written.");

  ProcessResult shown =
      run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  json run = parse_json(shown);
  EXPECT_EQ(run["status"], "succeeded");
  EXPECT_EQ(run["tasks"].size(), 4u);
  ASSERT_EQ(run["plan_attempts"].size(), 1u);
  EXPECT_TRUE(run["plan_attempts"][0]["accepted"].get<bool>());
  const ProcessResult text = run_cli({"runs", "show", report["run_id"], "--db", db().string()});
  EXPECT_NE(text.out.find("it_architect"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("security_specialist"), std::string::npos) << text.out;
}

TEST_F(OllamaRunTest, ResumeOnSimulatedBackendIsRejected) {
  play_cooperative_model(server_, sample_plan());
  ProcessResult first = run_cli(run_args({"--agents", "2"}));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::string run_id = parse_json(first)["run_id"];
  const std::string before = read(workspace() / "app/main.py");

  ProcessResult resumed =
      run_cli({"run", "--resume", run_id, "--backend", "sim", "--db", db().string()});
  EXPECT_EQ(resumed.exit_code, 2) << resumed.out << resumed.err;
  EXPECT_NE(resumed.err.find("ran on the ollama backend"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("--backend ollama"), std::string::npos) << resumed.err;
  EXPECT_EQ(read(workspace() / "app/main.py"), before);
}

TEST_F(OllamaRunTest, SimulatedPlanFileOnRealServer) {
  const ProcessResult planned = run_cli({"run", "Create a Python web app", "--plan-only", "--json",
                                         "--backend", "sim", "--db", db().string()});
  ASSERT_EQ(planned.exit_code, 0) << planned.out << planned.err;
  const json plan = parse_json(planned);
  EXPECT_EQ(plan["simulated"], true) << planned.out;
  const std::filesystem::path plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << plan.dump();

  play_cooperative_model(server_, sample_plan());
  ProcessResult result = run_cli(run_args({"--plan", plan_path.string(), "--agents", "2"}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const json report = parse_json(result);
  EXPECT_FALSE(report["simulated"].get<bool>());
  bool noted = false;
  for (const json& note : report["notes"]) {
    noted =
        noted || note.get<std::string>().find("made by the simulated backend") != std::string::npos;
  }
  EXPECT_TRUE(noted) << report["notes"].dump();
  EXPECT_NE(result.err.find("made by the simulated backend"), std::string::npos) << result.err;
}

// A server that rejects every chat request after the plan exists leaves no agent to run the
// tasks, so the run fails them instead of waiting for an agent, and skips the queen's summary.
TEST_F(OllamaRunTest, RejectedWarmUpsFailTheRun) {
  const std::filesystem::path plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << sample_plan().dump();
  server_.script().set_responder([](const json&) {
    FakeReply reply;
    reply.http_status = 401;
    reply.error_message = "invalid api key";
    return reply;
  });
  for (const std::vector<std::string>& pool :
       {std::vector<std::string>{"--agents", "2"},
        std::vector<std::string>{"--auto-scaling", "--strategy", "HYBRID"}}) {
    std::vector<std::string> args = {"run",         "--plan", plan_path.string(), "--host",
                                     server_.url(), "--db",   db().string(),      "--json"};
    args.insert(args.end(), pool.begin(), pool.end());
    const auto started = std::chrono::steady_clock::now();
    const ProcessResult result = run_cli(args);
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    EXPECT_EQ(result.exit_code, 1) << pool[0] << ": " << result.out << result.err;
    EXPECT_LT(elapsed_s, 120) << pool[0];
    EXPECT_NE(result.err.find("no agent could start"), std::string::npos)
        << pool[0] << ": " << result.err;
    const json report = parse_json(result);
    EXPECT_EQ(report["status"], "failed") << report.dump();
    ASSERT_FALSE(report["tasks"].empty()) << report.dump();
    EXPECT_NE(report["tasks"][0]["error"].get<std::string>().find("invalid api key"),
              std::string::npos)
        << report.dump();
    for (const json& task : report["tasks"]) {
      EXPECT_EQ(task["status"], "failed") << pool[0] << ": " << task.dump();
    }
    bool summary_skipped = false;
    for (const json& note : report["notes"]) {
      summary_skipped =
          summary_skipped || note.get<std::string>().starts_with(
                                 "the queen's summary was skipped: no agent could start");
    }
    EXPECT_TRUE(summary_skipped) << pool[0] << ": " << report["notes"].dump();
    const ProcessResult shown =
        run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"});
    const json stored = parse_json(shown);
    ASSERT_FALSE(stored["tasks"].empty()) << stored.dump();
    for (const json& task : stored["tasks"]) {
      EXPECT_EQ(task["status"], "failed") << pool[0] << ": " << task.dump();
    }
    std::filesystem::remove_all(dir_.path() / "ws");
  }
  for (const json& body : server_.chat_requests()) {
    EXPECT_NE(script_kind(body), "summary") << body.dump();
  }
}

TEST_F(OllamaRunTest, EveryRequestSendsTheSameOptions) {
  play_cooperative_model(server_, sample_plan());
  ProcessResult result =
      run_cli(run_args({"--num-ctx", "4096", "--seed", "7"}), {{"GPU_LAYERS", "35"}});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::set<std::string> option_sets;
  for (const json& body : server_.chat_requests()) {
    ASSERT_TRUE(body.contains("options")) << body.dump();
    const json& options = body["options"];
    EXPECT_EQ(options["num_ctx"], 4096);
    EXPECT_EQ(options["num_gpu"], 35);
    EXPECT_EQ(options["seed"], 7);
    option_sets.insert(
        json({{"num_ctx", options["num_ctx"]}, {"num_gpu", options["num_gpu"]}}).dump());
    EXPECT_TRUE(body.contains("keep_alive"));
    EXPECT_TRUE(body.contains("format"));
  }
  EXPECT_EQ(option_sets.size(), 1u);
}

TEST_F(OllamaRunTest, StreamSplitEverySevenBytesParses) {
  const json plan = sample_plan();
  server_.script().set_responder([plan](const json& body) {
    FakeReply reply;
    const std::string kind = script_kind(body);
    reply.content = kind == "plan"          ? plan.dump()
                    : kind == "agent_reply" ? echo_files_reply(body).dump()
                    : kind == "summary"     ? std::string(R"({"summary":"ok"})")
                                            : std::string(R"({"ready":true})");
    reply.write_bytes = 7;
    reply.piece_chars = 5;
    return reply;
  });
  ProcessResult result = run_cli(run_args());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_TRUE(std::filesystem::exists(workspace() / "app/main.py"));
}

TEST_F(OllamaRunTest, MalformedRepliesAreRecoveredOrSentBack) {
  const json plan = sample_plan();
  std::atomic<int> agent_replies{0};
  server_.script().set_responder([plan, &agent_replies](const json& body) {
    FakeReply reply;
    const std::string kind = script_kind(body);
    if (kind == "plan") {
      reply.content = "```json\n" + plan.dump(2) + "\n```\nThat is the plan.";
    } else if (kind == "agent_reply") {
      const int n = agent_replies++;
      const std::string good = echo_files_reply(body).dump();
      if (n == 0) {
        reply.content = "{'files': [], 'summary': 'single quotes'}";
      } else if (n == 1) {
        reply.content = good.substr(0, good.size() / 2);
        reply.done_reason = "length";
      } else {
        reply.content = "<think>plan the files</think>" + good + "\nSome closing words.";
      }
    } else if (kind == "summary") {
      reply.content = R"({"summary":"ok"})";
    } else {
      reply.content = R"({"ready":true})";
    }
    return reply;
  });
  ProcessResult result = run_cli(run_args({"--agents", "1"}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["tasks"][0]["attempts"], 3) << report["tasks"][0].dump();
  EXPECT_EQ(read(workspace() / "docs/design.md").find("<think>"), std::string::npos);
  // The request after the single-quoted reply names the problem.
  const std::vector<json> agent_requests = requests_of("agent_reply");
  ASSERT_GE(agent_requests.size(), 3u);
  EXPECT_NE(agent_requests[1].dump().find("single quotes"), std::string::npos);
  // The truncated reply was retried with a larger output limit.
  EXPECT_GT(agent_requests[2]["options"]["num_predict"].get<int>(),
            agent_requests[1]["options"]["num_predict"].get<int>());
}

TEST_F(OllamaRunTest, BusyServerIsRetriedNotFailed) {
  play_cooperative_model(server_, sample_plan());
  server_.script().fail_next(2, 503,
                             "server busy, please try again. maximum pending requests "
                             "exceeded");
  ProcessResult result = run_cli(run_args());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(parse_json(result)["status"], "succeeded");
}

TEST_F(OllamaRunTest, MissingModelSuggestsPull) {
  play_cooperative_model(server_, sample_plan());
  server_.set_strict_models(true);
  ProcessResult result = run_cli(run_args({"--model", "no-such-model:7b"}));
  EXPECT_EQ(result.exit_code, 1);
  json report = parse_json(result);
  EXPECT_NE(report.dump().find("ollama pull no-such-model:7b"), std::string::npos) << report.dump();
  EXPECT_FALSE(std::filesystem::exists(workspace()));
}

// A role whose models in server.role_models are all missing from the server runs on server.model.
// The task rows show only the model that ran, so a report note gives the reason.
TEST_F(OllamaRunTest, MissingRoleModelsAreNoted) {
  play_cooperative_model(server_, sample_plan());
  const std::filesystem::path config = dir_.path() / "roles.json";
  std::ofstream(config) << R"({"server": {"role_models": {"developer": ["coder:7b", "coder:3b"],
                                                       "it_architect": ["llama3.1:8b"]}}})";
  ProcessResult result = run_cli(run_args({"--config", config.string()}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const json report = parse_json(result);
  const std::string notes = report["notes"].dump();
  EXPECT_NE(notes.find("none of the models of role developer in server.role_models (coder:7b, "
                       "coder:3b) is on the server at "),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("so the role uses server.model llama3.1:8b: make one of them available on "
                       "the server, or change server.role_models.developer"),
            std::string::npos)
      << notes;
  // The server has the model of it_architect, and the other roles have no role models.
  EXPECT_EQ(notes.find("of role it_architect"), std::string::npos) << notes;
  EXPECT_EQ(notes.find("of role analyst"), std::string::npos) << notes;
  for (const json& task : report["tasks"]) {
    EXPECT_EQ(task["model"], "llama3.1:8b") << task.dump();
  }
}

TEST_F(OllamaRunTest, NoisePlansFailAfterRepairAttempts) {
  server_.script().set_responder([](const json& body) {
    FakeReply reply;
    reply.content = script_kind(body) == "plan"
                        ? R"({"goal":"x","summary":"y","tasks":[{"id":"a","title":"t",)"
                          R"("role":"wizard","description":"d","depends_on":["a"],"files":[]}]})"
                        : R"({"ready":true})";
    return reply;
  });
  ProcessResult result = run_cli(run_args({"--max-plan-attempts", "2"}));
  EXPECT_EQ(result.exit_code, 1);
  json report = parse_json(result);
  EXPECT_EQ(report["status"], "failed");
  EXPECT_EQ(report["plan_errors"].size(), 2u) << report.dump();
  EXPECT_NE(report["plan_errors"].dump().find("wizard"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(workspace()));
  EXPECT_EQ(requests_of("plan").size(), 2u);
  ProcessResult shown =
      run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"});
  EXPECT_EQ(parse_json(shown)["plan_attempts"].size(), 2u);

  // No plan was accepted, so there is nothing to resume, and the run stays failed.
  ProcessResult resumed = run_cli(
      {"run", "--resume", report["run_id"], "--host", server_.url(), "--db", db().string()});
  EXPECT_EQ(resumed.exit_code, 2) << resumed.err;
  EXPECT_NE(resumed.err.find("has no accepted plan, so it cannot be resumed"), std::string::npos)
      << resumed.err;
  shown = run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"});
  EXPECT_EQ(parse_json(shown)["status"], "failed");
  EXPECT_EQ(requests_of("plan").size(), 2u);
}

// The queen's per-request warnings share the run's rate limit with the agents' warnings: of 8
// rejected plans, the first 5 are logged and the rest are counted.
TEST_F(OllamaRunTest, QueenRejectionWarningsAreRateLimited) {
  server_.script().set_responder([](const json& body) {
    FakeReply reply;
    reply.content =
        script_kind(body) == "plan" ? R"({"goal":"x","tasks":[]})" : R"({"ready":true})";
    return reply;
  });
  ProcessResult result = run_cli(run_args({"--max-plan-attempts", "8"}));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(requests_of("plan").size(), 8u);
  size_t logged = 0;
  for (size_t at = result.err.find("reply rejected planner"); at != std::string::npos;
       at = result.err.find("reply rejected planner", at + 1)) {
    ++logged;
  }
  EXPECT_EQ(logged, 5u) << result.err;
  EXPECT_NE(result.err.find("reply rejected: 3 more lines suppressed"), std::string::npos)
      << result.err;
}

// A run whose planning failed never opened its workspace, so `runs show` names none.
TEST_F(OllamaRunTest, FailedPlanningShowsNoWorkspace) {
  server_.script().set_responder([](const json& body) {
    FakeReply reply;
    reply.content =
        script_kind(body) == "plan" ? R"({"goal":"x","tasks":[]})" : R"({"ready":true})";
    return reply;
  });
  ProcessResult result = run_cli(run_args({"--max-plan-attempts", "1"}));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const std::string run_id = parse_json(result)["run_id"];
  EXPECT_FALSE(std::filesystem::exists(workspace()));

  const ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string()});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(
      shown.out.find("\n  workspace: none, because the run ended before it opened its workspace\n"),
      std::string::npos)
      << shown.out;
  EXPECT_EQ(shown.out.find(workspace().string()), std::string::npos) << shown.out;
  const json document =
      parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  EXPECT_TRUE(document["workspace"].is_null()) << document.dump();
}

TEST_F(OllamaRunTest, FailedPlanOnlyRunPrintsTheReport) {
  server_.script().set_responder([](const json& body) {
    FakeReply reply;
    reply.content =
        script_kind(body) == "plan" ? R"({"goal":"x","tasks":[]})" : R"({"ready":true})";
    return reply;
  });
  std::vector<std::string> args = run_args({"--max-plan-attempts", "1", "--plan-only"});
  ProcessResult json_result = run_cli(args);
  EXPECT_EQ(json_result.exit_code, 1) << json_result.err;
  EXPECT_EQ(parse_json(json_result)["status"], "failed") << json_result.out;
  args.erase(std::find(args.begin(), args.end(), "--json"));
  ProcessResult text = run_cli(args);
  EXPECT_EQ(text.exit_code, 1) << text.err;
  EXPECT_NE(text.out.find("Planning failed"), std::string::npos) << text.out;
}

TEST_F(OllamaRunTest, PlanRequestFailureIsNotRejection) {
  auto plans = std::make_shared<std::atomic<int>>(0);
  server_.script().set_responder([plans](const json& body) {
    FakeReply reply;
    if (script_kind(body) != "plan") {
      reply.content = R"({"ready":true})";
    } else if (++*plans == 1) {
      reply.content = R"({"goal":"x","summary":"y","tasks":[{"id":"a","title":"t",)"
                      R"("role":"wizard","description":"d","depends_on":[],"files":[]}]})";
    } else {
      reply.http_status = 400;
      reply.error_message = "the test server rejects this request";
    }
    return reply;
  });
  std::vector<std::string> args = run_args();
  args.pop_back();  // the text report, not --json
  ProcessResult result = run_cli(args);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.out.find("Planning failed after these attempts:\n"
                            "  attempt 1: plan rejected: "),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("  attempt 2: request failed: "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("the test server rejects this request"), std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("sent back"), std::string::npos) << result.out;

  json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  const ProcessResult details = run_cli({"runs", "show", runs[0]["id"], "--db", db().string()});
  EXPECT_NE(details.out.find("plan attempt 1: rejected "), std::string::npos) << details.out;
  EXPECT_NE(details.out.find("plan attempt 2: no plan received"), std::string::npos) << details.out;
}

TEST_F(OllamaRunTest, FailedTaskCancelsDependents) {
  FakeReply invalid_reply;
  invalid_reply.content = "not json at all";  // every attempt of the first task fails
  play_agent_reply(server_, sample_plan(), invalid_reply);
  ProcessResult result = run_cli(run_args({"--max-task-attempts", "2"}));
  EXPECT_EQ(result.exit_code, 1);
  json report = parse_json(result);
  EXPECT_EQ(report["tasks"][0]["status"], "failed");
  for (size_t i = 1; i < report["tasks"].size(); ++i) {
    EXPECT_EQ(report["tasks"][i]["status"], "cancelled") << report["tasks"][i].dump();
  }
  EXPECT_NE(report["tasks"][1]["error"].get<std::string>().find("dependency \"design\" failed"),
            std::string::npos);
}

TEST_F(OllamaRunTest, TruncatedAttemptsCountTheirTokens) {
  FakeReply cut_reply;
  cut_reply.content = R"({"files": [{"path": ")";  // every attempt is cut at its limit
  cut_reply.done_reason = "length";
  cut_reply.prompt_tokens = 700;
  cut_reply.output_tokens = 300;
  play_agent_reply(server_, sample_plan(), cut_reply);
  ProcessResult result = run_cli(run_args({"--max-task-attempts", "2"}));
  EXPECT_EQ(result.exit_code, 1);
  json report = parse_json(result);
  const json& failed = report["tasks"][0];
  EXPECT_EQ(failed["status"], "failed") << failed.dump();
  EXPECT_EQ(failed["prompt_tokens"], 1400) << failed.dump();
  EXPECT_EQ(failed["output_tokens"], 600) << failed.dump();
  EXPECT_NE(failed["error"].get<std::string>().find("done_reason \"length\""), std::string::npos)
      << failed.dump();
  EXPECT_GE(report["output_tokens"].get<int64_t>(), 600) << report.dump();
  ProcessResult shown =
      run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"});
  EXPECT_EQ(parse_json(shown)["tasks"][0]["output_tokens"], 600) << shown.out;
}

// A reply stream that ends without its final chunk and one that fails on the server spent the
// tokens they streamed. Their attempt rows and the report's totals count them, and the report
// states how many of the total came from failed requests.
TEST_F(OllamaRunTest, FailedRequestsCountTheirTokens) {
  const json plan = sample_plan();
  std::atomic<int> agent_replies{0};
  server_.script().set_responder([plan, &agent_replies](const json& body) {
    FakeReply reply;
    const std::string kind = script_kind(body);
    if (kind == "plan") {
      reply.content = plan.dump();
      reply.prompt_tokens = 0;
      reply.output_tokens = 0;
    } else if (kind == "agent_reply") {
      const int n = agent_replies++;
      if (n == 0) {
        reply.content = "abcdefghijkl";  // three pieces, then the stream ends
        reply.piece_chars = 4;
        reply.omit_done = true;
      } else if (n == 1) {
        reply.content = "partial content";  // two pieces, then an error line
        reply.piece_chars = 4;
        reply.stream_error = StreamErrorShape::kErrorObject;
        reply.error_message = "an error was encountered while running the model: unexpected EOF";
        reply.error_after_pieces = 2;
      } else {
        reply.content = echo_files_reply(body).dump();
        reply.prompt_tokens = 100;
        reply.output_tokens = 10;
      }
    } else {
      reply.content = kind == "summary" ? R"({"summary":"ok"})" : R"({"ready":true})";
      reply.prompt_tokens = 0;
      reply.output_tokens = 0;
    }
    return reply;
  });
  ProcessResult result = run_cli(run_args({"--agents", "1"}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const json report = parse_json(result);
  EXPECT_EQ(report["failed_prompt_tokens"], 0) << report.dump();
  EXPECT_EQ(report["failed_output_tokens"], 5) << report.dump();
  // Four tasks, each accepted once with 100/10 tokens, and the 5 streamed tokens.
  EXPECT_EQ(report["prompt_tokens"], 400) << report.dump();
  EXPECT_EQ(report["output_tokens"], 45) << report.dump();
  EXPECT_EQ(report["tasks"][0]["output_tokens"], 15) << report["tasks"][0].dump();

  Result<store::Database> database = store::Database::open(db().string());
  ASSERT_TRUE(database.is_ok()) << database.status().to_string();
  Result<store::Statement> rows = database->prepare(
      "SELECT attempt, outcome, prompt_tokens, output_tokens FROM attempts WHERE task_id = "
      "'design' ORDER BY attempt");
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  std::vector<std::string> attempts;
  while (rows->step().value_or(false)) {
    attempts.push_back(rows->column_text(0) + " " + rows->column_text(1) + " " +
                       rows->column_text(2) + "/" + rows->column_text(3));
  }
  // The server error was retried by the client within the second attempt.
  EXPECT_EQ(attempts, (std::vector<std::string>{"1 truncated 0/3", "2 ok 100/12"}));

  const json shown =
      parse_json(run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"}));
  EXPECT_EQ(shown["report"]["failed_output_tokens"], 5) << shown.dump();
}

TEST_F(OllamaRunTest, InterruptedRunResumesWithoutRedoingTasks) {
  std::atomic<bool> hold_app{true};
  play_gated_model(server_, sample_plan(), [&hold_app](const std::string& kind, const json& body) {
    return hold_app && kind == "agent_reply" &&
           body.dump().find("app/main.py") != std::string::npos &&
           body.dump().find("Implement the Flask app") != std::string::npos;
  });
  std::vector<std::string> first = run_args({"--agents", "1"});
  ChildProcess child(cli_argv(first), cli_options({}));
  // The design task finished once the app request is held at the gate. Its success is posted
  // to the journal, so the kill waits until a reader sees it committed.
  server_.gate().wait_for_waiters(1);
  std::string run_id;
  const auto design_committed = [&] {
    json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
    if (runs.size() != 1) {
      return false;
    }
    run_id = runs[0]["id"];
    json details = parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
    for (const json& task : details["tasks"]) {
      if (task["id"] == "design" && task["status"] == "succeeded") {
        return true;
      }
    }
    return false;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!design_committed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  child.send_signal(SIGKILL);
  EXPECT_EQ(child.wait(std::chrono::seconds(20)), 128 + SIGKILL);
  hold_app = false;
  server_.gate().open_all();
  // As if the app task had written a file before the kill and before its success was
  // committed: the resumed run writes it again, which is not a conflict.
  std::filesystem::create_directories(workspace() / "app");
  std::ofstream(workspace() / "app/main.py") << "written before the kill";

  ProcessResult listed = run_cli({"runs", "--db", db().string(), "--json"});
  json runs = parse_json(listed);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "interrupted");
  ASSERT_EQ(runs[0]["id"], run_id);
  // runs show lists every task of the plan, also those that no agent started.
  const json shown = parse_json(run_cli({"runs", "show", run_id, "--db", db().string(), "--json"}));
  std::map<std::string, std::string> status_of;
  for (const json& task : shown["tasks"]) {
    status_of[task["id"].get<std::string>()] = task["status"].get<std::string>();
  }
  EXPECT_EQ(status_of.size(), 4u) << shown["tasks"].dump();
  EXPECT_EQ(status_of["design"], "succeeded") << shown["tasks"].dump();
  EXPECT_EQ(status_of["tests"], "not_started") << shown["tasks"].dump();
  EXPECT_EQ(status_of["review"], "not_started") << shown["tasks"].dump();
  // Every task names the files its plan entry declares; only those written are in "files".
  for (const json& task : shown["tasks"]) {
    EXPECT_FALSE(task["declared_files"].empty()) << task.dump();
    if (task["status"] == "not_started") {
      EXPECT_TRUE(task["files"].empty()) << task.dump();
    }
    if (task["status"] == "succeeded") {
      EXPECT_EQ(task["files"], task["declared_files"]) << task.dump();
    }
  }
  const ProcessResult table = run_cli({"runs", "show", run_id, "--db", db().string()});
  EXPECT_NE(table.out.find("files written (declared)"), std::string::npos) << table.out;

  const size_t design_requests_before = [&] {
    size_t n = 0;
    for (const json& body : requests_of("agent_reply")) {
      n += body.dump().find("Write the design") != std::string::npos ? 1 : 0;
    }
    return n;
  }();
  ProcessResult resumed = run_cli(
      {"run", "--resume", run_id, "--host", server_.url(), "--db", db().string(), "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  json report = parse_json(resumed);
  EXPECT_EQ(report["run_id"], run_id);
  EXPECT_EQ(report["status"], "succeeded");
  EXPECT_TRUE(report["tasks"][0]["resumed"].get<bool>());
  EXPECT_TRUE(report["conflicts"].empty()) << report["conflicts"].dump();
  size_t design_requests_after = 0;
  for (const json& body : requests_of("agent_reply")) {
    design_requests_after += body.dump().find("Write the design") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(design_requests_after, design_requests_before);
  EXPECT_EQ(requests_of("plan").size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(workspace() / "docs/security.md"));
}

// A second run in a workspace that a run is writing into stops before it is journaled, and
// the workspace is free again once the first run ends.
TEST_F(OllamaRunTest, SecondRunInBusyWorkspaceIsRejected) {
  std::atomic<bool> hold{true};
  play_gated_model(server_, sample_plan(), [&hold](const std::string& kind, const json&) {
    return hold && kind == "agent_reply";
  });
  ChildProcess first(cli_argv(run_args({"--agents", "1"})), cli_options({}));
  server_.gate().wait_for_waiters(1);

  ProcessResult second = run_cli(run_args({"--agents", "1"}));
  EXPECT_EQ(second.exit_code, 2) << second.out << second.err;
  EXPECT_NE(second.err.find(workspace().string()), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("in use by another ollama-flow run"), std::string::npos) << second.err;
  json runs = parse_json(run_cli({"runs", "--db", db().string(), "--json"}));
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  // The message names the run that locked the workspace.
  const std::string holder = "(run '" + runs[0]["id"].get<std::string>() + "', process ";
  EXPECT_NE(second.err.find(holder), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("--workspace"), std::string::npos) << second.err;

  hold = false;
  server_.gate().open_all();
  EXPECT_EQ(first.wait(std::chrono::seconds(60)), 0) << first.read_out() << first.read_err();
  ProcessResult third = run_cli(run_args({"--agents", "1"}));
  EXPECT_EQ(third.exit_code, 0) << third.out << third.err;
}

// Ollama lowers a num_ctx above the model's training context to that context, so doctor's
// advice for Ollama plans slots of the training context that /api/show gives, as it does for
// llama-server.
TEST_F(OllamaRunTest, DoctorAdviceKeepsTrainingContext) {
  FakeModel model{.name = "short-context:1b", .context_length = 4096};
  model.model_info = {{"general.architecture", "llama"}, {"llama.block_count", 2},
                      {"llama.context_length", 4096},    {"llama.embedding_length", 64},
                      {"llama.attention.head_count", 4}, {"llama.attention.head_count_kv", 4}};
  server_.set_models({model});
  const ProcessResult result = run_cli({"doctor", "--host", server_.url(), "--model",
                                        "short-context:1b", "--num-ctx", "8192", "--json"});
  const json document = parse_json(result);
  json capacity;
  json parallel;
  for (const json& check : document["checks"]) {
    if (check["name"] == "capacity") {
      capacity = check;
    } else if (check["name"] == "parallel") {
      parallel = check;
    }
  }
  ASSERT_FALSE(capacity.is_null()) << result.out;
  const std::string detail = capacity["detail"].get<std::string>();
  EXPECT_NE(detail.find("short-context:1b at 4096 tokens"), std::string::npos) << detail;
  EXPECT_NE(detail.find("the model's training context 4096, not server.num_ctx 8192"),
            std::string::npos)
      << detail;
  ASSERT_FALSE(parallel.is_null()) << result.out;
  EXPECT_NE(parallel["fix"].get<std::string>().find(
                "and run with --num-ctx 4096, the model's training context"),
            std::string::npos)
      << parallel.dump();
}

// A model from the configuration's model_requirements states its training context too, so
// doctor's advice for Ollama plans slots of that context, as plan-capacity does.
TEST_F(OllamaRunTest, DoctorAdviceLowersTableModelContext) {
  const std::filesystem::path config = dir_.path() / "tiny.json";
  std::ofstream(config) << R"({"model_requirements": {"tiny:1m": {"min_memory_mb": 20,
      "recommended_memory_mb": 21, "context_length": 2048}}})";
  const ProcessResult result =
      run_cli({"doctor", "--host", server_.url(), "--config", config.string(), "--model", "tiny:1m",
               "--num-ctx", "8192", "--json"});
  const json document = parse_json(result);
  const json capacity = doctor_check(document, "capacity");
  ASSERT_FALSE(capacity.is_null()) << result.out;
  const std::string detail = capacity["detail"].get<std::string>();
  EXPECT_NE(detail.find("tiny:1m at 2048 tokens"), std::string::npos) << detail;
  EXPECT_NE(detail.find("configuration model_requirements"), std::string::npos) << detail;
  EXPECT_NE(detail.find("the model's training context 2048, not server.num_ctx 8192"),
            std::string::npos)
      << detail;
}

TEST_F(OllamaRunTest, CtrlCWritesReportAndExits130) {
  play_gated_model(server_, sample_plan(),
                   [](const std::string& kind, const json&) { return kind == "agent_reply"; });
  ChildProcess child(cli_argv(run_args()), cli_options({}));
  server_.gate().wait_for_waiters(1);
  const json report = interrupt(child);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["status"], "cancelled");
  EXPECT_FALSE(std::filesystem::exists(workspace() / "docs/design.md"));
}

// After Ctrl-C the one agent may take queued tasks before the pool stops. A task whose request
// was never sent gets no agent and no attempt row, as on the simulated backend.
TEST_F(OllamaRunTest, CtrlCJournalsNoAttemptForUnsentRequest) {
  json plan = {{"goal", "Write six notes"}, {"tasks", json::array()}};
  for (int i = 1; i <= 6; ++i) {
    const std::string id = "note" + std::to_string(i);
    plan["tasks"].push_back({{"id", id},
                             {"role", "analyst"},
                             {"description", "Write note " + std::to_string(i) + "."},
                             {"files", {"notes/" + id + ".md"}}});
  }
  const std::filesystem::path plan_path = dir_.path() / "plan.json";
  std::ofstream(plan_path) << plan.dump();
  play_gated_model(server_, plan,
                   [](const std::string& kind, const json&) { return kind == "agent_reply"; });
  ChildProcess child(
      cli_argv({"run", "--plan", plan_path.string(), "--host", server_.url(), "--agents", "1",
                "--workspace", workspace().string(), "--db", db().string(), "--json"}),
      cli_options({}));
  server_.gate().wait_for_waiters(1);
  const json report = interrupt(child);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["status"], "cancelled");
  const size_t sent = requests_of("agent_reply").size();
  EXPECT_EQ(sent, 1u);

  Result<store::Database> database = store::Database::open(db().string());
  ASSERT_TRUE(database.is_ok()) << database.status().to_string();
  Result<store::Statement> rows = database->prepare("SELECT task_id, agent_id FROM attempts");
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  std::set<std::string> attempted;
  while (rows->step().value_or(false)) {
    attempted.insert(rows->column_text(0));
  }
  EXPECT_EQ(attempted.size(), sent) << "tasks with attempts: " << json(attempted).dump();
  for (const json& task : report["tasks"]) {
    if (attempted.count(task["id"].get<std::string>()) != 0) {
      continue;
    }
    EXPECT_EQ(task["status"], "cancelled") << task.dump();
    EXPECT_EQ(task["agent"], "") << task.dump();
    EXPECT_EQ(task["error"], "run cancelled before the task started") << task.dump();
  }
}

// The queen's reply streams three pieces before Ctrl-C, and the report counts them although the
// final chunk with the server's counts never arrives.
TEST_F(OllamaRunTest, CtrlCDuringPlanningCountsStreamedTokens) {
  server_.script().set_responder([this](const json& body) {
    FakeReply reply;
    reply.content = script_kind(body) == "plan" ? sample_plan().dump() : R"({"ready":true})";
    if (script_kind(body) == "plan") {
      reply.before_write = [this](size_t index) {
        if (index == 3) {
          server_.gate().pass();
        }
      };
    }
    return reply;
  });
  ChildProcess child(cli_argv(run_args()), cli_options({}));
  server_.gate().wait_for_waiters(1);
  // The three pieces were written before the server waits; give the client time to read them.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const json report = interrupt(child);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["status"], "cancelled");
  EXPECT_GE(report["output_tokens"].get<int64_t>(), 1) << report.dump();
  EXPECT_LE(report["output_tokens"].get<int64_t>(), 3) << report.dump();
  EXPECT_EQ(report["prompt_tokens"], 0) << report.dump();
  const json shown =
      parse_json(run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"}));
  EXPECT_EQ(shown["report"]["output_tokens"], report["output_tokens"]) << shown.dump();
}

TEST_F(OllamaRunTest, CtrlCDuringPlanningIsNotAPlanError) {
  server_.script().set_responder([this](const json& body) {
    FakeReply reply;
    reply.content = script_kind(body) == "plan" ? sample_plan().dump() : R"({"ready":true})";
    if (script_kind(body) == "plan") {
      reply.before_write = [this](size_t) { server_.gate().pass(); };
    }
    return reply;
  });
  ChildProcess child(cli_argv(run_args()), cli_options({}));
  server_.gate().wait_for_waiters(1);
  const json report = interrupt(child);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["status"], "cancelled");
  EXPECT_TRUE(report["plan_errors"].empty()) << report.dump();
  const std::string notes = report["notes"].dump();
  EXPECT_EQ(notes.find("planning failed"), std::string::npos) << notes;
  EXPECT_NE(notes.find("planning cancelled: "), std::string::npos) << notes;
  // A Ctrl-C is logged as what it is, not as an error.
  EXPECT_EQ(child.read_err().find("error [orchestrator]"), std::string::npos) << child.read_err();
}

}  // namespace
}  // namespace ollamaflow::testing
