// The Flow facade: wires one run together, from goal to report. The CLI, the interactive loop
// and the service call it; everything it uses comes from the modules below it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "flow/run_types.h"

namespace ollamaflow::flow {

// Live view of a run, for `status`, the interactive `agents` command and the service.
// Thread-safe: the run updates it, any thread may read it.
class RunMonitor {
 public:
  void set(nlohmann::json scaling_status, nlohmann::json agents, nlohmann::json metrics);
  nlohmann::json scaling_status() const;
  nlohmann::json agents() const;
  nlohmann::json metrics() const;

 private:
  mutable std::mutex mutex_;
  nlohmann::json scaling_status_ = nlohmann::json::object();  // guarded by mutex_
  nlohmann::json agents_ = nlohmann::json::object();          // guarded by mutex_
  nlohmann::json metrics_ = nlohmann::json::object();         // guarded by mutex_
};

// Runs `request` under `config` and returns its report. Expected failures (no valid plan, a
// dead server, failed subtasks) are part of the report with a non-zero exit code; an error
// Status is returned only when no report can be made (for example an unreadable plan file or
// an unknown run id), and names the cause and the fix. `cancel` stops new work and cancels
// requests in flight; the report then has status "cancelled" and exit code 130.
Result<RunReport> run_goal(const Config& config, const RunRequest& request,
                           const CancelTokenPtr& cancel, std::shared_ptr<Clock> clock,
                           RunMonitor* monitor = nullptr);

}  // namespace ollamaflow::flow
