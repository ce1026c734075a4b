// Classification of error messages that model servers send, shared by the protocol clients.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ollamaflow::llm {

// Returns true for messages stating that the prompt does not fit the context, e.g.
// llama-server's "exceeds the available context size" or type "exceed_context_size_error".
bool mentions_context_overflow(std::string_view message);

// Returns true for messages stating that the server cannot compile the requested schema into a
// grammar: "Grammar error", "not supported by xgrammar", "Unimplemented keys".
bool mentions_unsupported_schema(std::string_view message);

// Returns the schema keywords an unsupported-schema message names, e.g. propertyNames from
// `Unimplemented keys: ["propertyNames"]` or format from "Unknown format: uri". Empty when it
// names none.
std::vector<std::string> unsupported_keywords_in(std::string_view message);

// Builds the error for a non-2xx reply to a chat request, from the HTTP status and the
// server's error text. Context-size messages become kContextOverflow and grammar messages
// kSchemaUnsupported whatever the status; otherwise error_code_for_http_status() decides.
Status chat_http_error(int http_status, const std::string& server_text, const std::string& url);

// Builds the error for a failure that a server reported inside a 200 stream: kContextOverflow
// for context-size messages, kTimeout for a gateway timeout (type "GatewayTimeout" or code
// 504), kSchemaUnsupported for grammar messages, kServerError otherwise.
Status stream_error(const std::string& server_text, const std::string& type, int code,
                    const std::string& url);

}  // namespace ollamaflow::llm
