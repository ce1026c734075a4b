// Separation of <think> sections from a model's streamed reply text.
#pragma once

#include <string>
#include <string_view>

namespace ollamaflow::llm {

// Splits streamed reply text into visible content and the text inside <think>...</think>.
// A tag may be split across pieces, so a piece that ends in what may be the start of a tag is
// held back until the next piece decides it.
//
// Not thread-safe: one splitter belongs to one reply.
class ThinkSplitter {
 public:
  // Appends one piece and returns the visible text that it completes (possibly empty).
  std::string feed(std::string_view piece);
  // Ends the reply and returns the visible text still held back. Text of a <think> section that
  // was never closed stays thinking. Some chat templates open the section in the prompt, so
  // the reply has a "</think>" without an opening tag. Then the text before it moves to
  // thinking, although feed() has already returned it.
  std::string finish();

  const std::string& content() const { return content_; }
  const std::string& thinking() const { return thinking_; }

 private:
  std::string held_;
  bool inside_ = false;
  std::string content_;
  std::string thinking_;
};

}  // namespace ollamaflow::llm
