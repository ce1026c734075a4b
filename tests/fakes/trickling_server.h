// A server on 127.0.0.1 that replies to every request with status 200 and then sends a few bytes
// at a time without ever finishing the reply. A broken proxy, or a server that is not a model
// server, may behave this way.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "fakes/http_test_server.h"

namespace ollamaflow::testing {

enum class TrickleMode {
  kGarbage,    // 16 bytes that are not JSON every interval, as application/json
  kKeepAlive,  // a server-sent events comment ": keepalive" every interval
  kFlood,      // 64 KiB of garbage per write, as fast as the client reads
};

// Serves GET and POST on every path. The constructor starts the server on a free port, and
// each reply runs until the client disconnects or the server stops.
//
// Thread-safe.
class TricklingServer final : public HttpTestServer {
 public:
  TricklingServer(TrickleMode mode, std::chrono::milliseconds interval);
  ~TricklingServer() override;

  // Returns the number of requests that received the status line.
  int requests() const { return requests_.load(); }

 private:
  void handle(httplib::Response& response);

  const TrickleMode mode_;
  const std::chrono::milliseconds interval_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
};

}  // namespace ollamaflow::testing
