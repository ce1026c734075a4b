// End-to-end runs of the real binary against a real llama-server with the tiny random model.
//
// The model's text is noise, but schema-constrained output is valid JSON. The server starts with
// a logit bias towards the '"' token (id 1 in Llama 3's vocabulary), so the noise closes each
// string after a few tokens and a reply takes about a hundred tokens instead of thousands.
#include <signal.h>

#include <fstream>
#include <set>
#include <thread>

#include "e2e/e2e_support.h"
#include "fakes/llama_server.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

// Four tasks in three levels with one file each: with a path enum of one entry, a weak model can
// only name the right file. Tasks with several files can repeat a path, which the agent rejects
// and retries.
json one_file_plan() {
  return {{"goal", "Create a Python web app"},
          {"summary", "A design note, the app, its tests and a review."},
          {"tasks",
           {{{"id", "design"},
             {"title", "Design the app"},
             {"role", "it_architect"},
             {"description", "Write the design."},
             {"depends_on", json::array()},
             {"files", {"docs/design.md"}}},
            {{"id", "app"},
             {"title", "Write the app"},
             {"role", "developer"},
             {"description", "Implement the app."},
             {"depends_on", {"design"}},
             {"files", {"app/main.py"}}},
            {{"id", "tests"},
             {"title", "Write tests"},
             {"role", "developer"},
             {"description", "Write tests."},
             {"depends_on", {"app"}},
             {"files", {"tests/test_app.py"}}},
            {{"id", "review"},
             {"title", "Security review"},
             {"role", "security_specialist"},
             {"description", "Review the app."},
             {"depends_on", {"app"}},
             {"files", {"docs/security.md"}}}}}};
}

const char* const kPlanFiles[] = {"docs/design.md", "app/main.py", "tests/test_app.py",
                                  "docs/security.md"};

class LlamaRunTest : public E2eTest {
 protected:
  void SetUp() override {
    OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(location_);
    LlamaServerOptions options;
    options.slots = 4;
    options.total_ctx = 16384;
    options.verbose = true;  // the log then shows each request's "stream" field
    options.extra_args = {"--logit-bias", "1+6"};
    Result<std::unique_ptr<LlamaServer>> server = LlamaServer::start(options);
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server).value();
  }

  void TearDown() override {
    if (server_ && HasFailure()) {
      std::printf("llama-server log %s, last lines:\n%s\n", server_->log_path().c_str(),
                  server_->log_tail(30).c_str());
    }
  }

  std::filesystem::path write_plan(const json& plan) {
    const std::filesystem::path path = dir_.path() / "plan.json";
    std::ofstream(path) << plan.dump(2);
    return path;
  }

  // Returns the arguments of a run against the server. `num_ctx` stays below the slot's 4096
  // tokens, and it is the ceiling up to which a truncated reply's output limit doubles.
  std::vector<std::string> run_args(std::vector<std::string> extra,
                                    const std::string& num_ctx = "2048") {
    std::vector<std::string> args = {"run",         "Create a Python web app",
                                     "--backend",   "openai",
                                     "--host",      server_->url(),
                                     "--workspace", workspace().string(),
                                     "--db",        db().string(),
                                     "--num-ctx",   num_ctx,
                                     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  json show_run(const json& report) {
    ProcessResult shown =
        run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"});
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    return parse_json(shown);
  }

  LlamaServerLocation location_ = locate_llama_server();
  std::unique_ptr<LlamaServer> server_;
};

TEST_F(LlamaRunTest, PlanFileWritesEveryFile) {
  const std::filesystem::path plan = write_plan(one_file_plan());
  ProcessResult result = run_cli(run_args({"--plan", plan.string(), "--agents", "4"}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["status"], "succeeded");
  EXPECT_EQ(report["backend"], "openai");
  // llama-server lists its one model under the path of its file and serves every request with
  // it, whatever name the request gives.
  const std::string served = server_->options().model.string();
  EXPECT_EQ(report["model"], served) << report.dump();
  EXPECT_NE(report["notes"].dump().find("lists one model, " + served), std::string::npos)
      << report["notes"].dump();
  for (const char* file : kPlanFiles) {
    EXPECT_TRUE(std::filesystem::exists(workspace() / file)) << file;
  }
  ASSERT_EQ(report["tasks"].size(), 4u);
  for (const json& task : report["tasks"]) {
    EXPECT_EQ(task["status"], "succeeded") << task.dump();
    EXPECT_EQ(task["model"], served) << task.dump();
    EXPECT_GT(task["prompt_tokens"].get<int64_t>(), 0) << task.dump();
    EXPECT_GT(task["output_tokens"].get<int64_t>(), 0) << task.dump();
  }
  // The server logs each request body with -v: every chat request asked for a stream.
  const std::string log = server_->read_log();
  EXPECT_NE(log.find("\"stream\":true"), std::string::npos) << server_->log_path();
  EXPECT_EQ(log.find("\"stream\":false"), std::string::npos) << server_->log_path();

  const json run = show_run(report);
  EXPECT_EQ(run["status"], "succeeded");
  EXPECT_EQ(run["model"], served) << run.dump();
  ASSERT_EQ(run["tasks"].size(), 4u);
  for (const json& task : run["tasks"]) {
    EXPECT_GT(task.value("output_tokens", int64_t{0}), 0) << task.dump();
  }
}

TEST_F(LlamaRunTest, PlanOnlyJsonFromSimRuns) {
  ProcessResult planned = run_cli({"run", "Create a Python web app", "--backend", "sim",
                                   "--plan-only", "--json", "--db", db().string()});
  ASSERT_EQ(planned.exit_code, 0) << planned.out << planned.err;
  json plan = parse_json(planned);
  ASSERT_TRUE(plan.contains("tasks")) << planned.out;
  // Tasks of the simulated queen may declare several files; keep the first so that the noise
  // model cannot repeat a path.
  std::vector<std::string> files;
  for (json& task : plan["tasks"]) {
    ASSERT_FALSE(task["files"].empty()) << task.dump();
    task["files"] = json::array({task["files"][0]});
    files.push_back(task["files"][0]);
  }
  const std::filesystem::path path = write_plan(plan);
  ProcessResult result = run_cli(run_args({"--plan", path.string(), "--agents", "4"}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const std::string& file : files) {
    EXPECT_TRUE(std::filesystem::exists(workspace() / file)) << file;
  }
}

TEST_F(LlamaRunTest, NoisePlansFailAfterRepairAttempts) {
  // Without the logit bias the noise fills every string, so no plan is valid: each attempt ends
  // at the 256-token limit or breaks the plan's rules. With the bias, a short noise plan of one
  // task can pass validation.
  LlamaServerOptions options;
  options.slots = 2;
  options.total_ctx = 4096;
  Result<std::unique_ptr<LlamaServer>> plain = LlamaServer::start(options);
  ASSERT_TRUE(plain.is_ok()) << plain.status().message();
  server_ = std::move(plain).value();
  ProcessResult result = run_cli(
      run_args({"--max-plan-attempts", "2", "--num-predict", "256", "--agents", "2"}, "256"));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["status"], "failed");
  // NOTE: a reply cut at the output limit ends planning when the limit cannot grow (here it
  // equals num_ctx), so one attempt can be all there is, although two are allowed.
  ASSERT_GE(report["plan_errors"].size(), 1u) << report.dump();
  ASSERT_LE(report["plan_errors"].size(), 2u) << report.dump();
  EXPECT_FALSE(std::filesystem::exists(workspace()));
  const json run = show_run(report);
  ASSERT_EQ(run["plan_attempts"].size(), report["plan_errors"].size()) << run.dump();
  for (const json& attempt : run["plan_attempts"]) {
    EXPECT_FALSE(attempt["accepted"].get<bool>()) << attempt.dump();
  }
}

TEST_F(LlamaRunTest, ShortOutputLimitFailsAttempts) {
  // A reply takes about a hundred tokens, so limits of 16 and then 32 tokens both end with
  // finish_reason "length", and the task fails after its two attempts.
  const std::filesystem::path plan = write_plan(one_file_plan());
  ProcessResult result = run_cli(run_args(
      {"--plan", plan.string(), "--agents", "1", "--num-predict", "16", "--max-task-attempts", "2"},
      "256"));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["status"], "failed");
  ASSERT_FALSE(report["tasks"].empty());
  const json& first = report["tasks"][0];
  EXPECT_EQ(first["status"], "failed") << first.dump();
  EXPECT_EQ(first["attempts"], 2) << first.dump();
  EXPECT_NE(first.dump().find("length"), std::string::npos) << first.dump();
}

// The server is killed while an agent's request is in flight and started again on the same port.
// The cut request is a failed attempt that is retried, and the run ends with a report (on an idle
// 2-core machine about 15 s after the restart).
TEST_F(LlamaRunTest, ServerRestartMidRunRecovers) {
  const std::filesystem::path plan = write_plan(one_file_plan());
  ChildProcess run(cli_argv(run_args({"--plan", plan.string(), "--agents", "2"})), cli_options({}));
  // Restart once the first agent request reached the server: its log then has a slot at work.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (server_->read_log().find("launch_slot_") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server_->kill_now();
  ASSERT_TRUE(server_->restart().is_ok()) << server_->log_tail();
  const auto restarted = std::chrono::steady_clock::now();
  const int exit_code = run.wait(std::chrono::seconds(120));
  std::printf("run ended %.1f s after the restart with exit code %d\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count(),
              exit_code);
  ASSERT_NE(exit_code, -1) << "run did not finish after the restart";
  // The run must end with a report: success after retries, or a clean failure.
  EXPECT_TRUE(exit_code == 0 || exit_code == 1) << exit_code << "\n" << run.read_err();
  json report = json::parse(run.read_out(), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << run.read_out() << run.read_err();
  if (exit_code == 0) {
    for (const char* file : kPlanFiles) {
      EXPECT_TRUE(std::filesystem::exists(workspace() / file)) << file;
    }
  } else {
    EXPECT_EQ(report["status"], "failed") << report.dump();
  }
}

}  // namespace
}  // namespace ollamaflow::testing
