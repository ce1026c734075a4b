// Parsing the header and tensor table of a GGUF with 300 tensors and a 150,000-entry vocabulary
// from disk. Target: under 20 ms.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "model/gguf.h"
#include "unit/model/model_files.h"

namespace {

// Writes the benchmark model once: 40 layers of 7 tensors, 18 extra, the embedding and the output
// norm.
const std::filesystem::path& model_path() {
  static const std::filesystem::path path = [] {
    ollamaflow::testing::LlamaShape shape;
    shape.layers = 40;
    shape.extra_tensors = 18;
    shape.vocab = 150000;
    std::filesystem::path file =
        std::filesystem::temp_directory_path() / "ollama-flow-bench-gguf-parse.gguf";
    std::ofstream(file, std::ios::binary) << ollamaflow::testing::make_llama_gguf(shape);
    return file;
  }();
  return path;
}

void BM_ReadGgufHeader(benchmark::State& state) {
  const std::filesystem::path& path = model_path();
  size_t tensors = 0;
  for (auto _ : state) {
    auto file = ollamaflow::model::read_gguf_file(path);
    if (!file.is_ok()) {
      state.SkipWithError(file.status().message().c_str());
      return;
    }
    tensors = file->tensors.size();
    benchmark::DoNotOptimize(file->tensor_bytes());
  }
  state.counters["tensors"] = static_cast<double>(tensors);
  state.counters["file_bytes"] = static_cast<double>(std::filesystem::file_size(path));
}
BENCHMARK(BM_ReadGgufHeader)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
