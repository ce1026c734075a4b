// Placeholder replies of the simulated backend, generated from the request's JSON schema.
// Every text they contain states that it is simulated, so simulated output cannot pass for a
// model's.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "llm/client.h"

namespace ollamaflow::llm {

// Returns the goal of a request: the text after "Goal: " on the first line of the first user
// message that has one, else the first line of the last user message, shortened to 120 bytes.
std::string goal_of(const ChatRequest& request);

// Builds a value that satisfies `schema`, walking it from the root:
// - const and enum give their value; the items of an array take enum values in turn (item i
//   gets value i), so an array with minItems = maxItems = the enum's size lists every value once,
//   as the agent reply's "files" do;
// - an object gets every declared property; an array gets minItems items, or one item, or none
//   when maxItems is 0; strings are a short text stating that it is simulated, fitted to
//   minLength and maxLength; numbers take a value inside minimum and maximum;
// - a "content" string beside a "path" becomes a file text for that path, in the comment
//   syntax of its extension;
// - a plan schema (a "tasks" array whose items have "id", "role", "depends_on" and "files")
//   gets a small valid plan: 5 tasks (fewer under maxItems, more when minItems asks) with distinct
//   ids, roles from the role enum, dependencies only on earlier tasks and distinct file paths.
// anyOf and oneOf use their first branch, allOf its merged branches, and $ref is followed
// within the schema.
//
// Returns kSchemaUnsupported naming the violation when the generated value still breaks the
// schema, e.g. for a pattern that none of the candidate strings matches.
Result<nlohmann::json> simulated_value(const nlohmann::json& schema, const std::string& goal);

// Returns the reply text for a request without a schema.
std::string simulated_text(const std::string& goal);

// Returns a file text for `path` stating that it is simulated: one comment line in the syntax that
// the extension implies (e.g. "# " for .py, "// " for .cc), or a JSON object for .json.
std::string simulated_file_content(const std::string& path);

}  // namespace ollamaflow::llm
