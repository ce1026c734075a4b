// Live status of the runs in progress on this machine, for `ollama-flow status`. A run writes
// its scaling status and metrics to <data dir>/ollama-flow/active/<pid>.json (atomically, by
// rename) while it runs and removes the file when it ends. The reader ignores and removes a file
// whose process is gone, or whose pid now belongs to a process that started at another time
// than the one recorded in the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/status.h"

namespace ollamaflow::flow {

// Returns the folder of the status files, next to the journal.
std::filesystem::path active_status_dir(const Config& config);

// Returns the start time of process `pid` in clock ticks after boot (field 22 of
// /proc/PID/stat), or nullopt when the process does not exist or the file cannot be read.
std::optional<uint64_t> process_start_ticks(int64_t pid);

// Writes this process's status document, with this process's start time added as
// "process_start_ticks". Errors are returned, never thrown.
Status write_active_status(const std::filesystem::path& dir, const nlohmann::json& status);

// Removes this process's status file.
void remove_active_status(const std::filesystem::path& dir);

// Returns the status documents of live processes, oldest first.
std::vector<nlohmann::json> read_active_statuses(const std::filesystem::path& dir);

}  // namespace ollamaflow::flow
