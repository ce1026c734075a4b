// Time source for everything that measures or waits: scaling, metrics, timeouts, the agent pool
// and the simulator. Only SystemClock reads the real clocks; tests and the simulator use
// FakeClock and step it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ollamaflow {

using Duration = std::chrono::nanoseconds;
using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// Thread-safe: every method may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // Monotonic time, for intervals and deadlines.
  virtual MonoTime now() const = 0;
  // Calendar time, for records shown to people.
  virtual WallTime wall_now() const = 0;
  // Blocks the calling thread for `duration` of this clock's time.
  virtual void sleep_for(Duration duration) = 0;

  // Returns seconds since this clock's monotonic epoch, as a double.
  double seconds() const;
};

// Returns the process-wide real clock.
std::shared_ptr<Clock> system_clock();

class SystemClock final : public Clock {
 public:
  MonoTime now() const override;
  WallTime wall_now() const override;
  void sleep_for(Duration duration) override;
};

// A clock that moves only when told. sleep_for() blocks until another thread advances the clock
// past the wake-up time, unless auto-advance is on, in which case sleep_for() moves the clock
// forward itself (single-threaded tests and the simulator).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(bool auto_advance = false);

  MonoTime now() const override;
  WallTime wall_now() const override;
  void sleep_for(Duration duration) override;

  void advance(Duration duration);
  void set(MonoTime time);

 private:
  mutable std::mutex mutex_;
  std::condition_variable advanced_;
  // Guarded by mutex_.
  MonoTime mono_;
  WallTime wall_;
  bool auto_advance_;
};

// Converts a duration to floating-point seconds.
inline double to_seconds(Duration duration) {
  return std::chrono::duration<double>(duration).count();
}

// Converts floating-point seconds to a Duration, rounding to nanoseconds.
inline Duration from_seconds(double seconds) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

// Returns the wall time as an ISO-8601 UTC string with milliseconds, e.g.
// "2026-12-04T15:51:07.123Z".
std::string format_iso8601(WallTime time);

}  // namespace ollamaflow
