// Generated request patterns. The samplers are written out (instead of <random> distributions,
// whose output differs between standard libraries) so that a seed gives the same trace on every
// platform.
#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include <fmt/format.h>

#include "sim/trace.h"

namespace ollamaflow::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;

class Sampler {
 public:
  explicit Sampler(uint64_t seed) : engine_(seed) {}

  // Returns a uniform value in (0, 1).
  double uniform() {
    const uint64_t bits = engine_() >> 11;  // 53 random bits
    return (static_cast<double>(bits) + 0.5) / 9007199254740992.0;
  }
  double exponential(double rate) { return -std::log(uniform()) / rate; }
  double normal() {
    return std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * kPi * uniform());
  }
  // Returns a log-normal value with the given mean and coefficient of variation.
  double lognormal(double mean, double cv) {
    const double sigma2 = std::log(1.0 + cv * cv);
    const double mu = std::log(mean) - sigma2 / 2.0;
    return std::exp(mu + std::sqrt(sigma2) * normal());
  }

 private:
  std::mt19937_64 engine_;
};

Request make_request(Sampler& sampler, double at, const PatternParams& params) {
  Request request;
  request.arrival_s = at;
  request.prompt_tokens = std::max(1, static_cast<int>(std::lround(sampler.lognormal(
                                          params.prompt_tokens_mean, params.tokens_cv))));
  request.output_tokens = std::max(1, static_cast<int>(std::lround(sampler.lognormal(
                                          params.output_tokens_mean, params.tokens_cv))));
  return request;
}

// Poisson arrivals with a time-varying rate, by thinning against `max_rate`.
void thinned_arrivals(Trace& trace, Sampler& sampler, const PatternParams& params, double max_rate,
                      const std::function<double(double)>& rate_at) {
  double at = 0;
  for (;;) {
    at += sampler.exponential(max_rate);
    if (at >= params.duration_s) {
      return;
    }
    if (sampler.uniform() * max_rate <= rate_at(at)) {
      trace.requests.push_back(make_request(sampler, at, params));
    }
  }
}

void steady(Trace& trace, Sampler& sampler, const PatternParams& params) {
  const double rate = params.base_rate * params.rate_scale;
  thinned_arrivals(trace, sampler, params, rate, [rate](double) { return rate; });
  trace.description = fmt::format("steady Poisson arrivals at {:.3g}/s", rate);
}

void bursty(Trace& trace, Sampler& sampler, const PatternParams& params) {
  const double low = params.burst_low_rate * params.rate_scale;
  const double high = params.burst_rate * params.rate_scale;
  // The state switches are drawn first, so that the arrivals use one stream of samples.
  std::vector<std::pair<double, bool>> switches;  // (time, high state from then on)
  bool in_high = false;
  for (double at = 0; at < params.duration_s;) {
    switches.push_back({at, in_high});
    if (in_high) {
      trace.surges_s.push_back(at);
    }
    at += sampler.exponential(1.0 / (in_high ? params.burst_high_mean_s : params.burst_low_mean_s));
    in_high = !in_high;
  }
  auto rate_at = [&switches, low, high](double at) {
    auto next = std::upper_bound(switches.begin(), switches.end(), at,
                                 [](double t, const auto& entry) { return t < entry.first; });
    return std::prev(next)->second ? high : low;
  };
  thinned_arrivals(trace, sampler, params, high, rate_at);
  trace.description = fmt::format(
      "two-state Markov-modulated Poisson: {:.3g}/s for a mean {:.0f} s, {:.3g}/s for a mean "
      "{:.0f} s",
      low, params.burst_low_mean_s, high, params.burst_high_mean_s);
}

void step(Trace& trace, Sampler& sampler, const PatternParams& params) {
  const double base = params.step_base_rate * params.rate_scale;
  const double surge = base * params.step_factor;
  const double begin = params.step_start_s;
  const double end = params.step_start_s + params.step_length_s;
  thinned_arrivals(trace, sampler, params, surge,
                   [=](double at) { return at >= begin && at < end ? surge : base; });
  if (begin < params.duration_s) {
    trace.surges_s.push_back(begin);
  }
  trace.description = fmt::format(
      "Poisson at {:.3g}/s with a {:.0f}x step to {:.3g}/s at {:.0f} s "
      "for {:.0f} s",
      base, params.step_factor, surge, begin, params.step_length_s);
}

void ramp(Trace& trace, Sampler& sampler, const PatternParams& params) {
  // One day compressed into the duration: trough at the start and end, peak in the middle.
  const double trough = params.base_rate * 2 / (1 + params.ramp_peak_factor) * params.rate_scale;
  const double peak = trough * params.ramp_peak_factor;
  const double duration = params.duration_s;
  thinned_arrivals(trace, sampler, params, peak, [=](double at) {
    return trough + (peak - trough) * (1 - std::cos(2 * kPi * at / duration)) / 2;
  });
  trace.description = fmt::format("daily curve from {:.3g}/s to {:.3g}/s and back, over {:.0f} s",
                                  trough, peak, duration);
}

// Returns the highest arrival rate of pattern `name`, the rate its sampler draws at.
double highest_rate(std::string_view name, const PatternParams& params) {
  if (name == "bursty") {
    return params.burst_rate * params.rate_scale;
  }
  if (name == "step") {
    return params.step_base_rate * params.step_factor * params.rate_scale;
  }
  if (name == "ramp") {
    const double trough = params.base_rate * 2 / (1 + params.ramp_peak_factor) * params.rate_scale;
    return trough * params.ramp_peak_factor;
  }
  return params.base_rate * params.rate_scale;
}

}  // namespace

const std::vector<std::string>& pattern_names() {
  static const std::vector<std::string> names = {"steady", "bursty", "step", "ramp"};
  return names;
}

Result<Trace> generate_pattern(std::string_view name, const PatternParams& params) {
  if (!(params.duration_s > 0)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("duration {} s is invalid: use a positive number of seconds",
                              params.duration_s));
  }
  if (!(params.rate_scale > 0) || !(params.base_rate > 0) || !(params.burst_rate > 0) ||
      !(params.burst_low_rate > 0) || !(params.step_base_rate > 0) || !(params.step_factor > 0)) {
    return Status(ErrorCode::kInvalidArgument, "pattern rates and the rate scale must be positive");
  }
  const auto& names = pattern_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("unknown pattern \"{}\": use steady, bursty, step or ramp", name));
  }
  // The samplers draw arrivals at the pattern's highest rate and thin them, so that rate times
  // the duration bounds both the work and the requests kept.
  const double candidates = highest_rate(name, params) * params.duration_s;
  if (candidates > static_cast<double>(kMaxTraceRequests)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("pattern {} at up to {:.4g} requests/s for {:g} s makes about {:.3g} "
                              "requests, more than the limit of {}: lower --rate-scale or "
                              "--duration",
                              name, highest_rate(name, params), params.duration_s, candidates,
                              kMaxTraceRequests));
  }
  Trace trace;
  trace.name = std::string(name);
  trace.duration_s = params.duration_s;
  Sampler sampler(params.seed);
  if (name == "steady") {
    steady(trace, sampler, params);
  } else if (name == "bursty") {
    bursty(trace, sampler, params);
  } else if (name == "step") {
    step(trace, sampler, params);
  } else if (name == "ramp") {
    ramp(trace, sampler, params);
  } else {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("unknown pattern \"{}\": use steady, bursty, step or ramp", name));
  }
  trace.description += fmt::format(", prompt {:.0f} and output {:.0f} tokens on average",
                                   params.prompt_tokens_mean, params.output_tokens_mean);
  return trace;
}

}  // namespace ollamaflow::sim
