#include "store/sqlite.h"

#include <chrono>
#include <thread>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "core/log.h"
#include "store/connection.h"

namespace ollamaflow::store {

namespace {

constexpr size_t kMaxSqlInMessage = 80;

// Returns the SQL on one line, cut to kMaxSqlInMessage characters, for error messages.
std::string summarize_sql(std::string_view sql) {
  std::string line;
  bool in_space = false;
  for (const char c : sql) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space && (in_space || line.empty())) {
      continue;
    }
    line.push_back(space ? ' ' : c);
    in_space = space;
  }
  if (line.size() > kMaxSqlInMessage) {
    line.resize(kMaxSqlInMessage - 3);
    line += "...";
  }
  return line;
}

ErrorCode error_code_for(int result_code) {
  switch (result_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kConflict;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return ErrorCode::kPermissionDenied;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kCorrupt;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return ErrorCode::kInvalidArgument;
    case SQLITE_MISUSE:
    case SQLITE_INTERNAL:
      return ErrorCode::kInternal;
    default:
      return ErrorCode::kIoError;
  }
}

// Returns what a user can do about a failure with `result_code`, or "" when nothing general fits.
std::string_view fix_for(int result_code) {
  switch (result_code & 0xff) {
    case SQLITE_BUSY:
      return "; another connection holds the write lock, so stop the other ollama-flow process "
             "or retry later";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return "; check that the file and its folder exist and are writable";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "; move the file aside so that a new journal is created";
    case SQLITE_FULL:
      return "; free disk space";
    default:
      return "";
  }
}

Status validate_options(const std::string& path, const DatabaseOptions& options) {
  if (options.busy_timeout_ms < 0) {
    const std::string value = std::to_string(options.busy_timeout_ms);
    return Status(ErrorCode::kInvalidArgument, "database '" + path + "': busy timeout " + value +
                                                   " ms is negative; use 0 or more");
  }
  if (options.max_transaction_attempts < 1) {
    const std::string value = std::to_string(options.max_transaction_attempts);
    return Status(ErrorCode::kInvalidArgument, "database '" + path +
                                                   "': max transaction attempts " + value +
                                                   " is below 1; use 1 or more");
  }
  return Status::ok();
}

// Returns true when a read-only open of the WAL-mode file at `path` would fail because SQLite
// can create neither its -shm nor its -wal file: the folder is not writable and no -wal file
// with frames exists. Without a -wal file no connection has the file open in WAL mode, so the
// file may be read as immutable, without locks and without the -shm file.
bool needs_immutable_open(const std::string& path) {
  if (path == ":memory:" || path.rfind("file:", 0) == 0) {
    return false;
  }
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error || ::access(absolute.parent_path().c_str(), W_OK) == 0) {
    return false;
  }
  const std::filesystem::path wal = absolute.string() + "-wal";
  return !std::filesystem::exists(wal, error) || std::filesystem::file_size(wal, error) == 0;
}

// Returns the SQLite URI that opens `path` read-only as an immutable file, with the characters
// that a URI path reserves percent-encoded.
std::string immutable_uri(const std::string& path) {
  std::string uri = "file:";
  for (const char c : std::filesystem::absolute(path).string()) {
    if (c == '%' || c == '?' || c == '#') {
      uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      uri += c;
    }
  }
  return uri + "?mode=ro&immutable=1";
}

}  // namespace

namespace detail {

Status sqlite_error(Connection& connection, int result_code, std::string_view operation) {
  connection.last_error_code = result_code;
  // The connection's message is more specific ("no such table: events") when it belongs to this
  // failure; otherwise the generic text for the code is used.
  const bool own_message =
      connection.handle != nullptr && sqlite3_extended_errcode(connection.handle) == result_code;
  const char* text = own_message ? sqlite3_errmsg(connection.handle) : sqlite3_errstr(result_code);
  std::string message = "database '" + connection.path + "': " + std::string(operation) +
                        " failed: " + text + " (code " + std::to_string(result_code) + ")";
  message += fix_for(result_code);
  return Status(error_code_for(result_code), std::move(message));
}

Status statement_error(Connection& connection, int result_code, std::string_view sql) {
  return sqlite_error(connection, result_code, "statement \"" + summarize_sql(sql) + "\"");
}

}  // namespace detail

using detail::sqlite_error;
using detail::statement_error;

bool is_busy_code(int result_code) {
  return (result_code & 0xff) == SQLITE_BUSY;
}

Database::Database(std::unique_ptr<detail::Connection> connection)
    : connection_(std::move(connection)) {}

Database::Database(Database&& other) noexcept = default;
Database& Database::operator=(Database&& other) noexcept = default;
Database::~Database() = default;

Result<Database> Database::open(const std::string& path, DatabaseOptions options) {
  if (Status valid = validate_options(path, options); !valid.is_ok()) {
    return valid;
  }
  if (options.clock == nullptr) {
    options.clock = system_clock();
  }
  auto connection = std::make_unique<detail::Connection>();
  connection->path = path;
  connection->options = std::move(options);
  int flags = (connection->options.read_only ? SQLITE_OPEN_READONLY
                                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  std::string target = path;
  if (connection->options.read_only && needs_immutable_open(path)) {
    target = immutable_uri(path);
    flags |= SQLITE_OPEN_URI;
  }
  const int rc = sqlite3_open_v2(target.c_str(), &connection->handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    return sqlite_error(*connection, rc, "opening the file");
  }
  sqlite3_extended_result_codes(connection->handle, 1);
  sqlite3_busy_timeout(connection->handle, connection->options.busy_timeout_ms);

  Database database(std::move(connection));
  if (Status configured = database.configure(); !configured.is_ok()) {
    return configured;
  }
  return database;
}

Status Database::configure() {
  if (connection_->options.read_only) {
    // Switching to WAL is a write. A journal in WAL mode is read as it is.
    return Status::ok();
  }
  // Switching a new file to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY at once,
  // without the busy handler, when another connection opens the file at the same moment. So the
  // switch is retried for up to about two seconds.
  std::string journal_mode;
  for (int attempt = 1;; ++attempt) {
    Result<Statement> mode = prepare("PRAGMA journal_mode=WAL");
    if (!mode.is_ok()) {
      return mode.status();
    }
    Result<bool> row = mode->step();
    if (row.is_ok()) {
      journal_mode = row.value() ? mode->column_text(0) : "";
      break;
    }
    if (row.status().code() != ErrorCode::kConflict || attempt >= 200) {
      return row.status();
    }
    // Real time on purpose: the lock belongs to another connection, perhaps another process.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // An in-memory database keeps its "memory" journal. Every file must be in WAL mode, because
  // readers and the writer of a run journal work at the same time.
  if (journal_mode != "wal" && journal_mode != "memory") {
    return Status(ErrorCode::kIoError,
                  "database '" + path() + "': cannot switch to WAL journal mode (mode is '" +
                      journal_mode + "'); put the file on a local file system");
  }
  return exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL");
}

Status Database::exec(std::string_view sql) {
  const std::string text(sql);
  const int rc = sqlite3_exec(connection_->handle, text.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::ok() : statement_error(*connection_, rc, sql);
}

Status Database::run_statement(std::string_view sql) {
  Result<Statement> statement = prepare(sql);
  return statement.is_ok() ? statement->run() : statement.status();
}

Result<Statement> Database::prepare(std::string_view sql) {
  auto idle = connection_->idle_statements.find(std::string(sql));
  if (idle != connection_->idle_statements.end()) {
    sqlite3_stmt* handle = idle->second;
    connection_->idle_statements.erase(idle);
    return Statement(connection_.get(), handle);
  }
  sqlite3_stmt* handle = nullptr;
  const int rc = sqlite3_prepare_v3(connection_->handle, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &handle, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(handle);
    return statement_error(*connection_, rc, sql);
  }
  return Statement(connection_.get(), handle);
}

Status Database::transaction(const std::function<Status()>& body) {
  if (in_transaction()) {
    return Status(ErrorCode::kInternal, "database '" + path() +
                                            "': transaction() was called inside a transaction; "
                                            "nested transactions are not supported");
  }
  const DatabaseOptions& options = connection_->options;
  Duration backoff = options.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    connection_->last_error_code = SQLITE_OK;
    Status status = run_transaction_once(body);
    if (status.is_ok()) {
      return status;
    }
    const bool busy =
        status.code() == ErrorCode::kConflict && is_busy_code(connection_->last_error_code);
    if (!busy) {
      return status;
    }
    if (attempt >= options.max_transaction_attempts) {
      return status.with_context("write transaction still busy after " + std::to_string(attempt) +
                                 " attempts");
    }
    ++connection_->busy_retries;
    get_logger("store")->warn("database busy, re-running transaction path={} attempt={} error={}",
                              path(), attempt + 1, status.message());
    options.clock->sleep_for(backoff);
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

Status Database::run_transaction_once(const std::function<Status()>& body) {
  Status status = run_statement("BEGIN IMMEDIATE");
  if (status.is_ok()) {
    status = body();
  }
  if (status.is_ok()) {
    status = run_statement("COMMIT");
  }
  if (!status.is_ok()) {
    roll_back_if_open();
  }
  return status;
}

void Database::roll_back_if_open() {
  if (!in_transaction()) {
    return;
  }
  // The failure that led here is already recorded in last_error_code, and a failed ROLLBACK
  // must not replace it, so the rollback is run directly instead of through exec().
  const int rc = sqlite3_exec(connection_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    get_logger("store")->error("rollback failed path={} code={} error={}", path(), rc,
                               sqlite3_errmsg(connection_->handle));
  }
}

int Database::last_error_code() const {
  return connection_->last_error_code;
}

int64_t Database::busy_retries() const {
  return connection_->busy_retries;
}

int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(connection_->handle);
}

int Database::changes() const {
  return sqlite3_changes(connection_->handle);
}

bool Database::in_transaction() const {
  return sqlite3_get_autocommit(connection_->handle) == 0;
}

bool Database::read_only() const {
  return sqlite3_db_readonly(connection_->handle, "main") == 1;
}

const std::string& Database::path() const {
  return connection_->path;
}

}  // namespace ollamaflow::store
