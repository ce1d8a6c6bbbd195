#include "core/secrets.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace up::core {
namespace {

TEST(Secrets, MasterKeyIsMadeOnceAndKeptPrivate) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/master.key";
  auto first = Secrets::open_or_create(path);
  ASSERT_TRUE(first) << first.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = Secrets::open_or_create(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(first->derive("qiniu-sk/t1/v1"), again->derive("qiniu-sk/t1/v1"));
  EXPECT_NE(first->derive("qiniu-sk/t1/v1"), first->derive("qiniu-sk/t1/v2"));
  EXPECT_EQ(first->derive("x").size(), 32u);

  testing::TempDir other;
  auto fresh = Secrets::open_or_create(other.path() + "/master.key");
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->derive("qiniu-sk/t1/v1"), first->derive("qiniu-sk/t1/v1"));
}

TEST(DownloadLinks, VerifyChecksSignatureBindingAndExpiry) {
  ManualClock clock;
  Secrets secrets(std::string(64, 'k'));
  DownloadLinks links(secrets, clock);
  const std::string path = links.path_for("t1", "obj1", clock.now() + 60'000);
  // "/v1/links/t1/obj1?expires=<s>&signature=<hex>"
  const auto q = path.find('?');
  const std::string expires = path.substr(q + 9, path.find('&') - q - 9);
  const std::string sig = path.substr(path.find("signature=") + 10);
  EXPECT_TRUE(links.verify("t1", "obj1", expires, sig));
  EXPECT_EQ(links.verify("t2", "obj1", expires, sig).error().code, Errc::kGrantInvalid);
  EXPECT_EQ(links.verify("t1", "obj2", expires, sig).error().code, Errc::kGrantInvalid);
  EXPECT_EQ(links.verify("t1", "obj1", expires + "0", sig).error().code, Errc::kGrantInvalid);
  EXPECT_EQ(links.verify("t1", "obj1", "x", sig).error().code, Errc::kGrantInvalid);
  clock.advance(61'000);
  EXPECT_EQ(links.verify("t1", "obj1", expires, sig).error().code, Errc::kGrantExpired);
}

}  // namespace
}  // namespace up::core
