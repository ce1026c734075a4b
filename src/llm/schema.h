// Local JSON Schema validation of structured model replies, and schema rewriting for servers
// that reject some keywords.
//
// Servers enforce schemas through grammars that drop or reject keywords (maxItems with
// minItems, maxLength with pattern, propertyNames), so every structured reply is validated here
// against the complete schema.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ollamaflow::llm {

// Validates `value` against `schema`, a JSON Schema (draft 2020-12 or draft 7). Only these
// keywords are checked: type (a name or an array of names: object, array, string, integer, number,
// boolean, null), properties, required, additionalProperties (false, true or a schema), enum,
// const, items (a schema, or an array of schemas as in draft 7), prefixItems, minItems,
// maxItems, uniqueItems, minLength, maxLength (in Unicode code points), pattern (ECMAScript
// regex through std::regex, matched anywhere in the string), minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, allOf, anyOf, oneOf, not, and $ref to "#" or a
// "#/$defs/..." or "#/definitions/..." pointer. Other keywords (title, description, format, ...)
// are ignored. A null schema or `true` accepts everything; `false` accepts nothing.
//
// Errors:
// - kSchemaViolation: the message lists up to 10 violations separated by "; ", each with the
//   JSON path and the keyword, e.g. "$.files[2].path: value 'x' not in enum [\"a\",\"b\"]".
// - kInvalidArgument: the schema itself is malformed (e.g. a pattern std::regex rejects).
//
// Thread-safe: a pure function.
Status validate_json_schema(const nlohmann::json& value, const nlohmann::json& schema);

// Returns a copy of `schema` without the named keywords, in every subschema. Property names
// that happen to equal a keyword are kept, because only schema positions are searched. Each
// removed keyword's JSON pointer (e.g. "/properties/names/maxItems") is appended to `dropped`
// when it is not null. Used to resend a request that a server rejected for a keyword, while
// local validation keeps the full schema.
nlohmann::json strip_unsupported_keywords(const nlohmann::json& schema,
                                          const std::vector<std::string>& keywords,
                                          std::vector<std::string>* dropped);

}  // namespace ollamaflow::llm
