#include "core/terminal_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ollamaflow {
namespace {

size_t columns(std::string_view text) {
  size_t total = 0;
  for (const PrintedCharacter& character : printable_characters(text)) {
    total += character.width;
  }
  return total;
}

TEST(PrintableCharactersTest, WidthsByKind) {
  EXPECT_EQ(columns("abc"), 3u);
  EXPECT_EQ(columns("caf\xC3\xA9"), 4u);               // é, one precomposed character
  EXPECT_EQ(columns("cafe\xCC\x81"), 4u);              // e + combining acute accent
  EXPECT_EQ(columns("\xE6\x97\xA5\xE6\x9C\xAC"), 4u);  // two CJK ideographs
  EXPECT_EQ(columns("\xED\x95\x9C"), 2u);              // a Hangul syllable
  EXPECT_EQ(columns("\xF0\x9F\x98\x80"), 2u);          // an emoji
  EXPECT_EQ(columns("\xEF\xBC\xA1"), 2u);              // fullwidth A
  EXPECT_EQ(columns("a\nb"), 4u);                      // the escape \n takes 2 columns
}

TEST(PrintableCharactersTest, SequencesStayWhole) {
  const std::vector<PrintedCharacter> characters = printable_characters(
      "a\xE6\x97\xA5"
      "b");
  ASSERT_EQ(characters.size(), 3u);
  EXPECT_EQ(characters[1].text, "\xE6\x97\xA5");
  EXPECT_EQ(characters[1].width, 2u);
}

TEST(PrintableCharactersTest, InvalidBytesKeepOneColumn) {
  EXPECT_EQ(columns("\xFF"), 1u);
  EXPECT_EQ(columns("\xE6\x97"), 1u);  // a cut sequence: the lead byte and its continuation
  EXPECT_EQ(escape_control_characters("\xE6\x97"), "\xE6\x97");
}

TEST(PrintableCharactersTest, ControlCharactersEscaped) {
  EXPECT_EQ(escape_control_characters("a\x1B[2Jb"), "a\\x1B[2Jb");
  EXPECT_EQ(escape_control_characters("\xC2\x9B"), "\\u009B");
}

}  // namespace
}  // namespace ollamaflow
