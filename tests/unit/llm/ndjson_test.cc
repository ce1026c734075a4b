#include "llm/ndjson.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

// The C13 stream: three chat chunks, cut by reads in the middle of objects.
constexpr std::string_view kRead1 =
    R"({"model":"m","created_at":"t1","message":{"role":"assistant","content")";
constexpr std::string_view kRead2 =
    R"(:" Hi"},"done":false})"
    "\n"
    R"({"model":"m","created_at":"t2","message":{"role":"assistant","content":" there"},"done":false})"
    "\n"
    R"({"model":"m","cr)";
constexpr std::string_view kRead3 =
    R"(eated_at":"t3","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"})"
    "\n";

class NdjsonReaderTest : public ::testing::Test {
 protected:
  // Feeds each piece in turn, collecting the objects; returns the first error.
  Status feed_all(const std::vector<std::string_view>& pieces) {
    for (std::string_view piece : pieces) {
      Status status = reader_.feed_objects(piece, collect_);
      if (!status.is_ok()) {
        return status;
      }
    }
    return reader_.finish_objects(collect_);
  }

  std::string content() const {
    std::string text;
    for (const json& object : objects_) {
      text += object["message"]["content"].get<std::string>();
    }
    return text;
  }

  NdjsonReader reader_;
  std::vector<json> objects_;
  NdjsonReader::ObjectHandler collect_ = [this](json&& object) {
    objects_.push_back(std::move(object));
    return Status::ok();
  };
};

TEST_F(NdjsonReaderTest, ObjectsSplitAcrossReads) {
  ASSERT_TRUE(feed_all({kRead1, kRead2, kRead3}).is_ok());
  ASSERT_EQ(objects_.size(), 3u);
  EXPECT_EQ(content(), " Hi there");
  EXPECT_TRUE(objects_[2]["done"].get<bool>());
  EXPECT_EQ(objects_[2]["done_reason"], "stop");
}

TEST_F(NdjsonReaderTest, EveryTwoWaySplitMatchesWholeStream) {
  const std::string stream = std::string(kRead1) + std::string(kRead2) + std::string(kRead3);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    NdjsonReader reader;
    std::vector<json> objects;
    auto collect = [&](json&& object) {
      objects.push_back(std::move(object));
      return Status::ok();
    };
    const std::string_view view(stream);
    ASSERT_TRUE(reader.feed_objects(view.substr(0, cut), collect).is_ok()) << "cut " << cut;
    ASSERT_TRUE(reader.feed_objects(view.substr(cut), collect).is_ok()) << "cut " << cut;
    ASSERT_TRUE(reader.finish().is_ok()) << "cut " << cut;
    ASSERT_EQ(objects.size(), 3u) << "cut " << cut;
    EXPECT_EQ(objects[1]["message"]["content"], " there") << "cut " << cut;
    EXPECT_EQ(objects[2]["done_reason"], "stop") << "cut " << cut;
  }
}

TEST_F(NdjsonReaderTest, EveryThreeWaySplitMatchesWholeStream) {
  const std::string stream = std::string(kRead2) + std::string(kRead3);
  const std::string_view view(stream);
  for (size_t first = 0; first <= stream.size(); ++first) {
    for (size_t second = first; second <= stream.size(); ++second) {
      NdjsonReader reader;
      std::vector<std::string> lines;
      auto collect = [&](std::string_view line) {
        lines.emplace_back(line);
        return Status::ok();
      };
      ASSERT_TRUE(reader.feed(view.substr(0, first), collect).is_ok());
      ASSERT_TRUE(reader.feed(view.substr(first, second - first), collect).is_ok());
      ASSERT_TRUE(reader.feed(view.substr(second), collect).is_ok());
      ASSERT_EQ(lines.size(), 3u) << "cuts " << first << ", " << second;
      EXPECT_EQ(lines[1], R"({"model":"m","created_at":"t2","message":{"role":"assistant",)"
                          R"("content":" there"},"done":false})");
    }
  }
}

TEST_F(NdjsonReaderTest, LargeFinalObjectSplitAt4096) {
  const std::string big_content(10000, 'x');
  const std::string stream =
      std::string(R"({"message":{"content":"a"},"done":false})") + "\n" +
      json({{"message", {{"content", big_content}}}, {"done", true}}).dump() + "\n";
  ASSERT_GT(stream.size(), 8192u);
  const std::string_view view(stream);
  ASSERT_TRUE(feed_all({view.substr(0, 4096), view.substr(4096, 4096), view.substr(8192)}).is_ok());
  ASSERT_EQ(objects_.size(), 2u);
  EXPECT_EQ(objects_[1]["message"]["content"].get<std::string>().size(), 10000u);
  EXPECT_TRUE(objects_[1]["done"].get<bool>());
}

TEST_F(NdjsonReaderTest, SevenByteReads) {
  const std::string stream = std::string(kRead1) + std::string(kRead2) + std::string(kRead3);
  std::vector<std::string_view> pieces;
  for (size_t pos = 0; pos < stream.size(); pos += 7) {
    pieces.push_back(std::string_view(stream).substr(pos, 7));
  }
  ASSERT_TRUE(feed_all(pieces).is_ok());
  ASSERT_EQ(objects_.size(), 3u);
  EXPECT_EQ(content(), " Hi there");
}

TEST_F(NdjsonReaderTest, SplitInsideUtf8Sequence) {
  const std::string stream = "{\"content\":\"Grüße\"}\n";
  const size_t inside_u_umlaut = stream.find("\xC3") + 1;
  const std::string_view view(stream);
  ASSERT_TRUE(feed_all({view.substr(0, inside_u_umlaut), view.substr(inside_u_umlaut)}).is_ok());
  ASSERT_EQ(objects_.size(), 1u);
  EXPECT_EQ(objects_[0]["content"], "Grüße");
}

TEST_F(NdjsonReaderTest, CrlfAndBlankLines) {
  ASSERT_TRUE(feed_all({"{\"a\":1}\r\n\r\n\n   \n{\"a\":2}\r\n"}).is_ok());
  ASSERT_EQ(objects_.size(), 2u);
  EXPECT_EQ(objects_[1]["a"], 2);
  EXPECT_EQ(reader_.lines_read(), 5u);
}

TEST_F(NdjsonReaderTest, DanglingLineIsTruncated) {
  ASSERT_TRUE(reader_.feed_objects(kRead1, collect_).is_ok());
  const Status status = reader_.finish();
  EXPECT_EQ(status.code(), ErrorCode::kTruncated);
  EXPECT_NE(status.message().find("inside line 1"), std::string::npos) << status.message();
  const Status objects_status = reader_.finish_objects(collect_);
  EXPECT_EQ(objects_status.code(), ErrorCode::kTruncated);
  EXPECT_TRUE(objects_.empty());
}

TEST_F(NdjsonReaderTest, FinalObjectWithoutNewlineDelivered) {
  ASSERT_TRUE(feed_all({"{\"a\":1}\n{\"done\":true}"}).is_ok());
  ASSERT_EQ(objects_.size(), 2u);
  EXPECT_TRUE(objects_[1]["done"].get<bool>());
  EXPECT_TRUE(reader_.pending().empty());
}

TEST_F(NdjsonReaderTest, InvalidLineNamesLineNumber) {
  const Status status = feed_all({"{\"a\":1}\n{\"a\":}\n"});
  EXPECT_EQ(status.code(), ErrorCode::kParseError);
  EXPECT_NE(status.message().find("stream line 2 is not valid JSON"), std::string::npos)
      << status.message();
}

TEST_F(NdjsonReaderTest, HandlerErrorStopsFeed) {
  int calls = 0;
  const Status status = reader_.feed("{}\n{}\n{}\n", [&](std::string_view) {
    ++calls;
    return calls == 2 ? Status(ErrorCode::kServerError, "stop") : Status::ok();
  });
  EXPECT_EQ(status.code(), ErrorCode::kServerError);
  EXPECT_EQ(calls, 2);
}

TEST_F(NdjsonReaderTest, MaxLineSize) {
  NdjsonReader reader(/*max_line_bytes=*/8);
  auto ignore = [](std::string_view) { return Status::ok(); };
  EXPECT_TRUE(reader.feed("12345678", ignore).is_ok());
  EXPECT_TRUE(reader.feed("\n", ignore).is_ok());
  const Status status = reader.feed("1234", ignore);
  ASSERT_TRUE(status.is_ok());
  const Status over = reader.feed("56789", ignore);
  EXPECT_EQ(over.code(), ErrorCode::kParseError);
  EXPECT_NE(over.message().find("longer than 8 bytes"), std::string::npos) << over.message();
}

}  // namespace
}  // namespace ollamaflow::llm
