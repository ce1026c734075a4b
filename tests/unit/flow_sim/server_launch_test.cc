// The --start-server launch plan and the server signals that the scaling loop reads. The
// managed process itself is tested in tests/e2e/start_server_test.cc.
#include "flow/server_launch.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "fakes/llama_server.h"
#include "fakes/test_paths.h"
#include "flow/scaling_loop.h"
#include "flow/server_watch.h"
#include "orchestrator/structured_chat.h"
#include "unit/model/model_files.h"

namespace ollamaflow::flow {
namespace {

using ollamaflow::testing::LlamaServerLocation;
using ollamaflow::testing::locate_llama_server;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A machine without a GPU and with `available_mib` of host memory.
gpu::GpuSnapshot host_only(uint64_t available_mib) {
  gpu::GpuSnapshot snapshot;
  snapshot.host.total = gpu::Reading<uint64_t>{available_mib * 2 * gpu::kMiB, "test"};
  snapshot.host.available = gpu::Reading<uint64_t>{available_mib * gpu::kMiB, "test"};
  return snapshot;
}

class LaunchPlanTest : public ::testing::Test {
 protected:
  LaunchPlanTest() : where_(locate_llama_server()) {
    config_.server.model = where_.model.string();
    config_.run.agents = 3;
  }

  Result<LaunchPlan> plan(uint64_t available_mib = 16384) const {
    return plan_launch(config_, where_.binary.string(), where_.model.string(),
                       host_only(available_mib));
  }

  LlamaServerLocation where_;
  Config config_ = default_config();
};

TEST_F(LaunchPlanTest, FixedPoolSetsSlotCount) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  Result<LaunchPlan> launch = plan();
  ASSERT_TRUE(launch.is_ok()) << launch.status().to_string();
  EXPECT_EQ(launch->parallel, 3);
  // tiny.gguf was trained on 4096 tokens, below the default num_ctx of 8192.
  EXPECT_EQ(launch->ctx_per_slot, 4096);
  EXPECT_EQ(launch->total_ctx, 3 * 4096);
  EXPECT_TRUE(contains(launch->reason, "run.agents")) << launch->reason;
  EXPECT_EQ(launch->summary(), "-np 3 -c 12288");
  std::string notes;
  for (const std::string& note : launch->notes) {
    notes += note + "\n";
  }
  EXPECT_TRUE(contains(notes, "host memory")) << notes;
  EXPECT_TRUE(contains(notes, "training context 4096")) << notes;
}

TEST_F(LaunchPlanTest, ExtraArgumentsFollowPlannedOnes) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  config_.server.start_server_args = "  --threads 2   --logit-bias 1+6 ";
  Result<LaunchPlan> launch = plan();
  ASSERT_TRUE(launch.is_ok()) << launch.status().to_string();
  const std::vector<std::string> args = launch->arguments(18080);
  ASSERT_GE(args.size(), 4u);
  const std::vector<std::string> tail(args.end() - 4, args.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"--threads", "2", "--logit-bias", "1+6"}));
  EXPECT_EQ(launch->summary(), "-np 3 -c 12288");
}

TEST_F(LaunchPlanTest, ExtraArgumentSettingSlotsRejected) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  config_.server.start_server_args = "--threads 2 -np 16";
  Result<LaunchPlan> launch = plan();
  ASSERT_FALSE(launch.is_ok());
  EXPECT_EQ(launch.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(launch.status().message(), "'-np'")) << launch.status().message();
  EXPECT_TRUE(contains(launch.status().message(), "--agents")) << launch.status().message();
}

TEST_F(LaunchPlanTest, ExtraArgumentSettingCacheRejected) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  for (const std::string flag : {"-ctk", "-ctv", "--cache-type-k", "--cache-type-v", "--metrics"}) {
    config_.server.start_server_args = "--threads 2 " + flag + " q8_0";
    Result<LaunchPlan> launch = plan();
    ASSERT_FALSE(launch.is_ok()) << flag;
    EXPECT_EQ(launch.status().code(), ErrorCode::kInvalidArgument) << flag;
    EXPECT_TRUE(contains(launch.status().message(), "'" + flag + "'")) << launch.status().message();
  }
}

// A model whose head size of 32 takes a quantized cache, started by /bin/sh, which check_files()
// accepts as an executable.
class FlashAttentionArgTest : public ::testing::Test {
 protected:
  FlashAttentionArgTest() {
    ollamaflow::testing::LlamaShape shape;
    shape.width = 128;  // 4 heads of 32
    std::ofstream(model_, std::ios::binary) << ollamaflow::testing::make_llama_gguf(shape);
    config_.server.model = model_.string();
  }

  Result<LaunchPlan> plan(const std::string& cache_type_v, const std::string& server_args) {
    config_.kv_cache_type_v = cache_type_v;
    config_.server.start_server_args = server_args;
    return plan_launch(config_, "/bin/sh", model_.string(), host_only(16384));
  }

  ollamaflow::testing::TempDir dir_;
  std::filesystem::path model_ = dir_.path() / "model.gguf";
  Config config_ = default_config();
};

// A quantized V cache needs flash attention, which --start-server turns on, so a flag that
// does not keep it on is rejected.
TEST_F(FlashAttentionArgTest, QuantizedCacheRejectsFlashAttentionOff) {
  for (const std::string args : {"-fa off", "--flash-attn auto", "--flash-attn=off"}) {
    Result<LaunchPlan> launch = plan("q8_0", args);
    ASSERT_FALSE(launch.is_ok()) << args;
    EXPECT_EQ(launch.status().code(), ErrorCode::kInvalidArgument) << args;
    EXPECT_TRUE(contains(launch.status().message(),
                         "the quantized V cache q8_0 needs flash "
                         "attention"))
        << launch.status().message();
    EXPECT_TRUE(contains(launch.status().message(), "--kv-cache-type f16"))
        << launch.status().message();
  }
  Result<LaunchPlan> on = plan("q8_0", "-fa on");
  ASSERT_TRUE(on.is_ok()) << on.status().to_string();
}

// An error about the server arguments names the setting that the user wrote them in: the flag, or
// the key in the configuration file.
TEST_F(FlashAttentionArgTest, ServerArgsErrorNamesSource) {
  config_.sources["server.start_server_args"] = "flag:--server-args";
  Result<LaunchPlan> flag = plan("f16", "-c 4096");
  ASSERT_FALSE(flag.is_ok());
  EXPECT_EQ(flag.status().message().rfind("--server-args sets '-c', which --start-server", 0), 0u)
      << flag.status().message();

  config_.sources["server.start_server_args"] = "file:/etc/flow.json";
  Result<LaunchPlan> file = plan("f16", "--kv-unified");
  ASSERT_FALSE(file.is_ok());
  EXPECT_EQ(file.status().message().rfind(
                "server.start_server_args in /etc/flow.json sets --kv-unified", 0),
            0u)
      << file.status().message();

  config_.sources["server.start_server_args"] = "flag:--server-args";
  Result<LaunchPlan> quote = plan("f16", "--alias 'a b");
  ASSERT_FALSE(quote.is_ok());
  EXPECT_EQ(quote.status().message().rfind("--server-args '--alias 'a b' has a single quote", 0),
            0u)
      << quote.status().message();

  Result<LaunchPlan> flash = plan("q8_0", "-fa off");
  ASSERT_FALSE(flash.is_ok());
  EXPECT_EQ(flash.status().message().rfind("--server-args sets '-fa off'", 0), 0u)
      << flash.status().message();
}

// A pool of one agent is named in the singular in the reason for -np.
TEST_F(FlashAttentionArgTest, OneAgentReasonIsSingular) {
  config_.run.agents = 1;
  Result<LaunchPlan> launch = plan("f16", "");
  ASSERT_TRUE(launch.is_ok()) << launch.status().to_string();
  EXPECT_EQ(launch->parallel, 1);
  EXPECT_TRUE(contains(launch->reason, "the run uses at most 1 agent (")) << launch->reason;
  EXPECT_FALSE(contains(launch->reason, "1 agents")) << launch->reason;
}

// The KV cache has the same size with flash attention on, off or auto, so with an f16 cache
// the flag passes.
TEST_F(FlashAttentionArgTest, FloatCacheKeepsFlashAttentionFlag) {
  for (const std::string args : {"-fa off", "-fa on", "--flash-attn auto"}) {
    Result<LaunchPlan> launch = plan("f16", args);
    ASSERT_TRUE(launch.is_ok()) << args << ": " << launch.status().to_string();
    EXPECT_FALSE(launch->flash_attention) << args;
  }
}

// A model with sliding-window layers whose KV cache dominates its memory, started by /bin/sh.
class SwaFullArgTest : public ::testing::Test {
 protected:
  Result<LaunchPlan> plan(uint32_t sliding_window, const std::string& server_args) {
    ollamaflow::testing::LlamaShape shape;
    shape.architecture = "gemma2";  // every other layer slides
    shape.layers = 8;
    shape.width = 512;
    shape.heads = 8;
    shape.kv_heads = 8;
    shape.context = 32768;
    shape.sliding_window = sliding_window;
    std::ofstream(model_, std::ios::binary) << ollamaflow::testing::make_llama_gguf(shape);
    Config config = default_config();
    config.server.model = model_.string();
    config.server.num_ctx = 32768;
    config.run.agents = 64;
    config.gpu_scaling.memory_buffer_mb = 0;
    config.gpu_scaling.memory_safety_margin = 0;
    config.server.start_server_args = server_args;
    return plan_launch(config, "/bin/sh", model_.string(), host_only(8192));
  }

  ollamaflow::testing::TempDir dir_;
  std::filesystem::path model_ = dir_.path() / "model.gguf";
};

std::string joined_notes(const LaunchPlan& launch) {
  std::string notes;
  for (const std::string& note : launch.notes) {
    notes += note + "\n";
  }
  return notes;
}

// With --swa-full, llama-server gives the sliding-window layers a KV cache of the full context,
// so fewer slots fit in the same memory.
TEST_F(SwaFullArgTest, SwaFullPlansFullSlidingCache) {
  Result<LaunchPlan> windowed = plan(1024, "--threads 2");
  Result<LaunchPlan> full = plan(1024, "--swa-full");
  Result<LaunchPlan> underscore = plan(1024, "--swa_full");
  ASSERT_TRUE(windowed.is_ok()) << windowed.status().to_string();
  ASSERT_TRUE(full.is_ok()) << full.status().to_string();
  ASSERT_TRUE(underscore.is_ok()) << underscore.status().to_string();
  EXPECT_GT(full->parallel, 1);
  EXPECT_LT(full->parallel, windowed->parallel);
  EXPECT_EQ(underscore->parallel, full->parallel);
  EXPECT_TRUE(contains(joined_notes(*full), "the KV cache of the 4 sliding-window layers"))
      << joined_notes(*full);
  EXPECT_FALSE(contains(joined_notes(*windowed), "sliding-window")) << joined_notes(*windowed);
  EXPECT_EQ(full->extra_args, (std::vector<std::string>{"--swa-full"}));
}

// Without sliding-window layers --swa-full changes nothing, and no note names it.
TEST_F(SwaFullArgTest, SwaFullWithoutSlidingLayersChangesNothing) {
  Result<LaunchPlan> plain = plan(0, "--threads 2");
  Result<LaunchPlan> full = plan(0, "--swa-full");
  ASSERT_TRUE(plain.is_ok()) << plain.status().to_string();
  ASSERT_TRUE(full.is_ok()) << full.status().to_string();
  EXPECT_EQ(full->parallel, plain->parallel);
  EXPECT_FALSE(contains(joined_notes(*full), "sliding-window")) << joined_notes(*full);
}

// An API key that the client would not send, a KV cache shared by all slots and a KV cache in
// host memory break the run. The message names the flag and the setting to use, never the key.
TEST(SplitServerArgsTest, ConflictingFlagsRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--api-key secret-1", "--api-key (server.api_key)"},
      {"--api-key=secret-1", "--api-key (server.api_key)"},
      {"--api_key secret-1", "--api-key (server.api_key)"},
      {"--api-key-file keys.txt", "--api-key (server.api_key)"},
      {"-kvu", "set the context per slot with --num-ctx"},
      {"--kv-unified", "set the context per slot with --num-ctx"},
      {"--kv_unified", "set the context per slot with --num-ctx"},
      {"--kv-unified-per-slot 4096", "set the context per slot with --num-ctx"},
      {"-nkvo", "keeps the KV cache in host memory"},
      {"--no-kv-offload", "quantize the KV cache (--kv-cache-type q8_0)"},
      {"--no_kv_offload", "quantize the KV cache (--kv-cache-type q8_0)"},
  };
  for (const auto& [text, fix] : cases) {
    Result<std::vector<std::string>> args = split_server_args("--threads 2 " + text);
    ASSERT_FALSE(args.is_ok()) << text;
    EXPECT_EQ(args.status().code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_TRUE(contains(args.status().message(), fix)) << args.status().message();
    EXPECT_FALSE(contains(args.status().message(), "secret-1")) << args.status().message();
  }
}

// The defaults of llama-server with -np, separate KV caches per slot in the memory of the GPUs,
// may be given, and so may -kvo, which starts like -kvu.
TEST(SplitServerArgsTest, SeparateKvCachesKept) {
  Result<std::vector<std::string>> args =
      split_server_args("-no-kvu --no-kv-unified -kvo --kv-offload");
  ASSERT_TRUE(args.is_ok()) << args.status().to_string();
  EXPECT_EQ(args->size(), 4u);
}

// The variables of the flags that split_server_args() rejects, and LLAMA_ARG_SWA_FULL, are
// found with their reasons. The variables of the flags that the run passes itself stay, because
// llama-server reads its command line over them.
TEST(WithheldVariablesTest, ConflictingVariablesFound) {
  const std::map<std::string, std::string> environment = {
      {"LLAMA_ARG_SWA_FULL", "1"},      {"LLAMA_ARG_NO_KV_OFFLOAD", "1"},
      {"LLAMA_ARG_KV_UNIFIED", "true"}, {"LLAMA_API_KEY", "secret-2"},
      {"LLAMA_ARG_N_PARALLEL", "8"},    {"LLAMA_ARG_CTX_SIZE", "512"},
      {"LLAMA_ARG_FLASH_ATTN", "off"},  {"LLAMA_ARG_THREADS", "2"},
  };
  const EnvLookup env = [&environment](const std::string& name) -> std::optional<std::string> {
    const auto found = environment.find(name);
    if (found == environment.end()) {
      return std::nullopt;
    }
    return found->second;
  };
  std::map<std::string, std::string> reasons;
  for (const WithheldVariable& variable : withheld_variables(env, "")) {
    reasons[variable.name] = variable.reason;
  }
  ASSERT_EQ(reasons.size(), 4u);
  EXPECT_TRUE(contains(reasons["LLAMA_ARG_SWA_FULL"], "pass --swa-full there instead"))
      << reasons["LLAMA_ARG_SWA_FULL"];
  EXPECT_TRUE(contains(reasons["LLAMA_ARG_NO_KV_OFFLOAD"], "host memory"))
      << reasons["LLAMA_ARG_NO_KV_OFFLOAD"];
  EXPECT_TRUE(contains(reasons["LLAMA_ARG_KV_UNIFIED"], "share one KV cache"))
      << reasons["LLAMA_ARG_KV_UNIFIED"];
  EXPECT_TRUE(contains(reasons["LLAMA_API_KEY"], "--api-key (server.api_key)"))
      << reasons["LLAMA_API_KEY"];
  EXPECT_FALSE(contains(reasons["LLAMA_API_KEY"], "secret-2")) << reasons["LLAMA_API_KEY"];

  // The run's own key is what the server gets in LLAMA_API_KEY anyway.
  for (const WithheldVariable& variable : withheld_variables(env, "secret-2")) {
    EXPECT_NE(variable.name, "LLAMA_API_KEY");
  }
}

TEST(WithheldVariablesTest, PlannedFlagVariablesKept) {
  for (const char* name :
       {"LLAMA_ARG_N_PARALLEL", "LLAMA_ARG_CTX_SIZE", "LLAMA_ARG_CACHE_TYPE_V",
        "LLAMA_ARG_FLASH_ATTN", "LLAMA_ARG_THREADS", "LLAMA_ARG_NO_KV_UNIFIED"}) {
    EXPECT_FALSE(is_withheld_variable(name)) << name;
  }
  for (const char* name : {"LLAMA_API_KEY", "LLAMA_ARG_API_KEY_FILE", "LLAMA_ARG_KV_UNIFIED",
                           "LLAMA_ARG_KV_UNIFIED_PER_SLOT", "LLAMA_ARG_KV_OFFLOAD",
                           "LLAMA_ARG_NO_KV_OFFLOAD", "LLAMA_ARG_SWA_FULL"}) {
    EXPECT_TRUE(is_withheld_variable(name)) << name;
  }
}

TEST(SplitServerArgsTest, PlannedFlagInEqualsFormRejected) {
  for (const std::string word : {"--parallel=8", "--ctx-size=99", "--port=1", "--model=x.gguf"}) {
    Result<std::vector<std::string>> args = split_server_args("--threads 2 " + word);
    ASSERT_FALSE(args.is_ok()) << word;
    EXPECT_EQ(args.status().code(), ErrorCode::kInvalidArgument) << word;
    EXPECT_TRUE(contains(args.status().message(), "'" + word + "'")) << args.status().message();
  }
}

TEST(SplitServerArgsTest, OtherFlagsInEqualsFormKept) {
  Result<std::vector<std::string>> args = split_server_args(" --threads=8  --parallelism-x=2 ");
  ASSERT_TRUE(args.is_ok()) << args.status().to_string();
  EXPECT_EQ(*args, (std::vector<std::string>{"--threads=8", "--parallelism-x=2"}));
}

// llama-server reads none of these forms as another flag, so each would set what --start-server
// chooses, or fail the server's start with an argument error.
TEST(SplitServerArgsTest, ShortFlagWithAttachedValueRejected) {
  for (const std::string word : {"-c5", "-c=5", "-np8", "-np=8", "-m/models/x.gguf", "-mmodel.gguf",
                                 "-ctkq8_0", "-ctvf16", "-ctk=q4_0"}) {
    Result<std::vector<std::string>> args = split_server_args("--threads 2 " + word);
    ASSERT_FALSE(args.is_ok()) << word;
    EXPECT_EQ(args.status().code(), ErrorCode::kInvalidArgument) << word;
    EXPECT_TRUE(contains(args.status().message(), "sets '" + word + "'"))
        << args.status().message();
  }
}

// llama-server reads an underscore in a long flag as a dash.
TEST(SplitServerArgsTest, LongFlagSpellingsRejected) {
  for (const std::string word : {"--ctx_size=5", "--ctx_size", "--cache_type_k", "--no-metrics",
                                 "--no_metrics", "--host=0.0.0.0"}) {
    Result<std::vector<std::string>> args = split_server_args(word + " 1");
    ASSERT_FALSE(args.is_ok()) << word;
    EXPECT_TRUE(contains(args.status().message(), "sets '" + word + "'"))
        << args.status().message();
  }
}

// Each planned flag gets the fix for what it sets, not a list of every other flag.
TEST(SplitServerArgsTest, PlannedFlagFixNamesItsSetting) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--no-metrics", "the server always gets --metrics"},
      {"--metrics", "the server always gets --metrics"},
      {"-m x.gguf", "pass the GGUF file with --model"},
      {"--port=9", "a free port of 127.0.0.1"},
      {"-np 4", "set the slots with --agents"},
      {"--ctx_size 5", "set the context per slot with --num-ctx"},
      {"-ctk q8_0", "set the cache types with --kv-cache-type"},
  };
  for (const auto& [text, fix] : cases) {
    Result<std::vector<std::string>> args = split_server_args(text);
    ASSERT_FALSE(args.is_ok()) << text;
    EXPECT_TRUE(contains(args.status().message(), fix)) << args.status().message();
  }
  Result<std::vector<std::string>> metrics = split_server_args("--no-metrics");
  ASSERT_FALSE(metrics.is_ok());
  EXPECT_FALSE(contains(metrics.status().message(), "--num-ctx")) << metrics.status().message();
}

// Flags whose names start like a planned short flag stay allowed.
TEST(SplitServerArgsTest, FlagsWithPlannedPrefixKept) {
  Result<std::vector<std::string>> args =
      split_server_args("-cb -ctkd q8_0 -ctvd q8_0 -mg 1 -cnv -ngl 99 -cram 0");
  ASSERT_TRUE(args.is_ok()) << args.status().to_string();
  EXPECT_EQ(*args, (std::vector<std::string>{"-cb", "-ctkd", "q8_0", "-ctvd", "q8_0", "-mg", "1",
                                             "-cnv", "-ngl", "99", "-cram", "0"}));
}

TEST(SplitServerArgsTest, QuotesAndBackslashesGroupWords) {
  Result<std::vector<std::string>> args = split_server_args(
      R"(--alias "my model" --chat-template-file '/opt/a b/t.jinja' --ssl-key-file a\ b)"
      R"( --x "say \"hi\" \\ \n" '' "it's" 'a\b')");
  ASSERT_TRUE(args.is_ok()) << args.status().to_string();
  EXPECT_EQ(*args, (std::vector<std::string>{"--alias", "my model", "--chat-template-file",
                                             "/opt/a b/t.jinja", "--ssl-key-file", "a b", "--x",
                                             R"(say "hi" \ \n)", "", "it's", R"(a\b)"}));
}

TEST(SplitServerArgsTest, QuotedPlannedFlagRejected) {
  for (const std::string text : {"\"-c\" 5", "'--ctx-size=5'", "-c\\5"}) {
    Result<std::vector<std::string>> args = split_server_args(text);
    ASSERT_FALSE(args.is_ok()) << text;
    EXPECT_TRUE(contains(args.status().message(), "chooses itself")) << args.status().message();
  }
}

TEST(SplitServerArgsTest, UnclosedQuoteNamesValueAndFix) {
  Result<std::vector<std::string>> args = split_server_args("--alias \"my model");
  ASSERT_FALSE(args.is_ok());
  EXPECT_EQ(args.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(args.status().message(),
            "server.start_server_args '--alias \"my model' has a double quote at character 9 "
            "that is not closed: close it, or write \\\" for the quote character itself");
  Result<std::vector<std::string>> single = split_server_args("--alias it's");
  ASSERT_FALSE(single.is_ok());
  EXPECT_TRUE(contains(single.status().message(), "single quote at character 11"))
      << single.status().message();
}

TEST(SplitServerArgsTest, TrailingBackslashRejected) {
  Result<std::vector<std::string>> args = split_server_args("--threads 2 \\");
  ASSERT_FALSE(args.is_ok());
  EXPECT_TRUE(contains(args.status().message(), "ends with a backslash"))
      << args.status().message();
}

TEST_F(LaunchPlanTest, AutoScalingUsesMaxAgents) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  config_.auto_scaling = true;
  config_.gpu_scaling.max_agents = 6;
  Result<LaunchPlan> launch = plan();
  ASSERT_TRUE(launch.is_ok()) << launch.status().to_string();
  EXPECT_EQ(launch->parallel, 6);
  EXPECT_TRUE(contains(launch->reason, "gpu_scaling.max_agents")) << launch->reason;
}

TEST_F(LaunchPlanTest, MaxAgentsAboveManagerCapIsLowered) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  config_.auto_scaling = true;
  config_.gpu_scaling.max_agents = 40;
  config_.agent_management.max_agents = 5;
  Result<LaunchPlan> launch = plan();
  ASSERT_TRUE(launch.is_ok()) << launch.status().to_string();
  EXPECT_EQ(launch->parallel, 5);
  EXPECT_TRUE(contains(launch->reason, "dynamic_agent_management.max_agents")) << launch->reason;
}

TEST_F(LaunchPlanTest, MemoryBoundsSlotCount) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  config_.run.agents = 64;
  config_.gpu_scaling.memory_buffer_mb = 0;
  config_.gpu_scaling.memory_safety_margin = 0;
  // Host memory with room for a few slots of the tiny model but not for 64: one slot of 4096
  // tokens needs about 267 MiB, most of it compute buffers, and each further slot about 1 MiB.
  Result<LaunchPlan> small = plan(300);
  Result<LaunchPlan> large = plan(16384);
  ASSERT_TRUE(small.is_ok()) << small.status().to_string();
  ASSERT_TRUE(large.is_ok()) << large.status().to_string();
  EXPECT_LT(small->parallel, 64);
  EXPECT_GE(small->parallel, 1);
  EXPECT_TRUE(contains(small->reason, "host memory")) << small->reason;
  EXPECT_EQ(large->parallel, 64);
}

TEST_F(LaunchPlanTest, InvalidCacheTypeForModelIsRejected) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  // tiny.gguf has a head size of 16, which q8_0's blocks of 32 do not divide.
  config_.kv_cache_type_k = "q8_0";
  config_.kv_cache_type_v = "q8_0";
  Result<LaunchPlan> launch = plan();
  ASSERT_FALSE(launch.is_ok());
  EXPECT_EQ(launch.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(launch.status().message(), "q8_0")) << launch.status().message();
}

TEST(LaunchPlanArgumentsTest, QuantizedCacheAddsFlashAttention) {
  LaunchPlan plan;
  plan.binary = "llama-server";
  plan.model_path = "model.gguf";
  plan.parallel = 4;
  plan.ctx_per_slot = 4096;
  plan.total_ctx = 16384;
  plan.cache_type_k = "q8_0";
  plan.cache_type_v = "q4_0";
  plan.flash_attention = true;
  std::string joined;
  for (const std::string& arg : plan.arguments(18080)) {
    joined += arg + " ";
  }
  EXPECT_EQ(joined,
            "-m model.gguf --host 127.0.0.1 --port 18080 -np 4 -c 16384 -ctk q8_0 -ctv q4_0 "
            "--metrics -fa on ");
  EXPECT_EQ(plan.summary(), "-np 4 -c 16384 -ctk q8_0 -ctv q4_0 -fa on");
}

TEST_F(LaunchPlanTest, CommandLineQuotesWordsForShell) {
  LaunchPlan plan;
  plan.binary = "/opt/llama server/llama-server";
  plan.model_path = "it's.gguf";
  plan.parallel = 2;
  plan.total_ctx = 8192;
  plan.extra_args = {"--threads", "2"};
  EXPECT_EQ(plan.command_line(18080),
            "'/opt/llama server/llama-server' -m 'it'\\''s.gguf' --host 127.0.0.1 --port 18080 "
            "-np 2 -c 8192 -ctk f16 -ctv f16 --metrics --threads 2");
  EXPECT_EQ(plan.command_line(std::nullopt),
            "'/opt/llama server/llama-server' -m 'it'\\''s.gguf' --host 127.0.0.1 --port PORT "
            "-np 2 -c 8192 -ctk f16 -ctv f16 --metrics --threads 2");
}

TEST_F(LaunchPlanTest, MissingFilesAreInvalidArguments) {
  Result<LaunchPlan> no_binary =
      plan_launch(config_, "/nonexistent/llama-server", where_.model.string(), host_only(1024));
  EXPECT_EQ(no_binary.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(no_binary.status().message(), "--start-server"));
  Result<LaunchPlan> no_model =
      plan_launch(config_, "/bin/sh", "/nonexistent/model.gguf", host_only(1024));
  EXPECT_EQ(no_model.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(no_model.status().message(), "/nonexistent/model.gguf"));
}

TEST_F(LaunchPlanTest, FoldersAreNamedAsFolders) {
  const ollamaflow::testing::TempDir folder;
  Result<LaunchPlan> binary =
      plan_launch(config_, folder.path().string(), "/nonexistent/model.gguf", host_only(1024));
  EXPECT_EQ(binary.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(
      contains(binary.status().message(),
               "'" + folder.path().string() + "' is a folder, expected the llama-server binary"))
      << binary.status().message();
  Result<LaunchPlan> model =
      plan_launch(config_, "/bin/sh", folder.path().string(), host_only(1024));
  EXPECT_EQ(model.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(model.status().message(),
                       "model '" + folder.path().string() + "' is a folder, expected a GGUF file"))
      << model.status().message();
}

TEST_F(LaunchPlanTest, ModelThatDoesNotFitIsRejected) {
  OLLAMA_FLOW_REQUIRE_LLAMA_SERVER(where_);
  Result<LaunchPlan> launch = plan(1);
  ASSERT_FALSE(launch.is_ok());
  EXPECT_EQ(launch.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(launch.status().message(), "does not fit")) << launch.status().message();
}

TEST(ServerWaitTest, SubtractsLoadPromptAndEval) {
  llm::ChatUsage usage;
  usage.total_seconds = 5;
  usage.load_seconds = 0.5;
  usage.prompt_seconds = 1;
  usage.eval_seconds = 2;
  EXPECT_DOUBLE_EQ(server_wait_seconds(usage).value_or(-1), 1.5);
  usage.eval_seconds = 4;  // rounding in the server's durations must not give a negative wait
  EXPECT_DOUBLE_EQ(server_wait_seconds(usage).value_or(-1), 0);
  EXPECT_FALSE(server_wait_seconds(llm::ChatUsage{}).has_value());
}

TEST(ServerWaitTest, TrackerAveragesLastReplies) {
  ServerWaitTracker tracker(2);
  EXPECT_FALSE(tracker.mean_wait_s().has_value());
  for (const double total : {1.0, 3.0, 5.0}) {
    llm::ChatUsage usage;
    usage.total_seconds = total;
    tracker.record(usage);
  }
  EXPECT_DOUBLE_EQ(tracker.mean_wait_s().value_or(-1), 4.0);
}

TEST(ServerSignalTest, DeferredRequestsBecomeQueue) {
  llm::ServerReading reading;
  reading.total_slots = 4;
  reading.busy_slots = 4;
  reading.requests_deferred = 2;
  reading.source = "llama-server at http://127.0.0.1:1";
  reading.notes = {"a", "b"};
  const workload::ServerSignal signal = to_server_signal(reading, MonoTime(std::chrono::hours(1)));
  EXPECT_EQ(signal.queued_requests, 2);
  EXPECT_EQ(signal.busy_slots, 4);
  EXPECT_EQ(signal.total_slots, 4);
  EXPECT_EQ(signal.notes, "a; b");
  EXPECT_EQ(signal.sampled_at, MonoTime(std::chrono::hours(1)));
}

TEST(ServerSignalTest, OllamaSourceUsesConfiguredSlots) {
  Config config = default_config();
  config.server.num_parallel = 3;
  config.sources["server.num_parallel"] = "env:OLLAMA_NUM_PARALLEL";
  auto tracker = std::make_shared<ServerWaitTracker>();
  llm::ChatUsage usage;
  usage.total_seconds = 2;
  usage.eval_seconds = 1.5;
  tracker->record(usage);
  Result<ServerSignalSource> source =
      make_server_signal_source(config, "ollama", std::make_shared<FakeClock>(), tracker);
  ASSERT_TRUE(source.is_ok());
  const std::optional<workload::ServerSignal> signal = (*source)();
  ASSERT_TRUE(signal.has_value());
  EXPECT_EQ(signal->total_slots, 3);
  EXPECT_TRUE(contains(signal->source, "(environment variable OLLAMA_NUM_PARALLEL)"))
      << signal->source;
  EXPECT_DOUBLE_EQ(signal->server_wait_s.value_or(-1), 0.5);
  EXPECT_FALSE(signal->queued_requests.has_value());
}

TEST(ServerSignalTest, SimulatedBackendHasNoSource) {
  Result<ServerSignalSource> source =
      make_server_signal_source(default_config(), "sim", std::make_shared<FakeClock>(), nullptr);
  ASSERT_TRUE(source.is_ok());
  EXPECT_FALSE(static_cast<bool>(*source));
}

class MergeServerSignalTest : public ::testing::Test {
 protected:
  MergeServerSignalTest() {
    server_.total_slots = 4;
    server_.busy_slots = 3;
    server_.queued_requests = 2;
    server_.source = "llama-server at http://127.0.0.1:8080";
    server_.sampled_at = MonoTime(std::chrono::seconds(90));
  }

  workload::ServerSignal server_;
};

TEST_F(MergeServerSignalTest, ReportedSlotsReplaceConfigured) {
  std::optional<scaling::CapacitySignal> capacity = scaling::CapacitySignal{};
  capacity->slot_ceiling = 6;
  capacity->server_slots = 2;
  capacity->server_slots_source = "configured server.num_parallel (default)";
  merge_server_signal(server_, capacity);
  ASSERT_TRUE(capacity.has_value());
  EXPECT_EQ(capacity->slot_ceiling, 6);
  EXPECT_EQ(capacity->server_slots, 4);
  EXPECT_EQ(capacity->server_slots_source, "llama-server at http://127.0.0.1:8080");
  EXPECT_EQ(capacity->server_busy_slots, 3);
  EXPECT_EQ(capacity->server_queued_requests, 2);
}

TEST_F(MergeServerSignalTest, CreatesCapacityWhenAbsent) {
  std::optional<scaling::CapacitySignal> capacity;
  merge_server_signal(server_, capacity);
  ASSERT_TRUE(capacity.has_value());
  EXPECT_EQ(capacity->server_slots, 4);
  EXPECT_FALSE(capacity->slot_ceiling.has_value());
  EXPECT_EQ(capacity->sampled_at, MonoTime(std::chrono::seconds(90)));
}

TEST_F(MergeServerSignalTest, UnknownCountKeepsConfigured) {
  server_.total_slots.reset();
  std::optional<scaling::CapacitySignal> capacity = scaling::CapacitySignal{};
  capacity->server_slots = 2;
  capacity->server_slots_source = "configured";
  merge_server_signal(server_, capacity);
  EXPECT_EQ(capacity->server_slots, 2);
  EXPECT_EQ(capacity->server_slots_source, "configured");
  EXPECT_EQ(capacity->server_busy_slots, 3);
}

TEST_F(MergeServerSignalTest, EmptySignalChangesNothing) {
  std::optional<scaling::CapacitySignal> capacity;
  merge_server_signal(workload::ServerSignal{}, capacity);
  EXPECT_FALSE(capacity.has_value());
}

// The context-cut error advises llama-server's -c and -np, which a run with --start-server
// chooses itself, so the note names --num-ctx and the prompt instead.
TEST(StartedServerContextNoteTest, NamesTheRunsOwnSettings) {
  const std::string cut = "the reply was cut ... because the prompt (3549 tokens) and the reply " +
                          std::string(orchestrator::kContextCutPhrase) + " of 4096 tokens per slot";
  const std::optional<std::string> note = started_server_context_note(cut, 4096);
  ASSERT_TRUE(note.has_value());
  EXPECT_NE(note->find("chose for 4096 tokens per slot"), std::string::npos) << *note;
  EXPECT_NE(note->find("larger --num-ctx"), std::string::npos) << *note;
  EXPECT_NE(note->find("fewer dependencies"), std::string::npos) << *note;
  EXPECT_FALSE(started_server_context_note("the reply is empty", 4096).has_value());
}

}  // namespace
}  // namespace ollamaflow::flow
