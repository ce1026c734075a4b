#include "workload/queueing.h"

#include <cmath>

namespace ollamaflow::workload {
namespace {

// Erlang B by the stable recursion B(0) = 1, B(k) = a * B(k-1) / (k + a * B(k-1)).
double erlang_b(int agents, double offered_load) {
  double blocking = 1.0;
  for (int k = 1; k <= agents; ++k) {
    blocking = offered_load * blocking / (k + offered_load * blocking);
  }
  return blocking;
}

// Converts Erlang B to Erlang C for the same agents and load; requires agents > offered_load.
double erlang_c_from_b(int agents, double offered_load, double blocking) {
  return agents * blocking / (agents - offered_load * (1.0 - blocking));
}

double exceed_probability(int agents, double arrival_rate, double mean_service_s, double wait_s,
                          double wait_probability) {
  const double drain_rate = agents / mean_service_s - arrival_rate;
  return wait_probability * std::exp(-drain_rate * wait_s);
}

}  // namespace

double erlang_c(int agents, double offered_load) {
  if (offered_load <= 0) {
    return 0.0;
  }
  if (agents <= offered_load) {
    return 1.0;
  }
  return erlang_c_from_b(agents, offered_load, erlang_b(agents, offered_load));
}

double wait_exceed_probability(int agents, double arrival_rate, double mean_service_s,
                               double wait_s) {
  const double offered_load = arrival_rate * mean_service_s;
  if (agents <= offered_load) {
    return 1.0;
  }
  return exceed_probability(agents, arrival_rate, mean_service_s, wait_s,
                            erlang_c(agents, offered_load));
}

std::optional<double> mean_wait_s(int agents, double arrival_rate, double mean_service_s) {
  const double offered_load = arrival_rate * mean_service_s;
  if (agents <= offered_load) {
    return std::nullopt;
  }
  return erlang_c(agents, offered_load) / (agents / mean_service_s - arrival_rate);
}

std::optional<int> agents_for_wait_target(double arrival_rate, double mean_service_s,
                                          double wait_target_s, double quantile, int max_agents) {
  if (!(arrival_rate >= 0) || !(mean_service_s > 0) || !(wait_target_s >= 0) ||
      !(quantile > 0 && quantile < 1) || max_agents < 1) {
    return std::nullopt;
  }
  if (arrival_rate == 0) {
    return 0;
  }
  const double offered_load = arrival_rate * mean_service_s;
  const double allowed = 1.0 - quantile;
  // Walk c upwards, carrying Erlang B along, so the whole search costs O(c).
  double blocking = 1.0;
  for (int agents = 1; agents <= max_agents; ++agents) {
    blocking = offered_load * blocking / (agents + offered_load * blocking);
    if (agents <= offered_load) {
      continue;
    }
    const double waits = erlang_c_from_b(agents, offered_load, blocking);
    if (exceed_probability(agents, arrival_rate, mean_service_s, wait_target_s, waits) <= allowed) {
      return agents;
    }
  }
  return std::nullopt;
}

}  // namespace ollamaflow::workload
