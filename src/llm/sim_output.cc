#include "llm/sim_output.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <regex>
#include <vector>

#include <fmt/format.h>

#include "llm/schema.h"
#include "llm/sim_plan.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 32;

std::optional<double> number_of(const json& schema, const char* key) {
  const auto it = schema.find(key);
  if (it == schema.end() || !it->is_number()) {
    return std::nullopt;
  }
  return it->get<double>();
}

std::optional<size_t> count_of(const json& schema, const char* key) {
  const std::optional<double> value = number_of(schema, key);
  if (!value || *value < 0) {
    return std::nullopt;
  }
  return static_cast<size_t>(*value);
}

// Repeats `text` up to minLength and cuts it to maxLength. The texts are ASCII, so bytes are
// code points.
std::string fit_length(const json& schema, std::string text) {
  const size_t min = count_of(schema, "minLength").value_or(0);
  const std::optional<size_t> max = count_of(schema, "maxLength");
  const std::string unit = text.empty() ? std::string("s") : text;
  while (text.size() < min) {
    text += unit;
  }
  if (max && text.size() > *max) {
    text.resize(std::max(*max, min));
  }
  return text;
}

std::string text_for_format(const std::string& format) {
  if (format == "date-time") {
    return "2026-01-01T00:00:00Z";
  }
  if (format == "date") {
    return "2026-01-01";
  }
  if (format == "time") {
    return "00:00:00Z";
  }
  if (format == "uri" || format == "url") {
    return "https://simulated.invalid/";
  }
  if (format == "email") {
    return "simulated@simulated.invalid";
  }
  if (format == "uuid") {
    return "00000000-0000-4000-8000-000000000000";
  }
  return "";
}

std::string text_for_name(std::string_view name) {
  if (name == "summary") {
    return "Simulated summary: the simulated backend produced this reply and no model was run.";
  }
  if (name == "description") {
    return "Simulated description (no model was run).";
  }
  if (name == "title" || name == "name") {
    return "Simulated " + std::string(name);
  }
  return "simulated";
}

// Walks a schema and builds a value for it.
class Generator {
 public:
  Generator(const json& root, std::string goal) : root_(root), goal_(std::move(goal)) {}

  json generate(const json& schema, size_t index, int depth, std::string_view name) const;

 private:
  const json& resolve(const json& schema) const;
  json merge_all_of(const json& schema) const;
  static std::string pick_type(const json& schema);
  json object_value(const json& schema, size_t index, int depth) const;
  json array_value(const json& schema, int depth, std::string_view name) const;
  static json string_value(const json& schema, std::string_view name);
  static json number_value(const json& schema, bool integer);
  SchemaWalk walk(int depth) const;

  const json& root_;
  const std::string goal_;
};

const json& Generator::resolve(const json& schema) const {
  const json* current = &schema;
  for (int hops = 0; hops < kMaxDepth && current->is_object(); ++hops) {
    const auto ref = current->find("$ref");
    if (ref == current->end() || !ref->is_string()) {
      break;
    }
    const std::string target = ref->get<std::string>();
    if (target.empty() || target[0] != '#') {
      break;
    }
    try {
      const json::json_pointer pointer(target.substr(1));
      if (!root_.contains(pointer)) {
        break;
      }
      current = &root_.at(pointer);
    } catch (const json::exception&) {
      break;
    }
  }
  return *current;
}

json Generator::merge_all_of(const json& schema) const {
  json merged = schema;
  merged.erase("allOf");
  for (const json& part : schema["allOf"]) {
    const json& branch = resolve(part);
    if (!branch.is_object()) {
      continue;
    }
    for (const auto& [key, value] : branch.items()) {
      if (key == "properties" && value.is_object()) {
        merged["properties"].update(value);
      } else if (key == "required" && value.is_array()) {
        for (const json& name : value) {
          merged["required"].push_back(name);
        }
      } else if (!merged.contains(key)) {
        merged[key] = value;
      }
    }
  }
  return merged;
}

std::string Generator::pick_type(const json& schema) {
  const auto type = schema.find("type");
  if (type != schema.end() && type->is_string()) {
    return type->get<std::string>();
  }
  if (type != schema.end() && type->is_array()) {
    for (const json& name : *type) {
      if (name.is_string() && name != "null") {
        return name.get<std::string>();
      }
    }
    return "null";
  }
  if (schema.contains("properties") || schema.contains("required")) {
    return "object";
  }
  if (schema.contains("items") || schema.contains("prefixItems") || schema.contains("minItems")) {
    return "array";
  }
  if (schema.contains("minimum") || schema.contains("maximum")) {
    return "number";
  }
  return "string";
}

json Generator::generate(const json& raw, size_t index, int depth, std::string_view name) const {
  const json& schema = resolve(raw);
  if (depth > kMaxDepth || !schema.is_object()) {
    return "simulated";
  }
  if (schema.contains("const")) {
    return schema["const"];
  }
  if (const auto values = schema.find("enum");
      values != schema.end() && values->is_array() && !values->empty()) {
    return (*values)[index % values->size()];
  }
  for (const char* branches : {"anyOf", "oneOf"}) {
    const auto it = schema.find(branches);
    if (it != schema.end() && it->is_array() && !it->empty()) {
      return generate(it->front(), index, depth + 1, name);
    }
  }
  if (schema.contains("allOf") && schema["allOf"].is_array()) {
    return generate(merge_all_of(schema), index, depth + 1, name);
  }
  const std::string type = pick_type(schema);
  if (type == "object") {
    return object_value(schema, index, depth);
  }
  if (type == "array") {
    return array_value(schema, depth, name);
  }
  if (type == "integer" || type == "number") {
    return number_value(schema, type == "integer");
  }
  if (type == "boolean") {
    return true;
  }
  if (type == "null") {
    return nullptr;
  }
  return string_value(schema, name);
}

json Generator::object_value(const json& schema, size_t index, int depth) const {
  if (const SchemaWalk plan_walk = walk(depth); is_plan_schema(schema, plan_walk)) {
    return simulated_plan(schema, goal_, plan_walk);
  }
  json out = json::object();
  const json properties = schema.value("properties", json::object());
  for (const auto& [key, sub] : properties.items()) {
    out[key] = generate(sub, index, depth + 1, key);
  }
  for (const json& name : schema.value("required", json::array())) {
    if (name.is_string() && !out.contains(name.get<std::string>())) {
      out[name.get<std::string>()] = "simulated";
    }
  }
  // A file entry: its content names the path it stands for.
  if (out.contains("path") && out["path"].is_string() && out.contains("content") &&
      out["content"].is_string() && properties.contains("content")) {
    const json& content = resolve(properties["content"]);
    if (content.is_object() && !content.contains("enum") && !content.contains("const")) {
      out["content"] = fit_length(content, simulated_file_content(out["path"]));
    }
  }
  return out;
}

json Generator::array_value(const json& schema, int depth, std::string_view name) const {
  json out = json::array();
  const json* prefix = nullptr;
  if (schema.contains("prefixItems") && schema["prefixItems"].is_array()) {
    prefix = &schema["prefixItems"];
  } else if (schema.contains("items") && schema["items"].is_array()) {
    prefix = &schema["items"];  // draft 7 tuple form
  }
  size_t count = count_of(schema, "minItems").value_or(1);
  if (prefix != nullptr) {
    count = std::max(count, prefix->size());
  }
  if (const std::optional<size_t> max = count_of(schema, "maxItems"); max && count > *max) {
    count = *max;
  }
  const json items =
      schema.contains("items") && !schema["items"].is_array() ? schema["items"] : json::object();
  for (size_t i = 0; i < count; ++i) {
    const json& item = prefix != nullptr && i < prefix->size() ? (*prefix)[i] : items;
    out.push_back(generate(item, i, depth + 1, name));
  }
  return out;
}

json Generator::string_value(const json& schema, std::string_view name) {
  std::vector<std::string> candidates;
  if (const auto format = schema.find("format"); format != schema.end() && format->is_string()) {
    if (std::string text = text_for_format(format->get<std::string>()); !text.empty()) {
      candidates.push_back(std::move(text));
    }
  }
  candidates.push_back(text_for_name(name));
  for (const char* extra : {"simulated", "sim-1", "sim", "s", "S", "1", "simulated.txt"}) {
    candidates.push_back(extra);
  }
  for (const std::string& candidate : candidates) {
    std::string text = fit_length(schema, candidate);
    if (matches_schema_pattern(schema, text)) {
      return text;
    }
  }
  // NOTE: a pattern that none of the candidates matches is not solved; the caller's final
  // validation reports it as kSchemaUnsupported.
  return fit_length(schema, candidates.front());
}

json Generator::number_value(const json& schema, bool integer) {
  double value = 1;
  std::optional<double> low = number_of(schema, "minimum");
  if (const std::optional<double> above = number_of(schema, "exclusiveMinimum")) {
    low = integer ? std::floor(*above) + 1 : *above + 0.5;
  }
  std::optional<double> high = number_of(schema, "maximum");
  if (const std::optional<double> below = number_of(schema, "exclusiveMaximum")) {
    high = integer ? std::ceil(*below) - 1 : *below - 0.5;
  }
  if (low && value < *low) {
    value = integer ? std::ceil(*low) : *low;
  }
  if (high && value > *high) {
    value = integer ? std::floor(*high) : *high;
  }
  if (integer) {
    return static_cast<int64_t>(value);
  }
  return value;
}

SchemaWalk Generator::walk(int depth) const {
  SchemaWalk walk;
  walk.resolve = [this](const json& schema) -> const json& { return resolve(schema); };
  walk.generate = [this, depth](const json& schema, size_t index, std::string_view name) {
    return generate(schema, index, depth + 1, name);
  };
  return walk;
}

}  // namespace

bool matches_schema_pattern(const json& schema, const std::string& text) {
  const auto it = schema.find("pattern");
  if (it == schema.end() || !it->is_string()) {
    return true;
  }
  try {
    return std::regex_search(text, std::regex(it->get<std::string>(), std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    return true;  // the final validation reports the invalid pattern
  }
}

Result<json> simulated_value(const json& schema, const std::string& goal) {
  const Generator generator(schema, goal);
  json value = generator.generate(schema, 0, 0, "");
  const Status valid = validate_json_schema(value, schema);
  if (valid.code() == ErrorCode::kSchemaViolation) {
    return Status(ErrorCode::kSchemaUnsupported,
                  fmt::format("the simulated backend could not generate a value for this schema "
                              "({}): simplify the schema or use a model server",
                              valid.message()));
  }
  if (!valid.is_ok()) {
    return valid.with_context("schema of the simulated request");
  }
  return value;
}

}  // namespace ollamaflow::llm
