// `ollama-flow gpu [--json] [--watch]`: the devices, host memory and the source of each figure.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/signals.h"
#include "core/json_text.h"
#include "core/log.h"
#include "gpu/monitor.h"
#include "gpu/snapshot_json.h"
#include "gpu/snapshot_text.h"

namespace ollamaflow::cli {
namespace {

void print_snapshot(const gpu::GpuSnapshot& snapshot, bool json) {
  if (json) {
    std::printf("%s\n", to_text(gpu::snapshot_to_json(snapshot), 2).c_str());
  } else {
    std::printf("%s", gpu::render_snapshot(snapshot).c_str());
  }
  std::fflush(stdout);
}

// Flushes standard output and returns false when a write to it failed. The process ignores
// SIGPIPE, so a reader that has exited, as `head` does, shows only as a failed write here.
bool flush_stdout() {
  return std::fflush(stdout) == 0 && std::ferror(stdout) == 0;
}

}  // namespace

int cmd_gpu(const Config& config, const GpuOptions& options) {
  (void)config;
  // The negated test also rejects NaN, for callers that bypass the flag's validator.
  if (!(options.interval_s >= kMinGpuInterval && options.interval_s <= kMaxGpuInterval)) {
    print_error(fmt::format("invalid --interval {:.3g}: use {:g} to {:g} seconds",
                            options.interval_s, kMinGpuInterval, kMaxGpuInterval));
    return 2;
  }
  std::shared_ptr<Clock> clock = system_clock();
  Result<gpu::ProbeContext> context = gpu::machine_probe_context(clock, process_env());
  if (!context) {
    print_error(context.status().message());
    return 2;
  }
  gpu::SnapshotProber prober(std::move(context).value(), clock);

  if (!options.watch) {
    print_snapshot(prober.take(), options.json);
    return 0;
  }
  // --watch prints one snapshot per interval until Ctrl-C; JSON mode prints one document per
  // line so that a reader can parse the stream.
  auto interrupted = install_interrupt_handler();
  const bool on_terminal = ::isatty(STDOUT_FILENO) == 1;
  while (!interrupted->cancelled()) {
    gpu::GpuSnapshot snapshot = prober.take();
    if (options.json) {
      std::printf("%s\n", to_text(gpu::snapshot_to_json(snapshot)).c_str());
      std::fflush(stdout);
    } else if (on_terminal) {
      std::printf("\033[H\033[2J%s  %s\n", format_iso8601(snapshot.taken_at).c_str(),
                  "(Ctrl-C to stop)");
      print_snapshot(snapshot, false);
    } else {
      // A pipe or a file gets no screen-clearing codes: the snapshots follow one another.
      std::printf("=== %s\n", format_iso8601(snapshot.taken_at).c_str());
      print_snapshot(snapshot, false);
    }
    if (!flush_stdout()) {
      // A closed pipe ends the watch as its reader intended. Any other failure is reported.
      const int error = errno;
      if (error == EPIPE) {
        return 0;
      }
      print_error(fmt::format("cannot write to standard output: {}; --watch stopped",
                              std::strerror(error)));
      return 1;
    }
    Duration left = from_seconds(options.interval_s);
    while (left.count() > 0 && !interrupted->cancelled()) {
      Duration step = std::min<Duration>(left, std::chrono::milliseconds(100));
      clock->sleep_for(step);
      left -= step;
    }
  }
  return 0;
}

}  // namespace ollamaflow::cli
