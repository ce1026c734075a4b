#include "llm/think.h"

#include <algorithm>

namespace ollamaflow::llm {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t partial_tag_length(std::string_view text, std::string_view tag) {
  const size_t longest = std::min(text.size(), tag.size() - 1);
  for (size_t length = longest; length > 0; --length) {
    if (text.substr(text.size() - length) == tag.substr(0, length)) {
      return length;
    }
  }
  return 0;
}

}  // namespace

std::string ThinkSplitter::feed(std::string_view piece) {
  std::string text = held_;
  text.append(piece);
  held_.clear();
  std::string visible;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::string_view tag = inside_ ? kClose : kOpen;
    const size_t found = rest.find(tag);
    std::string& target = inside_ ? thinking_ : visible;
    if (found != std::string_view::npos) {
      target.append(rest.substr(0, found));
      rest.remove_prefix(found + tag.size());
      inside_ = !inside_;
      continue;
    }
    const size_t partial = partial_tag_length(rest, tag);
    target.append(rest.substr(0, rest.size() - partial));
    held_ = std::string(rest.substr(rest.size() - partial));
    break;
  }
  content_ += visible;
  return visible;
}

std::string ThinkSplitter::finish() {
  std::string visible;
  if (inside_) {
    thinking_ += held_;
  } else {
    visible = held_;
    content_ += held_;
  }
  held_.clear();
  const size_t lone_close = content_.find(kClose);
  if (lone_close != std::string::npos) {
    thinking_.insert(0, content_.substr(0, lone_close));
    content_.erase(0, lone_close + kClose.size());
  }
  return visible;
}

}  // namespace ollamaflow::llm
