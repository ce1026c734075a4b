#include "flow/server_watch.h"

#include <algorithm>
#include <numeric>

#include "core/log.h"

namespace ollamaflow::flow {

std::optional<double> server_wait_seconds(const llm::ChatUsage& usage) {
  if (usage.total_seconds <= 0) {
    return std::nullopt;
  }
  // NOTE: how Ollama splits a wait for a free slot between load_duration and this remainder was
  // not measured against a real Ollama, so the result is an estimate of the wait in the server.
  const double work = usage.load_seconds + usage.prompt_seconds + usage.eval_seconds;
  return std::max(0.0, usage.total_seconds - work);
}

void ServerWaitTracker::record(const llm::ChatUsage& usage) {
  const std::optional<double> wait = server_wait_seconds(usage);
  if (!wait) {
    return;
  }
  std::lock_guard lock(mutex_);
  waits_.push_back(*wait);
  if (waits_.size() > window_) {
    waits_.pop_front();
  }
}

std::optional<double> ServerWaitTracker::mean_wait_s() const {
  std::lock_guard lock(mutex_);
  if (waits_.empty()) {
    return std::nullopt;
  }
  return std::accumulate(waits_.begin(), waits_.end(), 0.0) / static_cast<double>(waits_.size());
}

Result<llm::ChatResponse> WaitRecordingClient::chat(const llm::ChatRequest& request,
                                                    const CancelToken& cancel,
                                                    const llm::TokenCallback& on_token,
                                                    llm::ChatProgress* progress) {
  Result<llm::ChatResponse> response = inner_.chat(request, cancel, on_token, progress);
  if (response) {
    tracker_->record(response->usage);
  }
  return response;
}

workload::ServerSignal to_server_signal(const llm::ServerReading& reading, MonoTime now) {
  workload::ServerSignal signal;
  signal.total_slots = reading.total_slots;
  signal.busy_slots = reading.busy_slots;
  signal.queued_requests = reading.requests_deferred;
  signal.prompt_tokens_per_s = reading.prompt_tokens_per_s;
  signal.output_tokens_per_s = reading.output_tokens_per_s;
  signal.source = reading.source;
  for (const std::string& note : reading.notes) {
    signal.notes += (signal.notes.empty() ? "" : "; ") + note;
  }
  signal.sampled_at = now;
  return signal;
}

namespace {

// Logs a change of the notes at info, so an endpoint that goes away is visible once, not on
// every poll.
class NoteLog {
 public:
  void update(const std::string& notes) {
    std::lock_guard lock(mutex_);
    if (notes != last_) {
      if (!notes.empty()) {
        get_logger("flow")->info("server signals incomplete: {}", notes);
      }
      last_ = notes;
    }
  }

 private:
  std::mutex mutex_;
  std::string last_;  // guarded by mutex_
};

}  // namespace

Result<ServerSignalSource> make_server_signal_source(const Config& config,
                                                     const std::string& backend,
                                                     std::shared_ptr<Clock> clock,
                                                     std::shared_ptr<ServerWaitTracker> tracker,
                                                     CancelTokenPtr cancel) {
  if (backend == "openai") {
    Result<std::unique_ptr<llm::LlamaServerSignalReader>> created =
        llm::LlamaServerSignalReader::create(config.server, clock, 2, std::move(cancel));
    if (!created) {
      return created.status();
    }
    std::shared_ptr<llm::LlamaServerSignalReader> reader = std::move(created).value();
    auto notes = std::make_shared<NoteLog>();
    return ServerSignalSource([reader, clock, notes]() -> std::optional<workload::ServerSignal> {
      workload::ServerSignal signal = to_server_signal(reader->read(), clock->now());
      notes->update(signal.notes);
      return signal;
    });
  }
  if (backend == "ollama") {
    const llm::ConfiguredSlots slots = llm::configured_slots(config);
    return ServerSignalSource([slots, clock, tracker]() -> std::optional<workload::ServerSignal> {
      workload::ServerSignal signal;
      signal.total_slots = slots.slots;
      signal.source = slots.source;
      if (tracker) {
        signal.server_wait_s = tracker->mean_wait_s();
      }
      signal.notes = "Ollama reports no slots or queue";
      signal.sampled_at = clock->now();
      return signal;
    });
  }
  return ServerSignalSource();
}

}  // namespace ollamaflow::flow
