// Bounded, buffered reading of a GGUF image, used only by the GGUF reader. Every read checks the
// bytes left first, and every error names the file and the byte offset.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ollamaflow::model {

// Random-access bytes: a file or a memory image.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Copies up to `length` bytes at `offset` into `out`; returns the count copied.
  virtual Result<size_t> read_at(uint64_t offset, char* out, size_t length) = 0;
  // Returns all bytes when they are in memory, so that reads need no copy into a buffer.
  virtual const char* data() const { return nullptr; }
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  Result<size_t> read_at(uint64_t offset, char* out, size_t length) override;
  const char* data() const override { return bytes_.data(); }

 private:
  std::string_view bytes_;
};

class FileSource final : public ByteSource {
 public:
  // Errors: kNotFound when the file is missing, kIoError when it cannot be opened or sized.
  static Result<std::unique_ptr<FileSource>> open(const std::filesystem::path& path);
  ~FileSource() override;
  uint64_t size() const override { return size_; }
  Result<size_t> read_at(uint64_t offset, char* out, size_t length) override;

 private:
  FileSource(int fd, uint64_t size, std::string name)
      : fd_(fd), size_(size), name_(std::move(name)) {}
  int fd_;
  uint64_t size_;
  std::string name_;
};

class Cursor {
 public:
  Cursor(ByteSource& source, std::string name);

  const std::string& name() const { return name_; }
  uint64_t offset() const { return position_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - position_; }
  void set_big_endian(bool big_endian) { swap_ = big_endian; }

  // Reads `length` bytes; kCorrupt naming `what` when fewer remain.
  Status read(void* out, uint64_t length, std::string_view what);
  // Moves past `length` bytes without reading them.
  Status skip(uint64_t length, std::string_view what);

  Result<uint32_t> u32(std::string_view what);
  Result<uint64_t> u64(std::string_view what);
  // Reads an unsigned or signed integer of 1, 2, 4 or 8 bytes.
  Result<uint64_t> unsigned_of_size(uint64_t bytes, std::string_view what);
  Result<int64_t> signed_of_size(uint64_t bytes, std::string_view what);
  Result<float> f32(std::string_view what);
  Result<double> f64(std::string_view what);
  // Reads a u64 length and that many bytes; the length may not exceed `max_length`.
  Result<std::string> string(uint64_t max_length, std::string_view what);
  Status skip_string(uint64_t max_length, std::string_view what);
  // Skips `count` strings: the fast path for token lists of 100,000 entries and more.
  Status skip_strings(uint64_t count, uint64_t max_length, std::string_view what);

  // Returns kCorrupt "NAME: offset N: message" at the current or the given offset.
  Status error(std::string_view message) const { return error_at(position_, message); }
  Status error_at(uint64_t offset, std::string_view message) const;

 private:
  Status fill(uint64_t length, std::string_view what);
  // Returns a pointer to the next `length` bytes (at most the buffer size), refilling the
  // buffer when needed; nullptr when the source fails to read.
  const char* window(uint64_t length);
  Result<uint64_t> string_length(uint64_t max_length, std::string_view what);

  ByteSource& source_;
  std::string name_;
  uint64_t size_;
  uint64_t position_ = 0;
  bool swap_ = false;
  std::vector<char> buffer_;
  uint64_t buffer_start_ = 0;  // file offset of buffer_[0]
  uint64_t buffer_length_ = 0;
};

}  // namespace ollamaflow::model
