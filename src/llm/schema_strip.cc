// strip_unsupported_keywords: removal of keywords that a server's grammar compiler rejects.
#include <algorithm>
#include <string_view>

#include "llm/schema.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

// Keywords whose value maps names to subschemas.
bool holds_schema_map(std::string_view key) {
  return key == "properties" || key == "patternProperties" || key == "$defs" ||
         key == "definitions" || key == "dependentSchemas";
}

// Keywords whose value is an array of subschemas (items only in its draft 7 tuple form).
bool holds_schema_array(std::string_view key) {
  return key == "prefixItems" || key == "items" || key == "allOf" || key == "anyOf" ||
         key == "oneOf";
}

// Keywords whose value is one subschema.
bool holds_schema(std::string_view key) {
  return key == "items" || key == "additionalProperties" || key == "additionalItems" ||
         key == "not" || key == "contains" || key == "if" || key == "then" || key == "else" ||
         key == "propertyNames" || key == "unevaluatedProperties" || key == "unevaluatedItems";
}

std::string escape_pointer_token(const std::string& token) {
  std::string escaped;
  for (char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

json strip(const json& schema, const std::vector<std::string>& keywords, const std::string& pointer,
           std::vector<std::string>* dropped) {
  if (!schema.is_object()) {
    return schema;
  }
  json out = json::object();
  for (const auto& [key, sub] : schema.items()) {
    const std::string here = pointer + "/" + escape_pointer_token(key);
    if (std::find(keywords.begin(), keywords.end(), key) != keywords.end()) {
      if (dropped != nullptr) {
        dropped->push_back(here);
      }
      continue;
    }
    if (holds_schema_map(key) && sub.is_object()) {
      json& mapped = out[key] = json::object();
      for (const auto& [name, child] : sub.items()) {
        mapped[name] = strip(child, keywords, here + "/" + escape_pointer_token(name), dropped);
      }
    } else if (holds_schema_array(key) && sub.is_array()) {
      json& list = out[key] = json::array();
      for (size_t i = 0; i < sub.size(); ++i) {
        list.push_back(strip(sub[i], keywords, here + "/" + std::to_string(i), dropped));
      }
    } else if (holds_schema(key) && sub.is_object()) {
      out[key] = strip(sub, keywords, here, dropped);
    } else {
      out[key] = sub;
    }
  }
  return out;
}

}  // namespace

json strip_unsupported_keywords(const json& schema, const std::vector<std::string>& keywords,
                                std::vector<std::string>* dropped) {
  return strip(schema, keywords, "", dropped);
}

}  // namespace ollamaflow::llm
