// The signals a model server reports about itself, for the workload collector and the scaling
// engine. llama-server exposes its slots (/props, /slots) and counters (/metrics, with
// --metrics); Ollama exposes neither, so its slot count comes from the configuration.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/status.h"
#include "llm/http.h"

namespace ollamaflow::llm {

// One reading of a server's signals. A field is nullopt when the server did not report it, and
// `notes` then gives the reason, one line per endpoint.
struct ServerReading {
  std::optional<int> total_slots;             // /props total_slots (llama-server -np)
  std::optional<int> slot_ctx;                // tokens per slot, /props n_ctx (-c / -np)
  std::optional<int> busy_slots;              // /slots with is_processing, else requests_processing
  std::optional<int> requests_processing;     // /metrics llamacpp:requests_processing
  std::optional<int> requests_deferred;       // /metrics llamacpp:requests_deferred
  std::optional<double> prompt_tokens_per_s;  // /metrics llamacpp:prompt_tokens_seconds
  std::optional<double> output_tokens_per_s;  // /metrics llamacpp:predicted_tokens_seconds
  std::string source;                         // e.g. "llama-server at http://127.0.0.1:8080"
  std::vector<std::string> notes;
};

// The slot facts of a /props body.
struct PropsReading {
  std::optional<int> total_slots;
  std::optional<int> slot_ctx;  // default_generation_settings.n_ctx
  std::string build_info;
  std::string model_path;          // the served model's file, as llama-server was given it
  std::vector<std::string> notes;  // why a value that the body has is left unknown
};

// Reads llama-server's /props at settings.host, with a trailing "/v1" dropped, within
// kMetadataTotalTimeoutS. `cancel`, when not null, cancels the request. Returns the HTTP or
// transport error naming GET /props (kNotFound for a server without /props, such as vLLM),
// kCancelled, or kParseError for a body that parse_props rejects.
Result<PropsReading> read_props(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                CancelTokenPtr cancel);

// Parses a /props body. Returns kParseError, quoting the value, when the body is not a JSON
// object or total_slots is not a positive integer. A missing total_slots is unknown, not an
// error, and an n_ctx that is not a positive integer is unknown with a note.
Result<PropsReading> parse_props(std::string_view body);

struct SlotsReading {
  int total = 0;
  int busy = 0;
};

// Parses a /slots body: an array with one object per slot, busy when "is_processing" is true
// (or, in llama-server builds before that field, when "state" is not 0). Returns kParseError
// naming the first entry that has neither field.
Result<SlotsReading> parse_slots(std::string_view body);

// Fills the /metrics fields of `reading` from Prometheus text. Returns kParseError for text
// that is not Prometheus samples or a count that is negative or not finite.
Status apply_metrics(std::string_view text, ServerReading& reading);

// Reads a server's signals. Implementations are thread-safe.
class ServerSignalReader {
 public:
  virtual ~ServerSignalReader() = default;
  // Returns a reading without failing: a value that cannot be read stays unknown, with the reason
  // in the notes.
  virtual ServerReading read() = 0;
};

// Reads llama-server's /props, /slots and /metrics, each GET within `timeout_s` in all, so that
// a stalled server delays one evaluation by three times that at most. /slots and
// /metrics returning 404 or 501 (started with --no-slots or without --metrics) are unknown.
//
// Thread-safe: every read opens its own connections.
class LlamaServerSignalReader final : public ServerSignalReader {
 public:
  // Uses settings.host (default port 8080, a trailing "/v1" dropped), connect timeout and
  // api_key. `cancel` (may be null) ends a read within about 50 ms, and the read then skips the
  // endpoints it has not fetched. Returns kInvalidArgument for a malformed host URL.
  static Result<std::unique_ptr<LlamaServerSignalReader>> create(const ServerSettings& settings,
                                                                 std::shared_ptr<Clock> clock,
                                                                 double timeout_s = 2,
                                                                 CancelTokenPtr cancel = nullptr);

  ServerReading read() override;

 private:
  LlamaServerSignalReader(HttpClient http, double timeout_s);

  // GETs `path`; the body on 200, an error naming the endpoint otherwise.
  Result<std::string> fetch(const std::string& path) const;

  HttpClient http_;
  const double timeout_s_;
};

// Returns the slot count and the text that names where it came from, for a server that does not
// report slots (Ollama): server.num_parallel with its source in `config.sources`, else nullopt
// with a note that Ollama's default since v0.10 is 1.
struct ConfiguredSlots {
  std::optional<int> slots;
  std::string source;
};
ConfiguredSlots configured_slots(const Config& config);

}  // namespace ollamaflow::llm
