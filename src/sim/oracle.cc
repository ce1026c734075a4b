// The block oracle's sizing: it reads every request of the trace and replays each block on the
// server model to find the fewest agents that meet the wait target.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "sim/policy.h"

namespace ollamaflow::sim {

double quantile(std::vector<double> values, double q) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(q * static_cast<double>(values.size()));
  const size_t index = static_cast<size_t>(std::max(1.0, rank)) - 1;
  return values[std::min(index, values.size() - 1)];
}

std::vector<double> replay_waits(const std::vector<Request>& requests, const ServerParams& server,
                                 int agents) {
  ServerParams params = server;
  params.slots = std::max(1, agents);
  params.max_queue = static_cast<int>(requests.size()) + 1;
  SimServer replay(params);
  std::vector<double> waits(requests.size(), 0);
  replay.set_start_listener(
      [&](uint64_t id, double at) { waits[id] = at - requests[id].arrival_s; });
  size_t next = 0;
  for (;;) {
    const std::optional<double> done = replay.next_completion();
    if (next < requests.size() && (!done || requests[next].arrival_s <= *done)) {
      replay.submit(next, requests[next].prompt_tokens, requests[next].output_tokens,
                    requests[next].arrival_s);
      ++next;
    } else if (done) {
      replay.complete_next(*done);
    } else {
      return waits;
    }
  }
}

std::vector<int> oracle_blocks(const Trace& trace, const ServerParams& server, double wait_target_s,
                               int max_agents, double block_s) {
  const int blocks = std::max(1, static_cast<int>(std::ceil(trace.duration_s / block_s)));
  const int limit = std::max(1, std::min(max_agents, server.slots));
  std::vector<std::vector<Request>> by_block(static_cast<size_t>(blocks));
  for (const Request& request : trace.requests) {
    const int block = std::min(blocks - 1, static_cast<int>(request.arrival_s / block_s));
    by_block[static_cast<size_t>(block)].push_back(request);
  }
  std::vector<int> sizes;
  for (const std::vector<Request>& requests : by_block) {
    // Waits fall as agents are added, so a binary search finds the fewest that meet the target.
    int low = 1;
    int high = limit;
    while (low < high) {
      const int middle = (low + high) / 2;
      if (quantile(replay_waits(requests, server, middle), 0.95) <= wait_target_s) {
        high = middle;
      } else {
        low = middle + 1;
      }
    }
    sizes.push_back(low);
  }
  return sizes;
}

}  // namespace ollamaflow::sim
