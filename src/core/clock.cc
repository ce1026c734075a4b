#include "core/clock.h"

#include <ctime>
#include <string>
#include <thread>

namespace ollamaflow {

double Clock::seconds() const {
  return to_seconds(now().time_since_epoch());
}

std::shared_ptr<Clock> system_clock() {
  static const std::shared_ptr<Clock> instance = std::make_shared<SystemClock>();
  return instance;
}

MonoTime SystemClock::now() const {
  return std::chrono::steady_clock::now();
}

WallTime SystemClock::wall_now() const {
  return std::chrono::system_clock::now();
}

void SystemClock::sleep_for(Duration duration) {
  std::this_thread::sleep_for(duration);
}

FakeClock::FakeClock(bool auto_advance)
    : mono_(MonoTime(std::chrono::hours(1))),
      // 2026-01-01T00:00:00Z, so that records made under a fake clock have a plausible date.
      wall_(WallTime(std::chrono::seconds(1767225600))),
      auto_advance_(auto_advance) {}

MonoTime FakeClock::now() const {
  std::lock_guard lock(mutex_);
  return mono_;
}

WallTime FakeClock::wall_now() const {
  std::lock_guard lock(mutex_);
  return wall_;
}

void FakeClock::sleep_for(Duration duration) {
  std::unique_lock lock(mutex_);
  if (auto_advance_) {
    mono_ += duration;
    wall_ += std::chrono::duration_cast<WallTime::duration>(duration);
    advanced_.notify_all();
    return;
  }
  const MonoTime wake = mono_ + duration;
  advanced_.wait(lock, [&] { return mono_ >= wake; });
}

void FakeClock::advance(Duration duration) {
  {
    std::lock_guard lock(mutex_);
    mono_ += duration;
    wall_ += std::chrono::duration_cast<WallTime::duration>(duration);
  }
  advanced_.notify_all();
}

void FakeClock::set(MonoTime time) {
  {
    std::lock_guard lock(mutex_);
    wall_ += std::chrono::duration_cast<WallTime::duration>(time - mono_);
    mono_ = time;
  }
  advanced_.notify_all();
}

std::string format_iso8601(WallTime time) {
  const auto since_epoch = time.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs).count();
  const std::time_t t = secs.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buffer, static_cast<int>(millis));
  return out;
}

}  // namespace ollamaflow
