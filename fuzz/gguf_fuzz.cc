// libFuzzer target for the GGUF reader: any input must yield a file or an error, never a crash,
// a hang or an allocation beyond the input's size. Specs are built from inputs that parse, so
// that the metadata accessors run on hostile values too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/gguf.h"
#include "model/model_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = ollamaflow::model::parse_gguf(bytes, "fuzz.gguf");
  if (file.is_ok()) {
    auto spec = ollamaflow::model::spec_from_gguf(*file, "fuzz");
    (void)spec;
  }
  return 0;
}
