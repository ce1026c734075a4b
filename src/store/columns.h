// Conversions between journal record fields and SQLite columns, shared by the journal's files.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "store/sqlite.h"

namespace ollamaflow::store {

// Returns `json` as compact text, or nullopt for null. Invalid UTF-8 in strings is replaced by
// U+FFFD instead of throwing.
std::optional<std::string> json_text(const nlohmann::json& json);

// Returns `text`, or nullopt when it is empty, so that an unset time is stored as NULL.
std::optional<std::string> text_or_null(const std::string& text);

// Returns kInvalidArgument naming `record` and `field` when `value` is empty, e.g. "task id is
// empty; set it".
Status require_nonempty(std::string_view record, std::string_view field, const std::string& value);

// Parses a JSON column; NULL gives a null json. `what` names the row for the error, e.g.
// "column config of run 'r-1'". Returns kCorrupt for text that is not JSON.
Result<nlohmann::json> read_json_column(const Statement& statement, int column,
                                        const std::string& journal_path, std::string_view what);

// Parses a JSON array of strings; NULL gives an empty list. Returns kCorrupt otherwise.
Result<std::vector<std::string>> read_string_list_column(const Statement& statement, int column,
                                                         const std::string& journal_path,
                                                         std::string_view what);

// Steps `statement` through all rows, calling `read_row` on each, and returns the rows in order.
template <typename Row, typename ReadRow>
Result<std::vector<Row>> read_rows(Statement& statement, ReadRow read_row) {
  std::vector<Row> rows;
  while (true) {
    Result<bool> has_row = statement.step();
    if (!has_row.is_ok()) {
      return has_row.status();
    }
    if (!has_row.value()) {
      return rows;
    }
    Result<Row> row = read_row(statement);
    if (!row.is_ok()) {
      return row.status();
    }
    rows.push_back(std::move(row).value());
  }
}

// Prepares `sql`, binds `keys` and reads every row with `read_row`.
template <typename Row, typename ReadRow, typename... Keys>
Result<std::vector<Row>> query_rows(Database& database, std::string_view sql, ReadRow read_row,
                                    const Keys&... keys) {
  Result<Statement> query = database.prepare(sql);
  if (!query.is_ok()) {
    return query.status();
  }
  if (Status bound = query->bind_all(keys...); !bound.is_ok()) {
    return bound;
  }
  return read_rows<Row>(query.value(), read_row);
}

}  // namespace ollamaflow::store
