// The connection state shared by Database and Statement, and the error helpers both use.
// Internal to the store module.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"
#include "store/sqlite.h"

namespace ollamaflow::store::detail {

constexpr size_t kMaxIdleStatements = 64;

struct Connection {
  sqlite3* handle = nullptr;
  std::string path;
  DatabaseOptions options;
  int last_error_code = SQLITE_OK;
  int64_t busy_retries = 0;
  // Prepared statements not in use, by SQL text. A Statement takes its handle out of here and
  // puts it back, reset, when it is destroyed.
  std::unordered_map<std::string, sqlite3_stmt*> idle_statements;

  ~Connection() {
    for (const auto& [sql, statement] : idle_statements) {
      sqlite3_finalize(statement);
    }
    // close_v2 defers the close until every Statement of this connection is finalized.
    sqlite3_close_v2(handle);
  }

  // Keeps `statement` for the next prepare() of the same SQL. Finalizes it instead when another
  // statement with that SQL is already kept or the cache is full, so that SQL built with literal
  // values cannot grow the cache without bound.
  void release(sqlite3_stmt* statement) {
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    const char* sql = sqlite3_sql(statement);
    if (sql == nullptr || idle_statements.size() >= kMaxIdleStatements ||
        !idle_statements.emplace(sql, statement).second) {
      sqlite3_finalize(statement);
    }
  }
};

// Records `result_code` as the connection's last error and returns a Status naming the database
// path, `operation` and SQLite's message, with a fix where one is known.
Status sqlite_error(Connection& connection, int result_code, std::string_view operation);

// Like sqlite_error, naming the statement by its SQL text, cut to one short line.
Status statement_error(Connection& connection, int result_code, std::string_view sql);

}  // namespace ollamaflow::store::detail
