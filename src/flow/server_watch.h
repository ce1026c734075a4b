// The model server's own signals for a live run: llama-server's slots, queue and token rates
// read over HTTP, or for Ollama the configured slot count and the wait derived from reply
// timings. The scaling loop polls it on the scale check interval.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "llm/client.h"
#include "llm/server_signals.h"
#include "workload/metrics.h"

namespace ollamaflow::flow {

// Returns the seconds an Ollama request spent in the server outside of loading and evaluation:
// total_duration minus load_duration, prompt_eval_duration and eval_duration, from the final
// chunk. nullopt when the reply carries no total (other servers, the simulated backend).
std::optional<double> server_wait_seconds(const llm::ChatUsage& usage);

// Mean server wait over the last replies. Thread-safe.
class ServerWaitTracker {
 public:
  explicit ServerWaitTracker(size_t window = 32) : window_(window) {}
  void record(const llm::ChatUsage& usage);
  // Returns the mean over the window; nullopt before the first reply with timings.
  std::optional<double> mean_wait_s() const;

 private:
  const size_t window_;
  mutable std::mutex mutex_;
  std::deque<double> waits_;  // guarded by mutex_
};

// An LlmClient that forwards every call to `inner` and books the server wait of each reply.
// Thread-safe as `inner` is; `inner` must outlive it.
class WaitRecordingClient final : public llm::LlmClient {
 public:
  WaitRecordingClient(llm::LlmClient& inner, std::shared_ptr<ServerWaitTracker> tracker)
      : inner_(inner), tracker_(std::move(tracker)) {}

  Result<llm::ChatResponse> chat(const llm::ChatRequest& request, const CancelToken& cancel,
                                 const llm::TokenCallback& on_token,
                                 llm::ChatProgress* progress) override;
  Result<std::vector<llm::ModelInfo>> list_models() override { return inner_.list_models(); }
  Result<std::string> version() override { return inner_.version(); }
  Result<std::vector<llm::LoadedModel>> loaded_models() override { return inner_.loaded_models(); }
  std::string backend_name() const override { return inner_.backend_name(); }
  std::string endpoint() const override { return inner_.endpoint(); }

 private:
  llm::LlmClient& inner_;
  std::shared_ptr<ServerWaitTracker> tracker_;
};

// Converts one reading to the collector's signal, sampled at `now`.
workload::ServerSignal to_server_signal(const llm::ServerReading& reading, MonoTime now);

// Returns the source of server signals for `backend`: the llama-server reader for "openai",
// the configured slots and `tracker`'s mean wait for "ollama", nothing for "sim". Returns
// kInvalidArgument for a malformed host URL. `cancel` (may be null) ends a llama-server read.
using ServerSignalSource = std::function<std::optional<workload::ServerSignal>()>;
Result<ServerSignalSource> make_server_signal_source(const Config& config,
                                                     const std::string& backend,
                                                     std::shared_ptr<Clock> clock,
                                                     std::shared_ptr<ServerWaitTracker> tracker,
                                                     CancelTokenPtr cancel = nullptr);

}  // namespace ollamaflow::flow
