// `--start-server BIN --model FILE.gguf`: ollama-flow starts llama-server itself, with the slot
// count (-np) and context (-c) that the capacity planner computes for this machine, waits until
// it is healthy, and stops it when the run ends.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/status.h"
#include "gpu/types.h"

namespace ollamaflow::flow {

// The llama-server command line of a run, and why it has this slot count.
struct LaunchPlan {
  std::string binary;
  std::string model_path;
  int parallel = 1;      // -np
  int ctx_per_slot = 0;  // tokens per slot
  int total_ctx = 0;     // -c: the context of all slots together, parallel x ctx_per_slot
  std::string cache_type_k = "f16";
  std::string cache_type_v = "f16";
  bool flash_attention = false;  // -fa on, which a quantized V cache needs
  std::string reason;            // one sentence: the slot count and what set it
  std::vector<std::string> notes;
  std::vector<std::string> extra_args;  // server.start_server_args, after the planned ones
  // server.api_key, which the server gets in its environment as LLAMA_API_KEY, never on the
  // command line that the report shows. Empty: the server takes requests without a key.
  std::string api_key;

  // Returns the arguments after the binary for a server on 127.0.0.1:`port`.
  std::vector<std::string> arguments(int port) const;
  // Returns the binary and arguments() as one line for a POSIX shell, with words quoted where
  // they need it. Without `port` the port is written as PORT, because the run picks a free port
  // when it starts the server.
  std::string command_line(std::optional<int> port) const;
  // Returns e.g. "-np 4 -c 16384".
  std::string summary() const;
};

// The maximum number of agents that a run with a given configuration uses, and the key that
// sets it.
struct AgentBound {
  int agents = 1;
  std::string key;  // e.g. "run.agents, the fixed pool"
};

// Returns run.agents for a fixed pool. With auto-scaling it returns gpu_scaling.max_agents, at
// most dynamic_agent_management.max_agents, the agent manager's hard cap.
AgentBound run_agent_bound(const Config& config);

// Plans the launch on the machine that `snapshot` describes. The slot count is what memory
// fits, at most the agents the run can use (run.agents for a fixed pool; with auto-scaling
// gpu_scaling.max_agents, at most dynamic_agent_management.max_agents). The context per slot is
// server.num_ctx, lowered to the model's training context. Without a GPU the planner uses host
// memory, and a note states it. Returns kNotFound for a missing binary or model file,
// kInvalidArgument for a binary or model that is a folder, a model that is not a GGUF file or
// does not fit, or for
// server.start_server_args that split_server_args() rejects.
Result<LaunchPlan> plan_launch(const Config& config, const std::string& binary,
                               const std::string& model_path, const gpu::GpuSnapshot& snapshot);

// Splits `text` into words as a POSIX shell does for quotes and backslashes alone: whitespace
// separates words, '...' keeps every character, "..." keeps every character but \" and \\, and
// a backslash outside quotes keeps the next character. Variables, globs and other shell syntax
// are not expanded. Returns kInvalidArgument naming `text` and the fix for a quote that is not
// closed and for a backslash at the end, and `setting`, where the text came from.
Result<std::vector<std::string>> split_shell_words(
    const std::string& text, std::string_view setting = "server.start_server_args");

// Returns whether the llama-server argument `word` sets what plan_launch() chooses itself: the
// model, address, port, slots, context, cache types or metrics. That is a flag such as "-np" or
// "--parallel", also spelled "--parallel=8" or "--ctx_size", or a short flag with its value
// attached, such as "-np8", "-c=8192" or "-ctkq8_0". A short flag followed by lower-case letters
// alone, such as "-cb", is another flag and returns false.
bool sets_planned_flag(std::string_view word);

// Returns whether the llama-server argument `word` breaks what the run assumes about the server,
// though plan_launch() does not set it. Such flags set an API key (--api-key, --api-key-file),
// which the client would not send, a KV cache that all slots share (-kvu, --kv-unified,
// --kv-unified-per-slot), so that a slot's context is no longer -c / -np, or a KV cache in host
// memory (-nkvo, --no-kv-offload), where the plan does not count it.
bool conflicts_with_launch(std::string_view word);

// Splits server.start_server_args with split_shell_words(). Returns its errors, and
// kInvalidArgument naming the word and the flag of ollama-flow to use instead when one sets what
// plan_launch() chooses itself, as sets_planned_flag() decides, or what
// conflicts_with_launch() rejects. The errors name `setting`, the flag or file key that the
// text came from, as setting_of() returns it.
Result<std::vector<std::string>> split_server_args(
    const std::string& text, std::string_view setting = "server.start_server_args");

// An environment variable that llama-server reads and that the started server does not inherit,
// because it would change the server behind the plan's back.
struct WithheldVariable {
  std::string name;
  std::string reason;  // what the variable would change, and what to use instead
};

// Returns whether ManagedServer::start() removes the variable `name` from the environment that
// llama-server inherits. These are the variables of the flags that split_server_args() rejects
// (LLAMA_API_KEY, LLAMA_ARG_API_KEY_FILE, LLAMA_ARG_KV_UNIFIED, LLAMA_ARG_KV_UNIFIED_PER_SLOT,
// LLAMA_ARG_KV_OFFLOAD and LLAMA_ARG_NO_KV_OFFLOAD) and LLAMA_ARG_SWA_FULL. The variables of the
// flags that the run passes itself, such as LLAMA_ARG_N_PARALLEL, stay, because llama-server
// reads a flag on its command line over its variable.
bool is_withheld_variable(std::string_view name);

// Returns the variables that `env` sets and is_withheld_variable() accepts, with the reason for
// each. An LLAMA_API_KEY equal to `api_key`, the key the server gets anyway, is left out.
std::vector<WithheldVariable> withheld_variables(const EnvLookup& env, const std::string& api_key);

// Returns the flash attention flag in `words` ("-fa off", "-fa auto") when the launch needs
// flash attention, for a quantized V cache, and the flag does not turn it on. Returns nullopt
// otherwise.
std::optional<std::string> flash_attention_conflict(const std::vector<std::string>& words,
                                                    bool needs_flash_attention);

// Returns a note for an `error` that states that a reply filled the context per slot of a
// llama-server that the run started itself. The error's advice names llama-server's -c and -np,
// which such a run chooses from `num_ctx` and its agents, so the note names what the user can
// change. Returns nullopt for any other error.
std::optional<std::string> started_server_context_note(const std::string& error, int num_ctx);

// A llama-server process that this object started and owns. stop() (and the destructor) end
// it and only it. The child runs in its own process group, so a Ctrl-C in the terminal reaches
// ollama-flow, which then stops the server in order, and it gets SIGTERM if ollama-flow dies.
//
// Not thread-safe: one thread starts and stops it.
class ManagedServer {
 public:
  struct Options {
    double start_timeout_s = 300;    // loading a large model from disk can take minutes
    std::filesystem::path log_path;  // empty: a file in the temp directory
  };

  // Starts the server on a free port of 127.0.0.1 and waits until GET /health returns 200.
  // Returns kUnavailable with the log tail when the process exits first, kTimeout with the log
  // tail after start_timeout_s, and kCancelled when `cancel` fires. The process is stopped in
  // all three cases.
  static Result<std::unique_ptr<ManagedServer>> start(const LaunchPlan& plan,
                                                      const Options& options,
                                                      std::shared_ptr<Clock> clock,
                                                      const CancelToken& cancel);
  ~ManagedServer();
  ManagedServer(const ManagedServer&) = delete;
  ManagedServer& operator=(const ManagedServer&) = delete;

  // Sends SIGTERM, waits up to 10 s, then SIGKILL. Safe to call twice.
  void stop();

  // Returns "http://127.0.0.1:PORT".
  std::string url() const;
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  // Returns the last `lines` lines of the server's log, each indented by two spaces, with a line
  // break between two lines and none at the end.
  std::string log_tail(size_t lines = 20) const;

 private:
  ManagedServer(pid_t pid, int port, std::filesystem::path log_path, std::shared_ptr<Clock> clock);

  // Returns true once the process has exited, reaping it and storing its status.
  bool exited();
  Status wait_healthy(double timeout_s, const CancelToken& cancel);

  pid_t pid_;
  int port_;
  std::filesystem::path log_path_;
  std::shared_ptr<Clock> clock_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

// The server a run started, and the configuration that points the run at it.
struct RunServer {
  std::unique_ptr<ManagedServer> process;
  LaunchPlan plan;
  // The run configuration: backend openai, host the server's URL, num_parallel -np and num_ctx
  // the context per slot.
  Config config;
  std::vector<std::string> notes;  // for the report: the command, the slot count and why
};

// Probes this machine's GPUs, plans the launch of `binary` with config.server.model as the
// GGUF file, starts the server and returns it with the adjusted configuration. The server's log
// goes to the server-logs folder beside the journal and stays there; a note names it. Errors are
// those of plan_launch() and ManagedServer::start(), and kIoError when that folder cannot be
// created.
Result<RunServer> start_run_server(const Config& config, const std::string& binary,
                                   std::shared_ptr<Clock> clock, const CancelToken& cancel);

}  // namespace ollamaflow::flow
