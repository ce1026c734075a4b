// GGUF layout (ggml docs/gguf.md): magic "GGUF", u32 version, u64 tensor count, u64 metadata
// count, the metadata pairs {string key, u32 type, value}, the tensor infos {string name,
// u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset}, padding to general.alignment, then
// tensor data. Strings are a u64 length and bytes without a terminator.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "model/ggml_type.h"
#include "model/gguf.h"
#include "model/gguf_cursor.h"

namespace ollamaflow::model {
namespace {

// Smallest encodings, which bound the counts by the bytes left. A tensor info with an empty
// name and no dims is 8 + 4 + 4 + 8 bytes, and a metadata pair with an empty key and a u8 value
// is 8 + 4 + 1 bytes.
constexpr uint64_t kMinTensorInfoBytes = 24;
constexpr uint64_t kMinMetadataBytes = 13;

bool valid_type(uint32_t type) {
  return type <= static_cast<uint32_t>(GgufType::kFloat64);
}

// Returns the encoded size of a fixed-size value type, or 0 for strings and arrays.
uint64_t fixed_size(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

// Returns the fewest bytes one element of `type` can occupy.
uint64_t min_size(GgufType type) {
  if (type == GgufType::kString)
    return 8;
  if (type == GgufType::kArray)
    return 12;
  return fixed_size(type);
}

class Parser {
 public:
  Parser(ByteSource& source, std::string name, const GgufReadOptions& options)
      : cursor_(source, std::move(name)), options_(options) {}

  Result<GgufFile> parse();

 private:
  Status parse_header(uint64_t& tensor_count, uint64_t& metadata_count);
  Status parse_metadata(uint64_t count);
  Status parse_alignment();
  Status parse_tensors(uint64_t count);
  Status check_tensor_ranges();
  Result<GgufValue> read_value(GgufType type, int depth, const std::string& key);
  Result<GgufValue> read_scalar(GgufType type, const std::string& key);
  Result<GgufValue> read_array(int depth, const std::string& key);
  Status skip_elements(GgufType type, uint64_t count, int depth, const std::string& key);
  Result<GgufTensor> read_tensor_info(uint64_t index);

  Cursor cursor_;
  const GgufReadOptions& options_;
  GgufFile file_;
};

Status Parser::parse_header(uint64_t& tensor_count, uint64_t& metadata_count) {
  char magic[4] = {};
  if (Status s = cursor_.read(magic, 4, "the magic number"); !s)
    return s;
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    return cursor_.error_at(
        0, fmt::format("not a GGUF file: it starts with bytes {:02x} {:02x} "
                       "{:02x} {:02x}, expected 47 47 55 46 (\"GGUF\")",
                       static_cast<uint8_t>(magic[0]), static_cast<uint8_t>(magic[1]),
                       static_cast<uint8_t>(magic[2]), static_cast<uint8_t>(magic[3])));
  }
  Result<uint32_t> version = cursor_.u32("the version");
  if (!version)
    return version.status();
  uint32_t swapped = __builtin_bswap32(*version);
  if (*version != 2 && *version != 3 && (swapped == 2 || swapped == 3)) {
    cursor_.set_big_endian(true);
    file_.big_endian = true;
    *version = swapped;
  }
  if (*version == 1) {
    return cursor_.error_at(4,
                            "GGUF version 1 is not supported; convert the model again with "
                            "a current llama.cpp");
  }
  if (*version != 2 && *version != 3) {
    return cursor_.error_at(4, fmt::format("unsupported GGUF version {}; this reader handles "
                                           "versions 2 and 3",
                                           *version));
  }
  file_.version = *version;

  Result<uint64_t> tensors = cursor_.u64("the tensor count");
  if (!tensors)
    return tensors.status();
  Result<uint64_t> metadata = cursor_.u64("the metadata count");
  if (!metadata)
    return metadata.status();
  if (*tensors > kGgufMaxTensors || *tensors > cursor_.remaining() / kMinTensorInfoBytes) {
    return cursor_.error_at(8, fmt::format("tensor count {} is impossible for a file of {} bytes",
                                           *tensors, cursor_.size()));
  }
  if (*metadata > kGgufMaxMetadata || *metadata > cursor_.remaining() / kMinMetadataBytes) {
    return cursor_.error_at(16, fmt::format("metadata count {} is impossible for a file of {} "
                                            "bytes",
                                            *metadata, cursor_.size()));
  }
  tensor_count = *tensors;
  metadata_count = *metadata;
  return Status::ok();
}

Result<GgufValue> Parser::read_scalar(GgufType type, const std::string& key) {
  std::string what = fmt::format("the {} value of '{}'", gguf_type_name(type), key);
  GgufValue value;
  value.type = type;
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kUint16:
    case GgufType::kUint32:
    case GgufType::kUint64: {
      Result<uint64_t> v = cursor_.unsigned_of_size(fixed_size(type), what);
      if (!v)
        return v.status();
      value.data = *v;
      return value;
    }
    case GgufType::kInt8:
    case GgufType::kInt16:
    case GgufType::kInt32:
    case GgufType::kInt64: {
      Result<int64_t> v = cursor_.signed_of_size(fixed_size(type), what);
      if (!v)
        return v.status();
      value.data = *v;
      return value;
    }
    case GgufType::kFloat32: {
      Result<float> v = cursor_.f32(what);
      if (!v)
        return v.status();
      value.data = static_cast<double>(*v);
      return value;
    }
    case GgufType::kFloat64: {
      Result<double> v = cursor_.f64(what);
      if (!v)
        return v.status();
      value.data = *v;
      return value;
    }
    case GgufType::kBool: {
      uint64_t at = cursor_.offset();
      Result<uint64_t> v = cursor_.unsigned_of_size(1, what);
      if (!v)
        return v.status();
      if (*v > 1)
        return cursor_.error_at(at, fmt::format("{} is {}, not 0 or 1", what, *v));
      value.data = *v == 1;
      return value;
    }
    case GgufType::kString: {
      Result<std::string> v = cursor_.string(kGgufMaxStringLength, what);
      if (!v)
        return v.status();
      value.data = std::move(v).value();
      return value;
    }
    case GgufType::kArray:
      break;
  }
  return cursor_.error(fmt::format("internal: {} is not a scalar", what));
}

Status Parser::skip_elements(GgufType type, uint64_t count, int depth, const std::string& key) {
  std::string what = fmt::format("the elements of array '{}'", key);
  if (uint64_t size = fixed_size(type); size > 0) {
    return cursor_.skip(count * size, what);
  }
  if (type == GgufType::kString) {
    return cursor_.skip_strings(count, kGgufMaxStringLength, what);
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (type == GgufType::kString) {
      if (Status s = cursor_.skip_string(kGgufMaxStringLength, what); !s)
        return s;
    } else {
      Result<GgufValue> nested = read_array(depth + 1, key);
      if (!nested)
        return nested.status();
    }
  }
  return Status::ok();
}

Result<GgufValue> Parser::read_array(int depth, const std::string& key) {
  uint64_t at = cursor_.offset();
  if (depth >= kGgufMaxArrayDepth) {
    return cursor_.error_at(
        at, fmt::format("array '{}' nests deeper than {} levels", key, kGgufMaxArrayDepth));
  }
  Result<uint32_t> element = cursor_.u32(fmt::format("the element type of array '{}'", key));
  if (!element)
    return element.status();
  if (!valid_type(*element)) {
    return cursor_.error_at(at,
                            fmt::format("array '{}' has unknown element type {}", key, *element));
  }
  auto element_type = static_cast<GgufType>(*element);
  Result<uint64_t> length = cursor_.u64(fmt::format("the length of array '{}'", key));
  if (!length)
    return length.status();
  if (*length > cursor_.remaining() / min_size(element_type)) {
    return cursor_.error_at(
        at + 4, fmt::format("array '{}' declares {} {} elements but only {} "
                            "bytes remain",
                            key, *length, gguf_type_name(element_type), cursor_.remaining()));
  }
  GgufArray array;
  array.element_type = element_type;
  array.length = *length;
  uint64_t kept = std::min(*length, options_.max_array_items);
  array.items.reserve(kept);
  for (uint64_t i = 0; i < kept; ++i) {
    Result<GgufValue> item = read_value(element_type, depth + 1, key);
    if (!item)
      return item.status();
    array.items.push_back(std::move(item).value());
  }
  if (Status s = skip_elements(element_type, *length - kept, depth, key); !s)
    return s;
  GgufValue value;
  value.type = GgufType::kArray;
  value.data = std::move(array);
  return value;
}

Result<GgufValue> Parser::read_value(GgufType type, int depth, const std::string& key) {
  if (type == GgufType::kArray)
    return read_array(depth, key);
  return read_scalar(type, key);
}

Status Parser::parse_metadata(uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t at = cursor_.offset();
    Result<std::string> key =
        cursor_.string(kGgufMaxKeyLength, fmt::format("the key of metadata pair {}", i));
    if (!key)
      return key.status();
    if (file_.metadata_index.count(*key) != 0) {
      return cursor_.error_at(at, fmt::format("metadata key '{}' appears twice", *key));
    }
    uint64_t type_at = cursor_.offset();
    Result<uint32_t> type = cursor_.u32(fmt::format("the value type of '{}'", *key));
    if (!type)
      return type.status();
    if (!valid_type(*type)) {
      return cursor_.error_at(
          type_at, fmt::format("metadata key '{}' has unknown value type {}", *key, *type));
    }
    Result<GgufValue> value = read_value(static_cast<GgufType>(*type), 0, *key);
    if (!value)
      return value.status();
    file_.metadata_index.emplace(*key, file_.metadata.size());
    file_.metadata.emplace_back(std::move(key).value(), std::move(value).value());
  }
  return Status::ok();
}

Status Parser::parse_alignment() {
  const GgufValue* value = file_.find("general.alignment");
  if (value == nullptr)
    return Status::ok();
  std::optional<uint64_t> alignment = value->as_uint();
  if (value->type != GgufType::kUint32 || !alignment || *alignment == 0 ||
      (*alignment & (*alignment - 1)) != 0) {
    return cursor_.error(
        fmt::format("general.alignment must be a uint32 power of two, found {} "
                    "{}",
                    gguf_type_name(value->type), alignment ? std::to_string(*alignment) : "value"));
  }
  file_.alignment = static_cast<uint32_t>(*alignment);
  return Status::ok();
}

Result<GgufTensor> Parser::read_tensor_info(uint64_t index) {
  Result<std::string> name =
      cursor_.string(kGgufMaxTensorNameLength, fmt::format("the name of tensor {}", index));
  if (!name)
    return name.status();
  GgufTensor tensor;
  tensor.name = std::move(name).value();
  uint64_t dims_at = cursor_.offset();
  Result<uint32_t> n_dims = cursor_.u32(fmt::format("the dimension count of '{}'", tensor.name));
  if (!n_dims)
    return n_dims.status();
  if (*n_dims > kGgufMaxDims) {
    return cursor_.error_at(dims_at, fmt::format("tensor '{}' has {} dimensions; ggml allows at "
                                                 "most {}",
                                                 tensor.name, *n_dims, kGgufMaxDims));
  }
  tensor.elements = 1;
  for (uint32_t d = 0; d < *n_dims; ++d) {
    uint64_t dim_at = cursor_.offset();
    Result<uint64_t> dim = cursor_.u64(fmt::format("dimension {} of '{}'", d, tensor.name));
    if (!dim)
      return dim.status();
    if (*dim > static_cast<uint64_t>(INT64_MAX) ||
        (*dim != 0 && tensor.elements > static_cast<uint64_t>(INT64_MAX) / *dim)) {
      return cursor_.error_at(dim_at,
                              fmt::format("tensor '{}' has more elements than 2^63", tensor.name));
    }
    tensor.elements *= *dim;
    tensor.dims.push_back(*dim);
  }
  uint64_t type_at = cursor_.offset();
  Result<uint32_t> type_id = cursor_.u32(fmt::format("the type of '{}'", tensor.name));
  if (!type_id)
    return type_id.status();
  const GgmlType* type = ggml_type_by_id(*type_id);
  if (type == nullptr) {
    return cursor_.error_at(
        type_at, fmt::format("tensor '{}' has unknown ggml type {}", tensor.name, *type_id));
  }
  if (!tensor.dims.empty() && tensor.dims[0] % type->block_size != 0) {
    return cursor_.error_at(type_at,
                            fmt::format("tensor '{}' has {} elements per row, not a "
                                        "multiple of the {} block size {}",
                                        tensor.name, tensor.dims[0], type->name, type->block_size));
  }
  tensor.type_id = *type_id;
  tensor.size_bytes = *ggml_row_bytes(*type, tensor.elements);
  Result<uint64_t> offset = cursor_.u64(fmt::format("the data offset of '{}'", tensor.name));
  if (!offset)
    return offset.status();
  tensor.offset = *offset;
  return tensor;
}

Status Parser::parse_tensors(uint64_t count) {
  std::set<std::string_view> names;
  file_.tensors.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t at = cursor_.offset();
    Result<GgufTensor> tensor = read_tensor_info(i);
    if (!tensor)
      return tensor.status();
    file_.tensors.push_back(std::move(tensor).value());
    if (!names.insert(file_.tensors.back().name).second) {
      return cursor_.error_at(
          at, fmt::format("tensor name '{}' appears twice", file_.tensors.back().name));
    }
  }
  return Status::ok();
}

Status Parser::check_tensor_ranges() {
  uint64_t end_of_table = cursor_.offset();
  uint64_t alignment = file_.alignment;
  file_.data_offset = (end_of_table + alignment - 1) / alignment * alignment;
  if (file_.tensors.empty())
    return Status::ok();
  if (file_.data_offset > file_.file_size) {
    return cursor_.error_at(end_of_table,
                            fmt::format("the tensor data section would start at byte {}, past "
                                        "the end of the file ({} bytes); the file is truncated",
                                        file_.data_offset, file_.file_size));
  }
  uint64_t data_size = file_.file_size - file_.data_offset;
  std::vector<const GgufTensor*> order;
  for (const GgufTensor& tensor : file_.tensors) {
    if (tensor.offset % alignment != 0) {
      return cursor_.error_at(end_of_table,
                              fmt::format("tensor '{}' starts at data offset {}, not a multiple "
                                          "of the alignment {}",
                                          tensor.name, tensor.offset, alignment));
    }
    if (tensor.offset > data_size || tensor.size_bytes > data_size - tensor.offset) {
      return cursor_.error_at(
          file_.data_offset + std::min(tensor.offset, data_size),
          fmt::format("tensor '{}' needs bytes {}..{} of the data section, which holds {} bytes; "
                      "the file is truncated or corrupt",
                      tensor.name, tensor.offset, tensor.offset + tensor.size_bytes, data_size));
    }
    order.push_back(&tensor);
  }
  std::sort(order.begin(), order.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->offset < order[i - 1]->offset + order[i - 1]->size_bytes) {
      return cursor_.error_at(file_.data_offset + order[i]->offset,
                              fmt::format("tensors '{}' and '{}' overlap in the data section",
                                          order[i - 1]->name, order[i]->name));
    }
  }
  return Status::ok();
}

Result<GgufFile> Parser::parse() {
  file_.path = cursor_.name();
  file_.file_size = cursor_.size();
  uint64_t tensor_count = 0;
  uint64_t metadata_count = 0;
  if (Status s = parse_header(tensor_count, metadata_count); !s)
    return s;
  if (Status s = parse_metadata(metadata_count); !s)
    return s;
  if (Status s = parse_alignment(); !s)
    return s;
  if (Status s = parse_tensors(tensor_count); !s)
    return s;
  if (Status s = check_tensor_ranges(); !s)
    return s;
  return std::move(file_);
}

}  // namespace

Result<GgufFile> parse_gguf(std::string_view bytes, const std::string& name,
                            const GgufReadOptions& options) {
  MemorySource source(bytes);
  return Parser(source, name, options).parse();
}

Result<GgufFile> read_gguf_file(const std::filesystem::path& path, const GgufReadOptions& options) {
  Result<std::unique_ptr<FileSource>> source = FileSource::open(path);
  if (!source)
    return source.status();
  return Parser(**source, path.string(), options).parse();
}

}  // namespace ollamaflow::model
