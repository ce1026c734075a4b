// A reader for the header and tensor table of GGUF files, versions 2 and 3, little- and
// big-endian. It never reads tensor data: a multi-gigabyte model costs a few reads of its first
// megabytes and one size lookup.
//
// Every count and length is checked against the bytes left in the file and against fixed limits
// before anything is allocated. A truncated, corrupt or hostile file therefore yields kCorrupt
// (or kIoError, kNotFound) with the message "FILE: offset N: what was wrong", and no crash or
// huge allocation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"

namespace ollamaflow::model {

enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// Returns the type's name as the GGUF specification writes it, e.g. "uint32".
std::string_view gguf_type_name(GgufType type);

struct GgufValue;

struct GgufArray {
  GgufType element_type = GgufType::kUint8;
  uint64_t length = 0;           // the element count the file declares
  std::vector<GgufValue> items;  // the first min(length, GgufReadOptions::max_array_items)
};

struct GgufValue {
  GgufType type = GgufType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> data;

  // Returns an unsigned integer value, or a signed one that is not negative.
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  // Returns any integer or floating-point value as a double.
  std::optional<double> as_number() const;
  const std::string* as_string() const;
  const GgufArray* as_array() const;
};

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type_id = 0;  // ggml type id
  uint64_t offset = 0;   // from the start of the data section
  uint64_t elements = 0;
  uint64_t size_bytes = 0;
};

struct GgufFile {
  std::string path;  // the file name used in messages
  uint32_t version = 0;
  bool big_endian = false;
  uint64_t file_size = 0;
  uint32_t alignment = 32;
  uint64_t data_offset = 0;                                   // where tensor data starts
  std::vector<std::pair<std::string, GgufValue>> metadata;    // in file order
  std::map<std::string, size_t, std::less<>> metadata_index;  // key -> position in metadata
  std::vector<GgufTensor> tensors;

  const GgufValue* find(std::string_view key) const;
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  // Returns the declared length of an array value, or nullopt when `key` is no array.
  std::optional<uint64_t> array_length(std::string_view key) const;
  // Returns the sum of all tensor sizes.
  uint64_t tensor_bytes() const;
};

struct GgufReadOptions {
  // Array elements kept per value. Per-layer arrays (at most a few hundred entries) are kept;
  // token lists and merges only keep their first entries and their length.
  uint64_t max_array_items = 4096;
};

// Limits that no real model reaches; a file beyond them is treated as corrupt.
constexpr uint64_t kGgufMaxTensors = 1u << 20;
constexpr uint64_t kGgufMaxMetadata = 1u << 20;
constexpr uint64_t kGgufMaxKeyLength = 65535;
constexpr uint64_t kGgufMaxStringLength = 64ull << 20;
constexpr uint64_t kGgufMaxTensorNameLength = 63;  // ggml's GGML_MAX_NAME minus the terminator
constexpr uint32_t kGgufMaxDims = 4;
constexpr int kGgufMaxArrayDepth = 4;

// Reads the header and tensor table of the file at `path`. Errors: kNotFound, kIoError, or
// kCorrupt with the file name and byte offset.
Result<GgufFile> read_gguf_file(const std::filesystem::path& path,
                                const GgufReadOptions& options = {});

// Parses a GGUF image held in memory; `name` stands for the file in messages.
Result<GgufFile> parse_gguf(std::string_view bytes, const std::string& name,
                            const GgufReadOptions& options = {});

}  // namespace ollamaflow::model
