#include "fakes/http_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace ollamaflow::testing {

void Gate::open(size_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  allowed_ += count;
  changed_.notify_all();
}

void Gate::open_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  open_for_good_ = true;
  changed_.notify_all();
}

bool Gate::pass() {
  std::unique_lock<std::mutex> lock(mutex_);
  ++waiting_;
  changed_.notify_all();
  changed_.wait(lock, [this] { return allowed_ > 0 || open_for_good_; });
  --waiting_;
  changed_.notify_all();
  if (allowed_ > 0) {
    --allowed_;
    return true;
  }
  return false;
}

size_t Gate::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_;
}

void Gate::wait_for_waiters(size_t count) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return waiting_ >= count || open_for_good_; });
}

HttpTestServer::HttpTestServer() : server_(std::make_unique<httplib::Server>()) {}

HttpTestServer::~HttpTestServer() {
  stop();
}

void HttpTestServer::start(int port) {
  if (port > 0) {
    // httplib's default options add SO_REUSEPORT, which would let a second server bind a port
    // that is in use. SO_REUSEADDR alone still allows a restart over TIME_WAIT connections.
    server_->set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    port_ = server_->bind_to_port("127.0.0.1", port) ? port : -1;
  } else {
    port_ = server_->bind_to_any_port("127.0.0.1");
  }
  if (port_ <= 0) {
    std::fprintf(stderr, "HttpTestServer: cannot bind port %d on 127.0.0.1 (in use?)\n", port);
    std::abort();
  }
  running_ = true;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_ = true;
  });
}

void HttpTestServer::stop() {
  if (!running_) {
    return;
  }
  running_ = false;
  gate_.open_all();
  // stop() only affects a server whose accept loop has started.
  while (!server_->is_running() && !listen_returned_) {
    std::this_thread::yield();
  }
  server_->stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::string HttpTestServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::fprintf(stderr, "closed_port: cannot bind a port on 127.0.0.1\n");
    std::abort();
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace ollamaflow::testing
