// `ollama-flow simulate`: replays a trace or a generated pattern against the scaling engine,
// the agent manager and the metrics collector in virtual time, and prints one table row per
// strategy. Everything it prints is simulated.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/flags.h"
#include "cli/signals.h"
#include "core/folder_check.h"
#include "core/log.h"
#include "core/terminal_text.h"
#include "scaling/strategy.h"
#include "sim/scenario.h"

namespace ollamaflow::cli {
namespace {

struct SimulateOptions {
  std::string trace_file;
  std::string pattern = "steady";
  double rate_scale = 1;
  double duration_s = 3600;
  uint64_t seed = 1;
  std::string strategies = "HYBRID";
  double startup_s = 10;
  std::optional<double> wait_target_s;  // unset: workload_scaling.wait_target, else 5
  std::optional<int> initial_agents;    // unset: 4, lowered to the maximum
  std::optional<int> max_agents;
  std::string drop_metrics;
  double delay_metrics_s = 0;
  std::string slow_load;
  std::string fail_503;
  std::string take_memory;
  std::optional<std::string> out_dir;
  bool json = false;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) {
      items.push_back(item);
    }
  }
  return items;
}

// Applies the fault flags. Returns false after printing the error of an invalid one.
bool apply_fault_flags(const SimulateOptions& options, sim::FaultPlan& faults) {
  auto fail = [](const Status& status) {
    print_error(status.message());
    return false;
  };
  if (!options.drop_metrics.empty()) {
    Result<sim::FaultWindow> window = sim::parse_window(options.drop_metrics, "--drop-metrics");
    if (!window) {
      return fail(window.status());
    }
    faults.metric_dropout = *window;
  }
  faults.metric_delay_s = options.delay_metrics_s;
  if (!options.fail_503.empty()) {
    Result<sim::FaultWindow> window = sim::parse_window(options.fail_503, "--fail-503");
    if (!window) {
      return fail(window.status());
    }
    faults.server_503 = *window;
  }
  if (!options.slow_load.empty()) {
    auto parsed = sim::parse_window_value(options.slow_load, "--slow-load");
    if (!parsed) {
      return fail(parsed.status());
    }
    faults.slow_load = parsed->first;
    faults.slow_load_s = parsed->second;
  }
  if (!options.take_memory.empty()) {
    auto parsed = sim::parse_window_value(options.take_memory, "--take-memory");
    if (!parsed) {
      return fail(parsed.status());
    }
    faults.memory_taken = parsed->first;
    faults.memory_taken_mib = parsed->second;
  }
  return true;
}

// Prints a note for each fault window that starts at or after the end of the trace, because it
// can reach only the requests still queued or running after the last arrival.
void note_windows_after_trace(const SimulateOptions& options, const sim::FaultPlan& faults) {
  struct FlaggedWindow {
    const char* flag;
    const std::string& text;
    const std::optional<sim::FaultWindow>& window;
  };
  const FlaggedWindow windows[] = {{"--drop-metrics", options.drop_metrics, faults.metric_dropout},
                                   {"--fail-503", options.fail_503, faults.server_503},
                                   {"--slow-load", options.slow_load, faults.slow_load},
                                   {"--take-memory", options.take_memory, faults.memory_taken}};
  for (const FlaggedWindow& entry : windows) {
    if (entry.window && entry.window->start_s >= options.duration_s) {
      std::fprintf(stderr,
                   "note: %s %s starts at %g s, at or after the end of the trace at --duration "
                   "%g s, so it reaches only requests left after the last arrival; start it "
                   "before %g s or raise --duration\n",
                   entry.flag, entry.text.c_str(), entry.window->start_s, options.duration_s,
                   options.duration_s);
    }
  }
}

Result<sim::Trace> load_input(const SimulateOptions& options) {
  if (!options.trace_file.empty()) {
    return sim::load_trace_csv(options.trace_file, options.rate_scale, options.duration_s);
  }
  sim::PatternParams params;
  params.duration_s = options.duration_s;
  params.rate_scale = options.rate_scale;
  params.seed = options.seed;
  params.step_start_s = options.duration_s / 3;
  params.step_length_s = std::min(300.0, options.duration_s / 6);
  return sim::generate_pattern(options.pattern, params);
}

// Maximum agents and wait target of a simulation without the flags or configuration keys.
constexpr int kDefaultMaxAgents = 32;
constexpr double kDefaultWaitTargetS = 5;
constexpr int kDefaultInitialAgents = 4;

bool configured(const Config& config, const std::string& key) {
  const auto found = config.sources.find(key);
  return found != config.sources.end() && found->second != "default";
}

struct MaxAgents {
  int value = kDefaultMaxAgents;
  std::string text;  // e.g. "--max-agents 8", for the error about --initial-agents
};

// Returns --max-agents, else the lower of gpu_scaling.max_agents and
// dynamic_agent_management.max_agents where the configuration sets them, else 32.
MaxAgents resolve_max_agents(const Config& config, const SimulateOptions& options) {
  if (options.max_agents) {
    return {*options.max_agents, fmt::format("--max-agents {}", *options.max_agents)};
  }
  MaxAgents result{kDefaultMaxAgents,
                   fmt::format("the default --max-agents of {}", kDefaultMaxAgents)};
  bool found = false;
  auto lower_to = [&](const std::string& key, int value) {
    if (configured(config, key) && (!found || value < result.value)) {
      result = {value, fmt::format("{} {} (from {})", key, value, describe_source_of(config, key))};
      found = true;
    }
  };
  if (config.gpu_scaling.max_agents) {
    lower_to("gpu_scaling.max_agents", *config.gpu_scaling.max_agents);
  }
  lower_to("dynamic_agent_management.max_agents", config.agent_management.max_agents);
  return result;
}

// Returns --wait-target, else workload_scaling.wait_target where the configuration sets it,
// else 5 s.
double resolve_wait_target(const Config& config, const SimulateOptions& options) {
  if (options.wait_target_s) {
    return *options.wait_target_s;
  }
  if (configured(config, "workload_scaling.wait_target")) {
    return config.workload.wait_target;
  }
  return kDefaultWaitTargetS;
}

// Returns true when the configured minimums fit under the maximum, else prints the error.
bool min_agents_fit(const Config& config, const MaxAgents& max_agents) {
  const std::pair<const char*, int> minimums[] = {
      {"gpu_scaling.min_agents", config.gpu_scaling.min_agents},
      {"dynamic_agent_management.min_agents", config.agent_management.min_agents}};
  for (const auto& [key, value] : minimums) {
    if (value > max_agents.value) {
      print_error(fmt::format("{} {} (from {}) is above {}: lower {} or raise --max-agents", key,
                              value, describe_source_of(config, key), max_agents.text, key));
      return false;
    }
  }
  return true;
}

int cmd_simulate(const Config& config, const SimulateOptions& options) {
  // The pool starts with the initial agents, so they must fit under the maximum. The default of
  // kDefaultInitialAgents is lowered to a smaller maximum instead.
  const MaxAgents max_agents = resolve_max_agents(config, options);
  if (options.initial_agents && *options.initial_agents > max_agents.value) {
    print_error(
        fmt::format("--initial-agents {} is above {}: lower --initial-agents or raise --max-agents",
                    *options.initial_agents, max_agents.text));
    return 2;
  }
  if (!min_agents_fit(config, max_agents)) {
    return 2;
  }
  const int initial_agents =
      options.initial_agents.value_or(std::min(kDefaultInitialAgents, max_agents.value));
  sim::ScenarioSettings settings = sim::default_scenario();
  settings.config = config;
  settings.config.gpu_scaling.max_agents = max_agents.value;
  settings.config.agent_management.max_agents = max_agents.value;
  settings.startup_s = options.startup_s;
  settings.wait_target_s = resolve_wait_target(config, options);
  settings.initial_agents = initial_agents;
  if (!apply_fault_flags(options, settings.faults)) {
    return 2;
  }
  note_windows_after_trace(options, settings.faults);
  // Metrics that old count as missing, so the strategies hold the pool while the baselines, which
  // read the delayed values as they are, still act.
  const double stale_after_s =
      scaling::strategy_params(scaling::Strategy::kHybrid, settings.config).stale_after_s;
  if (settings.faults.metric_delay_s >= stale_after_s) {
    std::fprintf(stderr,
                 "note: --delay-metrics %g s is not below the %g s after which the scaling engine "
                 "takes a signal as missing (3 x gpu_scaling.scale_check_interval), so the five "
                 "strategies neither grow nor shrink the pool; the baselines still act\n",
                 settings.faults.metric_delay_s, stale_after_s);
  }
  Result<std::vector<std::string>> policies = sim::resolve_policies(split_list(options.strategies));
  if (!policies) {
    print_error(policies.status().message());
    return 2;
  }
  if (options.out_dir && options.out_dir->empty()) {
    print_error(
        "the output folder path of --out is empty: give a folder for simulation.json and "
        "simulation.svg, or leave out --out");
    return 2;
  }
  // Before the simulation, which may run for minutes: the output folder must take files.
  if (options.out_dir) {
    Status usable = prepare_output_folder(*options.out_dir, "output folder", "--out");
    if (!usable) {
      print_error(usable.message());
      return 2;
    }
  }
  Result<sim::Trace> trace = load_input(options);
  if (!trace) {
    print_error(trace.status().message());
    return 2;
  }
  if (trace->requests.empty()) {
    const std::string input = options.trace_file.empty()
                                  ? fmt::format("the {} pattern", trace->name)
                                  : fmt::format("the trace {}", trace->name);
    print_error(fmt::format(
        "{} has no request within --duration {:g} s, so there is nothing to simulate: raise "
        "--duration{}",
        input, options.duration_s, options.trace_file.empty() ? " or --rate-scale" : ""));
    return 2;
  }
  settings.cancel = install_interrupt_handler();
  Result<sim::SimulationReport> report =
      sim::run_scenario(*trace, *policies, settings, options.seed);
  if (!report && report.status().code() == ErrorCode::kCancelled) {
    print_error("interrupted: " + report.status().message() + "; no results were written");
    return 130;
  }
  if (!report) {
    print_error("simulation failed: " + report.status().message());
    return 1;
  }
  if (options.json) {
    std::printf("%s\n", sim::report_json(*report).dump(2).c_str());
  } else {
    std::printf("SIMULATED run (no model server was used)\n%s", sim::format_table(*report).c_str());
  }
  if (options.out_dir) {
    Status written = sim::write_report(*report, *options.out_dir);
    if (!written) {
      print_error(written.message());
      return 1;
    }
    std::fprintf(stderr, "wrote %s/simulation.json and %s/simulation.svg\n",
                 options.out_dir->c_str(), options.out_dir->c_str());
  }
  return 0;
}

constexpr uint64_t kMaxSeed = std::numeric_limits<uint64_t>::max();

// Accepts a whole number that fits in a uint64_t; CLI11 alone would turn "-1" and values past
// the maximum into 18446744073709551615 without a word.
CLI::Validator seed_range() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        if (error != std::errc() || stop != end) {
          return fmt::format("invalid value '{}': expected an integer from 0 to {}", text,
                             kMaxSeed);
        }
        return "";
      },
      fmt::format("INTEGER in [0 - {}]", kMaxSeed));
}

void add_simulate_options(CLI::App* command, SimulateOptions& o) {
  // A week of simulated time and a thousandfold rate keep a run within memory and minutes.
  constexpr double kMaxDuration = 7 * 24 * 3600.0;
  auto* input = command->add_option("--trace", o.trace_file,
                                    "CSV trace: arrival_s,prompt_tokens,output_tokens or the "
                                    "Azure LLM trace format");
  command->add_option("--pattern", o.pattern, "Generated pattern: steady, bursty, step or ramp")
      ->excludes(input);
  command->add_option("--rate-scale", o.rate_scale, "Multiplies the arrival rate (default 1)")
      ->check(finite_range(1e-6, 1000));
  command->add_option("--duration", o.duration_s, "Simulated seconds (default 3600)")
      ->check(finite_range(1, kMaxDuration));
  command->add_option("--seed", o.seed, "Seed of the generated pattern (default 1)")
      ->check(seed_range());
  command->add_option("--strategy", o.strategies,
                      "Strategies and baselines, comma-separated, or all (default HYBRID)");
  command->add_option("--startup-time", o.startup_s, "Agent start-up time in seconds (default 10)")
      ->check(finite_range(0, 3600));
  command
      ->add_option("--wait-target", o.wait_target_s,
                   "Queue wait target in seconds (default workload_scaling.wait_target when "
                   "configured, else 5)")
      ->check(finite_range(0.001, 3600));
  command
      ->add_option("--initial-agents", o.initial_agents,
                   "Agents at the start for the reactive policies, at most --max-agents "
                   "(default 4, or the maximum when that is lower)")
      ->check(integer_range(1, 4096));
  command
      ->add_option("--max-agents", o.max_agents,
                   "Maximum agents (default the lower of gpu_scaling.max_agents and "
                   "dynamic_agent_management.max_agents when configured, else 32)")
      ->check(integer_range(1, 4096));
  command->add_option("--drop-metrics", o.drop_metrics,
                      "Metric dropout window START:END in seconds");
  command->add_option("--delay-metrics", o.delay_metrics_s, "Age of every metric in seconds")
      ->check(finite_range(0, 3600));
  command->add_option("--slow-load", o.slow_load,
                      "Agents starting in START:END take SECONDS to start, as START:END:SECONDS");
  command->add_option("--fail-503", o.fail_503, "Server answers 503 in the window START:END");
  command->add_option("--take-memory", o.take_memory,
                      "Another process takes MIB of GPU memory, as START:END:MIB");
  command->add_option("--out", o.out_dir, "Folder for simulation.json and simulation.svg");
  command->add_flag("--json", o.json, "Print the JSON document instead of the table");
}

}  // namespace

void register_simulate(CLI::App& app, int& exit_code) {
  auto global = std::make_shared<GlobalOptions>();
  auto options = std::make_shared<SimulateOptions>();
  CLI::App* command = app.add_subcommand(
      "simulate", "Replay a trace against the scaling strategies and baselines in virtual time");
  add_global_options(command, *global);
  add_simulate_options(command, *options);
  command->callback([&exit_code, global, options] {
    std::optional<Config> config = load_effective_config(*global);
    if (!config) {
      exit_code = 2;
      return;
    }
    if (config->sources["logging.level"] == "default") {
      // Per-agent lifecycle lines would drown the table, so the default here is warn.
      (void)init_logging("warn", config->log_json);
    }
    exit_code = cmd_simulate(*config, *options);
  });
}

}  // namespace ollamaflow::cli
