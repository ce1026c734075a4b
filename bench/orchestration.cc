// Orchestration overhead of a run on the simulated backend at zero model latency: queue, agent,
// reply parsing, journal and workspace writes per subtask, and the peak resident memory.
//
// Usage: bench_orchestration [--tasks N] [--agents A] [--files F] [--no-sync]
// --no-sync sets run.sync_files to false: files are not flushed to disk before a task is done.
// Prints one JSON object with the totals: wall time per task, the process's user and system CPU
// time over the run (all threads, before the workspace is removed) and the peak resident memory.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "flow/flow.h"

namespace {

using nlohmann::json;

json independent_plan(int tasks, int files) {
  json list = json::array();
  for (int i = 0; i < tasks; ++i) {
    json paths = json::array();
    for (int f = 0; f < files; ++f) {
      paths.push_back("out/t" + std::to_string(i) + "_" + std::to_string(f) + ".txt");
    }
    list.push_back({{"id", "t" + std::to_string(i)},
                    {"title", "Task " + std::to_string(i)},
                    {"role", "developer"},
                    {"description", "Write the output of task " + std::to_string(i) + "."},
                    {"depends_on", json::array()},
                    {"files", paths}});
  }
  return {{"goal", "orchestration benchmark"}, {"summary", ""}, {"tasks", list}};
}

int arg_value(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      return std::atoi(argv[i + 1]);
    }
  }
  return fallback;
}

double cpu_seconds(const timeval& time) {
  return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
}

bool has_flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ollamaflow;
  const int tasks = arg_value(argc, argv, "--tasks", 10000);
  const int agents = arg_value(argc, argv, "--agents", 64);
  const int files = arg_value(argc, argv, "--files", 1);
  (void)init_logging("warn", false);

  std::string pattern = (std::filesystem::temp_directory_path() / "of-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path dir_path = pattern;
  const std::string plan_path = (dir_path / "plan.json").string();
  std::ofstream(plan_path) << independent_plan(tasks, files).dump();

  std::vector<FlagValue> flags = {
      {"server.backend", "sim", "--backend"},
      {"run.agents", agents, "--agents"},
      {"run.max_tasks", tasks, "--max-tasks"},
      {"run.workspace", (dir_path / "ws").string(), "--workspace"},
      {"run.db", (dir_path / "journal.db").string(), "--db"},
      {"dynamic_agent_management.max_agents", std::max(agents, 16), "--max"},
      {"run.sync_files", !has_flag(argc, argv, "--no-sync"), "--no-sync"}};
  Result<Config> config = load_config(std::nullopt, process_env(), flags);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 1;
  }
  flow::RunRequest request;
  request.plan_file = plan_path;
  auto begin = std::chrono::steady_clock::now();
  Result<flow::RunReport> report =
      flow::run_goal(*config, request, std::make_shared<CancelToken>(), system_clock());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  if (!report) {
    std::fprintf(stderr, "%s\n", report.status().message().c_str());
    return 1;
  }
  // Taken before the cleanup below, which would add the removal of the workspace.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  int succeeded = 0;
  for (const auto& task : report->tasks) {
    succeeded += task.status == "succeeded" ? 1 : 0;
  }
  json result = {{"tasks", tasks},
                 {"agents", agents},
                 {"files_per_task", files},
                 {"sync_files", !has_flag(argc, argv, "--no-sync")},
                 {"succeeded", succeeded},
                 {"wall_s", seconds},
                 {"us_per_task", seconds * 1e6 / tasks},
                 {"cpu_user_s", cpu_seconds(usage.ru_utime)},
                 {"cpu_system_s", cpu_seconds(usage.ru_stime)},
                 {"peak_rss_mib", usage.ru_maxrss / 1024.0},
                 {"exit_code", report->exit_code}};
  std::printf("%s\n", result.dump().c_str());
  std::error_code ignored;
  std::filesystem::remove_all(dir_path, ignored);
  return succeeded == tasks ? 0 : 1;
}
