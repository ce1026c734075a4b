// NDJSON reader throughput over an Ollama /api/chat stream: 2,000 content chunks of a few bytes
// each and the final chunk with the counts and durations, fed in reads of 64 bytes to 64 KiB.
// Target: at least 200 MB/s. BM_NdjsonLines measures the line splitting that runs on every
// read; BM_ChatChunks adds parse_chat_chunk() on every line, which is what OllamaClient pays;
// BM_NdjsonObjects parses every line into an nlohmann::json tree instead, for comparison.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "llm/chat_chunk.h"
#include "llm/ndjson.h"

namespace {

using nlohmann::json;
using ollamaflow::Result;
using ollamaflow::Status;
using ollamaflow::llm::ChatChunk;
using ollamaflow::llm::NdjsonReader;
using ollamaflow::llm::parse_chat_chunk;

// Returns a recorded-shape chat stream of `chunks` content lines plus the final line.
std::string chat_stream(size_t chunks) {
  static const char* const kPieces[] = {
      " the", " function", " returns", " a",         " list",
      " of",  " files",    ",\n",      "{\"path\":", " \"app/main.py\""};
  std::string stream;
  for (size_t i = 0; i < chunks; ++i) {
    stream += json({{"model", "llama3.1:8b"},
                    {"created_at", "2026-01-01T00:00:00.123456789Z"},
                    {"message", {{"role", "assistant"}, {"content", kPieces[i % 10]}}},
                    {"done", false}})
                  .dump();
    stream += '\n';
  }
  stream += json({{"model", "llama3.1:8b"},
                  {"created_at", "2026-01-01T00:00:09.000000000Z"},
                  {"message", {{"role", "assistant"}, {"content", ""}}},
                  {"done", true},
                  {"done_reason", "stop"},
                  {"total_duration", 9123456789},
                  {"load_duration", 12345678},
                  {"prompt_eval_count", 812},
                  {"prompt_eval_duration", 345678901},
                  {"eval_count", chunks},
                  {"eval_duration", 8765432109}})
                .dump();
  stream += '\n';
  return stream;
}

const std::string& stream() {
  static const std::string kStream = chat_stream(2000);
  return kStream;
}

// Feeds the stream in reads of state.range(0) bytes.
template <typename Feed>
void feed_in_reads(benchmark::State& state, const Feed& feed) {
  const std::string& bytes = stream();
  const size_t read_size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    NdjsonReader reader;
    for (size_t pos = 0; pos < bytes.size(); pos += read_size) {
      const Status fed = feed(reader, std::string_view(bytes).substr(pos, read_size));
      if (!fed.is_ok()) {
        state.SkipWithError(fed.message().c_str());
        return;
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes.size()));
}

void BM_NdjsonLines(benchmark::State& state) {
  size_t lines = 0;
  feed_in_reads(state, [&](NdjsonReader& reader, std::string_view read) {
    return reader.feed(read, [&](std::string_view line) {
      lines += line.size() > 0 ? 1 : 0;
      return Status::ok();
    });
  });
  benchmark::DoNotOptimize(lines);
}
BENCHMARK(BM_NdjsonLines)->Arg(64)->Arg(4096)->Arg(65536);

void BM_NdjsonObjects(benchmark::State& state) {
  size_t content_bytes = 0;
  feed_in_reads(state, [&](NdjsonReader& reader, std::string_view read) {
    return reader.feed_objects(read, [&](json&& object) {
      content_bytes += object["message"]["content"].get_ref<const std::string&>().size();
      return Status::ok();
    });
  });
  benchmark::DoNotOptimize(content_bytes);
}
BENCHMARK(BM_NdjsonObjects)->Arg(64)->Arg(4096)->Arg(65536);

void BM_ChatChunks(benchmark::State& state) {
  size_t content_bytes = 0;
  feed_in_reads(state, [&](NdjsonReader& reader, std::string_view read) {
    return reader.feed(read, [&](std::string_view line) {
      Result<ChatChunk> chunk = parse_chat_chunk(line, reader.lines_read());
      if (!chunk.is_ok()) {
        return chunk.status();
      }
      content_bytes += chunk->content.size();
      return Status::ok();
    });
  });
  benchmark::DoNotOptimize(content_bytes);
}
BENCHMARK(BM_ChatChunks)->Arg(64)->Arg(4096)->Arg(65536);

}  // namespace

BENCHMARK_MAIN();
