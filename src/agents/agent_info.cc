#include "agents/agent_info.h"

namespace ollamaflow::agents {

std::string_view requeue_reason_name(RequeueReason reason) {
  switch (reason) {
    case RequeueReason::kRetry:
      return "retry";
    case RequeueReason::kDrainTimeout:
      return "drain_timeout";
    case RequeueReason::kShutdown:
      return "shutdown";
    case RequeueReason::kAgentRemoved:
      return "agent_removed";
  }
  return "unknown";
}

}  // namespace ollamaflow::agents
