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

TEST(PrintableCharactersTest, InvalidBytesEscaped) {
  EXPECT_EQ(escape_control_characters("\xFF"), "\\xFF");
  EXPECT_EQ(columns("\xFF"), 4u);
  // A cut sequence: the lead byte and its continuation, each escaped.
  EXPECT_EQ(escape_control_characters("a\xE6\x97"), "a\\xE6\\x97");
  // An orphan continuation byte, which an 8-bit terminal reads as the C1 control CSI.
  EXPECT_EQ(escape_control_characters("\xC3\xA9\x9B"), "\xC3\xA9\\x9B");
  EXPECT_EQ(escape_control_characters("\xC0\xAF"), "\\xC0\\xAF");  // an overlong '/'
}

TEST(PrintableCharactersTest, ControlCharactersEscaped) {
  EXPECT_EQ(escape_control_characters("a\x1B[2Jb"), "a\\x1B[2Jb");
  EXPECT_EQ(escape_control_characters("\xC2\x9B"), "\\u009B");
}

TEST(PrintableCharactersTest, BidiControlsEscaped) {
  // U+202E, right-to-left override, would show "txt.exe" as "exe.txt".
  EXPECT_EQ(escape_control_characters("a\u202Etxt.exe"), "a\\u202Etxt.exe");
  const struct {
    const char* text;
    const char* escaped;
  } cases[] = {
      {"\u061C", "\\u061C"}, {"\u200E", "\\u200E"}, {"\u200F", "\\u200F"}, {"\u202A", "\\u202A"},
      {"\u202B", "\\u202B"}, {"\u202C", "\\u202C"}, {"\u202D", "\\u202D"}, {"\u2066", "\\u2066"},
      {"\u2067", "\\u2067"}, {"\u2068", "\\u2068"}, {"\u2069", "\\u2069"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(escape_control_characters(c.text), c.escaped);
  }
  EXPECT_EQ(columns("\u202E"), 6u);  // the escape \u202E takes 6 columns
}

TEST(PrintableCharactersTest, LineAndParagraphSeparatorsEscaped) {
  EXPECT_EQ(escape_control_characters("one\u2028two\u2029three"), "one\\u2028two\\u2029three");
}

TEST(PrintableCharactersTest, NeighborsOfControlsKept) {
  // The neighbors of the escaped code points print as they are: zero-width space, en dash,
  // hyphenation point, narrow no-break space, word joiner and U+206A.
  for (const char* kept : {"\u200B", "\u2013", "\u2027", "\u202F", "\u2060", "\u206A"}) {
    EXPECT_EQ(escape_control_characters(kept), kept);
  }
}

TEST(PrintableCharactersTest, IllFormedSequencesEscaped) {
  EXPECT_EQ(escape_control_characters("\xE0\x80\x8A"), "\\xE0\\x80\\x8A");  // overlong newline
  EXPECT_EQ(escape_control_characters("\xF0\x82\x80\xAE"),
            "\\xF0\\x82\\x80\\xAE");                                        // overlong U+202E
  EXPECT_EQ(escape_control_characters("\xED\xA0\x80"), "\\xED\\xA0\\x80");  // a surrogate
  EXPECT_EQ(escape_control_characters("\xF4\x90\x80\x80"),
            "\\xF4\\x90\\x80\\x80");  // above U+10FFFF
}

TEST(TruncatePrintableTest, ShortTextOnlyEscaped) {
  EXPECT_EQ(truncate_printable("build\x07 it", 60), "build\\x07 it");
  EXPECT_EQ(truncate_printable(std::string(60, 'a'), 60), std::string(60, 'a'));
}

TEST(TruncatePrintableTest, LongTextCutWithEllipsis) {
  const std::string cut = truncate_printable(std::string(61, 'a'), 60);
  EXPECT_EQ(cut, std::string(59, 'a') + "\u2026");
}

TEST(TruncatePrintableTest, CutKeepsEscapesAndWideCharactersWhole) {
  // "\x1B" takes 4 columns: with 3 columns left before the ellipsis it is left out whole.
  EXPECT_EQ(truncate_printable("ab\x1B" + std::string(10, 'c'), 6), "ab\u2026");
  // A CJK ideograph takes 2 columns and is never split.
  EXPECT_EQ(truncate_printable("a\xE6\x97\xA5\xE6\x97\xA5", 3), "a\u2026");
  EXPECT_EQ(columns(truncate_printable(std::string(100, 'x'), 60)), 60u);
}

}  // namespace
}  // namespace ollamaflow
