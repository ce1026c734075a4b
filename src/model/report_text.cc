#include "model/report_text.h"

#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/terminal_text.h"
#include "gpu/text_table.h"

namespace ollamaflow::model {

using gpu::format_mib;

namespace {

// Returns the DETAIL of the device reserve row for a device_kind_name().
std::string reserve_detail(const std::string& device_kind) {
  if (device_kind == "cpu") {
    return "none in host memory";
  }
  const std::string runtime = device_kind == "cuda"    ? "CUDA"
                              : device_kind == "rocm"  ? "ROCm"
                              : device_kind == "metal" ? "Metal"
                                                       : "GPU";
  return runtime + " runtime minimum per device";
}

// Returns the first line of a model's part of the plan: whether it fits, and for a requested
// slot count that does not, the count that the breakdown describes instead.
std::string fit_line(const ModelPlacement& m) {
  if (m.fits) {
    return fmt::format("{}: fits\n", escape_control_characters(m.model));
  }
  if (m.server_slots && m.recommended_slots) {
    return fmt::format(
        "{}: does not fit with {} slot(s), {} slot(s) fit; the memory and settings below are for "
        "{} slot(s)\n",
        escape_control_characters(m.model), *m.server_slots, *m.recommended_slots,
        *m.recommended_slots);
  }
  return fmt::format("{}: does not fit\n", escape_control_characters(m.model));
}

}  // namespace

std::string describe_layout(const ModelSpec& spec) {
  std::vector<std::string> known;
  std::vector<std::string> unknown;
  if (spec.table && !spec.table->parameters.empty()) {
    known.push_back(spec.table->parameters + " parameters");
  }
  if (spec.architecture.empty()) {
    unknown.push_back("architecture");
  } else {
    known.push_back(spec.architecture);
  }
  if (spec.block_count == 0) {
    unknown.push_back("layer count");
  } else {
    known.push_back(fmt::format("{} layer{}", spec.block_count, spec.block_count == 1 ? "" : "s"));
  }
  std::string text = fmt::format("{}", fmt::join(known, ", "));
  if (!unknown.empty()) {
    text += fmt::format("{}{} not known", text.empty() ? "" : "; ", fmt::join(unknown, " and "));
  }
  return text;
}

std::string render_estimate(const MemoryEstimate& e) {
  gpu::TextTable table({"PART", "MEMORY", "DETAIL"});
  table.add_row({"weights", format_mib(e.weights), e.from_table ? e.table_source : "tensor sizes"});
  table.add_row({"KV cache", format_mib(e.kv_cache),
                 fmt::format("{} slot(s) x {} = {} tokens, K {} / V {}, {} per slot", e.parallel,
                             e.ctx_per_slot, uint64_t{e.parallel} * e.ctx_per_slot, e.cache_type_k,
                             e.cache_type_v, format_mib(e.kv_per_slot))});
  if (e.recurrent_state > 0) {
    table.add_row({"recurrent state", format_mib(e.recurrent_state), "fixed, not per slot"});
  }
  table.add_row({"compute graph", format_mib(e.graph), e.graph_formula + " formula"});
  table.add_row({"device reserve", format_mib(e.reserve), reserve_detail(e.device_kind)});
  table.add_row({"buffer", format_mib(e.buffer), "memory_buffer_mb"});
  table.add_row({"safety margin", format_mib(e.safety_margin), "memory_safety_margin"});
  table.add_row({"total", format_mib(e.total_bytes()), "estimate"});
  std::string out = table.render();
  for (const std::string& note : e.notes)
    out += "  note: " + escape_control_characters(note) + "\n";
  return out;
}

// Returns the Ollama settings of the estimate's cache types, for the settings rows. Ollama has one
// type for K and V (OLLAMA_KV_CACHE_TYPE), and a quantized cache needs flash attention. Empty
// for the default f16 cache.
std::string ollama_cache_settings(const MemoryEstimate& e) {
  if (e.cache_type_k == "f16" && e.cache_type_v == "f16") {
    return "";
  }
  std::string text =
      fmt::format(" OLLAMA_KV_CACHE_TYPE={} OLLAMA_FLASH_ATTENTION=1", e.cache_type_k);
  if (e.cache_type_k != e.cache_type_v) {
    text += fmt::format(" (Ollama sets one type for K and V, so V is {} too)", e.cache_type_k);
  }
  return text;
}

// Returns llama-server's flags for the estimate's cache types: -ctk and -ctv, and -fa on for a
// quantized V cache. Empty for the default f16 cache.
std::string llama_cache_flags(const MemoryEstimate& e) {
  if (e.cache_type_k == "f16" && e.cache_type_v == "f16") {
    return "";
  }
  std::string text = fmt::format(" -ctk {} -ctv {}", e.cache_type_k, e.cache_type_v);
  if (e.cache_type_v != "f16" && e.cache_type_v != "f32" && e.cache_type_v != "bf16") {
    text += " -fa on";
  }
  return text;
}

std::string render_plan(const CapacityPlan& plan) {
  std::string out;
  for (const ModelPlacement& m : plan.models) {
    out += fit_line(m);
    out += render_estimate(m.estimate);
    std::string devices;
    for (const std::string& id : m.devices)
      devices += (devices.empty() ? "" : ", ") + id;
    gpu::TextTable summary({"", ""});
    summary.add_row({"devices", devices.empty() ? "none" : devices});
    summary.add_row({"slots that fit", std::to_string(m.memory_slots)});
    summary.add_row({"agent ceiling", std::to_string(m.agent_ceiling)});
    summary.add_row({"limited by", m.limiting_resource.empty() ? "-" : m.limiting_resource});
    summary.add_row({"reason", m.reason});
    if (m.recommended_slots) {
      // With a requested slot count (--parallel) that fits, the settings are for that count, and
      // one more row gives the max that fits.
      const uint32_t slots = *m.recommended_slots;
      const uint64_t ctx = m.estimate.ctx_per_slot;
      const std::string ollama_cache = ollama_cache_settings(m.estimate);
      const std::string llama_cache = llama_cache_flags(m.estimate);
      summary.add_row({"Ollama", fmt::format("OLLAMA_NUM_PARALLEL={}{} with num_ctx {}", slots,
                                             ollama_cache, ctx)});
      summary.add_row({"llama-server",
                       fmt::format("-np {} -c {}{}", slots, uint64_t{slots} * ctx, llama_cache)});
      if (slots != m.memory_slots) {
        summary.add_row(
            {"max that fits", fmt::format("OLLAMA_NUM_PARALLEL={}, llama-server -np {} "
                                          "-c {}{}",
                                          m.memory_slots, m.memory_slots,
                                          uint64_t{m.memory_slots} * ctx, llama_cache)});
      }
    }
    out += "\n" + summary.render().substr(1) + "\n";
  }
  gpu::TextTable devices({"DEVICE", "NAME", "FREE", "HELD BACK", "PLANNED", "REMAINING", "NOTE"});
  for (const DeviceUse& d : plan.devices) {
    devices.add_row({d.id, d.name, format_mib(d.free_bytes), format_mib(d.held_back),
                     format_mib(d.planned), format_mib(d.remaining), d.usable ? "" : d.reason});
  }
  out += devices.render();
  out += fmt::format("\nAgent ceiling: {} (limited by {}); all figures are estimates.\n",
                     plan.agent_ceiling ? std::to_string(*plan.agent_ceiling) : "unknown",
                     plan.limiting_resource.empty() ? "-" : plan.limiting_resource);
  for (const std::string& note : plan.notes)
    out += "note: " + escape_control_characters(note) + "\n";
  return out;
}

}  // namespace ollamaflow::model
