#include "core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace ollamaflow {
namespace {

TEST(InvalidUtf8OffsetTest, AcceptsValidText) {
  EXPECT_FALSE(invalid_utf8_offset("").has_value());
  EXPECT_FALSE(invalid_utf8_offset("plain ascii").has_value());
  EXPECT_FALSE(invalid_utf8_offset("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80").has_value());
  EXPECT_FALSE(invalid_utf8_offset("\xF4\x8F\xBF\xBF").has_value());  // U+10FFFF
}

TEST(InvalidUtf8OffsetTest, NamesFirstBadByte) {
  struct Case {
    std::string text;
    size_t offset;
  };
  const Case cases[] = {
      {"caf\xE9 app", 3},       // Latin-1 e-acute
      {"\xFF\xFE bad", 0},      // never valid
      {"ab\xC3", 2},            // truncated sequence
      {"\xC0\xAF", 0},          // overlong slash
      {"\xE0\x80\xAF", 0},      // overlong three-byte form
      {"x\xED\xA0\x80", 1},     // surrogate U+D800
      {"\xF4\x90\x80\x80", 0},  // above U+10FFFF
      {"ok\xE2\x82", 2},        // truncated at the end
      {"\xE2\x28\xA1", 0},      // bad continuation byte
  };
  for (const Case& test_case : cases) {
    const std::optional<size_t> offset = invalid_utf8_offset(test_case.text);
    ASSERT_TRUE(offset.has_value()) << test_case.offset;
    EXPECT_EQ(*offset, test_case.offset);
  }
}

}  // namespace
}  // namespace ollamaflow
