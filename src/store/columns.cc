#include "store/columns.h"

namespace ollamaflow::store {

std::optional<std::string> json_text(const nlohmann::json& json) {
  if (json.is_null()) {
    return std::nullopt;
  }
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> text_or_null(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  return text;
}

Status require_nonempty(std::string_view record, std::string_view field, const std::string& value) {
  if (!value.empty()) {
    return Status::ok();
  }
  return Status(ErrorCode::kInvalidArgument,
                std::string(record) + " " + std::string(field) + " is empty; set it");
}

Result<nlohmann::json> read_json_column(const Statement& statement, int column,
                                        const std::string& journal_path, std::string_view what) {
  if (statement.column_is_null(column)) {
    return nlohmann::json();
  }
  nlohmann::json json = nlohmann::json::parse(statement.column_text(column), nullptr, false);
  if (json.is_discarded()) {
    return Status(ErrorCode::kCorrupt,
                  "journal '" + journal_path + "': " + std::string(what) +
                      " is not valid JSON, because the file is damaged or was changed outside "
                      "ollama-flow: `sqlite3 " +
                      journal_path +
                      " 'PRAGMA integrity_check'` shows whether the file is damaged");
  }
  return json;
}

Result<std::vector<std::string>> read_string_list_column(const Statement& statement, int column,
                                                         const std::string& journal_path,
                                                         std::string_view what) {
  Result<nlohmann::json> json = read_json_column(statement, column, journal_path, what);
  if (!json.is_ok()) {
    return json.status();
  }
  std::vector<std::string> list;
  if (json->is_null()) {
    return list;
  }
  const auto corrupt = [&] {
    return Status(ErrorCode::kCorrupt, "journal '" + journal_path + "': " + std::string(what) +
                                           " is not a JSON array of strings");
  };
  if (!json->is_array()) {
    return corrupt();
  }
  for (const nlohmann::json& item : *json) {
    if (!item.is_string()) {
      return corrupt();
    }
    list.push_back(item.get<std::string>());
  }
  return list;
}

}  // namespace ollamaflow::store
