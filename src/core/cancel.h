// Cooperative cancellation shared by a run, its agents and their requests in flight.
#pragma once

#include <atomic>
#include <memory>

namespace ollamaflow {

// Thread-safe. A token starts live; cancel() is permanent. Holders poll cancelled() between
// steps, and streaming readers check it on every chunk so that a request in flight stops within
// one chunk.
class CancelToken {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

using CancelTokenPtr = std::shared_ptr<CancelToken>;

}  // namespace ollamaflow
