// The GPU monitor: one snapshot of every device and of host memory, refreshed on an interval
// and read without waiting for a probe.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/clock.h"
#include "gpu/amd_probe.h"
#include "gpu/nvidia_smi.h"
#include "gpu/nvml_probe.h"
#include "gpu/system.h"
#include "gpu/types.h"

namespace ollamaflow::gpu {

// Produces snapshots. Implementations need not be thread-safe: GpuMonitor serializes calls.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  virtual GpuSnapshot take() = 0;
};

// Probes the machine in a fixed order: NVIDIA through NVML, else nvidia-smi (then MIG slices,
// compute-application sums); AMD through sysfs and rocm-smi; Intel through sysfs; host memory
// from /proc and the cgroup. Configured totals fill devices whose total stayed unknown. Devices
// get the ids gpu0, gpu1, ... in that order. Not thread-safe.
class SnapshotProber final : public SnapshotSource {
 public:
  SnapshotProber(ProbeContext context, std::shared_ptr<Clock> clock);
  GpuSnapshot take() override;

 private:
  std::vector<GpuDevice> probe_nvidia(std::vector<std::string>& warnings);
  void apply_overrides(GpuSnapshot& snapshot) const;

  ProbeContext context_;
  std::shared_ptr<Clock> clock_;
  NvmlProbe nvml_;
  NvidiaSmiProbe nvidia_smi_;
  AmdProbe amd_;
};

// Thread-safe. snapshot() only copies a pointer under a short lock, so a caller on the scaling
// loop never waits for a probe. refresh() probes on the calling thread; start() runs refresh()
// on a background thread every interval, sleeping through the injected clock, until stop() or
// destruction. With a FakeClock the background thread advances only as the clock does.
class GpuMonitor {
 public:
  GpuMonitor(std::unique_ptr<SnapshotSource> source, std::shared_ptr<Clock> clock,
             Duration refresh_interval);
  ~GpuMonitor();
  GpuMonitor(const GpuMonitor&) = delete;
  GpuMonitor& operator=(const GpuMonitor&) = delete;

  // Returns the latest snapshot, or nullptr before the first refresh has finished.
  std::shared_ptr<const GpuSnapshot> snapshot() const;

  // Probes now, stores the result as the latest snapshot and returns it.
  std::shared_ptr<const GpuSnapshot> refresh();

  void start();
  void stop();

  uint64_t refresh_count() const { return refresh_count_.load(); }
  Duration refresh_interval() const { return interval_; }

 private:
  void run();
  void log_changes(const GpuSnapshot& snapshot);

  std::shared_ptr<Clock> clock_;
  Duration interval_;

  std::mutex probe_mutex_;  // serializes probes; guards source_ and logged_
  std::unique_ptr<SnapshotSource> source_;
  std::set<std::string> logged_;

  mutable std::mutex snapshot_mutex_;  // guards latest_
  std::shared_ptr<const GpuSnapshot> latest_;

  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> refresh_count_{0};
  std::mutex thread_mutex_;  // guards thread_
  std::thread thread_;
};

}  // namespace ollamaflow::gpu
