#include "model/ggml_type.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace ollamaflow::model {
namespace {

// Block and byte sizes of ggml's block structs (ggml-common.h): a 256-element super-block for
// the K and IQ families, 32 elements for the older quantizations. Ids 31-33 and 36-38 are the
// interleaved Q4_0 and IQ4_NL layouts that older files still carry; they store Q4_0 and IQ4_NL
// blocks.
const std::vector<GgmlType> kTypes = {
    {0, "f32", 1, 4},           {1, "f16", 1, 2},           {2, "q4_0", 32, 18},
    {3, "q4_1", 32, 20},        {6, "q5_0", 32, 22},        {7, "q5_1", 32, 24},
    {8, "q8_0", 32, 34},        {9, "q8_1", 32, 36},        {10, "q2_k", 256, 84},
    {11, "q3_k", 256, 110},     {12, "q4_k", 256, 144},     {13, "q5_k", 256, 176},
    {14, "q6_k", 256, 210},     {15, "q8_k", 256, 292},     {16, "iq2_xxs", 256, 66},
    {17, "iq2_xs", 256, 74},    {18, "iq3_xxs", 256, 98},   {19, "iq1_s", 256, 50},
    {20, "iq4_nl", 32, 18},     {21, "iq3_s", 256, 110},    {22, "iq2_s", 256, 82},
    {23, "iq4_xs", 256, 136},   {24, "i8", 1, 1},           {25, "i16", 1, 2},
    {26, "i32", 1, 4},          {27, "i64", 1, 8},          {28, "f64", 1, 8},
    {29, "iq1_m", 256, 56},     {30, "bf16", 1, 2},         {31, "q4_0_4_4", 32, 18},
    {32, "q4_0_4_8", 32, 18},   {33, "q4_0_8_8", 32, 18},   {34, "tq1_0", 256, 54},
    {35, "tq2_0", 256, 66},     {36, "iq4_nl_4_4", 32, 18}, {37, "iq4_nl_4_8", 32, 18},
    {38, "iq4_nl_8_8", 32, 18}, {39, "mxfp4", 32, 17},
};

constexpr std::string_view kCacheTypes[] = {"f32",  "f16",  "bf16", "q8_0",  "q4_0",
                                            "q4_1", "q5_0", "q5_1", "iq4_nl"};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

const std::vector<GgmlType>& ggml_types() {
  return kTypes;
}

const GgmlType* ggml_type_by_id(uint32_t id) {
  auto it = std::lower_bound(kTypes.begin(), kTypes.end(), id,
                             [](const GgmlType& type, uint32_t key) { return type.id < key; });
  return it != kTypes.end() && it->id == id ? &*it : nullptr;
}

const GgmlType* ggml_type_by_name(std::string_view name) {
  std::string key = lower(name);
  for (const GgmlType& type : kTypes) {
    if (type.name == key)
      return &type;
  }
  return nullptr;
}

std::optional<uint64_t> ggml_row_bytes(const GgmlType& type, uint64_t elements) {
  uint64_t blocks = elements / type.block_size + (elements % type.block_size != 0 ? 1 : 0);
  if (blocks > UINT64_MAX / type.type_size)
    return std::nullopt;
  return blocks * type.type_size;
}

Result<const GgmlType*> parse_cache_type(std::string_view name) {
  std::string key = lower(name);
  for (std::string_view allowed : kCacheTypes) {
    if (key == allowed)
      return ggml_type_by_name(key);
  }
  std::string list;
  for (std::string_view allowed : kCacheTypes) {
    list += (list.empty() ? "" : ", ") + std::string(allowed);
  }
  return Result<const GgmlType*>(
      ErrorCode::kInvalidArgument,
      fmt::format("invalid KV cache type '{}': use one of {}", name, list));
}

bool cache_type_is_quantized(const GgmlType& type) {
  return type.block_size > 1;
}

double bytes_per_element(const GgmlType& type) {
  return static_cast<double>(type.type_size) / static_cast<double>(type.block_size);
}

const GgmlType* smaller_cache_type(const GgmlType& cache_k, const GgmlType& cache_v) {
  const double largest = std::max(bytes_per_element(cache_k), bytes_per_element(cache_v));
  for (const char* name : {"q8_0", "q4_0"}) {
    const GgmlType* candidate = ggml_type_by_name(name);
    if (largest > bytes_per_element(*candidate)) {
      return candidate;
    }
  }
  return nullptr;
}

}  // namespace ollamaflow::model
