#include "model/gguf_cursor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ollamaflow::model {
namespace {

// Large enough that a 150,000-token vocabulary takes a handful of reads.
constexpr size_t kBufferSize = 256 * 1024;

template <typename T>
T byte_swap(T value) {
  if constexpr (sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(value)));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(value)));
  } else if constexpr (sizeof(T) == 8) {
    return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(value)));
  } else {
    return value;
  }
}

}  // namespace

Result<size_t> MemorySource::read_at(uint64_t offset, char* out, size_t length) {
  if (offset >= bytes_.size())
    return size_t{0};
  size_t count = std::min<uint64_t>(length, bytes_.size() - offset);
  std::memcpy(out, bytes_.data() + offset, count);
  return count;
}

Result<std::unique_ptr<FileSource>> FileSource::open(const std::filesystem::path& path) {
  using Opened = std::unique_ptr<FileSource>;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    ErrorCode code = error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError;
    return Result<Opened>(code,
                          fmt::format("{}: cannot open: {}", path.string(), std::strerror(error)));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    int error = errno;
    ::close(fd);
    return Result<Opened>(ErrorCode::kIoError,
                          fmt::format("{}: not a regular file{}", path.string(),
                                      error ? std::string(": ") + std::strerror(error) : ""));
  }
  return Opened(new FileSource(fd, static_cast<uint64_t>(info.st_size), path.string()));
}

FileSource::~FileSource() {
  ::close(fd_);
}

Result<size_t> FileSource::read_at(uint64_t offset, char* out, size_t length) {
  while (true) {
    ssize_t n = ::pread(fd_, out, length, static_cast<off_t>(offset));
    if (n >= 0)
      return static_cast<size_t>(n);
    if (errno == EINTR)
      continue;
    return Result<size_t>(ErrorCode::kIoError, fmt::format("{}: read failed at offset {}: {}",
                                                           name_, offset, std::strerror(errno)));
  }
}

Cursor::Cursor(ByteSource& source, std::string name)
    : source_(source), name_(std::move(name)), size_(source.size()) {}

Status Cursor::error_at(uint64_t offset, std::string_view message) const {
  return {ErrorCode::kCorrupt, fmt::format("{}: offset {}: {}", name_, offset, message)};
}

Status Cursor::fill(uint64_t length, std::string_view what) {
  if (length > remaining()) {
    return error(
        fmt::format("the file ends while reading {}: {} bytes needed, {} left; the file "
                    "is truncated or not a GGUF model",
                    what, length, remaining()));
  }
  return Status::ok();
}

Status Cursor::read(void* out, uint64_t length, std::string_view what) {
  if (Status s = fill(length, what); !s)
    return s;
  char* target = static_cast<char*>(out);
  if (const char* bytes = source_.data()) {
    std::memcpy(target, bytes + position_, length);
    position_ += length;
    return Status::ok();
  }
  while (length > 0) {
    bool buffered = position_ >= buffer_start_ && position_ < buffer_start_ + buffer_length_;
    if (!buffered) {
      if (buffer_.empty())
        buffer_.resize(std::min<uint64_t>(kBufferSize, size_));
      Result<size_t> count = source_.read_at(position_, buffer_.data(), buffer_.size());
      if (!count)
        return count.status();
      if (*count == 0)
        return error(fmt::format("the file shrank while reading {}", what));
      buffer_start_ = position_;
      buffer_length_ = *count;
    }
    uint64_t available = buffer_start_ + buffer_length_ - position_;
    uint64_t take = std::min(available, length);
    std::memcpy(target, buffer_.data() + (position_ - buffer_start_), take);
    target += take;
    position_ += take;
    length -= take;
  }
  return Status::ok();
}

Status Cursor::skip(uint64_t length, std::string_view what) {
  if (Status s = fill(length, what); !s)
    return s;
  position_ += length;
  return Status::ok();
}

Result<uint64_t> Cursor::unsigned_of_size(uint64_t bytes, std::string_view what) {
  switch (bytes) {
    case 1: {
      uint8_t v = 0;
      if (Status s = read(&v, 1, what); !s)
        return s;
      return uint64_t{v};
    }
    case 2: {
      uint16_t v = 0;
      if (Status s = read(&v, 2, what); !s)
        return s;
      return uint64_t{swap_ ? byte_swap(v) : v};
    }
    case 4: {
      uint32_t v = 0;
      if (Status s = read(&v, 4, what); !s)
        return s;
      return uint64_t{swap_ ? byte_swap(v) : v};
    }
    default: {
      uint64_t v = 0;
      if (Status s = read(&v, 8, what); !s)
        return s;
      return swap_ ? byte_swap(v) : v;
    }
  }
}

Result<int64_t> Cursor::signed_of_size(uint64_t bytes, std::string_view what) {
  Result<uint64_t> raw = unsigned_of_size(bytes, what);
  if (!raw)
    return raw.status();
  switch (bytes) {
    case 1:
      return int64_t{static_cast<int8_t>(*raw)};
    case 2:
      return int64_t{static_cast<int16_t>(*raw)};
    case 4:
      return int64_t{static_cast<int32_t>(*raw)};
    default:
      return static_cast<int64_t>(*raw);
  }
}

Result<uint32_t> Cursor::u32(std::string_view what) {
  Result<uint64_t> v = unsigned_of_size(4, what);
  if (!v)
    return v.status();
  return static_cast<uint32_t>(*v);
}

Result<uint64_t> Cursor::u64(std::string_view what) {
  return unsigned_of_size(8, what);
}

Result<float> Cursor::f32(std::string_view what) {
  Result<uint64_t> bits = unsigned_of_size(4, what);
  if (!bits)
    return bits.status();
  uint32_t raw = static_cast<uint32_t>(*bits);
  float value = 0;
  std::memcpy(&value, &raw, sizeof(value));
  return value;
}

Result<double> Cursor::f64(std::string_view what) {
  Result<uint64_t> bits = unsigned_of_size(8, what);
  if (!bits)
    return bits.status();
  double value = 0;
  uint64_t raw = *bits;
  std::memcpy(&value, &raw, sizeof(value));
  return value;
}

Result<uint64_t> Cursor::string_length(uint64_t max_length, std::string_view what) {
  uint64_t at = position_;
  Result<uint64_t> length = u64(what);
  if (!length)
    return length.status();
  if (*length > max_length) {
    return error_at(at,
                    fmt::format("{} is {} bytes long; the limit is {}", what, *length, max_length));
  }
  if (*length > remaining()) {
    return error_at(at, fmt::format("{} is {} bytes long but only {} bytes remain; the file is "
                                    "truncated or corrupt",
                                    what, *length, remaining()));
  }
  return length;
}

Result<std::string> Cursor::string(uint64_t max_length, std::string_view what) {
  Result<uint64_t> length = string_length(max_length, what);
  if (!length)
    return length.status();
  std::string text(*length, '\0');
  if (Status s = read(text.data(), *length, what); !s)
    return s;
  return text;
}

const char* Cursor::window(uint64_t length) {
  if (const char* bytes = source_.data())
    return bytes + position_;
  bool inside = position_ >= buffer_start_ && position_ + length <= buffer_start_ + buffer_length_;
  if (!inside) {
    if (buffer_.empty())
      buffer_.resize(std::min<uint64_t>(kBufferSize, size_));
    Result<size_t> count = source_.read_at(position_, buffer_.data(), buffer_.size());
    if (!count || *count < length)
      return nullptr;
    buffer_start_ = position_;
    buffer_length_ = *count;
  }
  return buffer_.data() + (position_ - buffer_start_);
}

Status Cursor::skip_strings(uint64_t count, uint64_t max_length, std::string_view what) {
  for (uint64_t i = 0; i < count; ++i) {
    if (remaining() < 8)
      return fill(8, what);
    const char* bytes = window(8);
    if (bytes == nullptr)
      return error(fmt::format("reading {} failed", what));
    uint64_t length = 0;
    std::memcpy(&length, bytes, 8);
    if (swap_)
      length = byte_swap(length);
    if (length > max_length || length > remaining() - 8) {
      // The slow path builds the message with the exact cause.
      return skip_string(max_length, what);
    }
    position_ += 8 + length;
  }
  return Status::ok();
}

Status Cursor::skip_string(uint64_t max_length, std::string_view what) {
  Result<uint64_t> length = string_length(max_length, what);
  if (!length)
    return length.status();
  return skip(*length, what);
}

}  // namespace ollamaflow::model
