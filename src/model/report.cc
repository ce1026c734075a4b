#include "model/report.h"

namespace ollamaflow::model {

nlohmann::json estimate_to_json(const MemoryEstimate& estimate) {
  return {{"estimate", true},
          {"weights_bytes", estimate.weights},
          {"kv_cache_bytes", estimate.kv_cache},
          {"kv_cache_per_slot_bytes", estimate.kv_per_slot},
          {"recurrent_state_bytes", estimate.recurrent_state},
          {"compute_graph_bytes", estimate.graph},
          {"device_kind", estimate.device_kind},
          {"device_reserve_bytes", estimate.reserve},
          {"buffer_bytes", estimate.buffer},
          {"safety_margin_bytes", estimate.safety_margin},
          {"model_bytes", estimate.model_bytes()},
          {"total_bytes", estimate.total_bytes()},
          {"ctx_per_slot", estimate.ctx_per_slot},
          {"total_ctx", estimate.total_ctx},
          {"parallel", estimate.parallel},
          {"cache_type_k", estimate.cache_type_k},
          {"cache_type_v", estimate.cache_type_v},
          {"graph_formula", estimate.graph_formula},
          {"from_table", estimate.from_table},
          {"notes", estimate.notes}};
}

namespace {

// Returns a JSON number, or null for a figure that is 0 because the source did not give it.
nlohmann::json known_or_null(uint64_t value) {
  return value > 0 ? nlohmann::json(value) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json spec_to_json(const ModelSpec& spec) {
  nlohmann::json json = {
      {"name", spec.name},
      {"architecture",
       spec.architecture.empty() ? nlohmann::json(nullptr) : nlohmann::json(spec.architecture)},
      {"source", spec.source},
      {"file_bytes", known_or_null(spec.file_size)},
      {"weights_bytes", known_or_null(spec.weights_bytes)},
      {"tensor_count", known_or_null(spec.tensor_count)},
      {"parameter_count",
       spec.parameter_count ? nlohmann::json(*spec.parameter_count) : nlohmann::json(nullptr)},
      {"block_count", known_or_null(spec.block_count)},
      {"embedding_length", known_or_null(spec.embedding_length)},
      {"context_length", known_or_null(spec.context_length)},
      {"vocab_size", known_or_null(spec.vocab_size)},
      {"head_count_kv", spec.head_count_kv},
      {"key_length", spec.key_length},
      {"value_length", spec.value_length},
      {"sliding_window", spec.sliding_window},
      {"default_num_ctx",
       spec.default_num_ctx ? nlohmann::json(*spec.default_num_ctx) : nlohmann::json(nullptr)},
      {"from_table", spec.table.has_value()},
      {"notes", spec.notes}};
  // The built-in table gives memory figures and the parameter count, not the attention layout,
  // so its 0 values mean "not known" rather than "none".
  if (spec.table) {
    json["parameters"] = spec.table->parameters.empty() ? nlohmann::json(nullptr)
                                                        : nlohmann::json(spec.table->parameters);
    for (const char* key : {"head_count_kv", "key_length", "value_length", "sliding_window"}) {
      json[key] = nullptr;
    }
  }
  return json;
}

nlohmann::json plan_to_json(const CapacityPlan& plan) {
  nlohmann::json models = nlohmann::json::array();
  for (const ModelPlacement& placement : plan.models) {
    models.push_back(
        {{"model", placement.model},
         {"fits", placement.fits},
         {"devices", placement.devices},
         {"memory_slots", placement.memory_slots},
         {"agent_ceiling", placement.agent_ceiling},
         {"requested_num_parallel", placement.server_slots ? nlohmann::json(*placement.server_slots)
                                                           : nlohmann::json(nullptr)},
         {"recommended_num_parallel", placement.recommended_slots
                                          ? nlohmann::json(*placement.recommended_slots)
                                          : nlohmann::json(nullptr)},
         {"limiting_resource", placement.limiting_resource},
         {"reason", placement.reason},
         {"memory", estimate_to_json(placement.estimate)}});
  }
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceUse& use : plan.devices) {
    devices.push_back(
        {{"id", use.id},
         {"name", use.name},
         {"free_bytes", use.free_bytes ? nlohmann::json(*use.free_bytes) : nlohmann::json(nullptr)},
         {"held_back_bytes", use.held_back},
         {"planned_bytes", use.planned},
         {"remaining_bytes", use.remaining},
         {"usable", use.usable},
         {"reason", use.reason}});
  }
  return {{"models", models},
          {"devices", devices},
          {"agent_ceiling",
           plan.agent_ceiling ? nlohmann::json(*plan.agent_ceiling) : nlohmann::json(nullptr)},
          {"limiting_resource", plan.limiting_resource},
          {"all_fit", plan.all_fit},
          {"notes", plan.notes}};
}

}  // namespace ollamaflow::model
