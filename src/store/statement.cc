// Statement: bind, step and column access on one prepared statement.
#include "store/sqlite.h"

#include <sqlite3.h>

#include <string>
#include <utility>

#include "store/connection.h"

namespace ollamaflow::store {

using detail::statement_error;

Statement::Statement(detail::Connection* connection, sqlite3_stmt* handle)
    : connection_(connection), handle_(handle) {}

Statement::Statement(Statement&& other) noexcept
    : connection_(std::exchange(other.connection_, nullptr)),
      handle_(std::exchange(other.handle_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    connection_ = std::exchange(other.connection_, nullptr);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  release();
}

void Statement::release() {
  if (handle_ != nullptr) {
    connection_->release(handle_);
    handle_ = nullptr;
  }
}

Status Statement::bind_int64(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(handle_, index, value);
  return rc == SQLITE_OK ? Status::ok() : statement_error(*connection_, rc, sql());
}

Status Statement::bind_double(int index, double value) {
  const int rc = sqlite3_bind_double(handle_, index, value);
  return rc == SQLITE_OK ? Status::ok() : statement_error(*connection_, rc, sql());
}

Status Statement::bind_text(int index, std::string_view value) {
  const int rc = sqlite3_bind_text64(handle_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
  return rc == SQLITE_OK ? Status::ok() : statement_error(*connection_, rc, sql());
}

Status Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(handle_, index);
  return rc == SQLITE_OK ? Status::ok() : statement_error(*connection_, rc, sql());
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(handle_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return statement_error(*connection_, rc, sql());
}

Status Statement::run() {
  while (true) {
    Result<bool> row = step();
    if (!row.is_ok()) {
      return row.status();
    }
    if (!row.value()) {
      return Status::ok();
    }
  }
}

Status Statement::reset() {
  const int rc = sqlite3_reset(handle_);
  return rc == SQLITE_OK ? Status::ok() : statement_error(*connection_, rc, sql());
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(handle_, column) == SQLITE_NULL;
}

int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(handle_, column);
}

double Statement::column_double(int column) const {
  return sqlite3_column_double(handle_, column);
}

std::string Statement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(handle_, column);
  if (text == nullptr) {
    return "";
  }
  const int size = sqlite3_column_bytes(handle_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::optional<int64_t> Statement::column_optional_int64(int column) const {
  if (column_is_null(column)) {
    return std::nullopt;
  }
  return column_int64(column);
}

std::optional<double> Statement::column_optional_double(int column) const {
  if (column_is_null(column)) {
    return std::nullopt;
  }
  return column_double(column);
}

std::string_view Statement::sql() const {
  const char* text = sqlite3_sql(handle_);
  return text == nullptr ? std::string_view() : std::string_view(text);
}

}  // namespace ollamaflow::store
