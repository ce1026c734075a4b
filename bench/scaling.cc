// The scaling benchmark: every strategy and baseline on the steady, bursty and step patterns,
// on bursts with a 30 s start-up, and on the Azure LLM conversation trace, over several seeds.
// Writes a section of docs/benchmarks.md with medians and ranges, and SVG plots.
//
//   bench_scaling [--seeds 5] [--duration 3600] [--azure-trace FILE] [--azure-rate-scale 0.25]
//                 [--docs docs/benchmarks.md] [--plots docs/plots] [--speed-only]
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/log.h"
#include "sim/policy.h"
#include "sim/scenario.h"

namespace ollamaflow::sim {
namespace {

constexpr const char* kBegin = "<!-- scaling-simulator:begin -->";
constexpr const char* kEnd = "<!-- scaling-simulator:end -->";

struct Options {
  int seeds = 5;
  double duration_s = 3600;
  std::string azure_trace;
  double azure_rate_scale = 0.25;
  std::string docs;
  std::string plots;
  bool speed_only = false;
  bool help = false;
  std::string error;  // the first invalid argument, with the fix
};

constexpr const char* kUsage =
    "usage: bench_scaling [--seeds 5] [--duration 3600] [--azure-trace FILE]\n"
    "                     [--azure-rate-scale 0.25] [--docs docs/benchmarks.md]\n"
    "                     [--plots docs/plots] [--speed-only]\n";

struct Scenario {
  std::string title;
  std::string kind;  // pattern name or "azure"
  double startup_s = 10;
};

// One scenario's reports, one per seed.
struct ScenarioResult {
  Scenario scenario;
  std::vector<SimulationReport> reports;
};

std::string range_text(std::vector<double> values, const char* format) {
  if (values.empty()) {
    return "–";
  }
  std::sort(values.begin(), values.end());
  const double median = values[values.size() / 2];
  const std::string middle = fmt::format(fmt::runtime(format), median);
  if (values.front() == values.back()) {
    return middle;
  }
  return fmt::format("{} ({}–{})", middle, fmt::format(fmt::runtime(format), values.front()),
                     fmt::format(fmt::runtime(format), values.back()));
}

using Getter = std::function<std::optional<double>(const Figures&)>;

std::string column(const ScenarioResult& result, size_t row, const Getter& get,
                   const char* format) {
  std::vector<double> values;
  for (const SimulationReport& report : result.reports) {
    if (std::optional<double> value = get(report.runs[row].figures)) {
      values.push_back(*value);
    }
  }
  return range_text(values, format);
}

std::string goals_text(const ScenarioResult& result, size_t row) {
  std::map<std::string, std::pair<int, int>> counts;  // goal -> (met, checked)
  std::vector<std::string> order;
  for (const SimulationReport& report : result.reports) {
    for (const GoalCheck& goal : report.runs[row].goals) {
      if (counts.find(goal.goal) == counts.end()) {
        order.push_back(goal.goal);
      }
      auto& [met, checked] = counts[goal.goal];
      met += goal.met ? 1 : 0;
      ++checked;
    }
  }
  std::vector<std::string> missed;
  for (const std::string& goal : order) {
    const auto [met, checked] = counts[goal];
    if (met < checked) {
      missed.push_back(fmt::format("{} ({}/{} seeds)", goal, met, checked));
    }
  }
  return missed.empty() ? "all met" : "NOT MET: " + fmt::format("{}", fmt::join(missed, "; "));
}

// Returns the share of goal checks met by HYBRID and by the strategy with the highest share,
// over all seeds.
std::string best_strategy_line(const ScenarioResult& result) {
  const SimulationReport& first = result.reports.front();
  std::string best;
  double best_share = -1;
  std::string hybrid;
  for (size_t row = 0; row < first.runs.size(); ++row) {
    const std::string& policy = first.runs[row].figures.policy;
    if (!is_engine_policy(policy)) {
      continue;
    }
    int met = 0;
    int checked = 0;
    for (const SimulationReport& report : result.reports) {
      for (const GoalCheck& goal : report.runs[row].goals) {
        met += goal.met ? 1 : 0;
        ++checked;
      }
    }
    const double share = checked == 0 ? 1.0 : static_cast<double>(met) / checked;
    const std::string text = fmt::format("{} of {}", met, checked);
    if (policy == "HYBRID") {
      hybrid = text;
    }
    if (share > best_share) {
      best_share = share;
      best = policy + ", " + text;
    }
  }
  return fmt::format("Goal checks met over all seeds: HYBRID {}; the best strategy: {}.", hybrid,
                     best);
}

std::string scenario_table(const ScenarioResult& result) {
  const SimulationReport& first = result.reports.front();
  std::string out =
      fmt::format("### {}\n\n{}. Start-up time {:.0f} s, seeds 1 to {}.\n\n", result.scenario.title,
                  first.trace_description, result.scenario.startup_s, result.reports.size());
  out += best_strategy_line(result) + "\n\n";
  out +=
      "| policy | wait p50 s | wait p95 s | wait p99 s | agent-s / oracle | changes /10 min | min "
      "gap s | "
      "reaction s | peak / oracle | killed | 503 | overcommit | recorded | goals |\n";
  out += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (size_t row = 0; row < first.runs.size(); ++row) {
    auto value = [](double Figures::*field) {
      return Getter([field](const Figures& f) { return std::optional<double>(f.*field); });
    };
    out += fmt::format(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        first.runs[row].figures.policy, column(result, row, value(&Figures::wait_p50_s), "{:.1f}"),
        column(result, row, value(&Figures::wait_p95_s), "{:.1f}"),
        column(result, row, value(&Figures::wait_p99_s), "{:.1f}"),
        column(
            result, row, [](const Figures& f) { return f.oracle_ratio; }, "{:.2f}"),
        column(result, row, value(&Figures::flips_per_10min), "{:.1f}"),
        column(
            result, row, [](const Figures& f) { return f.min_dwell_s; }, "{:.0f}"),
        column(
            result, row, [](const Figures& f) { return f.reaction_s; }, "{:.1f}"),
        column(
            result, row, [](const Figures& f) { return f.peak_ratio; }, "{:.2f}"),
        column(
            result, row, [](const Figures& f) { return std::optional<double>(f.killed); },
            "{:.0f}"),
        column(
            result, row, [](const Figures& f) { return std::optional<double>(f.rejected_503); },
            "{:.0f}"),
        column(
            result, row, [](const Figures& f) { return std::optional<double>(f.overcommits); },
            "{:.0f}"),
        column(
            result, row,
            [](const Figures& f) { return std::optional<double>(f.recorded_share * 100); },
            "{:.0f} %"),
        goals_text(result, row));
  }
  return out + "\n";
}

Result<Trace> make_trace(const Scenario& scenario, const Options& options, uint64_t seed) {
  if (scenario.kind == "azure") {
    return load_trace_csv(options.azure_trace, options.azure_rate_scale, options.duration_s);
  }
  PatternParams params;
  params.duration_s = options.duration_s;
  params.seed = seed;
  params.step_start_s = options.duration_s / 3;
  params.step_length_s = std::min(300.0, options.duration_s / 6);
  return generate_pattern(scenario.kind, params);
}

Result<ScenarioResult> run_scenario_seeds(const Scenario& scenario, const Options& options,
                                          const std::vector<std::string>& policies) {
  ScenarioResult result;
  result.scenario = scenario;
  // The Azure trace is one fixed trace, so its seeds repeat the same run.
  const int seeds = scenario.kind == "azure" ? 1 : options.seeds;
  for (int seed = 1; seed <= seeds; ++seed) {
    Result<Trace> trace = make_trace(scenario, options, static_cast<uint64_t>(seed));
    if (!trace) {
      return trace.status();
    }
    ScenarioSettings settings = default_scenario();
    settings.startup_s = scenario.startup_s;
    Result<SimulationReport> report =
        run_scenario(*trace, policies, settings, static_cast<uint64_t>(seed));
    if (!report) {
      return report.status();
    }
    std::fprintf(stderr, "%s seed %d done\n", scenario.title.c_str(), seed);
    result.reports.push_back(std::move(report).value());
  }
  return result;
}

// Pins the calling thread to the first CPU of its affinity mask while it lives, and restores the
// mask when destroyed. Threads that the calling thread starts meanwhile inherit the single CPU.
class OneCpuPin {
 public:
  OneCpuPin() {
    if (sched_getaffinity(0, sizeof(saved_), &saved_) != 0) {
      error_ = std::strerror(errno);
      return;
    }
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &saved_)) {
        cpu_set_t single;
        CPU_ZERO(&single);
        CPU_SET(cpu, &single);
        if (sched_setaffinity(0, sizeof(single), &single) != 0) {
          error_ = std::strerror(errno);
          return;
        }
        cpu_ = cpu;
        return;
      }
    }
    error_ = "the affinity mask is empty";
  }
  ~OneCpuPin() {
    if (cpu_ >= 0) {
      sched_setaffinity(0, sizeof(saved_), &saved_);
    }
  }
  OneCpuPin(const OneCpuPin&) = delete;
  OneCpuPin& operator=(const OneCpuPin&) = delete;

  int cpu() const { return cpu_; }
  const std::string& error() const { return error_; }

 private:
  cpu_set_t saved_{};
  int cpu_ = -1;
  std::string error_;
};

// Times the 1 h Azure trace at its recorded rate (19,366 requests) under HYBRID, pinned to one
// CPU because the goal is set for one core. The server's token rates are 4x the default (service
// time scaled by 0.25), so that one GPU keeps up with a cloud service's load and every request is
// simulated to its end.
std::string speed_section(const Options& options) {
  Result<Trace> trace = load_trace_csv(options.azure_trace, 1.0, 3600);
  if (!trace) {
    return fmt::format("Speed check skipped: {}\n", trace.status().message());
  }
  ScenarioSettings settings = default_scenario();
  settings.server.prompt_tokens_per_s *= 4;
  settings.server.output_tokens_per_s *= 4;
  std::optional<Result<RunResult>> run;
  double cpu_s = 0;
  std::string pin_text;
  bool on_one_cpu = false;
  {
    const OneCpuPin pin;
    on_one_cpu = pin.cpu() >= 0;
    pin_text = on_one_cpu ? fmt::format("pinned to CPU {}", pin.cpu())
                          : fmt::format("not pinned to one CPU ({})", pin.error());
    const std::clock_t cpu_start = std::clock();
    run = run_simulation(*trace, "HYBRID", settings);
    cpu_s = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  }
  if (!*run) {
    return fmt::format("Speed check failed: {}\n", run->status().message());
  }
  const RunResult& result = run->value();
  std::string verdict = result.wall_s < 2 ? "met" : "NOT MET";
  if (!on_one_cpu) {
    verdict = "not checked, because the run used every CPU of the affinity mask";
  }
  return fmt::format(
      "Speed: one hour of the Azure trace at its recorded rate ({} requests, {} completed) under "
      "HYBRID, with the service time scaled by 0.25, {}. It took {:.2f} s of wall time and "
      "{:.2f} s of CPU time over all threads. Goal under 2 s on one core: {}.\n",
      trace->requests.size(), result.completed, pin_text, result.wall_s, cpu_s, verdict);
}

Status replace_section(const std::string& path, const std::string& section) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  const std::string block = std::string(kBegin) + "\n" + section + kEnd;
  const size_t begin = text.find(kBegin);
  const size_t end = text.find(kEnd);
  if (begin != std::string::npos && end != std::string::npos && end > begin) {
    text.replace(begin, end + std::strlen(kEnd) - begin, block);
  } else {
    text += "\n" + block + "\n";
  }
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return out ? Status::ok() : Status(ErrorCode::kIoError, fmt::format("writing {} failed", path));
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--seeds") {
      options.seeds = std::max(1, std::atoi(next)), ++i;
    } else if (arg == "--duration") {
      options.duration_s = std::atof(next), ++i;
    } else if (arg == "--azure-trace") {
      options.azure_trace = next, ++i;
    } else if (arg == "--azure-rate-scale") {
      options.azure_rate_scale = std::atof(next), ++i;
    } else if (arg == "--docs") {
      options.docs = next, ++i;
    } else if (arg == "--plots") {
      options.plots = next, ++i;
    } else if (arg == "--speed-only") {
      options.speed_only = true;
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else {
      options.error = fmt::format("unknown argument '{}': see the usage below", arg);
      return options;
    }
  }
  return options;
}

// Returns the local date as YYYY-MM-DD.
std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[16];
  std::strftime(text, sizeof(text), "%Y-%m-%d", &local);
  return text;
}

int run(int argc, char** argv) {
  (void)init_logging("off", false);
  const Options options = parse_options(argc, argv);
  if (!options.error.empty()) {
    std::fprintf(stderr, "bench_scaling: %s\n%s", options.error.c_str(), kUsage);
    return 2;
  }
  if (options.help) {
    std::printf("%s", kUsage);
    return 0;
  }
  std::string section =
      "## Scaling simulator\n\n"
      "Written by `bench_scaling --seeds 5 --azure-trace azure-llm-2023-conv.csv --docs "
      "docs/benchmarks.md --plots docs/plots` (bench/scaling.cc). Every figure is simulated: "
      "docs/simulator.md describes the server model, the baselines and the figures. Each cell "
      "gives the median over the seeds and, where they differ, the range. The goals column "
      "names each goal that a seed missed, with the number of seeds that met it. Run on " +
      today() +
      " on the machine named at the top of this page; only the speed figure depends "
      "on it.\n\n";
  section += options.azure_trace.empty() ? "Speed check skipped: no --azure-trace given.\n"
                                         : speed_section(options);
  if (options.speed_only) {
    std::printf("%s", section.c_str());
    return 0;
  }
  std::vector<Scenario> scenarios = {{"Steady", "steady", 10},
                                     {"Bursty", "bursty", 10},
                                     {"Step", "step", 10},
                                     {"Bursty with a 30 s start-up", "bursty", 30}};
  if (!options.azure_trace.empty()) {
    scenarios.push_back({fmt::format("Azure LLM conversation trace 2023, arrival rate x {}",
                                     options.azure_rate_scale),
                         "azure", 10});
  }
  Result<std::vector<std::string>> policies = resolve_policies({"all"});
  for (const Scenario& scenario : scenarios) {
    Result<ScenarioResult> result = run_scenario_seeds(scenario, options, *policies);
    if (!result) {
      std::fprintf(stderr, "error: %s\n", result.status().message().c_str());
      return 1;
    }
    section += "\n" + scenario_table(*result);
    if (!options.plots.empty()) {
      const std::string name = scenario.kind + (scenario.startup_s > 10 ? "-startup30" : "");
      std::ofstream(options.plots + "/scaling-" + name + ".svg")
          << render_svg(result->reports.front());
      // The section lives in docs/, so links are relative to that folder.
      std::string link = options.plots;
      if (link.rfind("docs/", 0) == 0) {
        link = link.substr(5);
      }
      section +=
          fmt::format("![{}: arrivals, queue and agents over time, seed 1]({}/scaling-{}.svg)\n",
                      scenario.title, link, name);
    }
  }
  std::printf("%s", section.c_str());
  if (!options.docs.empty()) {
    Status written = replace_section(options.docs, section);
    if (!written) {
      std::fprintf(stderr, "error: %s\n", written.message().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace ollamaflow::sim

int main(int argc, char** argv) {
  return ollamaflow::sim::run(argc, argv);
}
