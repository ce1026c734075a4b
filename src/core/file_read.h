// Reading a file that the user names (a plan, a configuration file) whole into memory within a
// size limit, so that a huge file or an endless device such as /dev/zero ends in an error
// instead of exhausting memory.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace ollamaflow {

// Returns a byte count for messages: "512 bytes", "4 MiB", "300.5 MiB", "1 GiB".
std::string format_byte_size(uint64_t bytes);

// Reads the whole file at `path`, at most `max_bytes`. `item` names the file in errors, as in
// "plan file 'p.json'". A regular file larger than `max_bytes` is rejected by its size before
// anything is read. Any other file (a FIFO, a device such as /dev/zero) is read up to
// max_bytes + 1 bytes, and rejected when it gives more.
//
// Returns kNotFound when the path does not exist, and kInvalidArgument for a folder or a file
// over the limit. That message names the limit and either the file's size or the fact that it is
// not a regular file. Returns kPermissionDenied or kIoError with the system's message when the file
// cannot be opened or read, and kCancelled when a signal handler interrupts the open or a read,
// such as Ctrl-C while a FIFO waits for its writer.
Result<std::string> read_file_limited(const std::string& path, uint64_t max_bytes,
                                      const std::string& item);

}  // namespace ollamaflow
