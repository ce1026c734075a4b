#include "flow/status_file.h"
#include "core/json_text.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/file_read.h"
#include "store/journal.h"

namespace ollamaflow::flow {
namespace {

// The member of each status document that records when its process started, so that a reader
// can tell the run from an unrelated process that got the same pid after the run was killed.
constexpr const char* kProcessStartKey = "process_start_ticks";

// Largest status file that `status` reads. A run writes a few KiB.
constexpr uint64_t kMaxStatusFileBytes = uint64_t{1} << 20;

}  // namespace

std::optional<uint64_t> process_start_ticks(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream text;
  text << in.rdbuf();
  const std::string stat = text.str();
  // Field 2, the command name in parentheses, may contain spaces and parentheses itself, so the
  // fields are counted from the last ')'. Field 3 is the first after it, and field 22 the start
  // time.
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(stat.substr(name_end + 1));
  std::string field;
  for (int number = 3; number <= 22; ++number) {
    if (!(fields >> field)) {
      return std::nullopt;
    }
  }
  char* end = nullptr;
  const unsigned long long ticks = std::strtoull(field.c_str(), &end, 10);
  if (end == field.c_str() || *end != '\0') {
    return std::nullopt;
  }
  return static_cast<uint64_t>(ticks);
}

std::filesystem::path active_status_dir(const Config& config) {
  std::string journal = config.run.db;
  if (journal.empty()) {
    journal = store::default_journal_path(process_env()).value_or("/tmp/ollama-flow/journal.db");
  }
  return std::filesystem::path(journal).parent_path() / "active";
}

Status write_active_status(const std::filesystem::path& dir, const nlohmann::json& status) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return Status(ErrorCode::kIoError,
                  "cannot create status folder " + dir.string() + ": " + error.message());
  }
  const std::string pid = std::to_string(getpid());
  const std::filesystem::path temp = dir / (pid + ".json.tmp");
  const std::filesystem::path target = dir / (pid + ".json");
  nlohmann::json document = status;
  static const std::optional<uint64_t> own_start = process_start_ticks(getpid());
  if (own_start) {
    document[kProcessStartKey] = *own_start;
  }
  {
    std::ofstream out(temp, std::ios::trunc);
    out << to_text(document);
    if (!out) {
      return Status(ErrorCode::kIoError, "cannot write status file " + temp.string());
    }
  }
  std::filesystem::rename(temp, target, error);
  if (error) {
    return Status(ErrorCode::kIoError,
                  "cannot rename status file " + temp.string() + ": " + error.message());
  }
  return Status::ok();
}

void remove_active_status(const std::filesystem::path& dir) {
  std::error_code ignored;
  std::filesystem::remove(dir / (std::to_string(getpid()) + ".json"), ignored);
}

std::vector<nlohmann::json> read_active_statuses(const std::filesystem::path& dir) {
  std::vector<nlohmann::json> statuses;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != ".json") {
      continue;
    }
    const std::string stem = path.stem().string();
    char* end = nullptr;
    const long pid = std::strtol(stem.c_str(), &end, 10);
    if (end == stem.c_str() || *end != '\0' || pid <= 0) {
      continue;
    }
    if (!store::process_exists(pid)) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
      continue;
    }
    // Only regular files are read, not links: a FIFO would block `status` and a link to a
    // device such as /dev/zero would never end.
    std::error_code type_error;
    if (!std::filesystem::is_regular_file(std::filesystem::symlink_status(path, type_error))) {
      continue;
    }
    Result<std::string> text = read_file_limited(path.string(), kMaxStatusFileBytes, "status file");
    if (!text) {
      continue;
    }
    nlohmann::json document = nlohmann::json::parse(*text, nullptr, false);
    // Every status that a run writes names its run. A file without a run id, such as `{}`,
    // is not one of them, so listing it would show a run that does not exist.
    const auto run_id = document.is_object() ? document.find("run_id") : document.end();
    if (document.is_discarded() || run_id == document.end() || !run_id->is_string()) {
      continue;
    }
    // A process with this pid that started at another time is not the run that wrote the file:
    // that run was killed (SIGKILL leaves the file) and its pid was reused. A file without the
    // start time, from an older version, and a process whose start time cannot be read are
    // taken as the run.
    const auto recorded = document.find(kProcessStartKey);
    const std::optional<uint64_t> live_start = process_start_ticks(pid);
    if (recorded != document.end() && recorded->is_number_unsigned() && live_start &&
        *live_start != recorded->get<uint64_t>()) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
      continue;
    }
    document["pid"] = pid;
    statuses.push_back(std::move(document));
  }
  std::sort(statuses.begin(), statuses.end(), [](const auto& a, const auto& b) {
    return a.value("started_at", std::string()) < b.value("started_at", std::string());
  });
  return statuses;
}

}  // namespace ollamaflow::flow
