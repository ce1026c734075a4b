// One way for the commands to report an error on stderr.
#pragma once

#include <string_view>

namespace ollamaflow::cli {

// Writes "ollama-flow: MESSAGE" and a line break to stderr. Control characters and invalid UTF-8
// in the message are escaped, because messages quote values from flags, files and servers. A
// line break followed by two spaces, which starts an indented cause, is kept.
void print_error(std::string_view message);

}  // namespace ollamaflow::cli
