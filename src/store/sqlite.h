// A small RAII layer over the SQLite C API: a Database owns one connection, a Statement owns one
// prepared statement, and Database::transaction() runs write transactions that survive lock
// contention from other connections and processes.
//
// Thread ownership: a Database and its Statements belong to one thread at a time. The connection
// is opened with SQLITE_OPEN_NOMUTEX, so callers that share a Database between threads must
// serialize every call themselves (Journal does this with one mutex).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/clock.h"
#include "core/status.h"

namespace ollamaflow::store {

struct DatabaseOptions {
  // Time a statement waits on a lock held by another connection before it fails with
  // SQLITE_BUSY, in milliseconds. SQLite's own default is 0, which fails at once.
  int busy_timeout_ms = 5000;
  // Maximum runs of a write transaction's body when it fails with SQLITE_BUSY or
  // SQLITE_BUSY_SNAPSHOT; at least 1.
  int max_transaction_attempts = 5;
  // Pause before the first re-run of a busy transaction, doubled on each further re-run up to
  // max_backoff.
  Duration initial_backoff = std::chrono::milliseconds(20);
  Duration max_backoff = std::chrono::milliseconds(1000);
  // Clock for the pauses between re-runs; the process-wide system clock when null.
  std::shared_ptr<Clock> clock;
  // Opens the file with SQLITE_OPEN_READONLY and leaves its journal mode as it is, so that a
  // read-only file, or one in a read-only folder, can be read. Every write then fails with
  // SQLITE_READONLY.
  bool read_only = false;
};

namespace detail {
struct Connection;
}  // namespace detail

// One prepared statement. Parameter and column indexes follow SQLite: parameters count from 1,
// columns from 0. Move-only; it must not outlive the Database that prepared it. On destruction
// the statement is reset, its bindings cleared, and it goes back to its Database for reuse.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Status bind_int64(int index, int64_t value);
  Status bind_double(int index, double value);
  Status bind_text(int index, std::string_view value);
  Status bind_null(int index);

  // Binds `values` to parameters 1, 2, ... in order. Accepts integers, bool, double, strings,
  // std::nullopt and std::optional of those (an empty optional binds NULL). Returns the first
  // failure.
  template <typename... Values>
  Status bind_all(const Values&... values) {
    Status status;
    int index = 1;
    ((status = status.is_ok() ? bind_value(index++, values) : status), ...);
    return status;
  }

  // Advances to the next row. Returns true when a row is ready, false when the statement is done.
  Result<bool> step();
  // Steps until the statement is done, discarding any rows.
  Status run();
  // Rewinds the statement so that it can run again, keeping its bindings.
  Status reset();

  bool column_is_null(int column) const;
  int64_t column_int64(int column) const;
  double column_double(int column) const;
  // Returns the column as text; an empty string for NULL.
  std::string column_text(int column) const;
  std::optional<int64_t> column_optional_int64(int column) const;
  std::optional<double> column_optional_double(int column) const;

  // Returns the SQL text the statement was prepared from.
  std::string_view sql() const;

 private:
  friend class Database;
  Statement(detail::Connection* connection, sqlite3_stmt* handle);
  void release();

  Status bind_value(int index, std::nullopt_t) { return bind_null(index); }
  Status bind_value(int index, bool value) { return bind_int64(index, value ? 1 : 0); }
  Status bind_value(int index, double value) { return bind_double(index, value); }
  Status bind_value(int index, std::string_view value) { return bind_text(index, value); }
  Status bind_value(int index, const std::string& value) { return bind_text(index, value); }
  Status bind_value(int index, const char* value) { return bind_text(index, value); }
  template <typename Integer, typename = std::enable_if_t<std::is_integral_v<Integer>>>
  Status bind_value(int index, Integer value) {
    return bind_int64(index, static_cast<int64_t>(value));
  }
  template <typename T>
  Status bind_value(int index, const std::optional<T>& value) {
    return value.has_value() ? bind_value(index, *value) : bind_null(index);
  }

  detail::Connection* connection_ = nullptr;
  sqlite3_stmt* handle_ = nullptr;
};

// One SQLite connection, configured for concurrent use of the same file by several connections
// and processes: busy timeout, WAL journal, foreign keys on, synchronous=NORMAL. Move-only.
class Database {
 public:
  // Opens or creates the database file at `path` (":memory:" for a private in-memory database),
  // or with options.read_only opens an existing file for reading. Returns kInvalidArgument for
  // bad options, kIoError or kPermissionDenied when the file cannot be opened, and kIoError
  // when the file system does not support WAL.
  static Result<Database> open(const std::string& path, DatabaseOptions options = {});

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more SQL statements that return no rows.
  Status exec(std::string_view sql);
  // Returns a prepared statement for one SQL statement, reusing one that was prepared before
  // from the same text and is no longer in use.
  Result<Statement> prepare(std::string_view sql);

  // Runs `body` inside a write transaction started with BEGIN IMMEDIATE, and commits when it
  // returns ok. BEGIN IMMEDIATE takes the write lock before the first read, so another writer
  // makes it wait on the busy timeout, where a deferred transaction that upgrades from read to
  // write fails at once. When any step fails with SQLITE_BUSY or SQLITE_BUSY_SNAPSHOT, the
  // transaction is rolled back and `body` runs again from its first read, up to
  // max_transaction_attempts times with backoff. Any other failure rolls back and is returned.
  // Must not be called from inside `body`.
  Status transaction(const std::function<Status()>& body);

  // Returns the result code (extended) of the last SQLite call on this connection that failed
  // since the current or last transaction() began; SQLITE_OK when none did.
  int last_error_code() const;
  // Returns how many times transaction() re-ran a body after a busy failure.
  int64_t busy_retries() const;

  int64_t last_insert_rowid() const;
  // Returns the rows changed by the last INSERT, UPDATE or DELETE.
  int changes() const;
  bool in_transaction() const;
  // Returns true when the connection cannot write: opened with read_only, or a file or folder
  // that SQLite could open only for reading.
  bool read_only() const;
  const std::string& path() const;

 private:
  explicit Database(std::unique_ptr<detail::Connection> connection);

  Status configure();
  // Runs one SQL statement through the statement cache.
  Status run_statement(std::string_view sql);
  Status run_transaction_once(const std::function<Status()>& body);
  void roll_back_if_open();

  // Heap-allocated so that Statements keep a stable pointer when the Database moves.
  std::unique_ptr<detail::Connection> connection_;
};

// Returns true for SQLITE_BUSY and its extended codes, SQLITE_BUSY_SNAPSHOT (517) included.
bool is_busy_code(int result_code);

}  // namespace ollamaflow::store
