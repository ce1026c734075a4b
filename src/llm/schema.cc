#include "llm/schema.h"

#include <cmath>
#include <map>
#include <regex>
#include <string_view>

#include <fmt/format.h>

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr size_t kMaxReportedViolations = 10;
constexpr int kMaxDepth = 128;

bool is_identifier(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0]))) {
    return false;
  }
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

std::string child_path(const std::string& path, const std::string& key) {
  return is_identifier(key) ? path + "." + key : path + "[" + json(key).dump() + "]";
}

std::string child_path(const std::string& path, size_t index) {
  return fmt::format("{}[{}]", path, index);
}

// A short rendering of a value for messages: strings in single quotes, others as JSON.
std::string describe(const json& value) {
  constexpr size_t kMaxShown = 60;
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.size() > kMaxShown) {
    text = text.substr(0, kMaxShown) + "...";
  }
  return value.is_string() ? "'" + text + "'" : text;
}

std::string type_name(const json& value) {
  if (value.is_number_integer()) {
    return "integer";
  }
  if (value.is_number()) {
    return "number";
  }
  return value.type_name();  // object, array, string, boolean, null
}

size_t code_points(const std::string& text) {
  size_t count = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++count;
    }
  }
  return count;
}

class Validator {
 public:
  explicit Validator(const json& root) : root_(root) {}

  void validate(const json& value, const json& schema, const std::string& path, int depth);

  const std::vector<std::string>& violations() const { return violations_; }
  const Status& schema_error() const { return schema_error_; }

 private:
  bool matches(const json& value, const json& schema, const std::string& path, int depth,
               std::string* first_violation);
  void add(const std::string& path, const std::string& message) {
    violations_.push_back(path + ": " + message);
  }
  void fail_schema(const std::string& path, const std::string& message) {
    if (schema_error_.is_ok()) {
      schema_error_ = Status(ErrorCode::kInvalidArgument,
                             fmt::format("invalid schema for {}: {}", path, message));
    }
  }
  std::optional<double> read_number(const json& schema, const char* keyword,
                                    const std::string& path);
  const json* resolve_ref(const std::string& ref, const std::string& path);
  bool has_type(const json& value, const std::string& type, const std::string& path);

  void check_type(const json& value, const json& type, const std::string& path);
  void check_object(const json& value, const json& schema, const std::string& path, int depth);
  void check_array(const json& value, const json& schema, const std::string& path, int depth);
  void check_string(const json& value, const json& schema, const std::string& path);
  void check_number(const json& value, const json& schema, const std::string& path);
  void check_combinators(const json& value, const json& schema, const std::string& path, int depth);

  const json& root_;
  std::vector<std::string> violations_;
  Status schema_error_;
  std::map<std::string, std::regex> regex_cache_;
};

std::optional<double> Validator::read_number(const json& schema, const char* keyword,
                                             const std::string& path) {
  const auto it = schema.find(keyword);
  if (it == schema.end()) {
    return std::nullopt;
  }
  if (!it->is_number()) {
    fail_schema(path, fmt::format("{} must be a number, got {}", keyword, describe(*it)));
    return std::nullopt;
  }
  return it->get<double>();
}

const json* Validator::resolve_ref(const std::string& ref, const std::string& path) {
  if (ref == "#") {
    return &root_;
  }
  if (ref.rfind("#/", 0) == 0) {
    try {
      const json::json_pointer pointer(ref.substr(1));
      if (root_.contains(pointer)) {
        return &root_.at(pointer);
      }
    } catch (const json::exception&) {
      // Reported below as an unresolvable reference.
    }
  }
  fail_schema(path, fmt::format("$ref '{}' does not resolve to a subschema of this schema "
                                "(only local references such as '#/$defs/name' are supported)",
                                ref));
  return nullptr;
}

bool Validator::has_type(const json& value, const std::string& type, const std::string& path) {
  if (type == "object")
    return value.is_object();
  if (type == "array")
    return value.is_array();
  if (type == "string")
    return value.is_string();
  if (type == "boolean")
    return value.is_boolean();
  if (type == "null")
    return value.is_null();
  if (type == "number")
    return value.is_number();
  if (type == "integer") {
    if (value.is_number_integer()) {
      return true;
    }
    // JSON Schema counts 2.0 as an integer.
    return value.is_number_float() && std::isfinite(value.get<double>()) &&
           std::floor(value.get<double>()) == value.get<double>();
  }
  fail_schema(path, fmt::format("unknown type '{}': use object, array, string, integer, number, "
                                "boolean or null",
                                type));
  return true;
}

void Validator::check_type(const json& value, const json& type, const std::string& path) {
  std::vector<std::string> names;
  if (type.is_string()) {
    names.push_back(type.get<std::string>());
  } else if (type.is_array()) {
    for (const json& name : type) {
      if (!name.is_string()) {
        fail_schema(path, "type array entries must be strings, got " + describe(name));
        return;
      }
      names.push_back(name.get<std::string>());
    }
  } else {
    fail_schema(path, "type must be a string or an array of strings, got " + describe(type));
    return;
  }
  for (const std::string& name : names) {
    if (has_type(value, name, path)) {
      return;
    }
  }
  const std::string expected = names.size() == 1 ? names[0] : json(names).dump();
  add(path, fmt::format("value {} has type {}, expected type {}", describe(value), type_name(value),
                        expected));
}

void Validator::check_object(const json& value, const json& schema, const std::string& path,
                             int depth) {
  const json empty = json::object();
  const json& properties = schema.contains("properties") ? schema["properties"] : empty;
  if (auto it = schema.find("required"); it != schema.end() && it->is_array()) {
    for (const json& name : *it) {
      if (name.is_string() && !value.contains(name.get<std::string>())) {
        add(path, fmt::format("required property '{}' is missing", name.get<std::string>()));
      }
    }
  }
  const auto additional = schema.find("additionalProperties");
  for (const auto& [key, item] : value.items()) {
    if (properties.is_object() && properties.contains(key)) {
      validate(item, properties[key], child_path(path, key), depth + 1);
    } else if (additional != schema.end() && additional->is_boolean()) {
      if (!additional->get<bool>()) {
        add(path, fmt::format("property '{}' is not allowed (additionalProperties false)", key));
      }
    } else if (additional != schema.end()) {
      validate(item, *additional, child_path(path, key), depth + 1);
    }
  }
}

void Validator::check_array(const json& value, const json& schema, const std::string& path,
                            int depth) {
  const size_t count = value.size();
  if (auto min = read_number(schema, "minItems", path); min && count < *min) {
    add(path, fmt::format("{} item(s), fewer than minItems {}", count, *min));
  }
  if (auto max = read_number(schema, "maxItems", path); max && count > *max) {
    add(path, fmt::format("{} item(s), more than maxItems {}", count, *max));
  }
  size_t positional = 0;
  for (const char* keyword : {"prefixItems", "items"}) {
    const auto it = schema.find(keyword);
    if (it == schema.end() || !it->is_array()) {
      continue;
    }
    for (size_t i = 0; i < it->size() && i < count; ++i) {
      validate(value[i], (*it)[i], child_path(path, i), depth + 1);
    }
    positional = std::max(positional, it->size());
  }
  if (auto items = schema.find("items"); items != schema.end() && !items->is_array()) {
    for (size_t i = positional; i < count; ++i) {
      validate(value[i], *items, child_path(path, i), depth + 1);
    }
  }
  if (schema.value("uniqueItems", false)) {
    for (size_t i = 0; i < count; ++i) {
      for (size_t j = i + 1; j < count; ++j) {
        if (value[i] == value[j]) {
          add(path, fmt::format("items {} and {} are equal, but uniqueItems is true", i, j));
          return;
        }
      }
    }
  }
}

void Validator::check_string(const json& value, const json& schema, const std::string& path) {
  const std::string& text = value.get_ref<const std::string&>();
  const size_t length = code_points(text);
  if (auto min = read_number(schema, "minLength", path); min && length < *min) {
    add(path, fmt::format("string of {} character(s), shorter than minLength {}", length, *min));
  }
  if (auto max = read_number(schema, "maxLength", path); max && length > *max) {
    add(path, fmt::format("string of {} character(s), longer than maxLength {}", length, *max));
  }
  const auto pattern = schema.find("pattern");
  if (pattern == schema.end()) {
    return;
  }
  if (!pattern->is_string()) {
    fail_schema(path, "pattern must be a string, got " + describe(*pattern));
    return;
  }
  const std::string& source = pattern->get_ref<const std::string&>();
  auto cached = regex_cache_.find(source);
  if (cached == regex_cache_.end()) {
    try {
      cached = regex_cache_.emplace(source, std::regex(source, std::regex::ECMAScript)).first;
    } catch (const std::regex_error& error) {
      fail_schema(path, fmt::format("pattern '{}' is not a valid ECMAScript regular expression: {}",
                                    source, error.what()));
      return;
    }
  }
  try {
    if (!std::regex_search(text, cached->second)) {
      add(path, fmt::format("value {} does not match pattern '{}'", describe(value), source));
    }
  } catch (const std::regex_error& error) {
    add(path,
        fmt::format("pattern '{}' could not be evaluated on the value: {}", source, error.what()));
  }
}

void Validator::check_number(const json& value, const json& schema, const std::string& path) {
  const double number = value.get<double>();
  const std::string shown = value.dump();
  if (auto min = read_number(schema, "minimum", path); min && number < *min) {
    add(path, fmt::format("{} is less than minimum {}", shown, *min));
  }
  if (auto max = read_number(schema, "maximum", path); max && number > *max) {
    add(path, fmt::format("{} is greater than maximum {}", shown, *max));
  }
  if (auto min = read_number(schema, "exclusiveMinimum", path); min && number <= *min) {
    add(path, fmt::format("{} is not greater than exclusiveMinimum {}", shown, *min));
  }
  if (auto max = read_number(schema, "exclusiveMaximum", path); max && number >= *max) {
    add(path, fmt::format("{} is not less than exclusiveMaximum {}", shown, *max));
  }
}

bool Validator::matches(const json& value, const json& schema, const std::string& path, int depth,
                        std::string* first_violation) {
  Validator nested(root_);
  nested.regex_cache_ = regex_cache_;
  nested.validate(value, schema, path, depth);
  if (!nested.schema_error_.is_ok()) {
    fail_schema(path, nested.schema_error_.message());
  }
  if (first_violation != nullptr && !nested.violations_.empty() && first_violation->empty()) {
    *first_violation = nested.violations_.front();
  }
  return nested.violations_.empty();
}

void Validator::check_combinators(const json& value, const json& schema, const std::string& path,
                                  int depth) {
  if (auto all = schema.find("allOf"); all != schema.end() && all->is_array()) {
    for (const json& sub : *all) {
      validate(value, sub, path, depth + 1);
    }
  }
  if (auto any = schema.find("anyOf"); any != schema.end() && any->is_array()) {
    std::string first;
    bool matched = false;
    for (const json& sub : *any) {
      matched = matches(value, sub, path, depth + 1, &first) || matched;
    }
    if (!matched) {
      add(path, "value matches none of the anyOf schemas (first mismatch: " + first + ")");
    }
  }
  if (auto one = schema.find("oneOf"); one != schema.end() && one->is_array()) {
    std::string first;
    size_t matched = 0;
    for (const json& sub : *one) {
      matched += matches(value, sub, path, depth + 1, &first) ? 1 : 0;
    }
    if (matched != 1) {
      add(path, fmt::format("value matches {} of the oneOf schemas, expected exactly 1{}", matched,
                            matched == 0 ? " (first mismatch: " + first + ")" : ""));
    }
  }
  if (auto negated = schema.find("not"); negated != schema.end()) {
    if (matches(value, *negated, path, depth + 1, nullptr)) {
      add(path, "value matches the schema under not");
    }
  }
}

void Validator::validate(const json& value, const json& schema, const std::string& path,
                         int depth) {
  if (depth > kMaxDepth) {
    fail_schema(path, fmt::format("schema nesting deeper than {} (a $ref that loops?)", kMaxDepth));
    return;
  }
  if (schema.is_null() || schema.is_boolean()) {
    if (schema.is_boolean() && !schema.get<bool>()) {
      add(path, "no value is allowed here (schema false)");
    }
    return;
  }
  if (!schema.is_object()) {
    fail_schema(path, "a schema must be an object or a boolean, got " + describe(schema));
    return;
  }
  if (auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string()) {
    if (const json* target = resolve_ref(ref->get<std::string>(), path)) {
      validate(value, *target, path, depth + 1);
    }
  }
  if (auto type = schema.find("type"); type != schema.end()) {
    check_type(value, *type, path);
  }
  if (auto options = schema.find("enum"); options != schema.end()) {
    if (!options->is_array()) {
      fail_schema(path, "enum must be an array, got " + describe(*options));
    } else if (std::find(options->begin(), options->end(), value) == options->end()) {
      add(path, fmt::format("value {} not in enum {}", describe(value), options->dump()));
    }
  }
  if (auto constant = schema.find("const"); constant != schema.end() && value != *constant) {
    add(path, fmt::format("value {} is not the const {}", describe(value), constant->dump()));
  }
  if (value.is_object()) {
    check_object(value, schema, path, depth);
  } else if (value.is_array()) {
    check_array(value, schema, path, depth);
  } else if (value.is_string()) {
    check_string(value, schema, path);
  } else if (value.is_number()) {
    check_number(value, schema, path);
  }
  check_combinators(value, schema, path, depth);
}

}  // namespace

Status validate_json_schema(const json& value, const json& schema) {
  Validator validator(schema);
  validator.validate(value, schema, "$", 0);
  if (!validator.schema_error().is_ok()) {
    return validator.schema_error();
  }
  const std::vector<std::string>& violations = validator.violations();
  if (violations.empty()) {
    return Status::ok();
  }
  std::string message;
  for (size_t i = 0; i < violations.size() && i < kMaxReportedViolations; ++i) {
    message += (i == 0 ? "" : "; ") + violations[i];
  }
  if (violations.size() > kMaxReportedViolations) {
    message += fmt::format("; and {} more", violations.size() - kMaxReportedViolations);
  }
  return Status(ErrorCode::kSchemaViolation, message);
}

}  // namespace ollamaflow::llm
