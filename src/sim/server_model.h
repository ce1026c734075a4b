// The simulated model server: one GPU, one model, a fixed number of parallel slots, token
// rates and a slowdown that grows with the sequences running at once. Requests beyond the
// slots wait inside the server in arrival order, as with Ollama, up to max_queue, after which
// the server returns 503. Time is in seconds from the simulation start.
//
// Memory: the weights, the compute graph and the device reserve are resident; KV cache is held
// for each running sequence (kv_per_slot_mib each), so memory use follows the sequences that
// run. Each change from fitting to not fitting (weights + graph + reserve + KV + memory taken by
// other processes above the GPU's total) counts as one memory overcommit. The server keeps
// serving, as if the excess spilled to host memory.
//
// Not thread-safe: the caller serializes every call (the simulator holds its gate's mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

namespace ollamaflow::sim {

struct ServerParams {
  double gpu_total_mib = 49152;
  double weights_mib = 0;
  double graph_mib = 0;
  double reserve_mib = 0;
  double kv_per_slot_mib = 1024;
  int slots = 4;        // sequences run at once (OLLAMA_NUM_PARALLEL, llama-server -np)
  int max_queue = 512;  // waiting requests before 503 (OLLAMA_MAX_QUEUE)
  double prompt_tokens_per_s = 2000;  // per sequence when it runs alone
  double output_tokens_per_s = 25;    // per sequence when it runs alone
  // Each token takes 1 + slowdown_per_slot x (running sequences - 1) times as long as alone.
  double slowdown_per_slot = 0.03;

  // Returns the seconds a request takes when it runs alone.
  double solo_seconds(int prompt_tokens, int output_tokens) const;
};

enum class Admission { kStarted, kQueued, kRejected };

class SimServer {
 public:
  // Called with the request id and the start time whenever a request gets a slot.
  using StartListener = std::function<void(uint64_t id, double at)>;

  explicit SimServer(ServerParams params);

  void set_start_listener(StartListener listener) { on_start_ = std::move(listener); }

  // Admits a request: starts it when a slot is free, queues it, or rejects it with 503 when the
  // queue is full or rejection is switched on.
  Admission submit(uint64_t id, int prompt_tokens, int output_tokens, double now);
  // Removes a running or waiting request (its client gave up). Returns false for an unknown id.
  bool cancel(uint64_t id, double now);
  // Returns when the next running request finishes; nullopt when none runs.
  std::optional<double> next_completion() const;
  // Finishes the request returned by next_completion() and starts waiting ones in its slot.
  // Returns its id.
  uint64_t complete_next(double now);

  // Memory that other processes take on the GPU from `now` on.
  void set_foreign_mib(double mib, double now);
  // While on, the server rejects every new request with 503 (the fault injection).
  void set_reject_all(bool reject) { reject_all_ = reject; }

  int running() const { return static_cast<int>(running_.size()); }
  int waiting() const { return static_cast<int>(waiting_.size()); }
  double used_mib() const;
  const ServerParams& params() const { return params_; }
  // Slots whose KV cache fits in the memory left after the resident parts, other processes,
  // `buffer_mib` and `margin_fraction` of the GPU: the capacity planner's formula.
  int slot_ceiling(double buffer_mib, double margin_fraction) const;

  int64_t rejected() const { return rejected_; }
  int64_t overcommits() const { return overcommits_; }
  int max_running() const { return max_running_; }

 private:
  struct Waiting {
    uint64_t id;
    double work;  // solo seconds
  };

  double speed(int running) const;
  void advance(double now);
  void start(uint64_t id, double work, double now);
  void fill_slots(double now);
  void check_memory();

  ServerParams params_;
  StartListener on_start_;
  double progress_ = 0;  // solo seconds of work each running request has received since 0
  double updated_at_ = 0;
  std::set<std::pair<double, uint64_t>> running_;   // (progress at finish, id)
  std::unordered_map<uint64_t, double> finish_of_;  // id -> progress at finish
  std::deque<Waiting> waiting_;
  double foreign_mib_ = 0;
  bool reject_all_ = false;
  bool overcommitted_ = false;
  int64_t rejected_ = 0;
  int64_t overcommits_ = 0;
  int max_running_ = 0;
};

}  // namespace ollamaflow::sim
