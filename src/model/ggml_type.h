// ggml tensor types: the storage size of each, as the weights and the KV cache use them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ollamaflow::model {

// One ggml type: `type_size` bytes hold `block_size` elements.
struct GgmlType {
  uint32_t id = 0;
  std::string_view name;  // lower case, as llama.cpp's --cache-type-k takes it: "f16", "q8_0"
  uint32_t block_size = 0;
  uint32_t type_size = 0;
};

// Returns the type with ggml id `id`, or nullptr for ids ggml never assigned or removed without
// a storage format (4, 5).
const GgmlType* ggml_type_by_id(uint32_t id);

// Returns the type named `name` (case-insensitive, "Q4_K" or "q4_k"), or nullptr.
const GgmlType* ggml_type_by_name(std::string_view name);

// Returns every known type, ordered by id.
const std::vector<GgmlType>& ggml_types();

// Returns the bytes of `elements` elements of `type`, rounded up to whole blocks. Returns nullopt
// when the product overflows 64 bits.
std::optional<uint64_t> ggml_row_bytes(const GgmlType& type, uint64_t elements);

// Returns the KV cache type named `name`: one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1,
// iq4_nl (the types llama.cpp's --cache-type-k and --cache-type-v accept). Returns
// kInvalidArgument listing the accepted names otherwise.
Result<const GgmlType*> parse_cache_type(std::string_view name);

// Returns true for cache types that need flash attention when used for V (every quantized one).
bool cache_type_is_quantized(const GgmlType& type);

// Returns the bytes that one element of `type` takes: type_size / block_size (2 for f16).
double bytes_per_element(const GgmlType& type);

// Returns the cache type to suggest for a smaller KV cache than K `cache_k` and V `cache_v`:
// q8_0 while either uses more bytes per element than q8_0, else q4_0 while either uses more
// than q4_0. Returns nullptr when no such type makes the cache smaller.
const GgmlType* smaller_cache_type(const GgmlType& cache_k, const GgmlType& cache_v);

}  // namespace ollamaflow::model
