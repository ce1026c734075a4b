// Live status of the runs in progress on this machine, for `ollama-flow status`. A run writes
// its scaling status and metrics to <data dir>/ollama-flow/active/<pid>.json (atomically, by
// rename) while it runs and removes the file when it ends; a file whose process is gone is
// ignored and removed by the reader.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/status.h"

namespace ollamaflow::flow {

// Returns the folder of the status files, next to the journal.
std::filesystem::path active_status_dir(const Config& config);

// Writes this process's status document. Errors are returned, never thrown.
Status write_active_status(const std::filesystem::path& dir, const nlohmann::json& status);

// Removes this process's status file.
void remove_active_status(const std::filesystem::path& dir);

// Returns the status documents of live processes, oldest first.
std::vector<nlohmann::json> read_active_statuses(const std::filesystem::path& dir);

}  // namespace ollamaflow::flow
