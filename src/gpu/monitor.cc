#include "gpu/monitor.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/log.h"
#include "gpu/file_tree.h"
#include "gpu/host_memory.h"
#include "gpu/intel_probe.h"

namespace ollamaflow::gpu {
namespace {

// The background thread checks for stop() at least this often.
constexpr Duration kStopCheckStep = std::chrono::milliseconds(50);

bool override_matches(const std::string& key, const GpuDevice& device) {
  return key == "*" || key == device.id || (!device.uuid.empty() && key == device.uuid) ||
         (!device.bus_id.empty() && key == device.bus_id);
}

}  // namespace

SnapshotProber::SnapshotProber(ProbeContext context, std::shared_ptr<Clock> clock)
    : context_(std::move(context)), clock_(std::move(clock)), nvml_(context_.loader) {}

std::vector<GpuDevice> SnapshotProber::probe_nvidia(std::vector<std::string>& warnings) {
  std::vector<GpuDevice> devices;
  Result<std::vector<GpuDevice>> from_nvml = nvml_.probe();
  if (from_nvml) {
    devices = std::move(from_nvml).value();
  } else {
    warnings.push_back(from_nvml.status().message());
    Result<std::vector<GpuDevice>> from_smi = nvidia_smi_.probe(context_);
    if (from_smi) {
      devices = std::move(from_smi).value();
    } else {
      warnings.push_back("nvidia-smi: " + from_smi.status().message());
    }
  }
  nvidia_smi_.fill_unknown_memory(context_, devices);
  return devices;
}

void SnapshotProber::apply_overrides(GpuSnapshot& snapshot) const {
  for (GpuDevice& device : snapshot.devices) {
    if (device.memory_total)
      continue;
    for (const auto& [key, bytes] : context_.memory_total_overrides) {
      if (!override_matches(key, device))
        continue;
      device.memory_total = Reading<uint64_t>{bytes, "config override"};
      complete_memory(device);
      if (!device.memory_free) {
        device.notes.push_back(
            "the configured total has no used figure to go with it; free "
            "memory unknown");
      }
      break;
    }
  }
}

GpuSnapshot SnapshotProber::take() {
  MonoTime start = clock_->now();
  GpuSnapshot snapshot;
  FileTree tree(context_.root);
  snapshot.host = read_host_memory(tree);

  std::vector<GpuDevice> devices = probe_nvidia(snapshot.warnings);
  std::vector<GpuDevice> amd = amd_.probe(context_, snapshot.host, snapshot.warnings);
  std::vector<GpuDevice> intel = probe_intel(context_);
  devices.insert(devices.end(), std::make_move_iterator(amd.begin()),
                 std::make_move_iterator(amd.end()));
  devices.insert(devices.end(), std::make_move_iterator(intel.begin()),
                 std::make_move_iterator(intel.end()));
  for (size_t i = 0; i < devices.size(); ++i) {
    devices[i].id = fmt::format("gpu{}", i);
  }
  snapshot.devices = std::move(devices);
  apply_overrides(snapshot);

  snapshot.taken_at = clock_->wall_now();
  snapshot.taken_at_mono = clock_->now();
  snapshot.probe_duration = snapshot.taken_at_mono - start;
  return snapshot;
}

GpuMonitor::GpuMonitor(std::unique_ptr<SnapshotSource> source, std::shared_ptr<Clock> clock,
                       Duration refresh_interval)
    : clock_(std::move(clock)), interval_(refresh_interval), source_(std::move(source)) {}

GpuMonitor::~GpuMonitor() {
  stop();
}

std::shared_ptr<const GpuSnapshot> GpuMonitor::snapshot() const {
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  return latest_;
}

std::shared_ptr<const GpuSnapshot> GpuMonitor::refresh() {
  std::shared_ptr<const GpuSnapshot> fresh;
  {
    std::lock_guard<std::mutex> lock(probe_mutex_);
    auto taken = std::make_shared<GpuSnapshot>(source_->take());
    log_changes(*taken);
    fresh = std::move(taken);
  }
  {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    latest_ = fresh;
  }
  refresh_count_.fetch_add(1);
  return fresh;
}

void GpuMonitor::log_changes(const GpuSnapshot& snapshot) {
  // Each distinct message is logged once, so a probe that fails on every refresh stays quiet.
  auto logger = get_logger("gpu");
  for (const std::string& warning : snapshot.warnings) {
    if (logged_.insert(warning).second)
      logger->info("probe source unavailable: {}", warning);
  }
  for (const GpuDevice& device : snapshot.devices) {
    for (const std::string& note : device.notes) {
      std::string key = device.id + ": " + note;
      if (logged_.insert(key).second) {
        logger->debug("device={} name=\"{}\" {}", device.id, device.name, note);
      }
    }
  }
}

void GpuMonitor::start() {
  std::lock_guard<std::mutex> lock(thread_mutex_);
  if (thread_.joinable())
    return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  get_logger("gpu")->info("GPU monitor started interval_s={:.1f}", to_seconds(interval_));
}

void GpuMonitor::stop() {
  std::lock_guard<std::mutex> lock(thread_mutex_);
  if (!thread_.joinable())
    return;
  stopping_ = true;
  thread_.join();
  get_logger("gpu")->info("GPU monitor stopped refreshes={}", refresh_count_.load());
}

void GpuMonitor::run() {
  while (!stopping_) {
    refresh();
    Duration waited{0};
    while (!stopping_ && waited < interval_) {
      Duration step = std::min(kStopCheckStep, interval_ - waited);
      clock_->sleep_for(step);
      waited += step;
    }
  }
}

}  // namespace ollamaflow::gpu
