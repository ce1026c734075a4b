// The simulated backend ("sim"): an in-process model server with slots, a load time, token
// rates and a slowdown under concurrency, all in the time of an injected Clock, so that the
// scaling simulator can drive it in virtual time. Replies are placeholders generated from the
// request's schema (sim_output.h) and marked simulated.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "llm/client.h"

namespace ollamaflow::llm {

struct SimSettings {
  int slots = 4;                    // requests served at once; others wait
  double load_time_s = 0;           // once per model, on its first request
  double prompt_tokens_per_s = 0;   // per slot when alone; 0 means no delay
  double output_tokens_per_s = 0;   // per slot when alone; 0 means no delay
  double slowdown_per_slot = 0.08;  // fraction of per-token time added per other active request
  std::vector<std::string> models;  // what list_models() reports, besides the models used
  size_t piece_chars = 16;          // bytes of content per streamed piece (about 4 tokens)

  // Returns the sim_* keys of `server`, with its model and role models as the model list.
  static SimSettings from(const ServerSettings& server);
};

// Counters and the current state of a SimClient.
struct SimStats {
  size_t active = 0;      // requests holding a slot
  size_t waiting = 0;     // requests waiting for a slot
  size_t max_active = 0;  // the most requests that held a slot at once
  uint64_t requests = 0;  // chat() calls
  uint64_t completed = 0;
  uint64_t injected_failures = 0;
  uint64_t cancelled = 0;
  uint64_t truncated = 0;
  uint64_t loads = 0;  // model loads performed
};

// Thread-safe: chat() may run on many threads at once, as agents call a real server. Every
// wait for simulated work goes through the Clock; a request waiting for a slot blocks on a
// condition variable.
class SimClient final : public LlmClient {
 public:
  // Returns kInvalidArgument naming the key for slots below 1, a negative time or rate, or a
  // negative slowdown.
  static Result<std::shared_ptr<SimClient>> create(const SimSettings& settings,
                                                   std::shared_ptr<Clock> clock);
  static Result<std::shared_ptr<SimClient>> create(const ServerSettings& settings,
                                                   std::shared_ptr<Clock> clock);

  // Serves one request: waits for a slot, loads the model on its first use, spends
  // prompt_tokens / prompt rate, then streams the reply in pieces of output tokens / output rate
  // each, every per-token time multiplied by 1 + slowdown_per_slot × (active requests − 1) at
  // the moment the piece is produced. Tokens are estimated as characters / 4 (at least 1).
  // A reply longer than options.num_predict tokens is cut there and returned with done_reason
  // "length" and num_predict output tokens. Errors: an injected failure (before any waiting),
  // kCancelled, and kSchemaUnsupported when no value can be generated for the schema. A
  // cancelled request gives `progress` the prompt tokens once their time was spent and the
  // output tokens of the pieces streamed so far.
  Result<ChatResponse> chat(const ChatRequest& request, const CancelToken& cancel,
                            const TokenCallback& on_token = nullptr,
                            ChatProgress* progress = nullptr) override;

  // Returns the configured models and every model requested so far.
  Result<std::vector<ModelInfo>> list_models() override;
  // Returns "simulated".
  Result<std::string> version() override;
  // Returns the models loaded so far, with the num_ctx of their last request.
  Result<std::vector<LoadedModel>> loaded_models() override;
  std::string backend_name() const override { return "sim"; }
  std::string endpoint() const override { return "sim://local"; }

  // Makes the next `count` requests (of schema name `schema_name`, or of any when empty) fail
  // at once with `code` and `message` (a default naming the code when empty).
  void fail_next(size_t count, ErrorCode code, std::string message = "",
                 std::string schema_name = "");

  SimStats stats() const;
  // Blocks until `predicate` is true for the stats, checked at every change of state. For
  // tests and the simulator, which must know when requests are queued or running.
  void wait_until(const std::function<bool(const SimStats&)>& predicate) const;

  const SimSettings& settings() const { return settings_; }

 private:
  SimClient(SimSettings settings, std::shared_ptr<Clock> clock);

  struct InjectedFailure {
    ErrorCode code;
    std::string message;
    std::string schema_name;
  };
  enum class LoadState { kLoading, kLoaded };

  // Returns the next injected failure for a request with `schema_name`, if any.
  std::optional<Status> take_failure(const std::string& schema_name);
  Status acquire_slot(const CancelToken& cancel);
  void release_slot();
  // Loads `model` or waits for the request that loads it. Returns the seconds spent.
  Result<double> ensure_loaded(const ChatRequest& request, const CancelToken& cancel);
  double slowdown_factor() const;
  // Spends `tokens` at `rate` on the clock in pieces, checking `cancel` between them.
  Status spend_tokens(double tokens, double rate, const CancelToken& cancel);
  Result<std::string> reply_content(const ChatRequest& request) const;
  // Runs a request that has a slot: load, prompt, then the streamed reply. `spent` counts the
  // tokens as their time passes, so that a cancelled request still has them.
  Result<ChatResponse> serve(const ChatRequest& request, const std::string& content,
                             const CancelToken& cancel, const TokenCallback& on_token,
                             MonoTime start, ChatUsage& spent);
  Result<ChatResponse> stream_reply(const ChatRequest& request, const std::string& content,
                                    const CancelToken& cancel, const TokenCallback& on_token,
                                    MonoTime start, ChatUsage& spent);
  void increment(uint64_t SimStats::*counter);

  const SimSettings settings_;
  const std::shared_ptr<Clock> clock_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  // Guarded by mutex_.
  SimStats stats_;
  std::deque<InjectedFailure> failures_;
  std::map<std::string, LoadState> models_;    // by model name
  std::map<std::string, int> context_sizes_;   // num_ctx of the last request, by model
  std::vector<std::string> requested_models_;  // in first-request order
};

}  // namespace ollamaflow::llm
