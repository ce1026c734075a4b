// fake-model-server: a scripted model server on 127.0.0.1 for end-to-end tests of the real
// ollama-flow binary and for manual trials.
//
//   fake-model-server [--port P] [--protocol ollama|openai] [--script FILE.json]
//                     [--record FILE] [--delay-ms N]
//
// It prints "listening on 127.0.0.1:PORT" on stdout once it accepts connections (with --port 0,
// the default, PORT is a free port), and serves until SIGTERM or SIGINT. With --record, each
// chat request body is appended to FILE as one JSON line as it arrives. --delay-ms waits N
// milliseconds before each streamed write.
//
// Script format (every field optional):
//
//   {
//     "replies": {
//       "plan":        {"json": {"goal": "", "summary": "...", "tasks": [...]}},
//       "agent_reply": {"mode": "echo_files"},
//       "summary":     {"json": {"summary": "All done."}},
//       "warm_up":     {"json": {"ready": true}},
//       "other":       {"content": "free text"}
//     },
//     "failures": [{"kind": "agent_reply", "nth": 2, "fail": "busy"}],
//     "models": ["llama3.1:8b"]
//   }
//
// - A request's kind is its schema name for OpenAI requests
//   (response_format.json_schema.name), else the shape of the schema (Ollama's "format"): a
//   "tasks" property means plan, "files" agent_reply, "ready" warm_up, "summary" alone summary.
//   Everything else is "other".
// - A reply is {"content": "text"}, {"json": value} (sent as its JSON text) or
//   {"mode": "echo_files"}, which replies to an agent request with every path of its schema's
//   files[].path enum, each with a line naming the path as content, and a summary. A reply may
//   set "done_reason" (e.g. "length") and "piece_chars" (bytes per streamed chunk, default 8).
//   A list of replies is used in order, and its last entry repeats.
// - Without a scripted reply, plans get a one-task plan writing app/main.py, agent requests
//   echo_files, summaries and warm-ups a minimal valid object, and others "Fake reply." (or "{}"
//   when they carry a schema).
// - A failure replaces the reply to the nth request (from 1, default 1) of its kind, once. So
//   a client that retries that request gets the normal reply as request nth + 1. The failures:
//   "busy" (HTTP 503), "server_error" (500), "not_found" (404), "stream_error" (an error inside
//   the 200 stream after one piece), "context" (a context-size error inside the stream),
//   "length" (done_reason "length"), "no_done" (the stream ends without its final chunk) and
//   "malformed" (a reply that is not JSON). "message" overrides the error text.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fakes/fake_model_server.h"
#include "fakes/fake_script.h"

namespace {

using nlohmann::json;
using ollamaflow::testing::FakeModel;
using ollamaflow::testing::FakeModelServer;
using ollamaflow::testing::FakeOllamaServer;
using ollamaflow::testing::FakeOpenAiServer;
using ollamaflow::testing::FakeReply;
using ollamaflow::testing::FakeScript;
using ollamaflow::testing::ScriptRunner;

constexpr const char* kUsage =
    "usage: fake-model-server [--port P] [--protocol ollama|openai] [--script FILE.json]\n"
    "                         [--record FILE] [--delay-ms N]\n"
    "  --port P         TCP port on 127.0.0.1; 0 (default) picks a free one\n"
    "  --protocol NAME  ollama (default) or openai\n"
    "  --script FILE    JSON script of replies and failures (format: see the source)\n"
    "  --record FILE    append each chat request body to FILE as one JSON line\n"
    "  --delay-ms N     wait N milliseconds before each streamed write\n";

struct Options {
  int port = 0;
  std::string protocol = "ollama";
  std::string script;
  std::string record;
  int delay_ms = 0;
};

[[noreturn]] void fail_usage(const std::string& message) {
  std::cerr << "fake-model-server: " << message << "\n" << kUsage;
  std::exit(2);
}

int parse_int(const std::string& flag, const std::string& text, int min, int max) {
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= min && value <= max) {
      return value;
    }
  } catch (const std::exception&) {
  }
  fail_usage(flag + " '" + text + "' is invalid: use a whole number from " + std::to_string(min) +
             " to " + std::to_string(max));
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) {
      fail_usage("missing value for " + flag);
    }
    const std::string value = argv[++i];
    if (flag == "--port") {
      options.port = parse_int(flag, value, 0, 65535);
    } else if (flag == "--protocol") {
      if (value != "ollama" && value != "openai") {
        fail_usage("--protocol '" + value + "' is invalid: use ollama or openai");
      }
      options.protocol = value;
    } else if (flag == "--script") {
      options.script = value;
    } else if (flag == "--record") {
      options.record = value;
    } else if (flag == "--delay-ms") {
      options.delay_ms = parse_int(flag, value, 0, 600000);
    } else {
      fail_usage("unknown option " + flag);
    }
  }
  return options;
}

// Appends request bodies to a file, one JSON line each, flushed at once so that a test can read
// the file while the server runs.
class Recorder {
 public:
  explicit Recorder(const std::string& path) {
    if (!path.empty()) {
      out_.open(path, std::ios::app);
      if (!out_) {
        std::cerr << "fake-model-server: cannot open record file '" << path << "'\n";
        std::exit(2);
      }
    }
  }

  void append(const json& body) {
    if (!out_.is_open()) {
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    out_ << body.dump() << "\n";
    out_.flush();
  }

 private:
  std::mutex mutex_;
  std::ofstream out_;
};

FakeScript load_script(const std::string& path) {
  if (path.empty()) {
    return FakeScript();
  }
  ollamaflow::Result<FakeScript> script = ollamaflow::testing::load_fake_script(path);
  if (!script.is_ok()) {
    std::cerr << "fake-model-server: " << script.status().message() << "\n";
    std::exit(2);
  }
  return std::move(script).value();
}

void install_script(FakeModelServer& server, const FakeScript& script,
                    std::shared_ptr<ScriptRunner> runner, std::shared_ptr<Recorder> recorder,
                    int delay_ms) {
  if (!script.models.empty()) {
    std::vector<FakeModel> models;
    for (const std::string& name : script.models) {
      FakeModel model;
      model.name = name;
      models.push_back(model);
    }
    server.set_models(models);
  }
  server.script().set_responder([runner, recorder, delay_ms](const json& body) {
    recorder->append(body);
    FakeReply reply = runner->next(body);
    if (delay_ms > 0) {
      reply.before_write = [delay_ms](size_t) {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      };
    }
    return reply;
  });
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const FakeScript script = load_script(options.script);
  auto runner = std::make_shared<ScriptRunner>(script);
  auto recorder = std::make_shared<Recorder>(options.record);

  // Block the stop signals before the server threads start, so they inherit the mask and only
  // sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<FakeModelServer> server;
  if (options.protocol == "openai") {
    server = std::make_unique<FakeOpenAiServer>(options.port);
  } else {
    server = std::make_unique<FakeOllamaServer>(options.port);
  }
  install_script(*server, script, runner, recorder, options.delay_ms);
  while (!server->server().is_running()) {
    std::this_thread::yield();
  }
  std::printf("listening on 127.0.0.1:%d\n", server->port());
  std::fflush(stdout);

  int received = 0;
  sigwait(&stop_signals, &received);
  std::fprintf(stderr, "fake-model-server: stopping on signal %d\n", received);
  server->stop();
  return 0;
}
