// A parser for the Prometheus text exposition format (version 0.0.4), as llama-server's
// /metrics serves it. Pure functions: safe to call from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ollamaflow::llm {

// Samples by series: the metric name, followed by its label set exactly as written
// (e.g. `llamacpp:requests_processing` or `http_requests_total{code="200"}`).
using PrometheusSamples = std::map<std::string, double, std::less<>>;

// Parses `text`. Comment lines (# HELP, # TYPE, others) and blank lines are skipped; timestamps
// after the value are accepted and dropped. Values may be NaN, +Inf or -Inf. Returns
// kParseError naming the line number and its text for a line that is not a sample.
Result<PrometheusSamples> parse_prometheus_text(std::string_view text);

// Returns the value of `series`; nullopt when it is absent.
std::optional<double> find_sample(const PrometheusSamples& samples, std::string_view series);

}  // namespace ollamaflow::llm
