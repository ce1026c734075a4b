// The memory a model server needs for one model with P parallel slots of n tokens each, part by
// part. Every figure is an estimate: the engine's own allocation (llama.cpp's "memory breakdown"
// log, Ollama's /api/ps size_vram) is the measurement to compare against.
//
//   weights        sum of tensor sizes (elements x type size / block size, exact per ggml type)
//   KV cache       per attention layer: tokens x (row(type_k, dk x Hkv) + row(type_v, dv x Hkv)),
//                  tokens = n x P, or for a sliding-window layer min(n, window + batch) x P
//   recurrent      per recurrent layer: a fixed f32 state, not multiplied by P
//   compute graph  llama formula below, or the fallback for other architectures
//   reserve        per device: 457 MiB for CUDA and ROCm, 512 MiB for Metal, 0 for the CPU
//   buffer         memory_buffer_mb from the configuration
//   safety margin  memory_safety_margin x the device's total memory
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/ggml_type.h"
#include "model/model_spec.h"

namespace ollamaflow::model {

enum class DeviceKind { kCuda, kRocm, kMetal, kOtherGpu, kCpu };

// Returns "cuda", "rocm", "metal", "gpu" or "cpu".
std::string device_kind_name(DeviceKind kind);

// Returns the memory a runtime keeps per device beyond the model's buffers (Ollama's
// MinimumMemory: 457 MiB for CUDA and ROCm, 512 MiB for Metal). Other GPUs use the CUDA figure.
uint64_t device_reserve_bytes(DeviceKind kind);

struct EstimateOptions {
  uint64_t ctx_per_slot = 8192;       // tokens per slot: Ollama num_ctx, llama-server -c / -np
  uint32_t parallel = 1;              // slots: OLLAMA_NUM_PARALLEL, llama-server -np
  const GgmlType* cache_k = nullptr;  // null means f16
  const GgmlType* cache_v = nullptr;  // null means f16
  uint32_t batch = 512;               // num_batch (llama.cpp -ub)
  DeviceKind device = DeviceKind::kCuda;
  uint64_t buffer_bytes = 0;
  double safety_margin = 0;  // fraction of device_total_bytes
  std::optional<uint64_t> device_total_bytes;
};

struct MemoryEstimate {
  uint64_t weights = 0;
  uint64_t kv_cache = 0;     // all slots
  uint64_t kv_per_slot = 0;  // the part that one more slot adds
  uint64_t recurrent_state = 0;
  uint64_t graph = 0;
  uint64_t reserve = 0;
  uint64_t buffer = 0;
  uint64_t safety_margin = 0;

  std::string device_kind;  // device_kind_name() of the device that the reserve is for

  uint64_t ctx_per_slot = 0;
  uint64_t total_ctx = 0;  // ctx_per_slot x parallel, llama-server's -c
  uint32_t parallel = 0;
  std::string cache_type_k;
  std::string cache_type_v;
  std::string graph_formula;  // "llama", "fallback" or "built-in table"
  bool from_table = false;
  // Source of the table figures: "built-in table" or "configuration model_requirements". Empty
  // for figures from model metadata.
  std::string table_source;
  std::vector<std::string> notes;

  // Returns the model's own memory: weights, KV cache, recurrent state and graph.
  uint64_t model_bytes() const { return weights + kv_cache + recurrent_state + graph; }
  // Returns model_bytes() plus what the device holds back.
  uint64_t total_bytes() const { return model_bytes() + reserve + buffer + safety_margin; }
};

// Estimates the memory of `spec` under `options`. Returns kInvalidArgument for a zero context
// or slot count.
Result<MemoryEstimate> estimate_memory(const ModelSpec& spec, const EstimateOptions& options);

// Returns the KV cache bytes of all slots: the sum over attention layers.
uint64_t kv_cache_bytes(const ModelSpec& spec, uint64_t ctx_per_slot, uint32_t parallel,
                        const GgmlType& cache_k, const GgmlType& cache_v, uint32_t batch);

// Returns the recurrent state bytes: per recurrent layer
// ((conv_kernel - 1) x (inner + 2 x groups x state) + state x inner) x 4.
uint64_t recurrent_state_bytes(const ModelSpec& spec);

// Returns the compute graph bytes and names the formula used.
uint64_t graph_bytes(const ModelSpec& spec, uint64_t ctx_per_slot, uint32_t parallel,
                     uint32_t batch, uint64_t kv_total, std::string& formula);

}  // namespace ollamaflow::model
