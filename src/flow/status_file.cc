#include "flow/status_file.h"
#include "core/json_text.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "store/journal.h"

namespace ollamaflow::flow {

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
  {
    std::ofstream out(temp, std::ios::trunc);
    out << to_text(status);
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
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json document = nlohmann::json::parse(text.str(), nullptr, false);
    if (!document.is_discarded()) {
      document["pid"] = pid;
      statuses.push_back(std::move(document));
    }
  }
  std::sort(statuses.begin(), statuses.end(), [](const auto& a, const auto& b) {
    return a.value("started_at", std::string()) < b.value("started_at", std::string());
  });
  return statuses;
}

}  // namespace ollamaflow::flow
