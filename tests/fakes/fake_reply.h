// Scripted replies for the fake model servers: what one chat request gets back and how the
// bytes travel.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ollamaflow::testing {

// The shape of a failure reported inside a 200 stream. Ollama uses only kErrorObject (an
// {"error": "..."} line); the others are event-stream dialects of OpenAI-compatible servers.
enum class StreamErrorShape {
  kNone,
  kErrorObject,     // Ollama: {"error":"..."}; OpenAI: data: {"error":{"message","type","code"}}
  kBareErrorField,  // error: {"code","message","type"} (llama-server builds of 2025)
  kErrorEvent,      // event: error + data: {"code","details"}
  kMessageOnly,     // data: {"error":{"message"},"message"} without a type (LM Studio)
  kRawJson,         // the error object without "data:" (a proxy forwarding a backend body)
};

struct FakeReply {
  std::string content = "{}";  // the reply text, streamed in pieces
  std::string thinking;        // Ollama's "thinking" field, sent with the first piece
  size_t piece_chars = 8;      // content bytes per streamed chunk; 0 sends it in one chunk

  // A status other than 200 is sent with `error_message` as the error body, without a stream.
  int http_status = 200;
  std::string error_message;

  // A failure inside the 200 stream, sent after `error_after_pieces` content pieces.
  StreamErrorShape stream_error = StreamErrorShape::kNone;
  std::string error_type;  // e.g. "GatewayTimeout", "exceed_context_size_error"
  int error_code = 0;      // e.g. 400 or 504
  size_t error_after_pieces = 0;

  bool omit_done = false;  // end without done:true (Ollama) or finish_reason and [DONE] (OpenAI)
  std::string done_reason = "stop";  // "length" for a reply cut by the token limit
  int64_t prompt_tokens = -1;        // -1: request characters / 4
  int64_t output_tokens = -1;        // -1: one per content piece

  // When not empty, these stream objects (NDJSON lines or SSE events, with their line ends) are
  // sent verbatim in place of the ones built from the fields above.
  std::vector<std::string> raw_objects;

  // How the wire bytes are cut into writes: at the given byte offsets, else every
  // `write_bytes` bytes, else `objects_per_write` stream objects (lines or events) per write.
  std::vector<size_t> split_at;
  size_t write_bytes = 0;
  size_t objects_per_write = 1;

  // Called on the server thread before each write, with the write's index: tests advance a
  // FakeClock here (slow first token, stall between chunks) or wait on a Gate.
  std::function<void(size_t write_index)> before_write;
};

// Returns "plan", "agent_reply" or "chat" for a request body: the OpenAI-style schema name when
// present, else the shape of the schema (a "tasks" property for plans, "files" for replies).
std::string request_kind(const nlohmann::json& body);

// Replies for incoming requests, in this order: a reply queued for the request's kind, a reply
// queued for any kind, the responder, then a default reply whose content is "{}".
//
// Thread-safe.
class ReplyScript {
 public:
  using Responder = std::function<FakeReply(const nlohmann::json& request)>;
  using ContentResponder = std::function<std::string(const nlohmann::json& request)>;

  // Queues a reply for the next request of `kind` ("" for any kind).
  void enqueue(FakeReply reply, const std::string& kind = "");
  // Queues `count` replies with `http_status` and `message` for requests of any kind.
  void fail_next(size_t count, int http_status, const std::string& message);
  void set_responder(Responder responder);
  // Sets a responder that produces only the content; the rest of the reply is default.
  void set_content_responder(ContentResponder responder);

  FakeReply next(const nlohmann::json& request);

 private:
  std::mutex mutex_;
  std::map<std::string, std::deque<FakeReply>> queued_;  // by kind, "" for any
  Responder responder_;
};

// Cuts the stream objects of one reply into the writes that `reply` describes.
std::vector<std::string> cut_into_writes(const std::vector<std::string>& objects,
                                         const FakeReply& reply);

// Splits `content` into pieces of `piece_chars` bytes (one piece when 0 or when empty).
std::vector<std::string> split_content(const std::string& content, size_t piece_chars);

}  // namespace ollamaflow::testing
