// Runs a real llama.cpp `llama-server` on 127.0.0.1 for integration tests and benchmarks.
//
//   LlamaServerLocation where = locate_llama_server();   // binary and model, or why not found
//   LlamaServerOptions options;                          // -np, -c, -ctk/-ctv, -fa, -v, ...
//   options.slots = 4;
//   Result<std::unique_ptr<LlamaServer>> server = LlamaServer::start(options);
//   (*server)->url();        // "http://127.0.0.1:PORT"
//   (*server)->log_path();   // the server's log file, kept until the object is destroyed
//   (*server)->stop();       // SIGTERM, then SIGKILL after a grace period; only this child
//   (*server)->restart();    // stop, then start again on the same port
//
// In a GTest body, OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where) skips the test with one line that states
// why when no binary or model exists.
//
// The binary is found through OLLAMA_FLOW_LLAMA_SERVER, then PATH, then
// <source dir>/../shared/llama-server/bin/llama-server. The model is OLLAMA_FLOW_LLAMA_MODEL, else
// tiny.gguf beside the binary or in the folder above it, else <source dir>/../shared/llama-server/
// tiny.gguf.
//
// Thread ownership: one thread owns a LlamaServer; url() and port() may be read from any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/status.h"
#include "fakes/process.h"
#include "fakes/test_paths.h"

namespace ollamaflow::testing {

// Where the llama-server binary and its model are, or why they could not be found.
struct LlamaServerLocation {
  std::filesystem::path binary;
  std::filesystem::path model;
  std::string missing;  // empty when both exist, else a one-line reason

  bool found() const { return missing.empty(); }
};

// Looks up the binary and the default model (see the header comment for the order).
LlamaServerLocation locate_llama_server();

// Command-line settings of one llama-server process.
struct LlamaServerOptions {
  std::filesystem::path binary;      // empty: locate_llama_server()
  std::filesystem::path model;       // empty: locate_llama_server()
  int slots = 4;                     // -np
  int total_ctx = 8192;              // -c, the context of all slots together
  std::string cache_type_k = "f16";  // -ctk
  std::string cache_type_v = "f16";  // -ctv
  std::string flash_attn = "auto";   // -fa: on, off or auto
  bool metrics = true;               // --metrics
  bool verbose = false;              // -v: the log then states the KV cache size
  int port = 0;                      // 0: a free port
  std::vector<std::string> extra_args;
  std::chrono::milliseconds start_timeout{30000};  // until /health returns 200
};

class LlamaServer {
 public:
  // Starts the server and waits until /health returns 200. The error names the command, the
  // cause and the log file, and carries the log's last lines.
  static Result<std::unique_ptr<LlamaServer>> start(const LlamaServerOptions& options);

  // Stops the child if it still runs and removes the log folder.
  ~LlamaServer();
  LlamaServer(const LlamaServer&) = delete;
  LlamaServer& operator=(const LlamaServer&) = delete;

  std::string url() const;
  int port() const { return port_; }
  // Returns the pid of the running child, or -1 when it is stopped.
  pid_t pid() const;
  const LlamaServerOptions& options() const { return options_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  // Returns the whole log: what the server wrote to --log-file, stdout and stderr.
  std::string read_log() const;
  // Returns the last `lines` lines of read_log(), for failure messages.
  std::string log_tail(size_t lines = 40) const;

  // Sends SIGTERM to the child and, when it has not exited after `grace`, SIGKILL.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // Kills the child at once with SIGKILL, as a crash would.
  void kill_now();
  // Stops the server and starts a new one with the same options on the same port.
  Status restart();

 private:
  LlamaServer() = default;
  std::vector<std::string> command_line() const;
  Status launch();
  Status wait_healthy();

  LlamaServerOptions options_;
  int port_ = 0;
  std::unique_ptr<TempDir> log_dir_;
  std::filesystem::path log_path_;
  std::unique_ptr<ChildProcess> child_;
  std::string previous_output_;  // stdout and stderr of children that were stopped
};

// Returns a free TCP port on 127.0.0.1. Another process may take it before the caller binds it.
int free_local_port();

}  // namespace ollamaflow::testing

// Skips the current test with one line when `location` (a LlamaServerLocation) is not found.
#define OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(location)                         \
  do {                                                                     \
    if (!(location).found()) {                                             \
      GTEST_SKIP() << "llama-server test skipped: " << (location).missing; \
    }                                                                      \
  } while (0)
