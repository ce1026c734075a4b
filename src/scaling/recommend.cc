#include "scaling/recommend.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/count_text.h"

namespace ollamaflow::scaling {
namespace {

bool is_fresh(MonoTime sampled_at, MonoTime now, const StrategyParams& params) {
  return now - sampled_at <= from_seconds(params.stale_after_s);
}

// The fresh parts of the GPU and capacity signals.
struct MemoryView {
  bool gpu_used = false;  // a GPU is monitored and the strategy reads its memory
  bool gpu_fresh = false;
  std::optional<double> fraction;   // fresh memory fraction
  std::optional<int> ceiling;       // fresh slot ceiling
  std::optional<int> server_slots;  // fresh server slot count
  std::string server_source;        // where server_slots came from
  std::optional<int> server_busy;
  std::optional<int> server_queued;
  bool capacity_stale = false;
};

MemoryView view_memory(const EngineInputs& inputs, const StrategyParams& params, MonoTime now) {
  MemoryView view;
  const bool reads_memory = params.size_by_memory || params.memory_limits;
  if (inputs.gpu) {
    view.gpu_used = reads_memory;
    view.gpu_fresh = is_fresh(inputs.gpu->sampled_at, now, params);
    if (view.gpu_fresh) {
      view.fraction = inputs.gpu->memory_fraction();
    }
  }
  if (inputs.capacity) {
    if (is_fresh(inputs.capacity->sampled_at, now, params)) {
      view.ceiling = inputs.capacity->slot_ceiling;
      view.server_slots = inputs.capacity->server_slots;
      view.server_source = inputs.capacity->server_slots_source;
      view.server_busy = inputs.capacity->server_busy_slots;
      view.server_queued = inputs.capacity->server_queued_requests;
    } else {
      view.capacity_stale = true;
    }
  }
  return view;
}

// Applies the protection ladder to `rec`, first matching shed rule wins.
void apply_protection(const EngineInputs& inputs, const StrategyParams& params,
                      const MemoryView& view, Recommendation& rec) {
  if (!inputs.gpu || !view.gpu_fresh) {
    return;
  }
  const int current = rec.current;
  const std::optional<double> temperature = inputs.gpu->temperature_c;
  const std::optional<double> vram = view.fraction;
  SignalProposal proposal{"protection", std::nullopt, false, ""};

  if (temperature && *temperature >= params.temperature_emergency_c) {
    rec.shed_to = std::max(1, current / 2);
    rec.shed_rule = "temperature_emergency";
    proposal.reason = fmt::format("GPU at {:.0f} C >= {:g} C: halve the pool", *temperature,
                                  params.temperature_emergency_c);
  } else if (vram && *vram >= params.vram_emergency) {
    rec.shed_to = std::max(1, current - 2);
    rec.shed_rule = "vram_emergency";
    proposal.reason = fmt::format("VRAM {:.1f}% >= {:g}%: remove 2 agents", *vram * 100,
                                  params.vram_emergency * 100);
  } else if (temperature && *temperature >= params.temperature_critical_c) {
    rec.shed_to = std::max(params.min_agents, current - 1);
    rec.shed_rule = "temperature_critical";
    proposal.reason = fmt::format("GPU at {:.0f} C >= {:g} C: remove 1 agent", *temperature,
                                  params.temperature_critical_c);
  } else if (vram && *vram >= params.vram_critical) {
    rec.shed_rule = "vram_critical";
    proposal.reason = fmt::format("VRAM {:.1f}% >= {:g}%: no more agents", *vram * 100,
                                  params.vram_critical * 100);
  } else if (temperature && *temperature >= params.temperature_warning_c) {
    rec.shed_rule = "temperature_warning";
    proposal.reason = fmt::format("GPU at {:.0f} C >= {:g} C: no more agents", *temperature,
                                  params.temperature_warning_c);
  } else {
    return;
  }
  rec.hold_up = true;
  if (rec.shed_to && *rec.shed_to >= current) {
    rec.shed_to.reset();  // already at the floor: nothing to shed, only hold
  }
  proposal.agents = rec.shed_to.value_or(current);
  rec.proposals.push_back(std::move(proposal));
}

std::optional<int> workload_proposal(const EngineInputs& inputs, const StrategyParams& params,
                                     MonoTime now, Recommendation& rec) {
  SignalProposal proposal{"workload", std::nullopt, false, ""};
  if (!is_fresh(inputs.workload.sampled_at, now, params)) {
    // NOTE: no fallback size applies after a long loss, so the pool keeps its size until the
    // signal is fresh again.
    proposal.missing = true;  // every strategy reads it: GPU_MEMORY_BASED for whether work exists
    proposal.reason = fmt::format("workload signal older than {:g} s", params.stale_after_s);
  } else {
    const workload::WorkloadSizing sizing = workload::size_workload(inputs.workload, params.sizing);
    proposal.agents = sizing.desired;
    proposal.reason = sizing.reason;
    rec.wait_breached = sizing.wait_breached;
  }
  if (proposal.missing) {
    rec.missing.push_back("workload");
  }
  std::optional<int> agents = proposal.agents;
  rec.proposals.push_back(std::move(proposal));
  return agents;
}

// Computes the memory signal's own proposal, which sizes the pool in GPU_MEMORY_BASED. It grows
// to the ceiling while work exists and stops at the up threshold. With no task queued or running
// and memory use at or below the down threshold, it returns to min_agents.
std::optional<int> memory_proposal(const EngineInputs& inputs, const StrategyParams& params,
                                   const MemoryView& view, bool workload_fresh,
                                   Recommendation& rec) {
  if (!inputs.gpu) {
    return std::nullopt;
  }
  SignalProposal proposal{"gpu_memory", std::nullopt, false, ""};
  const int current = rec.current;
  const int ceiling = view.ceiling.value_or(params.max_agents);
  const int queued = inputs.workload.queue_length;
  const bool has_work = queued > 0 || inputs.workload.busy_agents > 0;
  if (!view.fraction) {
    proposal.missing = view.gpu_used;
    proposal.reason = view.gpu_fresh
                          ? "GPU memory unknown"
                          : fmt::format("GPU signal older than {:g} s", params.stale_after_s);
  } else if (*view.fraction >= params.scale_up_threshold) {
    proposal.agents = std::min(current, ceiling);
    proposal.reason = fmt::format("memory {:.1f}% >= {:g}%: no more agents", *view.fraction * 100,
                                  params.scale_up_threshold * 100);
  } else if (!workload_fresh) {
    proposal.agents = current;  // whether work exists is unknown
    proposal.reason = fmt::format("memory {:.1f}%; workload unknown: keep", *view.fraction * 100);
  } else if (has_work) {
    proposal.agents = ceiling;
    proposal.reason =
        fmt::format("memory {:.1f}% with {} busy and {} queued: grow to ceiling {}",
                    *view.fraction * 100, inputs.workload.busy_agents, queued, ceiling);
  } else if (*view.fraction <= params.scale_down_threshold) {
    proposal.agents = params.min_agents;
    proposal.reason = fmt::format("memory {:.1f}% <= {:g}% and no work: min_agents",
                                  *view.fraction * 100, params.scale_down_threshold * 100);
  } else {
    proposal.agents = std::min(current, ceiling);
    proposal.reason = fmt::format("memory {:.1f}% between thresholds: keep", *view.fraction * 100);
  }
  if (proposal.missing) {
    rec.missing.push_back("gpu_memory");
  }
  std::optional<int> agents = proposal.agents;
  rec.proposals.push_back(std::move(proposal));
  return agents;
}

// Returns e.g. "the server's 4 slots (llama-server at URL)".
std::string server_slots_text(const MemoryView& view) {
  std::string text = "the server's " + count_text(view.server_slots.value_or(0), "slot");
  if (!view.server_source.empty()) {
    text += " (" + view.server_source + ")";
  }
  return text;
}

// Returns ", 3 busy, 2 queued inside it" for what the server reports; empty when it reports
// neither.
std::string server_load_text(const MemoryView& view) {
  std::string text;
  if (view.server_busy) {
    text += fmt::format(", {} busy", *view.server_busy);
  }
  if (view.server_queued) {
    text += fmt::format(", {} queued inside it", *view.server_queued);
  }
  return text;
}

void record_capacity(const EngineInputs& inputs, const StrategyParams& params,
                     const MemoryView& view, Recommendation& rec) {
  if (!inputs.capacity) {
    return;
  }
  const bool used = params.memory_limits || params.server_slot_cap || params.size_by_memory;
  if (view.capacity_stale && used) {
    rec.missing.push_back("capacity");
  }
  SignalProposal proposal{"server_slots", view.server_slots, view.capacity_stale && used, ""};
  if (view.capacity_stale) {
    proposal.reason = fmt::format("capacity signal older than {:g} s", params.stale_after_s);
  } else if (view.server_slots) {
    proposal.reason = fmt::format(
        "server runs {}{}{}; ceiling {} ({})", count_text(*view.server_slots, "slot"),
        view.server_source.empty() ? "" : " (" + view.server_source + ")", server_load_text(view),
        view.ceiling ? std::to_string(*view.ceiling) : "unknown", inputs.capacity->reason);
  } else {
    proposal.reason = fmt::format("server slots unknown; ceiling {} ({})",
                                  view.ceiling ? std::to_string(*view.ceiling) : "unknown",
                                  inputs.capacity->reason);
  }
  rec.proposals.push_back(std::move(proposal));
}

// Lowers `rec.desired` to `cap` when it is above, naming `limit`.
void cap_at(Recommendation& rec, int cap, const char* limit) {
  rec.upper_bound = std::min(rec.upper_bound, cap);
  if (rec.desired > cap) {
    rec.desired = cap;
    rec.limit = limit;
  }
}

void apply_limits(const StrategyParams& params, const MemoryView& view, Recommendation& rec) {
  rec.upper_bound = params.max_agents;
  if (params.server_slot_cap && view.server_slots) {
    cap_at(rec, std::max(1, *view.server_slots), "server_slots");
  }
  cap_at(rec, params.max_agents, "max_agents");
  if (rec.desired < params.min_agents) {
    rec.desired = params.min_agents;
    rec.limit = "min_agents";
  }
  rec.upper_bound = std::max(rec.upper_bound, rec.desired);
  if (params.memory_limits && view.ceiling) {
    // Memory wins over min_agents: agents whose slots do not fit would only fail or wait.
    const int ceiling = std::max(std::min(1, params.min_agents), *view.ceiling);
    cap_at(rec, ceiling, "gpu_ceiling");
    rec.ceiling_bound = ceiling < rec.current;
  }
  if (params.memory_limits && view.fraction && *view.fraction >= params.scale_up_threshold) {
    cap_at(rec, rec.current, "gpu_memory_high");
  }
  if (rec.hold_up) {
    cap_at(rec, rec.current, rec.shed_rule.c_str());
  }
}

// Returns "desired D of C (limit L)", the sizing signal's own reason, and what the server slots
// and missing signals add, so that an event's reason alone explains the count.
std::string summarize(const Recommendation& rec, const StrategyParams& params,
                      const MemoryView& view) {
  std::string reason =
      fmt::format("desired {} of {} (limit {})", rec.desired, rec.current, rec.limit);
  const std::string sizing_signal = params.size_by_memory ? "gpu_memory" : "workload";
  for (const SignalProposal& proposal : rec.proposals) {
    if (proposal.signal == sizing_signal && !proposal.reason.empty()) {
      reason += fmt::format("; {}: {}", sizing_signal, proposal.reason);
    }
  }
  if (rec.limit == "server_slots") {
    reason += fmt::format("; {}: more agents would only queue inside the server",
                          server_slots_text(view));
  } else if (view.server_slots && rec.desired > *view.server_slots) {
    reason +=
        fmt::format("; {} beyond {} only queue inside the server",
                    count_text(rec.desired - *view.server_slots, "agent"), server_slots_text(view));
  }
  if (!rec.missing.empty()) {
    reason += "; missing:";
    for (const std::string& name : rec.missing) {
      reason += " " + name;
    }
  }
  return reason;
}

}  // namespace

Recommendation recommend(const EngineInputs& inputs, const StrategyParams& params, MonoTime now) {
  Recommendation rec;
  rec.current = inputs.agents;
  const MemoryView view = view_memory(inputs, params, now);

  const std::optional<int> by_workload = workload_proposal(inputs, params, now, rec);
  const bool workload_fresh = is_fresh(inputs.workload.sampled_at, now, params);
  const std::optional<int> by_memory = memory_proposal(inputs, params, view, workload_fresh, rec);
  record_capacity(inputs, params, view, rec);
  apply_protection(inputs, params, view, rec);

  const std::optional<int> sized = params.size_by_memory ? by_memory : by_workload;
  rec.proposed = sized.value_or(rec.current);
  rec.desired = rec.proposed;
  if (!sized) {
    rec.limit = "no_signal";
  }
  apply_limits(params, view, rec);
  rec.reason = summarize(rec, params, view);
  return rec;
}

}  // namespace ollamaflow::scaling
