// Text from users and models made safe to print on a terminal: control characters become
// visible escapes, so that a goal or a reply cannot add lines or send escape sequences.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ollamaflow {

// One character of text as it is printed, and its width in terminal columns.
struct PrintedCharacter {
  std::string text;
  size_t width = 1;
};

// Returns each character of `text` as it is printed. Newline, carriage return and tab print as
// \n, \r and \t, other C0 characters and DEL as \xNN, and C1 characters as \u00NN. The
// bidirectional formatting characters (such as U+202E, right-to-left override) and the
// separators U+2028 and U+2029 print as \uNNNN. Each byte that is not part of a well-formed
// UTF-8 sequence (overlong forms and surrogates included) prints as \xNN. A UTF-8 sequence
// takes 2 columns in the common East Asian wide blocks and emoji, 0 for a combining mark, and 1
// otherwise.
std::vector<PrintedCharacter> printable_characters(std::string_view text);

// Returns `text` on one line with its control characters escaped as printable_characters()
// does: "line1\nline2" comes back as the 12 characters line1\nline2.
std::string escape_control_characters(std::string_view text);

// Returns the terminal columns that `text` takes once escape_control_characters() escaped it.
size_t printed_width(std::string_view text);

// Returns `text` escaped as escape_control_characters() does and, when that is wider than
// `max_width` terminal columns, cut to max_width - 1 columns plus an ellipsis (U+2026).
std::string truncate_printable(std::string_view text, size_t max_width);

// Returns `word` as a POSIX shell reads it back: unchanged when it has only safe characters,
// else in single quotes, with each single quote written as '\''.
std::string shell_quoted(const std::string& word);

}  // namespace ollamaflow
