#include "llm/json_scan.h"

#include <charconv>
#include <cstring>

namespace ollamaflow::llm {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void append_utf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

}  // namespace

char JsonScanner::peek() {
  while (pos_ < end_ && is_space(*pos_)) {
    ++pos_;
  }
  return pos_ < end_ ? *pos_ : '\0';
}

bool JsonScanner::consume(char c) {
  if (failed_ || peek() != c || pos_ == end_) {
    return false;
  }
  ++pos_;
  return true;
}

bool JsonScanner::at_end() {
  peek();
  return pos_ == end_;
}

// Reads the four hex digits after "\u" into `code`.
static bool read_hex4(const char*& pos, const char* end, uint32_t* code) {
  if (end - pos < 4) {
    return false;
  }
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    const int digit = hex_value(pos[i]);
    if (digit < 0) {
      return false;
    }
    value = value * 16 + static_cast<uint32_t>(digit);
  }
  pos += 4;
  *code = value;
  return true;
}

bool JsonScanner::read_escape(std::string* out) {
  // pos_ is just past the backslash.
  if (pos_ == end_) {
    return fail();
  }
  const char kind = *pos_++;
  char plain = 0;
  switch (kind) {
    case '"':
      plain = '"';
      break;
    case '\\':
      plain = '\\';
      break;
    case '/':
      plain = '/';
      break;
    case 'b':
      plain = '\b';
      break;
    case 'f':
      plain = '\f';
      break;
    case 'n':
      plain = '\n';
      break;
    case 'r':
      plain = '\r';
      break;
    case 't':
      plain = '\t';
      break;
    case 'u':
      break;
    default:
      return fail();
  }
  if (kind != 'u') {
    if (out != nullptr)
      out->push_back(plain);
    return true;
  }
  uint32_t code = 0;
  if (!read_hex4(pos_, end_, &code) || (code >= 0xDC00 && code <= 0xDFFF)) {
    return fail();
  }
  if (code >= 0xD800 && code <= 0xDBFF) {
    uint32_t low = 0;
    if (end_ - pos_ < 2 || pos_[0] != '\\' || pos_[1] != 'u') {
      return fail();
    }
    pos_ += 2;
    if (!read_hex4(pos_, end_, &low) || low < 0xDC00 || low > 0xDFFF) {
      return fail();
    }
    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
  }
  if (out != nullptr)
    append_utf8(code, out);
  return true;
}

bool JsonScanner::read_utf8(std::string* out) {
  // One multi-byte sequence, checked as RFC 3629 defines well-formed UTF-8: no overlong forms,
  // no encoded surrogates, nothing above U+10FFFF.
  const auto byte = [&](ptrdiff_t i) { return static_cast<unsigned char>(pos_[i]); };
  const unsigned char lead = byte(0);
  int length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0)
      low = 0xA0;
    if (lead == 0xED)
      high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0)
      low = 0x90;
    if (lead == 0xF4)
      high = 0x8F;
  } else {
    return fail();
  }
  if (end_ - pos_ < length || byte(1) < low || byte(1) > high) {
    return fail();
  }
  for (int i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) {
      return fail();
    }
  }
  if (out != nullptr)
    out->append(pos_, static_cast<size_t>(length));
  pos_ += length;
  return true;
}

bool JsonScanner::read_string(std::string* out) {
  if (!consume('"')) {
    return fail();
  }
  while (pos_ < end_) {
    // Copy the run of plain ASCII up to the next byte that needs a decision.
    const char* run = pos_;
    while (pos_ < end_) {
      const auto c = static_cast<unsigned char>(*pos_);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
        break;
      ++pos_;
    }
    if (out != nullptr && pos_ != run)
      out->append(run, static_cast<size_t>(pos_ - run));
    if (pos_ == end_)
      break;
    const auto c = static_cast<unsigned char>(*pos_);
    if (c == '"') {
      ++pos_;
      return true;
    }
    if (c < 0x20) {
      return fail();
    }
    if (c == '\\') {
      ++pos_;
      if (!read_escape(out))
        return false;
    } else if (!read_utf8(out)) {
      return false;
    }
  }
  return fail();
}

bool JsonScanner::read_number(double* value, int64_t* integer, bool* is_integer) {
  peek();
  const char* begin = pos_;
  const char* p = pos_;
  if (p < end_ && *p == '-')
    ++p;
  if (p == end_ || !is_digit(*p))
    return fail();
  if (*p == '0') {
    ++p;
  } else {
    while (p < end_ && is_digit(*p))
      ++p;
  }
  bool integral = true;
  if (p < end_ && *p == '.') {
    integral = false;
    ++p;
    if (p == end_ || !is_digit(*p))
      return fail();
    while (p < end_ && is_digit(*p))
      ++p;
  }
  if (p < end_ && (*p == 'e' || *p == 'E')) {
    integral = false;
    ++p;
    if (p < end_ && (*p == '+' || *p == '-'))
      ++p;
    if (p == end_ || !is_digit(*p))
      return fail();
    while (p < end_ && is_digit(*p))
      ++p;
  }
  pos_ = p;
  *is_integer = false;
  if (integral) {
    int64_t parsed = 0;
    const auto [end, error] = std::from_chars(begin, p, parsed);
    if (error == std::errc() && end == p) {
      *integer = parsed;
      *is_integer = true;
    }
  }
  double number = 0;
  const auto [end, error] = std::from_chars(begin, p, number);
  if (error != std::errc() || end != p) {
    // Too large or too small for a double: the full parser decides what that means.
    return fail();
  }
  *value = number;
  return true;
}

bool JsonScanner::read_bool(bool* value) {
  peek();
  const size_t left = static_cast<size_t>(end_ - pos_);
  if (left >= 4 && std::memcmp(pos_, "true", 4) == 0) {
    pos_ += 4;
    *value = true;
    return true;
  }
  if (left >= 5 && std::memcmp(pos_, "false", 5) == 0) {
    pos_ += 5;
    *value = false;
    return true;
  }
  return fail();
}

bool JsonScanner::skip_value() {
  return skip_value(0);
}

bool JsonScanner::skip_value(int depth) {
  if (depth >= kMaxDepth) {
    return fail();
  }
  const char next = peek();
  switch (next) {
    case '"':
      return read_string(nullptr);
    case '{': {
      ++pos_;
      bool first = true;
      while (next_member(&first, nullptr)) {
        if (!skip_value(depth + 1))
          return false;
      }
      return !failed_;
    }
    case '[': {
      ++pos_;
      if (consume(']'))
        return true;
      do {
        if (!skip_value(depth + 1))
          return false;
      } while (consume(','));
      return consume(']') || fail();
    }
    case 't':
    case 'f': {
      bool ignored = false;
      return read_bool(&ignored);
    }
    case 'n':
      if (end_ - pos_ >= 4 && std::memcmp(pos_, "null", 4) == 0) {
        pos_ += 4;
        return true;
      }
      return fail();
    default: {
      double number = 0;
      int64_t integer = 0;
      bool is_integer = false;
      return read_number(&number, &integer, &is_integer);
    }
  }
}

bool JsonScanner::raw_value(std::string_view* text) {
  peek();
  const char* begin = pos_;
  if (!skip_value(0))
    return false;
  *text = std::string_view(begin, static_cast<size_t>(pos_ - begin));
  return true;
}

bool JsonScanner::next_member(bool* first, std::string* key) {
  if (failed_)
    return false;
  if (*first) {
    *first = false;
    if (consume('}'))
      return false;
  } else {
    if (consume('}'))
      return false;
    if (!consume(','))
      return fail();
  }
  if (key != nullptr)
    key->clear();
  if (!read_string(key) || !consume(':')) {
    return fail();
  }
  return true;
}

}  // namespace ollamaflow::llm
