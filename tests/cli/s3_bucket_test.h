#pragma once
// The base of the CLI tests on S3: the test RGW, a fresh bucket per test
// (removed afterwards), and the server of ServerTest, not started.

#include <string>

#include <gtest/gtest.h>

#include "integration/harness.h"
#include "storage/s3_test_env.h"

namespace up::testing {

class S3BucketTest : public ServerTest {
 protected:
  void SetUp() override {
    auto rgw = storage::s3_test::rgw();
    ASSERT_TRUE(rgw) << rgw.error().message;
    rgw_ = *rgw;
    auto b = storage::s3_test::create_bucket();
    ASSERT_TRUE(b) << b.error().message;
    bucket_ = *b;
  }
  void TearDown() override {
    if (server_) server_->terminate();
    if (!bucket_.empty()) {
      EXPECT_TRUE(storage::s3_test::remove_bucket(bucket_));
    }
  }
  // s3://<bucket>/<prefix>?... on the test RGW, as --blobs takes it.
  std::string blobs_url(const std::string& prefix) const {
    return storage::s3_test::blobs_url(rgw_, bucket_, prefix);
  }

  storage::s3_test::Rgw rgw_;
  std::string bucket_;
  TempDir dir_;  // outlives every server of the test
};

}  // namespace up::testing
