#include "fakes/llama_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>

namespace ollamaflow::testing {
namespace {

namespace fs = std::filesystem;

bool is_executable(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error) && access(path.c_str(), X_OK) == 0;
}

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

fs::path shared_folder() {
  return source_dir().parent_path() / "shared" / "llama-server";
}

fs::path find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) {
    return {};
  }
  std::stringstream folders(path);
  std::string folder;
  while (std::getline(folders, folder, ':')) {
    if (!folder.empty() && is_executable(fs::path(folder) / name)) {
      return fs::path(folder) / name;
    }
  }
  return {};
}

// Returns the binary, or an empty path with `missing` set.
fs::path find_binary(std::string& missing) {
  if (const char* named = std::getenv("OLLAMA_FLOW_LLAMA_SERVER"); named && *named) {
    if (is_executable(named)) {
      return named;
    }
    missing = std::string("OLLAMA_FLOW_LLAMA_SERVER=") + named + " is not an executable file";
    return {};
  }
  if (fs::path on_path = find_on_path("llama-server"); !on_path.empty()) {
    return on_path;
  }
  const fs::path shared = shared_folder() / "bin" / "llama-server";
  if (is_executable(shared)) {
    return shared;
  }
  missing = "no llama-server binary: set OLLAMA_FLOW_LLAMA_SERVER, put llama-server on PATH or " +
            shared.string();
  return {};
}

fs::path find_model(const fs::path& binary, std::string& missing) {
  if (const char* named = std::getenv("OLLAMA_FLOW_LLAMA_MODEL"); named && *named) {
    if (is_file(named)) {
      return named;
    }
    missing = std::string("OLLAMA_FLOW_LLAMA_MODEL=") + named + " is not a file";
    return {};
  }
  const fs::path folder = binary.parent_path();
  for (const fs::path& candidate :
       {folder / "tiny.gguf", folder.parent_path() / "tiny.gguf", shared_folder() / "tiny.gguf"}) {
    if (is_file(candidate)) {
      return candidate;
    }
  }
  missing = "no tiny.gguf beside " + binary.string() + ": set OLLAMA_FLOW_LLAMA_MODEL";
  return {};
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

LlamaServerLocation locate_llama_server() {
  LlamaServerLocation location;
  location.binary = find_binary(location.missing);
  if (location.found()) {
    location.model = find_model(location.binary, location.missing);
  }
  return location;
}

int free_local_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

Result<std::unique_ptr<LlamaServer>> LlamaServer::start(const LlamaServerOptions& options) {
  std::unique_ptr<LlamaServer> server(new LlamaServer());
  server->options_ = options;
  if (server->options_.binary.empty() || server->options_.model.empty()) {
    const LlamaServerLocation location = locate_llama_server();
    if (!location.found()) {
      return Status(ErrorCode::kNotFound, location.missing);
    }
    if (server->options_.binary.empty()) {
      server->options_.binary = location.binary;
    }
    if (server->options_.model.empty()) {
      server->options_.model = location.model;
    }
  }
  server->log_dir_ = std::make_unique<TempDir>();
  server->log_path_ = server->log_dir_->path() / "llama-server.log";

  // Another process can take a free port before the server binds it, so a start on a free port
  // is retried with a new port up to 3 times.
  const int attempts = options.port == 0 ? 3 : 1;
  Status status;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    server->port_ = options.port != 0 ? options.port : free_local_port();
    status = server->launch();
    if (status.is_ok()) {
      return server;
    }
  }
  return status;
}

LlamaServer::~LlamaServer() {
  stop(std::chrono::milliseconds(2000));
}

std::string LlamaServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

pid_t LlamaServer::pid() const {
  return child_ ? child_->pid() : -1;
}

std::vector<std::string> LlamaServer::command_line() const {
  std::vector<std::string> argv = {
      options_.binary.string(), "-m", options_.model.string(), "--host", "127.0.0.1", "--port",
      std::to_string(port_), "-np", std::to_string(options_.slots), "-c",
      std::to_string(options_.total_ctx), "-ctk", options_.cache_type_k, "-ctv",
      options_.cache_type_v, "-fa", options_.flash_attn,
      // Without this the server loads the model twice to fit it
      // into device memory, which doubles the start time.
      "-fit", "off", "--log-file", log_path_.string()};
  if (options_.metrics) {
    argv.push_back("--metrics");
  }
  if (options_.verbose) {
    argv.push_back("-v");
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

Status LlamaServer::launch() {
  ProcessOptions process;
  process.timeout = options_.start_timeout;
  child_ = std::make_unique<ChildProcess>(command_line(), process);
  Status status = wait_healthy();
  if (!status.is_ok()) {
    stop(std::chrono::milliseconds(1000));
  }
  return status;
}

Status LlamaServer::wait_healthy() {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(std::chrono::milliseconds(200));
  client.set_read_timeout(std::chrono::seconds(2));
  // Real time on purpose: this waits for another process to load a model.
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  std::string command;
  for (const std::string& part : command_line()) {
    command += (command.empty() ? "" : " ") + part;
  }
  while (std::chrono::steady_clock::now() < deadline) {
    const int exit_code = child_->wait(std::chrono::milliseconds(1));
    if (exit_code != -1) {
      return Status(ErrorCode::kUnavailable, "llama-server exited with code " +
                                                 std::to_string(exit_code) +
                                                 " before it was healthy: " + command + "\nlog " +
                                                 log_path_.string() + ":\n" + log_tail());
    }
    if (httplib::Result reply = client.Get("/health"); reply && reply->status == 200) {
      return Status::ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status(ErrorCode::kTimeout, "llama-server was not healthy within " +
                                         std::to_string(options_.start_timeout.count()) +
                                         " ms: " + command + "\nlog " + log_path_.string() + ":\n" +
                                         log_tail());
}

std::string LlamaServer::read_log() const {
  std::string text = read_file(log_path_);
  std::string output = previous_output_;
  if (child_) {
    output += child_->read_out() + child_->read_err();
  }
  // The server writes the same log to --log-file and to stderr. The file starts over on each
  // restart, while the captured output keeps earlier runs, so the longer text is returned.
  return output.size() > text.size() ? output : text;
}

std::string LlamaServer::log_tail(size_t lines) const {
  const std::string text = read_log();
  size_t start = text.size();
  for (size_t seen = 0; start > 0 && seen <= lines; --start) {
    if (text[start - 1] == '\n') {
      ++seen;
    }
  }
  return text.substr(start);
}

void LlamaServer::stop(std::chrono::milliseconds grace) {
  if (!child_) {
    return;
  }
  child_->send_signal(SIGTERM);
  if (child_->wait(grace) == -1) {
    child_->send_signal(SIGKILL);
    child_->wait(std::chrono::seconds(10));
  }
  previous_output_ += child_->read_out() + child_->read_err();
  child_.reset();
}

void LlamaServer::kill_now() {
  if (!child_) {
    return;
  }
  child_->send_signal(SIGKILL);
  child_->wait(std::chrono::seconds(10));
  previous_output_ += child_->read_out() + child_->read_err();
  child_.reset();
}

Status LlamaServer::restart() {
  stop();
  return launch();
}

}  // namespace ollamaflow::testing
