// Fault injection for the simulator. Each fault applies over a window of virtual time in seconds
// from the trace start. Pure values: safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ollamaflow::sim {

struct FaultWindow {
  double start_s = 0;
  double end_s = 0;

  bool contains(double at) const { return at >= start_s && at < end_s; }
};

struct FaultPlan {
  // The scaler reads the workload, GPU and capacity signals as they were when the window opened,
  // so they turn stale.
  std::optional<FaultWindow> metric_dropout;
  // Age in seconds of every signal the scaler reads.
  double metric_delay_s = 0;
  // Agents that start in the window take slow_load_s to become ready instead of the start-up time.
  std::optional<FaultWindow> slow_load;
  double slow_load_s = 0;
  // Window in which the server returns 503 to every new request.
  std::optional<FaultWindow> server_503;
  // Window in which another process uses memory_taken_mib of GPU memory.
  std::optional<FaultWindow> memory_taken;
  double memory_taken_mib = 0;

  bool empty() const;
  nlohmann::json to_json() const;
};

// Parses "START:END" (seconds) into a window. `flag` names the option in errors.
Result<FaultWindow> parse_window(std::string_view text, std::string_view flag);
// Parses "START:END:VALUE" into a window and a value.
Result<std::pair<FaultWindow, double>> parse_window_value(std::string_view text,
                                                          std::string_view flag);

}  // namespace ollamaflow::sim
