// Request traces for the scaling simulator: a CSV file (plain arrival seconds or the Azure LLM
// inference trace format) or a generated pattern. Pure values and functions: safe to use from
// any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ollamaflow::sim {

// One request of a trace.
struct Request {
  double arrival_s = 0;  // seconds from the start of the trace
  int prompt_tokens = 0;
  int output_tokens = 0;
};

struct Trace {
  std::string name;               // "steady", "bursty", "step", "ramp" or the file name
  std::string description;        // how it was made, including any rate scaling
  double duration_s = 0;          // the simulated span; requests arrive in [0, duration_s)
  std::vector<Request> requests;  // sorted by arrival
  // Times where the arrival rate jumps up by at least 2x (the step and bursty patterns), for the
  // reaction-time figure.
  std::vector<double> surges_s;
};

// Maximum requests in a trace, read or generated: 16 bytes each, so 256 MiB in all. A week of
// the Azure conversation trace, at about 5.4 requests per second, has about 3.3 million.
inline constexpr size_t kMaxTraceRequests = size_t{1} << 24;

// Reads a CSV trace. Accepted headers (case-insensitive):
//   arrival_s,prompt_tokens,output_tokens                     arrival in seconds
//   TIMESTAMP,ContextTokens,GeneratedTokens                   the Azure LLM inference trace, with
//                                                             timestamps "YYYY-MM-DD HH:MM:SS.f"
// Arrivals are shifted so that the first request arrives at 0. `rate_scale` multiplies the
// arrival rate (arrival times are divided by it). Requests at or after `duration_s` are dropped
// when duration_s > 0. A UTF-8 byte order mark before the header is skipped. The file is read
// line by line: it may have at most 1 GiB, 16777216 requests and 4096 bytes per line. Returns
// kNotFound for a missing file, and kInvalidArgument for a folder or a regular file over 1 GiB.
// Returns kParseError naming the line and column for a malformed row. It is also kParseError for
// a line, a request count, or a FIFO or device over its limit. A prompt may have at most 4194304
// tokens (the maximum of server.num_ctx) and an output at most 1048576 (the maximum of
// server.num_predict).
Result<Trace> load_trace_csv(const std::string& path, double rate_scale = 1.0,
                             double duration_s = 0);

// Parses CSV text the same way; `name` labels the trace and error messages.
Result<Trace> parse_trace_csv(std::string_view text, const std::string& name, double rate_scale,
                              double duration_s);

// Token-length and rate parameters of a generated pattern. Prompt and output lengths are
// log-normal with the given means and coefficient of variation.
struct PatternParams {
  double duration_s = 3600;
  double rate_scale = 1.0;        // multiplies every rate below
  double base_rate = 0.6;         // requests per second: steady, and the ramp's mean
  double burst_low_rate = 0.3;    // bursty low state
  double burst_rate = 1.2;        // bursty high state
  double burst_low_mean_s = 240;  // mean time in the bursty low state
  double burst_high_mean_s = 60;  // mean time in the bursty high state
  double step_factor = 10;        // step: rate multiplier during the surge
  double step_start_s = 1200;     // step: surge start
  double step_length_s = 300;     // step: surge length
  double step_base_rate = 0.15;   // step: rate outside the surge
  double ramp_peak_factor = 3;    // ramp: peak rate / trough rate over one simulated day
  double prompt_tokens_mean = 600;
  double output_tokens_mean = 240;
  double tokens_cv = 1.0;
  uint64_t seed = 1;
};

// Returns the pattern names: steady, bursty, step, ramp.
const std::vector<std::string>& pattern_names();

// Generates the pattern `name`, all with Poisson arrivals:
//   steady  at base_rate
//   bursty  a two-state Markov-modulated process switching between burst_low_rate and burst_rate
//   step    at step_base_rate with one surge of step_factor
//   ramp    a daily sine curve around base_rate, compressed into duration_s
// Returns kInvalidArgument for an unknown name or a non-positive duration or rate.
Result<Trace> generate_pattern(std::string_view name, const PatternParams& params);

}  // namespace ollamaflow::sim
