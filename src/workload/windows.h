// Fixed-size structures behind the collector's sliding windows. Not thread-safe: the collector
// guards them with its mutex.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

namespace ollamaflow::workload {

// Per-second counters over the last `seconds` seconds (plus the two partial seconds at the ends). A
// bucket is reused once its second falls out of the ring, so memory stays constant however many
// events arrive.
class BucketRing {
 public:
  struct Bucket {
    int64_t second = -1;  // the second this bucket counts; -1 when unused
    int arrivals = 0;
    int started = 0;
    int completed = 0;
    int failed = 0;
    int retried = 0;
    int cancelled = 0;
    double busy_agent_s = 0;   // integral of busy agents over the bucket's second
    double ready_agent_s = 0;  // integral of busy + idle agents
  };

  explicit BucketRing(int seconds)
      : seconds_(seconds), buckets_(static_cast<size_t>(seconds) + 2) {}

  // Returns the bucket of `second`, cleared when it held an older second.
  Bucket& at(int64_t second) {
    Bucket& bucket = buckets_[static_cast<size_t>(second) % buckets_.size()];
    if (bucket.second != second) {
      bucket = Bucket{};
      bucket.second = second;
    }
    return bucket;
  }

  // Sums the buckets of the seconds first_second..last_second, both included.
  Bucket sum(int64_t first_second, int64_t last_second) const {
    Bucket total;
    for (const Bucket& bucket : buckets_) {
      if (bucket.second >= first_second && bucket.second <= last_second) {
        total.arrivals += bucket.arrivals;
        total.started += bucket.started;
        total.completed += bucket.completed;
        total.failed += bucket.failed;
        total.retried += bucket.retried;
        total.cancelled += bucket.cancelled;
        total.busy_agent_s += bucket.busy_agent_s;
        total.ready_agent_s += bucket.ready_agent_s;
      }
    }
    return total;
  }

  int seconds() const { return seconds_; }

 private:
  int seconds_;
  std::vector<Bucket> buckets_;
};

// The latest `capacity` timed samples (e.g. queue waits); older ones are overwritten.
class SampleRing {
 public:
  explicit SampleRing(size_t capacity) : times_(capacity), values_(capacity) {}

  // Stores a sample. A time before the newest sample's is raised to it, so the ring stays in
  // time order for collect().
  void push(int64_t time_ns, float value) {
    newest_ns_ = size_ == 0 ? time_ns : std::max(newest_ns_, time_ns);
    times_[next_] = newest_ns_;
    values_[next_] = value;
    next_ = (next_ + 1) % times_.size();
    size_ = std::min(size_ + 1, times_.size());
  }

  // Appends the values sampled after `since_ns` to `out`, newest first. It walks back from the
  // newest sample and stops at the first older one, so it costs the samples in the window, not
  // the ring's capacity.
  void collect(int64_t since_ns, std::vector<float>& out) const {
    const size_t capacity = times_.size();
    for (size_t k = 0; k < size_; ++k) {
      const size_t i = (next_ + capacity - 1 - k) % capacity;
      if (times_[i] <= since_ns) {
        break;
      }
      out.push_back(values_[i]);
    }
  }

 private:
  std::vector<int64_t> times_;
  std::vector<float> values_;
  size_t next_ = 0;
  size_t size_ = 0;
  int64_t newest_ns_ = 0;
};

// Percentile by nearest rank of `values` (reorders them); nullopt when empty.
inline std::optional<double> percentile(std::vector<float>& values, double quantile) {
  if (values.empty()) {
    return std::nullopt;
  }
  size_t rank = static_cast<size_t>(std::ceil(quantile * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size()) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(rank), values.end());
  return values[rank];
}

}  // namespace ollamaflow::workload
