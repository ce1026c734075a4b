#include "fakes/trickling_server.h"

#include <thread>

namespace ollamaflow::testing {

TricklingServer::TricklingServer(TrickleMode mode, std::chrono::milliseconds interval)
    : mode_(mode), interval_(interval) {
  const auto handler = [this](const httplib::Request&, httplib::Response& response) {
    handle(response);
  };
  server().Get(".*", handler);
  server().Post(".*", handler);
  start();
}

TricklingServer::~TricklingServer() {
  stopping_ = true;
  stop();
}

void TricklingServer::handle(httplib::Response& response) {
  ++requests_;
  std::string piece;
  std::string content_type = "application/json";
  switch (mode_) {
    case TrickleMode::kGarbage:
      piece = "\x01garbage\xff{]\x7f\n#%!";
      break;
    case TrickleMode::kKeepAlive:
      piece = ": keepalive\n\n";
      content_type = "text/event-stream";
      break;
    case TrickleMode::kFlood:
      piece.assign(64 << 10, '#');
      break;
  }
  const bool paced = mode_ != TrickleMode::kFlood;
  response.status = 200;
  response.set_chunked_content_provider(
      content_type, [this, piece, paced](size_t, httplib::DataSink& sink) {
        if (stopping_ || !sink.write(piece.data(), piece.size())) {
          return false;
        }
        if (paced) {
          std::this_thread::sleep_for(interval_);
        }
        return true;
      });
}

}  // namespace ollamaflow::testing
