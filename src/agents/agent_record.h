// The manager's private record of one agent, shared by the manager's source files.
#pragma once

#include <thread>

#include "agents/manager.h"
#include "core/cancel.h"
#include "core/log.h"

namespace ollamaflow::agents {

// Guarded by AgentManager::mutex_, like every field of the manager.
struct AgentManager::Agent {
  AgentInfo info;
  int64_t sequence = 0;  // the <n> of the id, in creation order
  std::thread thread;
  bool thread_done = false;  // run_agent() returned, so the thread can be joined at once
  bool warming = false;      // the warm-up has not returned yet
  MonoTime warm_up_started{};
  MonoTime drain_started{};
  MonoTime task_started{};
  CancelTokenPtr cancel;     // token of the current task; null when there is none
  bool cancel_sent = false;  // the manager cancelled the current task
  RequeueReason cancel_reason = RequeueReason::kShutdown;
};

// Returns the "agents" logger.
inline spdlog::logger& agents_log() {
  static const std::shared_ptr<spdlog::logger> logger = get_logger("agents");
  return *logger;
}

}  // namespace ollamaflow::agents
