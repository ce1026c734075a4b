// OllamaClient on /api/tags, /api/ps and /api/version bodies of the wrong shape: a clear error
// naming the URL, never an exception out of the client.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "fakes/http_test_server.h"
#include "llm/ollama_client.h"

namespace ollamaflow::llm {
namespace {

using ollamaflow::testing::HttpTestServer;

class OllamaBodiesTest : public ::testing::Test {
 protected:
  // Starts a server whose GET `path` returns 200 with `body`, and a client for it.
  std::shared_ptr<OllamaClient> client_for(const std::string& path, const std::string& body) {
    server_ = std::make_unique<HttpTestServer>();
    server_->server().Get(path, [body](const httplib::Request&, httplib::Response& res) {
      res.status = 200;
      res.set_content(body, "application/json");
    });
    server_->start();
    ServerSettings settings;
    settings.host = server_->url();
    Result<std::shared_ptr<OllamaClient>> client = OllamaClient::create(settings, system_clock());
    EXPECT_TRUE(client.is_ok()) << client.status().to_string();
    return client.is_ok() ? *client : nullptr;
  }

  std::unique_ptr<HttpTestServer> server_;
};

TEST_F(OllamaBodiesTest, WrongShapesOfTagsAreParseErrors) {
  for (const char* body :
       {R"({"models":"yes"})", R"({"models":["x"]})", R"([1,2])", R"({"models":{"name":"a"}})"}) {
    std::shared_ptr<OllamaClient> client = client_for("/api/tags", body);
    ASSERT_NE(client, nullptr);
    Result<std::vector<ModelInfo>> models = client->list_models();
    ASSERT_FALSE(models.is_ok()) << body;
    EXPECT_EQ(models.status().code(), ErrorCode::kParseError) << body;
    EXPECT_NE(models.status().message().find("/api/tags"), std::string::npos)
        << models.status().message();
  }
}

TEST_F(OllamaBodiesTest, OddFieldTypesInTagsAreSkipped) {
  std::shared_ptr<OllamaClient> client =
      client_for("/api/tags", R"({"models":[{"name":1,"model":"m:1"},{"name":"a","details":"x"},)"
                              R"({"name":"b","details":{"family":7,"parameter_size":"8B"}}]})");
  ASSERT_NE(client, nullptr);
  Result<std::vector<ModelInfo>> models = client->list_models();
  ASSERT_TRUE(models.is_ok()) << models.status().to_string();
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[0].name, "m:1");
  EXPECT_EQ((*models)[1].name, "a");
  EXPECT_EQ((*models)[1].family, "");
  EXPECT_EQ((*models)[2].family, "");
  EXPECT_EQ((*models)[2].parameter_size, "8B");
}

TEST_F(OllamaBodiesTest, NoModelsFieldIsAnEmptyList) {
  std::shared_ptr<OllamaClient> client = client_for("/api/tags", R"({})");
  ASSERT_NE(client, nullptr);
  Result<std::vector<ModelInfo>> models = client->list_models();
  ASSERT_TRUE(models.is_ok()) << models.status().to_string();
  EXPECT_TRUE(models->empty());
}

TEST_F(OllamaBodiesTest, WrongShapeOfPsIsParseError) {
  std::shared_ptr<OllamaClient> client = client_for("/api/ps", R"({"models":[3]})");
  ASSERT_NE(client, nullptr);
  Result<std::vector<LoadedModel>> loaded = client->loaded_models();
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("/api/ps"), std::string::npos);
}

TEST_F(OllamaBodiesTest, VersionOfWrongTypeIsUnknown) {
  std::shared_ptr<OllamaClient> client = client_for("/api/version", R"({"version":5})");
  ASSERT_NE(client, nullptr);
  Result<std::string> version = client->version();
  ASSERT_TRUE(version.is_ok()) << version.status().to_string();
  EXPECT_EQ(*version, "unknown");
}

}  // namespace
}  // namespace ollamaflow::llm
