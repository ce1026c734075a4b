#include "sim/trace.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "fakes/test_paths.h"

namespace ollamaflow::sim {
namespace {

class TraceTest : public ::testing::Test {};

TEST_F(TraceTest, SecondsFormatShiftsToZero) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n5,10,20\n7.5,30,40\n", "t.csv", 1, 0);
  ASSERT_TRUE(trace.is_ok()) << trace.status().to_string();
  ASSERT_EQ(trace->requests.size(), 2u);
  EXPECT_DOUBLE_EQ(trace->requests[0].arrival_s, 0);
  EXPECT_DOUBLE_EQ(trace->requests[1].arrival_s, 2.5);
  EXPECT_EQ(trace->requests[1].prompt_tokens, 30);
  EXPECT_EQ(trace->requests[1].output_tokens, 40);
  EXPECT_DOUBLE_EQ(trace->duration_s, 3.5);
}

TEST_F(TraceTest, AzureFormatParsesTimestamps) {
  const char* text =
      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
      "2023-11-16 18:15:46.6805900,374,44\n"
      "2023-11-16 18:15:50.9951690,396,109\n"
      "2023-11-16 18:16:00.0000000,1,2\n";
  Result<Trace> trace = parse_trace_csv(text, "azure.csv", 1, 0);
  ASSERT_TRUE(trace.is_ok()) << trace.status().to_string();
  ASSERT_EQ(trace->requests.size(), 3u);
  EXPECT_NEAR(trace->requests[1].arrival_s, 4.314579, 1e-6);
  EXPECT_NEAR(trace->requests[2].arrival_s, 13.31941, 1e-5);
  EXPECT_EQ(trace->requests[0].prompt_tokens, 374);
}

TEST_F(TraceTest, TimestampsCrossMidnight) {
  const char* text =
      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
      "2023-12-31 23:59:59.5,1,1\n"
      "2024-01-01 00:00:00.5,1,1\n";
  Result<Trace> trace = parse_trace_csv(text, "midnight.csv", 1, 0);
  ASSERT_TRUE(trace.is_ok()) << trace.status().to_string();
  EXPECT_NEAR(trace->requests[1].arrival_s, 1.0, 1e-9);
}

TEST_F(TraceTest, ImpossibleDateNamesRowValueAndFix) {
  const char* text =
      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
      "2023-02-28 23:59:59.0,1,1\n"
      "2023-02-30 10:00:00.0,1,1\n";
  Result<Trace> trace = parse_trace_csv(text, "azure.csv", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kParseError);
  EXPECT_EQ(trace.status().message(),
            "trace azure.csv: line 3 column 1: TIMESTAMP \"2023-02-30 10:00:00.0\" is not a "
            "valid time, because February 2023 has 28 days: correct or drop that row");
}

TEST_F(TraceTest, LeapDayOnlyInLeapYears) {
  const std::string header = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  EXPECT_TRUE(parse_trace_csv(header + "2024-02-29 00:00:00,1,1\n", "t", 1, 0).is_ok());
  EXPECT_TRUE(parse_trace_csv(header + "2000-02-29 00:00:00,1,1\n", "t", 1, 0).is_ok());
  Result<Trace> century = parse_trace_csv(header + "1900-02-29 00:00:00,1,1\n", "t", 1, 0);
  ASSERT_FALSE(century.is_ok());
  EXPECT_NE(century.status().message().find("February 1900 has 28 days"), std::string::npos)
      << century.status().message();
}

TEST_F(TraceTest, OutOfRangeTimestampFieldsAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2023-04-31 00:00:00", "April 2023 has 30 days"},
      {"2023-01-00 00:00:00", "day 0 is outside 1 to 31"},
      {"2023-13-01 00:00:00", "month 13 is outside 1 to 12"},
      {"2023-00-01 00:00:00", "month 0 is outside 1 to 12"},
      {"2023-01-01 24:00:00", "hour 24 is outside 0 to 23"},
      {"2023-01-01 23:60:00", "minute 60 is outside 0 to 59"},
      {"2023-01-01 23:59:61", "second 61 is not below 61"},
  };
  for (const auto& [timestamp, problem] : cases) {
    Result<Trace> trace = parse_trace_csv(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n" + timestamp + ",1,1\n", "t", 1, 0);
    ASSERT_FALSE(trace.is_ok()) << timestamp;
    EXPECT_NE(trace.status().message().find("line 2 column 1: TIMESTAMP \"" + timestamp +
                                            "\" is not a valid time, because " + problem),
              std::string::npos)
        << trace.status().message();
  }
}

TEST_F(TraceTest, LeapSecondIsAccepted) {
  Result<Trace> trace = parse_trace_csv(
      "TIMESTAMP,ContextTokens,GeneratedTokens\n2016-12-31 23:59:60.5,1,1\n", "t", 1, 0);
  EXPECT_TRUE(trace.is_ok()) << trace.status().to_string();
}

TEST_F(TraceTest, RateScaleDividesArrivalTimes) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,1,1\n10,1,1\n", "t", 0.25, 0);
  ASSERT_TRUE(trace.is_ok());
  EXPECT_DOUBLE_EQ(trace->requests[1].arrival_s, 40);
  EXPECT_NE(trace->description.find("0.25"), std::string::npos);
}

TEST_F(TraceTest, DurationDropsLaterRequests) {
  Result<Trace> trace = parse_trace_csv(
      "arrival_s,prompt_tokens,output_tokens\n0,1,1\n9.99,1,1\n10,1,1\n", "t", 1, 10);
  ASSERT_TRUE(trace.is_ok());
  EXPECT_EQ(trace->requests.size(), 2u);
  EXPECT_DOUBLE_EQ(trace->duration_s, 10);
  EXPECT_NE(trace->description.find("t: 2 requests, arrival rate scaled by 1; 1 row at or after "
                                    "--duration 10 s left out"),
            std::string::npos)
      << trace->description;
}

TEST_F(TraceTest, UnknownHeaderIsRejected) {
  Result<Trace> trace = parse_trace_csv("time,in,out\n0,1,1\n", "bad.csv", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kParseError);
  EXPECT_NE(trace.status().message().find("bad.csv"), std::string::npos);
}

TEST_F(TraceTest, BadValueNamesLineAndColumn) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,1,1\n1,x,1\n", "t.csv", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_NE(trace.status().message().find("line 3 column 2"), std::string::npos)
      << trace.status().message();
}

TEST_F(TraceTest, BinaryHeaderIsEscapedAndCut) {
  std::string header = "\x7f";
  header += "ELF\x02\x01" + std::string(100, '\0') + "\n";
  Result<Trace> trace = parse_trace_csv(header + "0,1,1\n", "bin.csv", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  const std::string message = trace.status().message();
  EXPECT_NE(message.find("line 1: unknown header \"\\x7fELF\\x02\\x01\\x00"), std::string::npos)
      << message;
  EXPECT_NE(message.find("(first 40 of 106 bytes)"), std::string::npos) << message;
  EXPECT_EQ(message.find('\0'), std::string::npos);
  EXPECT_EQ(message.find('\x7f'), std::string::npos);
}

TEST_F(TraceTest, BadValueIsEscaped) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,\"1\x1b[2J,1\n", "t.csv", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_NE(trace.status().message().find(R"(line 2 column 2: invalid value "\"1\x1b[2J")"),
            std::string::npos)
      << trace.status().message();
}

TEST_F(TraceTest, ByteOrderMarkIsSkipped) {
  Result<Trace> trace = parse_trace_csv(
      "\xEF\xBB\xBF"
      "arrival_s,prompt_tokens,output_tokens\n0,1,1\n",
      "bom.csv", 1, 0);
  ASSERT_TRUE(trace.is_ok()) << trace.status().to_string();
  EXPECT_EQ(trace->requests.size(), 1u);
}

TEST_F(TraceTest, OneRequestIsSingular) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,1,1\n", "one.csv", 1, 0);
  ASSERT_TRUE(trace.is_ok()) << trace.status().to_string();
  EXPECT_NE(trace->description.find("one.csv: 1 request,"), std::string::npos)
      << trace->description;
}

TEST_F(TraceTest, LongLineNamesLimit) {
  const std::string row = "0,1," + std::string(5000, '1');
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n" + row + "\n", "long.csv", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kParseError);
  EXPECT_NE(trace.status().message().find("line 2 is longer than the limit of 4096 bytes"),
            std::string::npos)
      << trace.status().message();
}

TEST_F(TraceTest, EndlessDeviceIsRejected) {
  Result<Trace> trace = load_trace_csv("/dev/zero");
  ASSERT_FALSE(trace.is_ok());
  EXPECT_NE(trace.status().message().find("line 1 is longer than the limit"), std::string::npos)
      << trace.status().message();
  EXPECT_NE(trace.status().message().find("/dev/zero is not a regular file"), std::string::npos)
      << trace.status().message();
}

TEST_F(TraceTest, UnsortedRowsAreSortedAndNamed) {
  Result<Trace> trace = parse_trace_csv(
      "arrival_s,prompt_tokens,output_tokens\n10,1,1\n30,2,2\n20,3,3\n15,4,4\n", "t.csv", 1, 0);
  ASSERT_TRUE(trace.is_ok()) << trace.status().to_string();
  ASSERT_EQ(trace->requests.size(), 4u);
  EXPECT_DOUBLE_EQ(trace->requests[1].arrival_s, 5);
  EXPECT_EQ(trace->requests[1].prompt_tokens, 4);
  EXPECT_EQ(trace->requests[3].prompt_tokens, 2);
  EXPECT_NE(trace->description.find("sorted by arrival time, because 2 rows"), std::string::npos)
      << trace->description;
  EXPECT_NE(trace->description.find("the first at line 4"), std::string::npos)
      << trace->description;
}

TEST_F(TraceTest, SortedRowsSayNothingAboutOrder) {
  Result<Trace> trace = parse_trace_csv(
      "arrival_s,prompt_tokens,output_tokens\n0,1,1\n0,1,1\n1,1,1\n", "t.csv", 1, 0);
  ASSERT_TRUE(trace.is_ok());
  EXPECT_EQ(trace->description.find("sorted"), std::string::npos) << trace->description;
}

TEST_F(TraceTest, NegativeTokensAreRejected) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,1,-1\n", "t.csv", 1, 0);
  EXPECT_FALSE(trace.is_ok());
}

TEST_F(TraceTest, TokensAtLimitsAreAccepted) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,4194304,1048576\n", "t.csv", 1, 0);
  ASSERT_TRUE(trace.is_ok()) << trace.status().to_string();
  EXPECT_EQ(trace->requests[0].prompt_tokens, 4194304);
  EXPECT_EQ(trace->requests[0].output_tokens, 1048576);
}

TEST_F(TraceTest, TokensAboveLimitNameRowAndLimit) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1,4194305,1", "line 3 column 2: prompt_tokens 4194305 is above the limit of 4194304"},
      {"1,99999999999,1",
       "line 3 column 2: prompt_tokens 99999999999 is above the limit of 4194304"},
      {"1,1,1048577", "line 3 column 3: output_tokens 1048577 is above the limit of 1048576"},
  };
  for (const auto& [row, expected] : cases) {
    Result<Trace> trace = parse_trace_csv(
        "arrival_s,prompt_tokens,output_tokens\n0,1,1\n" + row + "\n", "t.csv", 1, 0);
    ASSERT_FALSE(trace.is_ok()) << row;
    EXPECT_EQ(trace.status().code(), ErrorCode::kParseError) << row;
    EXPECT_NE(trace.status().message().find(expected), std::string::npos)
        << trace.status().message();
  }
}

TEST_F(TraceTest, AzureTokensAboveLimitUseColumnName) {
  Result<Trace> trace = parse_trace_csv(
      "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,5000000,1\n", "a.csv", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_NE(trace.status().message().find(
                "line 2 column 2: ContextTokens 5000000 is above the limit of 4194304"),
            std::string::npos)
      << trace.status().message();
}

TEST_F(TraceTest, NonNumericTokensNameRange) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,1,many\n", "t.csv", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_NE(trace.status().message().find(
                "line 2 column 3: invalid value \"many\": expected a token count from 0 to "
                "1048576"),
            std::string::npos)
      << trace.status().message();
}

TEST_F(TraceTest, WrongFieldCountIsRejected) {
  Result<Trace> trace = parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,1\n", "t", 1, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_NE(trace.status().message().find("2 fields"), std::string::npos);
}

TEST_F(TraceTest, HeaderOnlyIsRejected) {
  EXPECT_FALSE(parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n", "t", 1, 0).is_ok());
}

TEST_F(TraceTest, InvalidRateScaleIsRejected) {
  Result<Trace> trace =
      parse_trace_csv("arrival_s,prompt_tokens,output_tokens\n0,1,1\n", "t", 0, 0);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(TraceTest, MissingFileIsNotFound) {
  Result<Trace> trace = load_trace_csv("/nonexistent/trace.csv");
  ASSERT_FALSE(trace.is_ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kNotFound);
}

TEST_F(TraceTest, FolderIsRejectedAsFolder) {
  testing::TempDir dir;
  Result<Trace> trace = load_trace_csv(dir.path().string());
  ASSERT_FALSE(trace.is_ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(
      trace.status().message().find(dir.path().string() + " is a folder, expected a CSV file"),
      std::string::npos)
      << trace.status().message();
}

class PatternTest : public ::testing::Test {
 protected:
  PatternParams params_;
};

TEST_F(PatternTest, SameSeedGivesSameTrace) {
  for (const std::string& name : pattern_names()) {
    Result<Trace> first = generate_pattern(name, params_);
    Result<Trace> second = generate_pattern(name, params_);
    ASSERT_TRUE(first.is_ok()) << name;
    ASSERT_TRUE(second.is_ok()) << name;
    ASSERT_EQ(first->requests.size(), second->requests.size()) << name;
    for (size_t i = 0; i < first->requests.size(); ++i) {
      ASSERT_EQ(first->requests[i].arrival_s, second->requests[i].arrival_s) << name;
      ASSERT_EQ(first->requests[i].output_tokens, second->requests[i].output_tokens) << name;
    }
  }
}

TEST_F(PatternTest, OtherSeedGivesOtherTrace) {
  Result<Trace> first = generate_pattern("steady", params_);
  params_.seed = 2;
  Result<Trace> second = generate_pattern("steady", params_);
  ASSERT_TRUE(first.is_ok());
  ASSERT_TRUE(second.is_ok());
  EXPECT_NE(first->requests.front().arrival_s, second->requests.front().arrival_s);
}

TEST_F(PatternTest, SteadyRateMatches) {
  Result<Trace> trace = generate_pattern("steady", params_);
  ASSERT_TRUE(trace.is_ok());
  const double rate = trace->requests.size() / params_.duration_s;
  EXPECT_NEAR(rate, params_.base_rate, 0.05);
  for (const Request& request : trace->requests) {
    ASSERT_GE(request.arrival_s, 0);
    ASSERT_LT(request.arrival_s, params_.duration_s);
  }
}

TEST_F(PatternTest, StepSurgesTenfold) {
  Result<Trace> trace = generate_pattern("step", params_);
  ASSERT_TRUE(trace.is_ok());
  int before = 0;
  int during = 0;
  for (const Request& request : trace->requests) {
    if (request.arrival_s < params_.step_start_s) {
      ++before;
    } else if (request.arrival_s < params_.step_start_s + params_.step_length_s) {
      ++during;
    }
  }
  const double rate_before = before / params_.step_start_s;
  const double rate_during = during / params_.step_length_s;
  EXPECT_NEAR(rate_during / rate_before, 10, 2.5);
  ASSERT_EQ(trace->surges_s.size(), 1u);
  EXPECT_DOUBLE_EQ(trace->surges_s[0], params_.step_start_s);
}

TEST_F(PatternTest, BurstyHasHighStates) {
  Result<Trace> trace = generate_pattern("bursty", params_);
  ASSERT_TRUE(trace.is_ok());
  EXPECT_FALSE(trace->surges_s.empty());
  const double rate = trace->requests.size() / params_.duration_s;
  EXPECT_GT(rate, params_.burst_low_rate);
  EXPECT_LT(rate, params_.burst_rate);
}

TEST_F(PatternTest, RampPeaksInTheMiddle) {
  Result<Trace> trace = generate_pattern("ramp", params_);
  ASSERT_TRUE(trace.is_ok());
  int first_tenth = 0;
  int middle_tenth = 0;
  for (const Request& request : trace->requests) {
    first_tenth += request.arrival_s < params_.duration_s / 10 ? 1 : 0;
    middle_tenth += std::abs(request.arrival_s - params_.duration_s / 2) < params_.duration_s / 20;
  }
  EXPECT_GT(middle_tenth, 2 * first_tenth);
}

TEST_F(PatternTest, RateScaleMultipliesArrivals) {
  Result<Trace> base = generate_pattern("steady", params_);
  params_.rate_scale = 2;
  Result<Trace> doubled = generate_pattern("steady", params_);
  ASSERT_TRUE(base.is_ok());
  ASSERT_TRUE(doubled.is_ok());
  EXPECT_NEAR(static_cast<double>(doubled->requests.size()) / base->requests.size(), 2, 0.2);
}

TEST_F(PatternTest, UnknownNameIsRejected) {
  Result<Trace> trace = generate_pattern("sawtooth", params_);
  ASSERT_FALSE(trace.is_ok());
  EXPECT_NE(trace.status().message().find("sawtooth"), std::string::npos);
}

TEST_F(PatternTest, NonPositiveDurationIsRejected) {
  params_.duration_s = 0;
  EXPECT_FALSE(generate_pattern("steady", params_).is_ok());
}

}  // namespace
}  // namespace ollamaflow::sim
