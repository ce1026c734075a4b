// The reading of one streamed /v1/chat/completions reply: chunks, usage and in-stream errors.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "llm/client.h"
#include "llm/http.h"
#include "llm/sse.h"
#include "llm/think.h"

namespace ollamaflow::llm {

// Returns true for llama-server's message when it cannot parse the model's unconstrained
// output, e.g. "The model produced output that does not match the expected peg-native format"
// (HTTP 500, or an error event inside the stream, from llama.cpp build b1-80fb11a).
bool mentions_unparsed_output(std::string_view message);

// Accumulates the events of one streamed chat completion.
//
// Not thread-safe: it belongs to the thread that runs the request.
class CompletionStream {
 public:
  CompletionStream(const ChatRequest& request, StreamWatch& watch, const TokenCallback& on_token,
                   std::string url)
      : request_(request), watch_(watch), on_token_(on_token), url_(std::move(url)) {}

  // Handles one event: a content chunk, the usage chunk, "[DONE]" or an error in any dialect,
  // which is returned as the error that ends the stream.
  Status on_event(const SseEvent& event);

  // Ends the stream and builds the response: kServerError when no chunk had an entry in
  // "choices", kTruncated when no finish_reason arrived. A reply with finish_reason "length" is
  // returned with done_reason "length".
  Result<ChatResponse> finish();

  // Returns the tokens of a stream that failed or was cancelled: the server's counts when its
  // usage or timings arrived, else one output token per chunk with text. OpenAI-compatible
  // servers stream about one token per chunk and report the prompt tokens only at the end, so
  // those stay 0.
  ChatUsage spent_usage() const;

 private:
  Status on_chunk(const nlohmann::json& chunk);
  void on_delta(const nlohmann::json& delta);
  ChatUsage usage() const;

  const ChatRequest& request_;
  StreamWatch& watch_;
  const TokenCallback& on_token_;
  const std::string url_;
  ThinkSplitter splitter_;
  std::string reasoning_;  // "reasoning_content" deltas (llama-server, vLLM, DeepSeek)
  std::string finish_reason_;
  std::string model_;
  nlohmann::json usage_;    // the "usage" object, null until a chunk carries one
  nlohmann::json timings_;  // llama-server's "timings" object, null when absent
  size_t events_ = 0;
  size_t choice_chunks_ = 0;  // chunks with at least one entry in "choices"
  size_t text_chunks_ = 0;    // chunks whose delta carries content or reasoning text
};

// Builds the error for an error payload sent inside a 200 stream: an "error" object or string,
// or the fields at the top level ("message" or "details", "type", "code").
Status error_from_stream_payload(const std::string& data, const std::string& url);

}  // namespace ollamaflow::llm
