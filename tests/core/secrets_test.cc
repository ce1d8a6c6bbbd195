#include "core/secrets.h"

#include <sys/stat.h>

#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace up::core {
namespace {

// Several processes pointed at one key file (--master-key): a link (or any
// token) signed by one verifies on another; another key refuses it.
TEST(Secrets, ProcessesSharingAKeyFileVerifyEachOthersSignatures) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/shared/master.key";
  ASSERT_EQ(::mkdir((dir.path() + "/shared").c_str(), 0700), 0);
  ManualClock clock;
  auto p1 = Secrets::open_or_create(path);  // the first process creates it
  auto p2 = Secrets::open_or_create(path);  // the others read it
  ASSERT_TRUE(p1 && p2);
  DownloadLinks signer(*p1, clock), checker(*p2, clock);
  const std::string link = signer.path_for("t1", "obj1", clock.now() + 60'000);
  const auto expires =
      link.substr(link.find("expires=") + 8, link.find('&') - link.find("expires=") - 8);
  const auto signature = link.substr(link.find("signature=") + 10);
  EXPECT_TRUE(checker.verify("t1", "obj1", expires, signature));
  testing::TempDir elsewhere;
  auto p3 = Secrets::open_or_create(elsewhere.path() + "/master.key");
  ASSERT_TRUE(p3);
  EXPECT_FALSE(DownloadLinks(*p3, clock).verify("t1", "obj1", expires, signature));
}

// Processes started together on one new key file all end up with one key.
TEST(Secrets, OpenersTogetherShareTheKeyOfWhicheverMadeIt) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/master.key";
  std::vector<std::optional<std::string>> derived(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < derived.size(); ++i)
    threads.emplace_back([&, i] {
      auto s = Secrets::open_or_create(path);
      if (s) derived[i] = s->derive("x");
    });
  for (auto& t : threads) t.join();
  for (const auto& d : derived) {
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, *derived[0]);
  }
  auto reopened = Secrets::open_or_create(path);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->derive("x"), *derived[0]);
}

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

// The expiry and the signature of a link path,
// "/v1/links/t1/obj1?expires=<s>&signature=<hex>".
std::pair<std::string, std::string> link_query(const std::string& path) {
  const auto q = path.find('?');
  return {path.substr(q + 9, path.find('&') - q - 9), path.substr(path.find("signature=") + 10)};
}

TEST(DownloadLinks, VerifyChecksSignatureBindingAndExpiry) {
  ManualClock clock;
  Secrets secrets(std::string(64, 'k'));
  DownloadLinks links(secrets, clock);
  const auto [expires, sig] = link_query(links.path_for("t1", "obj1", clock.now() + 60'000));
  EXPECT_TRUE(links.verify("t1", "obj1", expires, sig));
  EXPECT_EQ(links.verify("t2", "obj1", expires, sig).error().code, Errc::kGrantInvalid);
  EXPECT_EQ(links.verify("t1", "obj2", expires, sig).error().code, Errc::kGrantInvalid);
  EXPECT_EQ(links.verify("t1", "obj1", expires + "0", sig).error().code, Errc::kGrantInvalid);
  EXPECT_EQ(links.verify("t1", "obj1", "x", sig).error().code, Errc::kGrantInvalid);
  clock.advance(61'000);
  EXPECT_EQ(links.verify("t1", "obj1", expires, sig).error().code, Errc::kGrantExpired);
}

// A link verified once is remembered by the thread that verified it; the
// memory never lets through what the HMAC would refuse: a changed signature,
// another instance's key, or an expiry passed since.
TEST(DownloadLinks, ARememberedLinkIsCheckedAsAFreshOne) {
  ManualClock clock;
  Secrets secrets(std::string(64, 'k')), others(std::string(64, 'o'));
  DownloadLinks links(secrets, clock);
  const auto [expires, sig] = link_query(links.path_for("t1", "obj1", clock.now() + 60'000));
  ASSERT_TRUE(links.verify("t1", "obj1", expires, sig));
  EXPECT_TRUE(links.verify("t1", "obj1", expires, sig));  // remembered
  for (size_t at = 0; at < sig.size(); ++at) {
    std::string wrong = sig;
    wrong[at] = wrong[at] == '0' ? '1' : '0';
    EXPECT_EQ(links.verify("t1", "obj1", expires, wrong).error().code, Errc::kGrantInvalid)
        << "hex digit " << at << " changed";
    ASSERT_TRUE(links.verify("t1", "obj1", expires, sig));
  }
  EXPECT_FALSE(links.verify("t1", "obj1", expires, sig.substr(0, 63)));
  EXPECT_EQ(DownloadLinks(others, clock).verify("t1", "obj1", expires, sig).error().code,
            Errc::kGrantInvalid);
  clock.advance(61'000);
  EXPECT_EQ(links.verify("t1", "obj1", expires, sig).error().code, Errc::kGrantExpired);
}

}  // namespace
}  // namespace up::core
