// The scaling engine: one controller that turns signals into decisions. The strategies are
// parameter sets of it (strategy.h); it never creates or stops agents itself. The agent manager
// executes the decisions and reports each outcome back with record_outcome().
//
// Stability rules, in the order evaluate() applies them:
//   1. Protection: a shed (critical temperature, emergency temperature or VRAM) runs first and
//      ignores windows and the missing-metric rule, but two sheds are flip_cooldown_s apart.
//   2. Scale-up happens at the first evaluation that needs it (up_window_s = 0 in every built-in
//      strategy), limited by up_cooldown_s since the last scale-up and flip_cooldown_s since the
//      last scale-down. While the wait target is breached, up_cooldown_s does not apply unless
//      breach_skips_up_cooldown is off (CONSERVATIVE), and flip_cooldown_s does not apply when
//      breach_skips_flip_cooldown is on (HYBRID and the others except CONSERVATIVE). Starting
//      agents count as capacity, so demand they cover adds nothing.
//   3. Scale-down needs every used signal present and fresh, a full hold window since the engine
//      started, down_interval_s since the last scale-down, flip_cooldown_s since the last
//      scale-up, and the max recommendation over down_window_s below the pool by more than
//      down_dead_band and down_tolerance * agents. It removes at most
//      max(1, floor(agents * down_step_fraction)) agents. A memory ceiling that fell below the
//      pool skips the window and goes to the ceiling at once. After a drop (the max
//      recommendation over drop_window_s at most drop_fraction of the pool, and no scale-up
//      within down_window_s), the pool goes to that maximum at once.
//
// Dry run changes only the outcome of the events (dry_run): decisions and the engine's history
// are the same as in a real run on the same inputs.
//
// Thread-safe: every method may be called from any thread. One mutex guards the state; the
// notification callback runs after the mutex is released, on the calling thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config.h"
#include "core/status.h"
#include "scaling/decision.h"
#include "scaling/signals.h"
#include "scaling/strategy.h"

namespace ollamaflow::scaling {

// get_scaling_status(): what the engine runs and what it decided last.
struct ScalingStatus {
  Strategy strategy = Strategy::kHybrid;
  std::string profile;  // empty when none was applied
  int active_agents = 0;
  int min_agents = 0;
  int max_agents = 0;
  double check_interval_s = 0;
  bool dry_run = false;
  uint64_t evaluations = 0;
  std::optional<Decision> last_decision;
  std::vector<ScalingEvent> recent_events;  // the latest five, oldest first

  nlohmann::json to_json() const;
};

class ScalingEngine {
 public:
  using NotificationCallback = std::function<void(const ScalingEvent&)>;

  static constexpr size_t kMaxEvents = 256;
  static constexpr size_t kMaxDecisions = 64;

  // Builds an engine for config.strategy (after config.profile, when set) and config.dry_run.
  // Returns kInvalidArgument naming the unknown strategy or profile or the invalid parameter.
  static Result<std::unique_ptr<ScalingEngine>> create(std::shared_ptr<Clock> clock,
                                                       const Config& config);

  // Evaluates the signals once and returns the decision record. Deterministic given the inputs,
  // the clock and the engine's history (recommendations, last actions).
  Decision evaluate(const EngineInputs& inputs);

  // Books the agent manager's result for the event of `decision_id`. Returns kNotFound for an
  // unknown id (or one that left the bounded history) and kConflict for a dry-run event.
  Status record_outcome(uint64_t decision_id, bool success, Duration duration);

  ScalingStatus get_scaling_status() const;

  // Returns every signal's proposal and the combined size for the latest inputs, without
  // windows or cooldowns and without changing any state. kNotFound before the first evaluate().
  Result<Recommendation> get_recommendations() const;

  // Switches the strategy at run time; windows and cooldowns keep their history.
  Status update_strategy(Strategy strategy);
  Status update_strategy(std::string_view name);
  // Applies an environment profile (development, testing, production) to the configuration
  // and switches to its strategy.
  Status use_profile(std::string_view name);
  // Replaces the parameter set, e.g. with one tuned by the simulator.
  Status set_strategy_params(const StrategyParams& params);
  StrategyParams strategy_params() const;

  // Sets the callback that receives each new event and each recorded outcome.
  void set_callbacks(NotificationCallback notification_callback);

  void set_dry_run(bool dry_run);

  std::vector<ScalingEvent> events() const;
  std::vector<Decision> recent_decisions() const;

 private:
  ScalingEngine(std::shared_ptr<Clock> clock, Config config, StrategyParams params);

  struct Verdict {
    Action action = Action::kNone;
    int to = 0;
    std::string reason;
  };
  struct Record {
    MonoTime at;
    int desired;
  };

  Verdict decide_locked(const Recommendation& rec, MonoTime now) const;
  Verdict decide_shed(const Recommendation& rec, MonoTime now) const;
  Verdict decide_up(const Recommendation& rec, MonoTime now) const;
  Verdict decide_down(const Recommendation& rec, MonoTime now) const;
  // Returns the drop rule's scale-down, or nullopt when the rule does not apply.
  std::optional<Verdict> decide_drop(const Recommendation& rec, MonoTime now,
                                     double observed_s) const;
  std::optional<double> seconds_since(const std::optional<MonoTime>& time, MonoTime now) const;
  int window_min(MonoTime now) const;
  int window_max(MonoTime now, double window_s) const;
  void remember(MonoTime now, int desired);
  ScalingEvent make_event(const Decision& decision) const;

  std::shared_ptr<Clock> clock_;

  mutable std::mutex mutex_;
  // Guarded by mutex_.
  Config config_;
  StrategyParams params_;
  bool dry_run_ = false;
  uint64_t next_id_ = 1;
  uint64_t evaluations_ = 0;
  std::optional<MonoTime> first_evaluation_;
  std::optional<MonoTime> last_up_;
  std::optional<MonoTime> last_down_;  // scale-down or shed
  std::optional<MonoTime> last_shed_;
  std::deque<Record> history_;  // recommendations within the longest window
  std::deque<ScalingEvent> events_;
  std::deque<Decision> decisions_;
  std::optional<EngineInputs> last_inputs_;
  NotificationCallback notify_;
};

}  // namespace ollamaflow::scaling
