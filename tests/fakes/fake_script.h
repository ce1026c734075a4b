// Scripts for the standalone fake model server: replies per request kind and failures injected
// at given ordinals, read from a JSON file. The format is described at the top of
// tests/fakes/main/fake_server_main.cpp.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "fakes/fake_reply.h"

namespace ollamaflow::testing {

// One scripted reply.
struct ScriptReply {
  std::string content;      // the reply text
  bool echo_files = false;  // mode "echo_files": every path of the request's file enum
  std::string done_reason = "stop";
  size_t piece_chars = 8;
};

// One injected failure: the `nth` request (from 1) of `kind` gets `fail` instead of a reply.
struct ScriptFailure {
  std::string kind;
  size_t nth = 1;
  std::string fail;  // busy, server_error, not_found, stream_error, context, length, no_done,
                     // malformed
  std::string message;
};

struct FakeScript {
  // Replies by kind; the i-th request of a kind gets entry i, and the last entry repeats.
  std::map<std::string, std::vector<ScriptReply>> replies;
  std::vector<ScriptFailure> failures;
  std::vector<std::string> models;  // names /api/tags and /v1/models list; empty keeps the default
};

// The request kinds a script may name.
const std::vector<std::string>& script_kinds();

// Reads a script. Returns kInvalidArgument naming the JSON path for an unknown kind or
// failure, a reply that is neither "content", "json" nor a mode, or a wrong type.
Result<FakeScript> parse_fake_script(const nlohmann::json& script);

// Reads and parses a script file; kNotFound or kParseError for a missing or malformed file.
Result<FakeScript> load_fake_script(const std::string& path);

// Returns the kind of a chat request body: the OpenAI schema name when it is a known kind, else
// the schema's shape ("tasks" → plan, "files" → agent_reply, "ready" → warm_up, only
// "summary" → summary), else "other".
std::string script_kind(const nlohmann::json& body);

// Returns the JSON schema a chat request body carries (Ollama "format" or OpenAI
// "response_format.json_schema.schema"), or null.
nlohmann::json request_schema(const nlohmann::json& body);

// Returns the agent reply for mode "echo_files": each path of the schema's
// files[].path enum, with a line naming it as content, and a summary.
nlohmann::json echo_files_reply(const nlohmann::json& body);

// Turns requests into FakeReply values by the script, counting requests per kind.
//
// Thread-safe.
class ScriptRunner {
 public:
  explicit ScriptRunner(FakeScript script) : script_(std::move(script)) {}

  FakeReply next(const nlohmann::json& body);
  // Requests of `kind` seen so far.
  size_t count(const std::string& kind) const;

 private:
  FakeReply reply_for(const std::string& kind, size_t ordinal, const nlohmann::json& body) const;

  const FakeScript script_;
  mutable std::mutex mutex_;
  std::map<std::string, size_t> counts_;  // guarded by mutex_
};

}  // namespace ollamaflow::testing
