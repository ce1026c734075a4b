#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fakes/test_paths.h"
#include "model/gguf.h"
#include "unit/model/gguf_writer.h"
#include "unit/model/model_files.h"

namespace ollamaflow::model {
namespace {

using testing::GgufWriter;

// The small llama model of the shared test workspace; OLLAMA_FLOW_TINY_GGUF points elsewhere.
std::string tiny_model_path() {
  const char* path = std::getenv("OLLAMA_FLOW_TINY_GGUF");
  return path != nullptr ? path : "/work/shared/llama-server/tiny.gguf";
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class GgufReaderTest : public ::testing::Test {
 protected:
  Result<GgufFile> parse(const std::string& bytes) { return parse_gguf(bytes, "test.gguf"); }

  // Expects a kCorrupt error that names the file and an offset.
  void expect_corrupt(const std::string& bytes, const std::string& fragment) {
    Result<GgufFile> file = parse(bytes);
    ASSERT_FALSE(file.is_ok()) << "parsed although corrupt: " << fragment;
    EXPECT_EQ(file.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(file.status().message().find("test.gguf: offset "), std::string::npos)
        << file.status().message();
    EXPECT_NE(file.status().message().find(fragment), std::string::npos) << file.status().message();
  }
};

TEST_F(GgufReaderTest, ReadsEveryScalarType) {
  GgufWriter writer;
  writer.u8("a.u8", 200).i8("a.i8", -5).u16("a.u16", 65000).i16("a.i16", -30000);
  writer.u32("a.u32", 4000000000u).i32("a.i32", -2000000000).f32("a.f32", 1.5f);
  writer.boolean("a.bool", true).str("a.str", "hello").u64("a.u64", 1ull << 40);
  writer.i64("a.i64", -(1ll << 40)).f64("a.f64", 2.25);
  Result<GgufFile> file = parse(writer.build());
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->version, 3u);
  EXPECT_EQ(file->get_uint("a.u8"), 200u);
  EXPECT_EQ(file->find("a.i8")->as_int(), -5);
  EXPECT_EQ(file->get_uint("a.u16"), 65000u);
  EXPECT_EQ(file->find("a.i16")->as_int(), -30000);
  EXPECT_EQ(file->get_uint("a.u32"), 4000000000u);
  EXPECT_EQ(file->find("a.i32")->as_int(), -2000000000);
  EXPECT_DOUBLE_EQ(*file->find("a.f32")->as_number(), 1.5);
  EXPECT_EQ(std::get<bool>(file->find("a.bool")->data), true);
  EXPECT_EQ(file->get_string("a.str"), "hello");
  EXPECT_EQ(file->get_uint("a.u64"), 1ull << 40);
  EXPECT_EQ(file->find("a.i64")->as_int(), -(1ll << 40));
  EXPECT_DOUBLE_EQ(*file->find("a.f64")->as_number(), 2.25);
  EXPECT_EQ(file->find("a.i8")->as_uint(), std::nullopt);
}

TEST_F(GgufReaderTest, ReadsArraysAndKeepsLengthOfLongOnes) {
  std::vector<std::string> tokens(5000, "t");
  GgufWriter writer;
  writer.u32_array("heads", {8, 8, 0, 8}).string_array("tokens", tokens).nested_array("pairs", 3);
  writer.bool_array("flags", {true, false});
  Result<GgufFile> file = parse(writer.build());
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  const GgufArray* heads = file->find("heads")->as_array();
  ASSERT_NE(heads, nullptr);
  ASSERT_EQ(heads->items.size(), 4u);
  EXPECT_EQ(heads->items[2].as_uint(), 0u);
  EXPECT_EQ(file->array_length("tokens"), 5000u);
  EXPECT_EQ(file->find("tokens")->as_array()->items.size(), 4096u);
  const GgufArray* pairs = file->find("pairs")->as_array();
  ASSERT_EQ(pairs->items.size(), 3u);
  EXPECT_EQ(pairs->items[2].as_array()->items[1].as_uint(), 3u);
  EXPECT_EQ(file->find("flags")->as_array()->element_type, GgufType::kBool);
}

TEST_F(GgufReaderTest, ReadsTensorTableWithSizes) {
  GgufWriter writer;
  writer.str("general.architecture", "llama");
  writer.tensor("a", {4096, 4096}, 2, 4096ull * 4096 / 32 * 18);  // q4_0
  writer.tensor("b", {256, 10}, 12, 10 * 144);                    // q4_k
  writer.tensor("c", {7}, 0, 28);                                 // f32
  Result<GgufFile> file = parse(writer.build());
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  ASSERT_EQ(file->tensors.size(), 3u);
  EXPECT_EQ(file->tensors[0].size_bytes, 4096ull * 4096 / 32 * 18);
  EXPECT_EQ(file->tensors[1].size_bytes, 1440u);
  EXPECT_EQ(file->tensors[2].elements, 7u);
  EXPECT_EQ(file->tensors[2].size_bytes, 28u);
  EXPECT_EQ(file->data_offset % 32, 0u);
  EXPECT_EQ(file->tensor_bytes(), 4096ull * 4096 / 32 * 18 + 1440 + 28);
}

TEST_F(GgufReaderTest, ReadsVersionTwoAndBigEndian) {
  for (auto [version, big_endian] : {std::pair{2u, false}, std::pair{3u, true}}) {
    GgufWriter writer(version, big_endian);
    writer.u32("x", 123456).str("s", "text").u32_array("arr", {1, 2});
    writer.tensor("t", {64}, 1, 128);
    Result<GgufFile> file = parse(writer.build());
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    EXPECT_EQ(file->version, version);
    EXPECT_EQ(file->big_endian, big_endian);
    EXPECT_EQ(file->get_uint("x"), 123456u);
    EXPECT_EQ(file->get_string("s"), "text");
    EXPECT_EQ(file->tensors[0].dims[0], 64u);
  }
}

TEST_F(GgufReaderTest, HonoursCustomAlignment) {
  GgufWriter writer;
  writer.u32("general.alignment", 64);
  writer.set_alignment(64);
  writer.tensor("a", {8}, 0, 32).tensor("b", {8}, 0, 32);
  Result<GgufFile> file = parse(writer.build());
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->alignment, 64u);
  EXPECT_EQ(file->tensors[1].offset, 64u);
  EXPECT_EQ(file->data_offset % 64, 0u);
}

TEST_F(GgufReaderTest, RejectsWrongMagicAndVersions) {
  expect_corrupt("GGML" + std::string(20, '\0'), "not a GGUF file");
  GgufWriter v1(1);
  expect_corrupt(v1.build(), "version 1 is not supported");
  GgufWriter v9(9);
  expect_corrupt(v9.build(), "unsupported GGUF version 9");
  expect_corrupt("GG", "the file ends while reading the magic number");
}

TEST_F(GgufReaderTest, RejectsImpossibleCounts) {
  GgufWriter tensors;
  tensors.set_counts(1000000, 0);
  expect_corrupt(tensors.build(), "tensor count 1000000 is impossible");
  GgufWriter metadata;
  metadata.set_counts(0, ~0ull);
  expect_corrupt(metadata.build(), "metadata count");
}

TEST_F(GgufReaderTest, RejectsHostileLengths) {
  GgufWriter long_string;
  long_string.str("k", "v");
  std::string bytes = long_string.build();
  // The value length sits after magic, version, two counts, the key (8 + 1) and the type.
  size_t length_at = 4 + 4 + 8 + 8 + 9 + 4;
  for (int i = 0; i < 8; ++i)
    bytes[length_at + i] = static_cast<char>(0x7f);
  expect_corrupt(bytes, "the limit is");

  GgufWriter long_array;
  long_array.u32_array("arr", {1});
  bytes = long_array.build();
  size_t count_at = 4 + 4 + 8 + 8 + 11 + 4 + 4;
  bytes[count_at + 3] = 0x10;
  expect_corrupt(bytes, "declares");
}

TEST_F(GgufReaderTest, RejectsUnknownTypesAndDuplicates) {
  GgufWriter bad_type;
  bad_type.raw_metadata(std::string("\x01\0\0\0\0\0\0\0k\x63\0\0\0", 13), 1);
  expect_corrupt(bad_type.build(), "unknown value type 99");

  GgufWriter duplicate;
  duplicate.u32("k", 1).u32("k", 2);
  expect_corrupt(duplicate.build(), "appears twice");

  GgufWriter tensors;
  tensors.tensor("t", {32}, 0, 128).tensor("t", {32}, 0, 128);
  expect_corrupt(tensors.build(), "tensor name 't' appears twice");

  GgufWriter ggml_type;
  ggml_type.tensor("t", {32}, 4, 64);
  expect_corrupt(ggml_type.build(), "unknown ggml type 4");

  GgufWriter dims;
  dims.tensor("t", {1, 1, 1, 1, 1}, 0, 4);
  expect_corrupt(dims.build(), "5 dimensions");

  GgufWriter blocks;
  blocks.tensor("t", {33}, 2, 36);
  expect_corrupt(blocks.build(), "not a multiple of the q4_0 block size 32");
}

TEST_F(GgufReaderTest, RejectsBadAlignmentAndRanges) {
  GgufWriter alignment;
  alignment.u32("general.alignment", 24);
  expect_corrupt(alignment.build(), "power of two");

  GgufWriter truncated_data;
  truncated_data.tensor("t", {1024}, 0, 4096);
  std::string bytes = truncated_data.build();
  bytes.resize(bytes.size() - 100);
  expect_corrupt(bytes, "the file is truncated or corrupt");

  GgufWriter missing_data;
  missing_data.tensor("t", {1024}, 0, 4096);
  missing_data.omit_data();
  expect_corrupt(missing_data.build(), "tensor");
}

TEST_F(GgufReaderTest, TruncationAtEveryOffsetIsAnError) {
  testing::LlamaShape shape;
  shape.vocab = 50;
  std::string bytes = testing::make_llama_gguf(shape);
  Result<GgufFile> whole = parse(bytes);
  ASSERT_TRUE(whole.is_ok());
  // Every prefix through the header and a few hundred bytes of data, then every 97th.
  for (size_t length = 0; length < bytes.size();
       length += length < whole->data_offset + 256 ? 1 : 97) {
    Result<GgufFile> file = parse(bytes.substr(0, length));
    ASSERT_FALSE(file.is_ok()) << "a prefix of " << length << " bytes parsed";
    ASSERT_NE(file.status().message().find("offset "), std::string::npos)
        << file.status().message();
  }
}

TEST_F(GgufReaderTest, CorruptBytesNeverCrash) {
  testing::LlamaShape shape;
  shape.vocab = 20;
  std::string bytes = testing::make_llama_gguf(shape);
  Result<GgufFile> whole = parse(bytes);
  ASSERT_TRUE(whole.is_ok());
  size_t header = whole->data_offset;
  for (size_t at = 0; at < header; ++at) {
    for (unsigned char value : {0x00, 0xff, 0x7f, 0x80}) {
      std::string copy = bytes;
      copy[at] = static_cast<char>(value);
      Result<GgufFile> file = parse(copy);
      if (!file.is_ok()) {
        EXPECT_NE(file.status().message().find("offset "), std::string::npos);
      }
    }
  }
}

TEST_F(GgufReaderTest, ReadsFileFromDisk) {
  ollamaflow::testing::TempDir dir;
  std::filesystem::path path = dir.path() / "model.gguf";
  std::ofstream(path, std::ios::binary) << testing::make_llama_gguf({});
  Result<GgufFile> file = read_gguf_file(path);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(read_gguf_file(dir.path() / "missing.gguf").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(read_gguf_file(dir.path()).status().code(), ErrorCode::kIoError);
}

class TinyModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(tiny_model_path())) {
      GTEST_SKIP() << "skipped: " << tiny_model_path()
                   << " is not present; set OLLAMA_FLOW_TINY_GGUF to a small llama GGUF";
    }
  }
};

TEST_F(TinyModelTest, ReadsHeaderOfRealModel) {
  Result<GgufFile> file = read_gguf_file(tiny_model_path());
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_uint("llama.block_count"), 2u);
  EXPECT_EQ(file->get_uint("llama.embedding_length"), 64u);
  EXPECT_EQ(file->get_uint("llama.attention.head_count"), 4u);
  EXPECT_EQ(file->get_uint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(file->get_uint("llama.context_length"), 4096u);
  EXPECT_EQ(file->array_length("tokenizer.ggml.tokens"), 128256u);
  EXPECT_LE(file->data_offset + file->tensor_bytes(), file->file_size);
}

TEST_F(TinyModelTest, TruncatedAndCorruptCopiesFailWithOffset) {
  std::string bytes = read_all(tiny_model_path());
  Result<GgufFile> whole = parse_gguf(bytes, "tiny.gguf");
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  uint64_t header = whole->data_offset;
  // About 100 prefixes across the header, then some through the data section.
  uint64_t step = header / 100 + 1;
  for (uint64_t length = 0; length < bytes.size(); length += length < header ? step : 4999999) {
    Result<GgufFile> file = parse_gguf(std::string_view(bytes).substr(0, length), "tiny.gguf");
    ASSERT_FALSE(file.is_ok()) << "a prefix of " << length << " bytes parsed";
    ASSERT_NE(file.status().message().find("tiny.gguf: offset "), std::string::npos)
        << file.status().message();
  }
  for (uint64_t at = 0; at < header; at += step) {
    std::string copy = bytes.substr(0, header + 1024);
    copy[at] = static_cast<char>(copy[at] ^ 0xA5);
    Result<GgufFile> file = parse_gguf(copy, "tiny.gguf");
    if (!file.is_ok()) {
      EXPECT_NE(file.status().message().find("offset "), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace ollamaflow::model
