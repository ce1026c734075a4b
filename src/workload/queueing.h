// Queueing formulas for sizing the agent pool: the M/M/c (Erlang C) model, where tasks arrive at
// rate lambda, each agent serves one task at a time with mean service time E[S], and c agents
// share one queue. Offered load a = lambda * E[S] is measured in Erlangs.
//
// Formulas: C(c, a) is the probability that an arriving task waits;
// P(wait > t) = C(c, a) * exp(-(c / E[S] - lambda) * t); E[Wq] = C(c, a) / (c / E[S] - lambda).
// Pure functions, safe to call from any thread.
#pragma once

#include <optional>

namespace ollamaflow::workload {

// Returns the Erlang C probability that a task waits, for `agents` servers and offered load
// `offered_load` (Erlangs). Returns 1 when the pool cannot keep up (agents <= offered_load).
double erlang_c(int agents, double offered_load);

// Returns the probability that a task waits longer than `wait_s` seconds in M/M/c.
double wait_exceed_probability(int agents, double arrival_rate, double mean_service_s,
                               double wait_s);

// Returns the mean queue wait in seconds, or nullopt when the pool cannot keep up.
std::optional<double> mean_wait_s(int agents, double arrival_rate, double mean_service_s);

// Returns the fewest agents c such that P(wait > wait_target_s) <= 1 - quantile, i.e. the
// `quantile` of the wait (0.95: p95) meets the target. Searches up to `max_agents` and returns
// nullopt when even that many agents miss the target. Requires arrival_rate >= 0,
// mean_service_s > 0, wait_target_s >= 0 and 0 < quantile < 1; returns nullopt otherwise.
std::optional<int> agents_for_wait_target(double arrival_rate, double mean_service_s,
                                          double wait_target_s, double quantile, int max_agents);

}  // namespace ollamaflow::workload
