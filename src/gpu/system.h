// The outside world of the probes: commands, shared libraries and the file system root. Each
// probe takes these as parameters, so tests feed recorded command outputs, fake libraries and
// fixture trees in place of the machine's own.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace ollamaflow::gpu {

struct CommandOutput {
  int exit_code = 0;  // the exit status, or 128 + signal number when a signal ended it
  std::string out;    // standard output
  std::string err;    // standard error
};

// Runs argv[0] (looked up on PATH) with the arguments and returns its output once it exits.
// Errors: kNotFound when the program does not exist, kTimeout when it runs past `timeout` (it is
// killed), kIoError when it cannot be started or prints more than the output limit. A non-zero
// exit status is not an error here: callers read CommandOutput::exit_code.
using CommandRunner =
    std::function<Result<CommandOutput>(const std::vector<std::string>& argv, Duration timeout)>;

// Returns a runner that starts real processes with posix_spawnp. The deadline is measured on
// `clock`. Thread-safe: the runner may be called from several threads at once.
CommandRunner make_process_runner(std::shared_ptr<Clock> clock);

// A loaded shared library.
class SharedLibrary {
 public:
  virtual ~SharedLibrary() = default;
  // Returns the address of `name`, or nullptr when the library does not export it.
  virtual void* symbol(const char* name) const = 0;
};

// Opens shared libraries by name. Thread-safe.
class LibraryLoader {
 public:
  virtual ~LibraryLoader() = default;
  // Returns kNotFound with the loader's message when the library cannot be opened.
  virtual Result<std::unique_ptr<SharedLibrary>> open(const std::string& name) = 0;
};

// Returns a loader backed by dlopen and dlsym.
std::shared_ptr<LibraryLoader> make_dlopen_loader();

// Everything a probe may read. The defaults describe the running machine.
struct ProbeContext {
  std::filesystem::path root = "/";       // prefix of /sys and /proc
  CommandRunner run_command;              // required
  std::shared_ptr<LibraryLoader> loader;  // null: no shared libraries are loaded
  Duration command_timeout = std::chrono::seconds(5);
  // Memory totals for devices whose total cannot be read, in bytes, keyed by "gpuN", a UUID, a
  // PCI bus id or "*" for every such device.
  std::vector<std::pair<std::string, uint64_t>> memory_total_overrides;
};

// Returns a context for the running machine: root "/", real processes and dlopen.
ProbeContext system_probe_context(std::shared_ptr<Clock> clock);

// The environment variable that sets memory totals for devices whose total cannot be read, in
// MiB: "24576" for every such device, or "gpu0=24576,GPU-xxxx=16384".
constexpr const char* kMemoryOverrideVariable = "OLLAMA_FLOW_GPU_MEMORY_MB";

// Returns system_probe_context() with the overrides of kMemoryOverrideVariable read through
// `env`. Returns kInvalidArgument naming the variable when its value is malformed.
Result<ProbeContext> machine_probe_context(
    std::shared_ptr<Clock> clock,
    const std::function<std::optional<std::string>(const std::string&)>& env);

// Parses the override list "MiB" (every device) or "gpu0=24576,GPU-xxxx=16384" (MiB each).
// Returns kInvalidArgument naming the malformed entry.
Result<std::vector<std::pair<std::string, uint64_t>>> parse_memory_overrides(
    const std::string& text);

}  // namespace ollamaflow::gpu
