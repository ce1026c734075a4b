// Construction of the model server client that a configuration names, and a quick check that
// its server responds.
#pragma once

#include <memory>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/status.h"
#include "llm/client.h"

namespace ollamaflow::llm {

// Builds the client for settings.backend: "ollama" (OllamaClient), "openai" (OpenAiClient) or
// "sim" (SimClient), wrapped in a RetryingClient with RetryPolicy::from(settings). A null
// clock means the system clock. Nothing is sent to the server.
//
// Returns kInvalidArgument naming the value and the choices for an unknown backend, and for a
// malformed host URL, invalid sim_* settings or invalid retry settings (negative retries or
// delays, base delay above the maximum). `cancel`, when not null, cancels every request of the
// client, the model requests (list_models, version, ...) too.
Result<LlmClientPtr> make_client(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                 CancelTokenPtr cancel = nullptr);

// Checks the host URL of `settings` without contacting the server: kInvalidArgument naming the
// value for an unknown backend or a malformed URL (scheme, host, port from 1 to 65535). "sim"
// needs no host, and its host is rejected only when it contains a user name or password.
Status check_server_url(const ServerSettings& settings);

// Returns the URL that the client of `settings` connects to, with the scheme and the port filled
// in, e.g. "http://127.0.0.1:11434" for the host "127.0.0.1" of the ollama backend (8080 for
// openai). Returns the host unchanged for "sim", which connects to nothing, and the errors of
// check_server_url() for a host that it rejects.
Result<std::string> effective_server_url(const ServerSettings& settings);

// Checks config.server as the overload above does. The error names where server.host came from,
// such as the environment variable OLLAMA_HOST, the flag --host or the configuration file.
Status check_server_url(const Config& config);

// Checks that the server of `settings` responds, within twice settings.connect_timeout_s in all
// (once to connect, once to read the reply): GET /api/version for "ollama", GET /v1/models
// for "openai"; "sim" is always ok. The run command calls it to decide whether to fall back to
// the simulated backend.
//
// Returns kUnavailable naming the host and the fix when the server cannot be reached in time
// (refused, DNS failure, connect or read timeout, no whole reply within the deadline), replies
// with a body over kMaxMetadataBodyBytes, or with a body that does not belong to the backend
// (e.g. an OpenAI-compatible server probed as Ollama). Returns kCancelled when `cancel` is
// cancelled meanwhile. An HTTP error status gives its usual code (kPermissionDenied for 401, ...)
// with the server's message. kInvalidArgument for an unknown backend or a malformed host URL.
//
// NOTE: the resolver's own timeout bounds a DNS lookup, not connect_timeout_s; names under
// ".invalid" fail without a lookup.
Status probe_server(const ServerSettings& settings, CancelTokenPtr cancel = nullptr);

// The result of probe_server_outcome().
struct ProbeOutcome {
  Status status;
  // The server replied HTTP 503 with the error message "Loading model", as llama-server does
  // to every request until it has loaded its model. status is then kServerBusy.
  bool loading_model = false;
};

// Probes the server as probe_server() does, and separates a server that is loading its model
// from one that failed.
ProbeOutcome probe_server_outcome(const ServerSettings& settings, CancelTokenPtr cancel = nullptr);

// Returns the fix for a server that does not speak the protocol of `backend`: the --backend
// value of the other protocol and the servers that use it. probe_server's messages for a 404
// or a body of the wrong shape end with it.
std::string other_protocol_fix(const std::string& backend);

}  // namespace ollamaflow::llm
