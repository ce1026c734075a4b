// The machine and server a run scales against: the GPU monitor, the capacity of the run's
// model, and the signals the scaling engine reads from them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "flow/scaling_loop.h"
#include "flow/server_watch.h"
#include "gpu/monitor.h"
#include "llm/client.h"

namespace ollamaflow::flow {

struct CapacityView {
  std::optional<int> agent_ceiling;  // agents whose slots fit, after reserves
  std::optional<int> server_slots;   // the server's parallel slots, when known
  std::string server_slots_source;   // "llama-server at URL", the configuration key, ...
  std::string reason;                // how the ceiling was found, or why it is unknown
};

// Thread-safe after construction: the monitor is, and the capacity view is immutable.
class MachineView {
 public:
  // Starts the GPU monitor (refresh on the scale check interval), reads the server's own slot
  // count where it reports one (llama-server's /props) and estimates the capacity of `model`
  // at the configured context and cache types. Returns no error: a figure that cannot be found
  // stays unknown, with the reason in capacity().reason. `cancel` (may be null) ends the
  // server reads of a cancelled run.
  MachineView(const Config& config, std::shared_ptr<Clock> clock, const std::string& model,
              const std::string& backend, CancelTokenPtr cancel = nullptr);
  ~MachineView();

  const CapacityView& capacity() const { return capacity_; }
  // Returns the warnings found at construction, such as a strategy that has no signal on this
  // machine. MachineView logs each of them once, and the run report lists them.
  const std::vector<std::string>& notes() const { return notes_; }
  // Returns a client that forwards to `inner` and books each reply's server wait for the
  // server signal (Ollama). `inner` must outlive the returned client.
  std::unique_ptr<llm::LlmClient> observe(llm::LlmClient& inner) const;
  // Returns the sources for the scaling loop.
  ScalingSources sources() const;
  // Returns the latest snapshot; nullptr before the first probe.
  std::shared_ptr<const gpu::GpuSnapshot> snapshot() const;

 private:
  std::shared_ptr<Clock> clock_;
  std::unique_ptr<gpu::GpuMonitor> monitor_;
  CapacityView capacity_;
  std::vector<std::string> notes_;
  std::shared_ptr<ServerWaitTracker> waits_;
  ServerSignalSource server_;  // empty for the simulated backend
};

// Returns a warning when `config.strategy` is GPU_MEMORY_BASED and `snapshot` has no GPU. That
// strategy sizes the pool by GPU memory alone, so without a monitored GPU it never scales.
std::optional<std::string> strategy_signal_warning(const Config& config,
                                                   const gpu::GpuSnapshot& snapshot);

// Sums the GPUs of a snapshot into the engine's GPU signal; nullopt when it has no GPU.
std::optional<scaling::GpuSignal> gpu_signal(const gpu::GpuSnapshot& snapshot);

}  // namespace ollamaflow::flow
