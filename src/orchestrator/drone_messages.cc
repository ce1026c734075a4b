// The messages an agent sends for one task.
#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "orchestrator/drone.h"

namespace ollamaflow::orchestrator {
namespace {

std::string reply_rules(const PlanTask& task) {
  if (task.files.empty()) {
    return "Reply with one JSON object and nothing else: {\"files\": [], \"summary\": \"...\"}. "
           "This task writes no files; the summary carries your result, so make it complete.";
  }
  return "Reply with one JSON object and nothing else: {\"files\": [{\"path\": \"...\", "
         "\"content\": \"...\"}], \"summary\": \"...\"}. List every file of the task exactly "
         "once, with its path exactly as given and its whole content; never leave parts out "
         "with placeholders such as \"rest unchanged\". The summary says in a few sentences "
         "what you produced and what later tasks need to know.";
}

// Returns a code fence longer than any run of backticks in `content`.
std::string fence_for(std::string_view content) {
  size_t longest = 0;
  size_t run = 0;
  for (char c : content) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

// Shares `budget` characters among files: each gets an equal share, and what short files
// leave unused goes to the longer ones.
std::vector<size_t> share_budget(const std::vector<size_t>& sizes, size_t budget) {
  std::vector<size_t> order(sizes.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sizes[a] < sizes[b]; });
  std::vector<size_t> shares(sizes.size());
  size_t left = budget;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    size_t fair = left / (order.size() - rank);
    shares[order[rank]] = std::min(sizes[order[rank]], fair);
    left -= shares[order[rank]];
  }
  return shares;
}

std::string describe_file(const TaskFile& file, size_t share) {
  std::string_view content = file.content;
  std::string note;
  if (content.size() > share) {
    note = fmt::format("\n[... {} more characters cut from this file]", content.size() - share);
    content = content.substr(0, share);
  }
  std::string fence = fence_for(content);
  return fmt::format("File {}:\n{}\n{}\n{}{}\n", file.path, fence, content, fence, note);
}

std::string describe_dependencies(const std::vector<DependencyResult>& dependencies,
                                  size_t budget) {
  std::vector<size_t> sizes;
  for (const DependencyResult& dependency : dependencies) {
    for (const TaskFile& file : dependency.files) {
      sizes.push_back(file.content.size());
    }
  }
  std::vector<size_t> shares = share_budget(sizes, budget);
  std::string out;
  size_t next_share = 0;
  for (const DependencyResult& dependency : dependencies) {
    out += fmt::format("\n### Task \"{}\": {} ({})\n", dependency.task_id, dependency.title,
                       dependency.role);
    out += "Summary: " + (dependency.summary.empty() ? "(none)" : dependency.summary) + "\n";
    for (const TaskFile& file : dependency.files) {
      out += describe_file(file, shares[next_share++]);
    }
  }
  return out;
}

}  // namespace

std::vector<llm::ChatMessage> build_task_messages(const std::string& role_prompt,
                                                  const std::string& goal, const PlanTask& task,
                                                  const std::vector<DependencyResult>& dependencies,
                                                  size_t dependency_budget) {
  std::string user = fmt::format("Goal of the whole project: {}\n\nYour task \"{}\": {}\n{}\n",
                                 goal, task.id, task.title, task.description);
  if (task.files.empty()) {
    user += "\nThis task writes no files.\n";
  } else {
    user += "\nFiles to write:\n";
    for (const std::string& file : task.files) {
      user += "- " + file + "\n";
    }
  }
  if (!dependencies.empty()) {
    user += "\nResults of the tasks this one depends on:\n" +
            describe_dependencies(dependencies, dependency_budget);
  }
  return {{"system", role_prompt + "\n\n" + reply_rules(task)}, {"user", user}};
}

}  // namespace ollamaflow::orchestrator
