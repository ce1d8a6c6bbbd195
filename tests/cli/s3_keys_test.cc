// Where the S3 keys may come from: the environment or the --config file,
// never the command line (they would show in ps and shell history).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "cli/s3_bucket_test.h"

namespace up::testing {
namespace {

class S3KeysTest : public S3BucketTest {
 protected:
  void SetUp() override {
    S3BucketTest::SetUp();
    ::unsetenv("UPGATE_S3_ACCESS_KEY");
    ::unsetenv("UPGATE_S3_SECRET_KEY");
  }
  std::string blobs() const { return blobs_url("k"); }
};

TEST_F(S3KeysTest, KeysFromTheConfigFileOnly) {
  const std::string config = dir_.path() + "/upgate.toml";
  std::ofstream(config) << "s3-access-key = \"" << rgw_.access_key << "\"\n"
                        << "s3-secret-key = \"" << rgw_.secret_key << "\"\n";
  start_server({"--config", config, "--blobs", blobs()});
  auto r = client_->upload("POST", "/v1/files?name=f.bin", admin(), 1000, pattern_bytes);
  ASSERT_EQ(r.status, 201) << r.body;
  auto got = client_->download("/v1/files/" + str(parse(r.body), "id") + "/content", admin());
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.sha256, str(parse(r.body), "sha256"));
  EXPECT_EQ(*storage::s3_test::count_objects(bucket_), 1u);
}

TEST_F(S3KeysTest, AKeyOnTheCommandLineIsRefused) {
  for (const std::string& flag :
       {std::string("--s3-secret-key=") + rgw_.secret_key, std::string("--s3-access-key")}) {
    int code = 0;
    const std::string out =
        run_command("timeout 30 '" + upgate_bin() + "' serve --listen " + "127.0.0.1:0 --data '" +
                        dir_.path() + "/d' --blobs '" + blobs() + "' " + flag +
                        (flag.find('=') == std::string::npos ? " x" : "") + " 2>&1",
                    &code);
    EXPECT_NE(code, 0) << out;
    EXPECT_NE(out.find("is not accepted on the command line"), std::string::npos) << out;
    EXPECT_NE(out.find("--config file"), std::string::npos) << out;
    EXPECT_EQ(out.find(rgw_.secret_key), std::string::npos) << out;  // never echoed
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/d"));  // refused before anything ran
}

}  // namespace
}  // namespace up::testing
