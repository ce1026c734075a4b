// A validating single-pass reader of JSON text, for hot paths that need a few fields of an
// object and would waste most of their time building a tree.
//
// It follows RFC 8259: strings must be valid UTF-8 without raw control characters, escapes
// must be complete (a high surrogate needs its low one), numbers must match the grammar, and
// nesting is limited to kMaxDepth. Every method returns false at the first error and leaves
// the reader failed. The caller then gets the detail from a full parser, which reports the
// position.
//
// Not thread-safe: one reader per text. The text must outlive the reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ollamaflow::llm {

class JsonScanner {
 public:
  static constexpr int kMaxDepth = 256;

  explicit JsonScanner(std::string_view text)
      : pos_(text.data()), end_(text.data() + text.size()) {}

  // Skips whitespace and returns the next character without taking it; '\0' at the end.
  char peek();
  // Skips whitespace and takes `c` when it is next.
  bool consume(char c);
  // Returns whether only whitespace is left.
  bool at_end();

  // Reads a string; appends its decoded text to `out` when `out` is not null.
  bool read_string(std::string* out);
  // Reads a number. Sets `integer` when it has no fraction or exponent and fits in int64.
  bool read_number(double* value, int64_t* integer, bool* is_integer);
  // Reads true or false.
  bool read_bool(bool* value);
  // Skips one value of any type, checking it.
  bool skip_value();
  // Reads one value of any type and returns its text as written.
  bool raw_value(std::string_view* text);

  // Walks the members of an object: call after consume('{') with `*first` true, and then once
  // per member with the same flag. Returns false at the end of the object (failed() false) or
  // on an error (failed() true). Otherwise it sets `key` to the decoded key and leaves the
  // reader at the member's value.
  bool next_member(bool* first, std::string* key);

  bool failed() const { return failed_; }

 private:
  bool fail() {
    failed_ = true;
    return false;
  }
  bool read_escape(std::string* out);
  bool read_utf8(std::string* out);
  bool skip_value(int depth);

  const char* pos_;
  const char* end_;
  bool failed_ = false;
};

}  // namespace ollamaflow::llm
