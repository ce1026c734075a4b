// `run --start-server BIN --model FILE.gguf` and `doctor --start-server` with the real
// llama-server, and the managed server process on its own. Skipped with one line where no
// llama-server binary exists.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "e2e/e2e_support.h"
#include "fakes/llama_server.h"
#include "flow/server_launch.h"
#include "llm/server_signals.h"
#include "store/journal.h"
#include "unit/model/model_files.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Two independent tasks with one file each, small enough for the random tiny model.
json small_plan() {
  return {{"goal", "Write two notes"},
          {"summary", "Two short notes."},
          {"tasks",
           {{{"id", "first"},
             {"title", "Write the first note"},
             {"role", "developer"},
             {"description", "Write a short note."},
             {"depends_on", json::array()},
             {"files", {"notes/first.md"}}},
            {{"id", "second"},
             {"title", "Write the second note"},
             {"role", "analyst"},
             {"description", "Write another short note."},
             {"depends_on", json::array()},
             {"files", {"notes/second.md"}}}}}};
}

class StartServerTest : public E2eTest {
 protected:
  StartServerTest() : where_(locate_llama_server()) {}

  std::string write_plan() {
    const std::filesystem::path path = dir_.path() / "plan.json";
    std::ofstream(path) << small_plan().dump(2);
    return path.string();
  }

  // Journals a failed run of small_plan() on `backend` and `model` into workspace(), for a resume
  // to pick up, and returns its id. `earlier` lists the tasks that the run finished.
  std::string journal_failed_run(const std::string& backend, const std::string& model,
                                 const std::vector<store::TaskRecord>& earlier = {}) {
    Result<std::unique_ptr<store::Journal>> journal = store::Journal::open(db().string());
    EXPECT_TRUE(journal.is_ok()) << journal.status().to_string();
    if (!journal) {
      return "";
    }
    store::RunRecord record;
    record.goal = "Write two notes";
    record.backend = backend;
    record.model = model;
    record.workspace = workspace().string();
    Result<store::RunRecord> run = (*journal)->create_run(record);
    EXPECT_TRUE(run.is_ok()) << run.status().to_string();
    if (!run) {
      return "";
    }
    store::PlanRecord plan;
    plan.run_id = run->id;
    plan.attempt = 1;
    plan.accepted = true;
    plan.plan = small_plan();
    EXPECT_TRUE((*journal)->add_plan(plan).is_ok());
    for (store::TaskRecord task : earlier) {
      task.run_id = run->id;
      EXPECT_TRUE((*journal)->upsert_task(task).is_ok());
    }
    EXPECT_TRUE((*journal)->finish_run(run->id, store::RunStatus::kFailed, 1, {}).is_ok());
    return run->id;
  }

  // Writes a GGUF model and a server script that starts and never listens, so that a run waits
  // for the server's health until Ctrl-C. The script writes its pid to server_pid_file().
  std::vector<std::string> silent_server_args() {
    const std::filesystem::path model = dir_.path() / "model.gguf";
    std::ofstream(model, std::ios::binary) << make_llama_gguf({});
    const std::filesystem::path script = dir_.path() / "silent-server.sh";
    std::ofstream(script) << "#!/bin/sh\necho $$ > " << server_pid_file().string()
                          << "\nexec sleep 600\n";
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    return {"--start-server", script.string(), "--model", model.string()};
  }

  // Writes a GGUF model and a server script like silent_server_args(), whose server also ignores
  // SIGTERM, so that stopping it takes the full 10 s until SIGKILL.
  std::vector<std::string> stubborn_server_args() {
    const std::filesystem::path model = dir_.path() / "model.gguf";
    std::ofstream(model, std::ios::binary) << make_llama_gguf({});
    const std::filesystem::path script = dir_.path() / "stubborn-server.sh";
    std::ofstream(script) << "#!/bin/sh\ntrap '' TERM\necho $$ > " << server_pid_file().string()
                          << "\nexec sleep 600\n";
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    return {"--start-server", script.string(), "--model", model.string()};
  }

  std::filesystem::path server_pid_file() const { return dir_.path() / "server.pid"; }

  // Waits up to 30 s for the silent server's pid; -1 when it did not start.
  pid_t wait_for_server_pid() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (read(server_pid_file()).empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::string pid_text = read(server_pid_file());
    return pid_text.empty() ? -1 : static_cast<pid_t>(std::stoi(pid_text));
  }

  LlamaServerLocation where_;
};

// Returns the pid in a note "started llama-server (pid N) ..."; -1 when there is none.
pid_t started_pid(const json& report) {
  const std::regex pattern(R"(started llama-server \(pid (\d+)\))");
  for (const json& note : report["notes"]) {
    std::smatch match;
    const std::string text = note.get<std::string>();
    if (std::regex_search(text, match, pattern)) {
      return static_cast<pid_t>(std::stoi(match[1]));
    }
  }
  return -1;
}

TEST_F(StartServerTest, RunStartsServerRunsPlanAndStopsIt) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  // The logit bias towards the '"' token makes the random model close its strings after a few
  // tokens, so its schema-valid replies end well inside the output limit.
  ProcessResult result =
      run_cli({"run", "--start-server", where_.binary.string(), "--model", where_.model.string(),
               "--server-args", "--logit-bias 1+6", "--plan", write_plan(), "--agents", "2",
               "--workspace", workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const json report = parse_json(result);
  EXPECT_EQ(report["backend"], "openai");
  EXPECT_TRUE(contains(report["endpoint"].get<std::string>(), "http://127.0.0.1:"));
  const std::string notes = report["notes"].dump();
  EXPECT_TRUE(contains(notes, "-np 2 -c 8192")) << notes;
  EXPECT_TRUE(contains(notes, "run.agents")) << notes;
  EXPECT_TRUE(contains(notes, "host memory") || contains(notes, "gpu")) << notes;
  ASSERT_EQ(report["tasks"].size(), 2u) << report.dump(2);
  EXPECT_TRUE(contains(notes, "--logit-bias 1+6")) << notes;
  // The note gives the whole command line, with the port the run picked.
  const std::string endpoint = report["endpoint"].get<std::string>();
  const std::string port = endpoint.substr(endpoint.rfind(':') + 1);
  EXPECT_TRUE(contains(notes, where_.binary.string() + " -m " + where_.model.string() +
                                  " --host 127.0.0.1 --port " + port + " -np 2 -c 8192"))
      << notes;
  // Every subtask ran on the started server, with the tokens it counted.
  for (const json& task : report["tasks"]) {
    EXPECT_EQ(task["status"], "succeeded") << task.dump();
    EXPECT_GT(task["prompt_tokens"].get<int64_t>(), 0) << task.dump();
    EXPECT_GT(task["output_tokens"].get<int64_t>(), 0) << task.dump();
  }
  EXPECT_TRUE(std::filesystem::exists(workspace() / "notes/first.md"));
  EXPECT_TRUE(std::filesystem::exists(workspace() / "notes/second.md"));
  const pid_t pid = started_pid(report);
  ASSERT_GT(pid, 0) << notes;
  EXPECT_NE(::kill(pid, 0), 0) << "llama-server pid " << pid << " still runs after the run";
  // The server's log stays beside the journal, and the notes name it.
  const std::string log_note = "llama-server log: " + (dir_.path() / "server-logs/").string();
  std::string log_path;
  for (const json& note : report["notes"]) {
    if (contains(note.get<std::string>(), log_note)) {
      log_path = note.get<std::string>().substr(std::string("llama-server log: ").size());
    }
  }
  ASSERT_FALSE(log_path.empty()) << notes;
  EXPECT_GT(std::filesystem::file_size(log_path), 0u) << log_path;
}

TEST_F(StartServerTest, LoweredContextBecomesNumCtx) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  // server.num_ctx is 8192 by default and the tiny model's training context is 4096, so the
  // plan lowers the context per slot, and the run must not warn that the server it started has
  // less context than num_ctx.
  ProcessResult result =
      run_cli({"run", "--start-server", where_.binary.string(), "--model", where_.model.string(),
               "--server-args", "--logit-bias 1+6", "--plan", write_plan(), "--agents", "1",
               "--workspace", workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::string notes = parse_json(result)["notes"].dump();
  EXPECT_TRUE(contains(notes, "-np 1 -c 4096")) << notes;
  EXPECT_TRUE(contains(notes,
                       "to the model's training context 4096, which the run uses as its "
                       "num_ctx"))
      << notes;
  EXPECT_FALSE(contains(notes, "server.num_ctx is 8192 tokens")) << notes;
  EXPECT_FALSE(contains(result.err, "larger -c or fewer -np")) << result.err;
}

// The key of --api-key reaches the started server in its environment, and the client sends it,
// so the server's key check passes every request.
TEST_F(StartServerTest, ApiKeyReachesServerAndClient) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  ProcessResult result = run_cli(
      {"run", "--start-server", where_.binary.string(), "--model", where_.model.string(),
       "--api-key", "test-key-7", "--server-args", "--logit-bias 1+6", "--plan", write_plan(),
       "--agents", "1", "--workspace", workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::string notes = parse_json(result)["notes"].dump();
  EXPECT_TRUE(contains(notes, "LLAMA_API_KEY")) << notes;
  EXPECT_FALSE(contains(notes, "test-key-7")) << notes;
  EXPECT_FALSE(contains(result.err, "test-key-7")) << result.err;
}

// An API key, a shared KV cache or a KV cache in host memory in --server-args breaks the run,
// so it is a usage error that names the flag, never the key.
TEST_F(StartServerTest, ServerArgsConflictingWithRunRejected) {
  const std::filesystem::path model = dir_.path() / "small.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--api-key=hidden-key", "pass the key with --api-key (server.api_key)"},
      {"--api-key-file keys.txt", "pass the key with --api-key (server.api_key)"},
      {"-kvu", "share one KV cache"},
      {"--kv-unified-per-slot 4096", "share one KV cache"},
      {"-nkvo", "keeps the KV cache in host memory"},
  };
  for (const auto& [args, fix] : cases) {
    ProcessResult result = run_cli({"run", "--start-server", "/bin/sh", "--model", model.string(),
                                    "--server-args=" + args, "--plan", write_plan(), "--workspace",
                                    workspace().string(), "--db", db().string()});
    EXPECT_EQ(result.exit_code, 2) << args << "\n" << result.err;
    EXPECT_TRUE(contains(result.err, fix)) << result.err;
    EXPECT_FALSE(contains(result.err, "hidden-key")) << result.err;
  }
}

// llama-server variables in ollama-flow's environment that would change the server behind the
// plan's back do not reach it, and the report names each. An inherited key is replaced by the
// run's own, which the client sends.
TEST_F(StartServerTest, InheritedServerVariablesRemoved) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  ProcessResult result = run_cli(
      {"run", "--start-server", where_.binary.string(), "--model", where_.model.string(),
       "--api-key", "test-key-8", "--server-args", "--logit-bias 1+6", "--plan", write_plan(),
       "--agents", "2", "--workspace", workspace().string(), "--db", db().string(), "--json"},
      {{"LLAMA_ARG_SWA_FULL", "1"},
       {"LLAMA_ARG_KV_UNIFIED", "1"},
       {"LLAMA_API_KEY", "inherited-key"},
       {"LLAMA_ARG_N_PARALLEL", "5"}});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;

  const json report = parse_json(result);
  const std::string notes = report["notes"].dump();
  EXPECT_TRUE(contains(notes, "removed LLAMA_ARG_SWA_FULL from its environment")) << notes;
  EXPECT_TRUE(contains(notes, "removed LLAMA_ARG_KV_UNIFIED from its environment")) << notes;
  EXPECT_TRUE(contains(notes, "removed LLAMA_API_KEY from its environment")) << notes;
  // The run passes -np itself, and llama-server reads the flag over its variable.
  EXPECT_FALSE(contains(notes, "removed LLAMA_ARG_N_PARALLEL")) << notes;
  EXPECT_TRUE(contains(notes, "-np 2 -c 8192")) << notes;

  EXPECT_TRUE(contains(result.err, "llama-server does not get LLAMA_ARG_SWA_FULL")) << result.err;
  EXPECT_FALSE(contains(result.err, "inherited-key")) << result.err;
  EXPECT_FALSE(contains(notes, "inherited-key")) << notes;
  for (const json& task : report["tasks"]) {
    EXPECT_EQ(task["status"], "succeeded") << task.dump();
  }

  // llama-server logs that it turns --swa-full off for a model without sliding-window layers,
  // and the context per slot that it gives each slot.
  std::string log;
  for (const json& note : report["notes"]) {
    const std::string text = note.get<std::string>();
    if (contains(text, "llama-server log: ")) {
      log = read(text.substr(std::string("llama-server log: ").size()));
    }
  }
  ASSERT_FALSE(log.empty()) << notes;
  EXPECT_FALSE(contains(log, "swa_full")) << log;
  EXPECT_TRUE(contains(log, "n_slots = 2, n_ctx_slot = 4096, kv_unified = 'false'")) << log;
}

// doctor names the variables that a run would remove from the server's environment, and how to
// silence the warning.
TEST_F(StartServerTest, DoctorWarnsAboutInheritedServerVariables) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  ProcessResult result =
      run_cli({"doctor", "--start-server", "/bin/sh", "--model", model.string(), "--json"},
              {{"LLAMA_ARG_NO_KV_OFFLOAD", "1"}, {"LLAMA_ARG_THREADS", "2"}});
  const json document = parse_json(result);
  const json found = doctor_check(document, "start-server");
  ASSERT_FALSE(found.is_null()) << result.out;
  EXPECT_EQ(found["status"], "warn") << found.dump();
  const std::string detail = found["detail"].get<std::string>();
  EXPECT_TRUE(contains(detail, "removes LLAMA_ARG_NO_KV_OFFLOAD from llama-server's environment"))
      << detail;
  EXPECT_FALSE(contains(detail, "LLAMA_ARG_THREADS")) << detail;
  EXPECT_TRUE(contains(found["fix"].get<std::string>(), "unset LLAMA_ARG_NO_KV_OFFLOAD"))
      << found.dump();
}

TEST_F(StartServerTest, HostWithStartServerIsUsageError) {
  ProcessResult result = run_cli({"run", "--start-server", "/bin/true", "--model", "m.gguf",
                                  "--host", "http://127.0.0.1:9", "--plan", write_plan()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(contains(result.err, "drop --host and --backend")) << result.err;
}

TEST_F(StartServerTest, FoldersAreUsageErrors) {
  const std::filesystem::path folder = dir_.path() / "bin";
  std::filesystem::create_directories(folder);
  ProcessResult binary = run_cli({"run", "--start-server", folder.string(), "--model", "m.gguf",
                                  "--plan", write_plan(), "--db", db().string()});
  EXPECT_EQ(binary.exit_code, 2) << binary.err;
  EXPECT_TRUE(contains(binary.err,
                       "'" + folder.string() + "' is a folder, expected the llama-server binary"))
      << binary.err;
  ProcessResult model = run_cli({"run", "--start-server", "/bin/sh", "--model", folder.string(),
                                 "--plan", write_plan(), "--db", db().string()});
  EXPECT_EQ(model.exit_code, 2) << model.err;
  EXPECT_TRUE(contains(model.err, "'" + folder.string() + "' is a folder, expected a GGUF file"))
      << model.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "nothing is journaled for a usage error";
}

TEST_F(StartServerTest, DeviceModelIsUsageError) {
  ProcessResult model = run_cli({"run", "--start-server", "/bin/sh", "--model", "/dev/zero",
                                 "--plan", write_plan(), "--db", db().string()});
  EXPECT_EQ(model.exit_code, 2) << model.err;
  EXPECT_TRUE(contains(model.err, "model '/dev/zero' is a character device, expected a GGUF file"))
      << model.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "nothing is journaled for a usage error";
}

TEST_F(StartServerTest, ServerThatDiesFailsWithLogTail) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  const std::filesystem::path script = dir_.path() / "broken-server.sh";
  std::ofstream(script) << "#!/bin/sh\necho 'error: failed to load model'\nexit 1\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  ProcessResult result =
      run_cli({"run", "--start-server", script.string(), "--model", where_.model.string(), "--plan",
               write_plan(), "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, "exited with code 1")) << result.err;
  EXPECT_TRUE(contains(result.err, "failed to load model")) << result.err;
  EXPECT_FALSE(std::filesystem::exists(workspace() / "notes/first.md"));
}

TEST_F(StartServerTest, ServerLogStaysBesideJournal) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  const std::filesystem::path script = dir_.path() / "broken-server.sh";
  std::ofstream(script) << "#!/bin/sh\necho 'error: failed to load model'\nexit 1\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  ProcessResult result =
      run_cli({"run", "--start-server", script.string(), "--model", model.string(), "--plan",
               write_plan(), "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  // The log's lines end the message, with no line break written out as "\n" after them.
  EXPECT_TRUE(contains(result.err, "\n  error: failed to load model\n")) << result.err;
  EXPECT_FALSE(contains(result.err, "\\n")) << result.err;
  const std::filesystem::path folder = dir_.path() / "server-logs";
  EXPECT_TRUE(contains(result.err, "its log " + folder.string() + "/llama-server-")) << result.err;
  std::vector<std::filesystem::path> logs;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    logs.push_back(entry.path());
  }
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_TRUE(contains(read(logs[0]), "failed to load model")) << logs[0];
}

// Ctrl-C while the server starts journals the run as cancelled, with a report, as Ctrl-C
// during planning does, and stops the server.
TEST_F(StartServerTest, CtrlCDuringStartIsJournaled) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  // A server that starts and never listens, so the run waits for its health until Ctrl-C.
  const std::filesystem::path pid_file = dir_.path() / "server.pid";
  const std::filesystem::path script = dir_.path() / "silent-server.sh";
  std::ofstream(script) << "#!/bin/sh\necho $$ > " << pid_file.string() << "\nexec sleep 600\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  ChildProcess child(cli_argv({"run", "--start-server", script.string(), "--model", model.string(),
                               "--plan", write_plan(), "--db", db().string(), "--workspace",
                               workspace().string(), "--json"}),
                     cli_options({}));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (read(pid_file).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string pid_text = read(pid_file);
  ASSERT_FALSE(pid_text.empty()) << "the server script did not start: " << child.read_err();
  const pid_t server_pid = static_cast<pid_t>(std::stoi(pid_text));

  const json report = interrupt_run(child);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["status"], "cancelled");
  EXPECT_EQ(report["exit_code"], 130) << report.dump();
  const std::string notes = report["notes"].dump();
  EXPECT_TRUE(contains(notes, "cancelled while llama-server (pid " + std::to_string(server_pid)))
      << notes;
  EXPECT_TRUE(contains(notes, "so it was stopped")) << notes;
  EXPECT_NE(::kill(server_pid, 0), 0) << "server pid " << server_pid << " still runs";

  // The plan file's goal, as when Ctrl-C comes after the server started.
  EXPECT_EQ(report["goal"], "Write two notes") << report.dump();

  const ProcessResult shown =
      run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const json run = parse_json(shown);
  EXPECT_EQ(run["status"], "cancelled") << shown.out;
  EXPECT_EQ(run["report"]["status"], "cancelled") << shown.out;
  EXPECT_EQ(run["goal"], "Write two notes") << shown.out;
}

// Sends SIGINT to `child`, and again 0.7 s later, beyond the interval in which a second signal
// counts as the first. Returns the exit code, or -1 when the child still runs 5 s later.
int interrupt_twice(ChildProcess& child) {
  child.send_signal(SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  child.send_signal(SIGINT);
  return child.wait(std::chrono::seconds(5));
}

// A second Ctrl-C while the run waits for a server that ignores SIGTERM to stop exits at once.
// It prints what was lost, and removes the workspace folder that the run created and left empty.
TEST_F(StartServerTest, SecondSignalExitsAtOnce) {
  std::vector<std::string> args = {"run",         "--plan",      write_plan(),         "--db",
                                   db().string(), "--workspace", workspace().string(), "--json"};
  const std::vector<std::string> server = stubborn_server_args();
  args.insert(args.end(), server.begin(), server.end());
  ChildProcess child(cli_argv(args), cli_options({}));
  const pid_t server_pid = wait_for_server_pid();
  ASSERT_GT(server_pid, 0) << "the server script did not start: " << child.read_err();
  ASSERT_TRUE(std::filesystem::is_directory(workspace()));

  const int code = interrupt_twice(child);
  // The process exited before its server stopped, and the server ignores SIGTERM.
  ::kill(server_pid, SIGKILL);
  EXPECT_EQ(code, 130) << child.read_err();
  const std::string err = child.read_err();
  EXPECT_TRUE(contains(err, "a second signal ended the process at once")) << err;
  EXPECT_TRUE(contains(err, "before the run was journaled")) << err;
  EXPECT_FALSE(std::filesystem::exists(workspace())) << "the empty workspace was left";
  EXPECT_EQ(child.read_out(), "");
}

// The line of a second signal during a resume names the command that resumes the run again.
TEST_F(StartServerTest, SecondSignalNamesResumeCommand) {
  const std::string run_id = journal_failed_run("openai", "");
  ASSERT_FALSE(run_id.empty());
  std::filesystem::create_directories(workspace());
  std::vector<std::string> args = {"run", "--resume", run_id, "--db", db().string(), "--json"};
  const std::vector<std::string> server = stubborn_server_args();
  args.insert(args.end(), server.begin(), server.end());
  ChildProcess child(cli_argv(args), cli_options({}));
  const pid_t server_pid = wait_for_server_pid();
  ASSERT_GT(server_pid, 0) << "the server script did not start: " << child.read_err();

  const int code = interrupt_twice(child);
  ::kill(server_pid, SIGKILL);
  EXPECT_EQ(code, 130) << child.read_err();
  const std::string err = child.read_err();
  EXPECT_TRUE(contains(err, "a second signal ended the process at once")) << err;
  EXPECT_TRUE(contains(err, "`ollama-flow run --resume " + run_id + "`")) << err;
  EXPECT_TRUE(std::filesystem::is_directory(workspace())) << "the run's own workspace was removed";
}

// Returns true while `pid` runs; a zombie that no one reaped counts as ended.
bool process_running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const size_t name_end = text.rfind(')');
  return name_end != std::string::npos && name_end + 2 < text.size() && text[name_end + 2] != 'Z';
}

// A wrapper script that starts the real server as its child: stopping the server stops the
// child too, because the signals go to the server's process group.
TEST_F(StartServerTest, StopEndsTheServersChildren) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  const std::filesystem::path child_pid_file = dir_.path() / "child.pid";
  const std::filesystem::path script = dir_.path() / "wrapper-server.sh";
  std::ofstream(script) << "#!/bin/sh\nsleep 600 &\necho $! > " << child_pid_file.string()
                        << "\necho $$ > " << server_pid_file().string() << "\nwait\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  ChildProcess child(cli_argv({"run", "--start-server", script.string(), "--model", model.string(),
                               "--plan", write_plan(), "--db", db().string(), "--workspace",
                               workspace().string(), "--json"}),
                     cli_options({}));
  const pid_t server_pid = wait_for_server_pid();
  ASSERT_GT(server_pid, 0) << child.read_err();
  const std::string child_pid_text = read(child_pid_file);
  ASSERT_FALSE(child_pid_text.empty());
  const pid_t child_pid = static_cast<pid_t>(std::stoi(child_pid_text));
  ASSERT_TRUE(process_running(child_pid));

  const json report = interrupt_run(child);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["status"], "cancelled");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (process_running(child_pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(process_running(child_pid)) << "the server's child " << child_pid << " still runs";
  if (process_running(child_pid)) {
    ::kill(child_pid, SIGKILL);
  }
}

// A resume that Ctrl-C stops while the server starts is journaled as cancelled, with a report,
// as a new run is. The report names the run's own backend and model, as `runs show` does. It
// lists the plan's tasks as a resume cancelled during its execution does: the task finished in
// the earlier attempt as succeeded, the other one as cancelled before it started.
TEST_F(StartServerTest, CtrlCDuringResumeStartIsJournaled) {
  store::TaskRecord first;
  first.task_id = "first";
  first.title = "Write the first note";
  first.role = "developer";
  first.status = store::kTaskSucceeded;
  first.agent_id = "developer-1";
  first.model = "qwen2.5-coder:7b";
  first.duration_s = 2.5;
  first.prompt_tokens = 120;
  first.output_tokens = 40;
  first.files = {"notes/first.md"};
  const std::string run_id = journal_failed_run("ollama", "qwen2.5-coder:7b", {first});
  ASSERT_FALSE(run_id.empty());
  std::filesystem::create_directories(workspace() / "notes");
  std::ofstream(workspace() / "notes/first.md") << "written by the earlier attempt";
  std::vector<std::string> args = {"run", "--resume", run_id, "--db", db().string(), "--json"};
  const std::vector<std::string> server = silent_server_args();
  args.insert(args.end(), server.begin(), server.end());
  ChildProcess child(cli_argv(args), cli_options({}));
  const pid_t server_pid = wait_for_server_pid();
  ASSERT_GT(server_pid, 0) << "the server script did not start: " << child.read_err();

  const json report = interrupt_run(child);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["run_id"], run_id) << report.dump();
  EXPECT_EQ(report["status"], "cancelled");
  EXPECT_EQ(report["exit_code"], 130) << report.dump();
  EXPECT_EQ(report["goal"], "Write two notes") << report.dump();
  EXPECT_EQ(report["workspace"], workspace().string()) << report.dump();
  const std::string notes = report["notes"].dump();
  EXPECT_TRUE(contains(notes, "cancelled while llama-server (pid " + std::to_string(server_pid)))
      << notes;
  EXPECT_NE(::kill(server_pid, 0), 0) << "server pid " << server_pid << " still runs";

  const ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string(), "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const json run = parse_json(shown);
  EXPECT_EQ(run["status"], "cancelled") << shown.out;
  EXPECT_EQ(run["report"]["status"], "cancelled") << shown.out;

  // The header describes the run as `runs show` does, not the server that never responded.
  EXPECT_EQ(report["backend"], "ollama") << report.dump();
  EXPECT_EQ(report["model"], "qwen2.5-coder:7b") << report.dump();
  EXPECT_EQ(report["backend"], run["backend"]) << shown.out;
  EXPECT_EQ(report["model"], run["model"]) << shown.out;
  EXPECT_EQ(report["endpoint"], "") << report.dump();
  ASSERT_TRUE(report["plan"].is_object()) << report.dump();
  EXPECT_EQ(report["plan"]["tasks"], small_plan()["tasks"]) << report.dump();

  ASSERT_EQ(report["tasks"].size(), 2u) << report.dump(2);
  const json& done = report["tasks"][0];
  EXPECT_EQ(done["id"], "first") << done.dump();
  EXPECT_EQ(done["status"], "succeeded") << done.dump();
  EXPECT_EQ(done["resumed"], true) << done.dump();
  EXPECT_EQ(done["agent"], "developer-1") << done.dump();
  EXPECT_EQ(done["files"], json::array({"notes/first.md"})) << done.dump();
  EXPECT_EQ(done["prompt_tokens"], 120) << done.dump();
  EXPECT_EQ(done["output_tokens"], 40) << done.dump();
  const json& left = report["tasks"][1];
  EXPECT_EQ(left["id"], "second") << left.dump();
  EXPECT_EQ(left["status"], "cancelled") << left.dump();
  EXPECT_EQ(left["resumed"], false) << left.dump();
  EXPECT_EQ(left["error"], "run cancelled before the task started") << left.dump();
  EXPECT_EQ(report["prompt_tokens"], 120) << report.dump();
  EXPECT_EQ(report["output_tokens"], 40) << report.dump();
  EXPECT_EQ(run["report"]["tasks"], report["tasks"]) << shown.out;
}

// A resume that the journal rejects stops before it starts a server.
TEST_F(StartServerTest, InvalidResumeStartsNoServer) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  // A server that records its start and exits at once, so that a run that starts it fails fast.
  const std::filesystem::path script = dir_.path() / "exiting-server.sh";
  std::ofstream(script) << "#!/bin/sh\necho $$ > " << server_pid_file().string() << "\nexit 1\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  ProcessResult result =
      run_cli({"run", "--resume", "r-20260101-000000-abcd", "--db", db().string(), "--start-server",
               script.string(), "--model", model.string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "'r-20260101-000000-abcd' not found")) << result.err;
  EXPECT_FALSE(std::filesystem::exists(server_pid_file())) << "a server was started";
}

TEST_F(StartServerTest, DoctorNamesChosenSlotCount) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  ProcessResult result = run_cli({"doctor", "--start-server", where_.binary.string(), "--model",
                                  where_.model.string(), "--agents", "3", "--json"});
  const json document = parse_json(result);
  bool found = false;
  for (const json& check : document["checks"]) {
    if (check["name"] == "start-server") {
      found = true;
      EXPECT_EQ(check["status"], "ok") << check.dump();
      EXPECT_TRUE(contains(check["detail"].get<std::string>(), "-np 3 -c 12288")) << check.dump();
      EXPECT_TRUE(contains(check["detail"].get<std::string>(), "run.agents")) << check.dump();
    }
  }
  EXPECT_TRUE(found) << result.out;
}

TEST_F(StartServerTest, DoctorShowsRunCommandLine) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  ProcessResult result = run_cli({"doctor", "--start-server", "/bin/sh", "--model", model.string(),
                                  "--agents", "2", "--server-args", "--threads 2", "--json"});
  const json document = parse_json(result);
  std::string detail;
  for (const json& check : document["checks"]) {
    if (check["name"] == "start-server") {
      EXPECT_EQ(check["status"], "ok") << check.dump();
      detail = check["detail"].get<std::string>();
    }
  }
  EXPECT_TRUE(
      contains(detail, "/bin/sh -m " + model.string() + " --host 127.0.0.1 --port PORT -np 2 -c "))
      << detail;
  EXPECT_TRUE(contains(detail, "-ctk f16 -ctv f16 --metrics --threads 2: -np 2")) << detail;
  EXPECT_TRUE(contains(detail, "PORT is a free port of 127.0.0.1")) << detail;
}

TEST_F(StartServerTest, DoctorFixMatchesServerArgs) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  ProcessResult result = run_cli({"doctor", "--start-server", "/bin/sh", "--model", model.string(),
                                  "--server-args", "-m x", "--json"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const json document = parse_json(result);
  const json found = doctor_check(document, "start-server");
  ASSERT_FALSE(found.is_null()) << result.out;
  EXPECT_EQ(found["status"], "fail") << found.dump();
  const std::string fix = found["fix"].get<std::string>();
  EXPECT_TRUE(contains(fix, "remove '-m' from --server-args")) << fix;
  EXPECT_FALSE(contains(fix, "--start-server PATH")) << fix;
}

// A value attached to a planned flag is caught like the flag alone, and a quoted word stays one
// argument of the server's command line.
TEST_F(StartServerTest, DoctorChecksAttachedValuesAndQuotes) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  auto start_server_check = [&](const std::string& server_args) {
    ProcessResult result = run_cli({"doctor", "--start-server", "/bin/sh", "--model",
                                    model.string(), "--server-args=" + server_args, "--json"});
    const json document = parse_json(result);
    for (const json& check : document["checks"]) {
      if (check["name"] == "start-server") {
        return check;
      }
    }
    ADD_FAILURE() << "no start-server check: " << result.out;
    return json();
  };
  const json attached = start_server_check("-c5");
  EXPECT_EQ(attached["status"], "fail") << attached.dump();
  EXPECT_TRUE(contains(attached["fix"].get<std::string>(), "remove '-c5' from --server-args"))
      << attached.dump();

  const json unclosed = start_server_check("--alias \"my model");
  EXPECT_EQ(unclosed["status"], "fail") << unclosed.dump();
  EXPECT_TRUE(contains(unclosed["detail"].get<std::string>(), "is not closed")) << unclosed.dump();
  EXPECT_TRUE(contains(unclosed["fix"].get<std::string>(), "close the quote")) << unclosed.dump();

  const json quoted = start_server_check("--alias \"my model\" --threads 2");
  EXPECT_EQ(quoted["status"], "ok") << quoted.dump();
  EXPECT_TRUE(contains(quoted["detail"].get<std::string>(),
                       "--metrics --alias 'my model' --threads 2: -np"))
      << quoted.dump();
}

// A planned flag with its value attached stops the run before it starts a server, as a usage
// error.
TEST_F(StartServerTest, RunRejectsAttachedContextValue) {
  const std::filesystem::path model = dir_.path() / "model.gguf";
  std::ofstream(model, std::ios::binary) << make_llama_gguf({});
  ProcessResult result = run_cli({"run", "--start-server", "/bin/sh", "--model", model.string(),
                                  "--server-args=--threads 2 -c8192", "--plan", write_plan(),
                                  "--db", db().string(), "--workspace", workspace().string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(contains(result.err, "sets '-c8192', which --start-server chooses itself"))
      << result.err;
  EXPECT_TRUE(contains(result.err, "--num-ctx")) << result.err;
}

TEST_F(StartServerTest, DoctorFixNamesMissingModel) {
  ProcessResult result = run_cli({"doctor", "--start-server", "/bin/sh", "--model",
                                  (dir_.path() / "missing.gguf").string(), "--json"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const json document = parse_json(result);
  std::string fix;
  for (const json& check : document["checks"]) {
    if (check["name"] == "start-server") {
      fix = check["fix"].get<std::string>();
    }
  }
  EXPECT_EQ(fix, "pass the path of a .gguf file to --model") << result.out;
}

class ManagedServerTest : public ::testing::Test {
 protected:
  std::shared_ptr<Clock> clock_ = system_clock();
  CancelToken cancel_;
  TempDir dir_;
};

TEST_F(ManagedServerTest, StartsHealthyReportsSlotsAndStops) {
  const LlamaServerLocation where = locate_llama_server();
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where);
  flow::LaunchPlan plan;
  plan.binary = where.binary.string();
  plan.model_path = where.model.string();
  plan.parallel = 2;
  plan.ctx_per_slot = 1024;
  plan.total_ctx = 2048;
  flow::ManagedServer::Options options;
  options.start_timeout_s = 60;
  options.log_path = dir_.path() / "server.log";
  Result<std::unique_ptr<flow::ManagedServer>> server =
      flow::ManagedServer::start(plan, options, clock_, cancel_);
  ASSERT_TRUE(server.is_ok()) << server.status().to_string();

  ServerSettings settings;
  settings.host = (*server)->url();
  Result<std::unique_ptr<llm::LlamaServerSignalReader>> reader =
      llm::LlamaServerSignalReader::create(settings, clock_);
  ASSERT_TRUE(reader.is_ok());
  const llm::ServerReading reading = (*reader)->read();
  EXPECT_EQ(reading.total_slots, 2);
  EXPECT_EQ(reading.slot_ctx, 1024);
  EXPECT_EQ(reading.busy_slots, 0);
  EXPECT_EQ(reading.requests_deferred, 0);
  EXPECT_TRUE(reading.notes.empty()) << reading.notes.front();

  const pid_t pid = (*server)->pid();
  (*server)->stop();
  EXPECT_NE(::kill(pid, 0), 0) << "llama-server pid " << pid << " still runs";
}

// The server gets the plan's API key as LLAMA_API_KEY, and none of the variables that would
// set another key, a shared KV cache, a KV cache in host memory or a full sliding-window cache
// from ollama-flow's own environment. Other variables reach it.
TEST_F(ManagedServerTest, ServerEnvironmentCarriesOnlyPlannedKey) {
  const std::filesystem::path script = dir_.path() / "env.sh";
  std::ofstream(script) << "#!/bin/sh\necho \"key=${LLAMA_API_KEY-unset} "
                           "file=${LLAMA_ARG_API_KEY_FILE-unset} "
                           "kvu=${LLAMA_ARG_KV_UNIFIED-unset} "
                           "swa=${LLAMA_ARG_SWA_FULL-unset} "
                           "nkvo=${LLAMA_ARG_NO_KV_OFFLOAD-unset} "
                           "kvo=${LLAMA_ARG_KV_OFFLOAD-unset} "
                           "threads=${LLAMA_ARG_THREADS-unset}\"\nexit 3\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  ::setenv("LLAMA_API_KEY", "inherited", 1);
  ::setenv("LLAMA_ARG_API_KEY_FILE", "keys.txt", 1);
  ::setenv("LLAMA_ARG_KV_UNIFIED", "1", 1);
  ::setenv("LLAMA_ARG_SWA_FULL", "1", 1);
  ::setenv("LLAMA_ARG_NO_KV_OFFLOAD", "1", 1);
  ::setenv("LLAMA_ARG_KV_OFFLOAD", "0", 1);
  ::setenv("LLAMA_ARG_THREADS", "2", 1);
  flow::LaunchPlan plan;
  plan.binary = script.string();
  plan.model_path = "unused.gguf";
  flow::ManagedServer::Options options;
  options.start_timeout_s = 60;
  for (const std::string key : {"planned", ""}) {
    plan.api_key = key;
    options.log_path = dir_.path() / ("server-" + key + ".log");
    Result<std::unique_ptr<flow::ManagedServer>> server =
        flow::ManagedServer::start(plan, options, clock_, cancel_);
    ASSERT_FALSE(server.is_ok());
    const std::string expected = "key=" + (key.empty() ? std::string("unset") : key) +
                                 " file=unset kvu=unset swa=unset nkvo=unset kvo=unset threads=2";
    EXPECT_TRUE(contains(server.status().message(), expected)) << server.status().message();
  }
  for (const char* name :
       {"LLAMA_API_KEY", "LLAMA_ARG_API_KEY_FILE", "LLAMA_ARG_KV_UNIFIED", "LLAMA_ARG_SWA_FULL",
        "LLAMA_ARG_NO_KV_OFFLOAD", "LLAMA_ARG_KV_OFFLOAD", "LLAMA_ARG_THREADS"}) {
    ::unsetenv(name);
  }
}

TEST_F(ManagedServerTest, ProcessThatExitsReportsLogTail) {
  const std::filesystem::path script = dir_.path() / "fails.sh";
  std::ofstream(script) << "#!/bin/sh\necho 'error: model file is corrupt'\nexit 3\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  flow::LaunchPlan plan;
  plan.binary = script.string();
  plan.model_path = "unused.gguf";
  flow::ManagedServer::Options options;
  options.start_timeout_s = 60;
  options.log_path = dir_.path() / "server.log";
  Result<std::unique_ptr<flow::ManagedServer>> server =
      flow::ManagedServer::start(plan, options, clock_, cancel_);
  ASSERT_FALSE(server.is_ok());
  EXPECT_EQ(server.status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(server.status().message(), "exited with code 3"))
      << server.status().message();
  EXPECT_TRUE(contains(server.status().message(), "model file is corrupt"))
      << server.status().message();
  EXPECT_NE(server.status().message().back(), '\n') << server.status().message();
}

}  // namespace
}  // namespace ollamaflow::testing
