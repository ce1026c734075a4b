// An HTTP server on 127.0.0.1 for tests, and a gate that paces the chunks a handler streams.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <httplib.h>

namespace ollamaflow::testing {

// Lets a streaming handler wait until the test allows the next chunk, so tests can stall a
// stream or act between two chunks without sleeping.
//
// Thread-safe.
class Gate {
 public:
  // Allows `count` more calls of pass() to return.
  void open(size_t count = 1);
  // Lets every current and future pass() return at once (also used when a server stops).
  void open_all();
  // Blocks until a pass is allowed. Returns false when the gate was opened for good by
  // open_all() while the caller waited, so a handler can tell a shutdown from a normal pass.
  bool pass();
  // Callers of pass() that are blocked right now.
  size_t waiting() const;
  // Blocks until `count` callers are blocked in pass(): lets a test wait for a stall.
  void wait_for_waiters(size_t count) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  size_t allowed_ = 0;
  size_t waiting_ = 0;
  bool open_for_good_ = false;
};

// An httplib::Server bound to 127.0.0.1 on a free port, serving from its own thread.
// Register handlers on server() before start(). The destructor stops the server.
//
// Thread-safe after start(); handlers run on the server's worker threads.
class HttpTestServer {
 public:
  HttpTestServer();
  virtual ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  httplib::Server& server() { return *server_; }
  // Starts serving on `port`, or on a free port when it is 0. Aborts the program when the port
  // cannot be bound.
  void start(int port = 0);
  // Stops serving and joins the thread; opens `gate` first so blocked handlers return.
  void stop();

  int port() const { return port_; }
  // Returns "http://127.0.0.1:PORT".
  std::string url() const;
  // The gate that streaming handlers of this server wait on.
  Gate& gate() { return gate_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  Gate gate_;
  int port_ = 0;
  bool running_ = false;
  std::atomic<bool> listen_returned_{false};
};

// Returns a TCP port on 127.0.0.1 that nothing listens on (bound once, then closed).
int closed_port();

}  // namespace ollamaflow::testing
