// Versioned schema of the run journal. The table schema_version records every migration applied
// to a file. Opening a file applies the missing ones in order inside one write transaction, so a
// file is always at one whole version.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "store/sqlite.h"

namespace ollamaflow::store {

struct Migration {
  int version;  // 1, 2, ...: each migration is one higher than the one before
  std::string_view description;
  std::string_view sql;  // one or more statements
};

// Returns the migrations of the run journal, oldest first.
std::span<const Migration> journal_migrations();

// Returns the highest version in `migrations`, or 0 when the list is empty.
int latest_version(std::span<const Migration> migrations);

// Returns the highest version recorded in `database`, or 0 for a file without a schema.
Result<int> read_schema_version(Database& database);

// Applies every migration newer than the file's version, stamping each with `applied_at`, and
// returns the resulting version. Returns kInvalidArgument when the versions of `migrations` are
// not 1, 2, 3, ..., and when the file is newer than the last migration (written by a later
// ollama-flow).
Result<int> migrate(Database& database, std::span<const Migration> migrations,
                    const std::string& applied_at);

}  // namespace ollamaflow::store
