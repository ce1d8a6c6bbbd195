// Crash consistency: under a steady load of concurrent uploads the server is
// killed with SIGKILL at random moments, again and again, on one data dir.
// After each restart:
//   - every upload answered 201 is there, with identical bytes and hash;
//   - nothing is visible that the client did not fully send (an upload whose
//     201 was lost in the kill may be there; one cut short never is), and
//     whatever is visible has exactly the bytes that were sent;
//   - no temp file and no blob without a row remains.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace up::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kKills = 20;
constexpr int kUploaders = 6;

// The content of upload `seq`: its size and bytes follow from the number.
uint64_t size_of(uint64_t seq) {
  // In a row of the pack, in a pack segment (over 8 KiB), in a file of its own.
  static constexpr uint64_t kSizes[] = {0, 1, 700, 4096, 20'000, 65'536, 300'000, 1'500'000};
  return kSizes[seq % std::size(kSizes)] + seq % 13;
}
void content_of(uint64_t seq, char* buf, size_t len, uint64_t offset) {
  pattern_bytes(buf, len, offset + seq * 7919);
}
std::string sha_of(uint64_t seq) {
  std::string data(size_of(seq), '\0');
  content_of(seq, data.data(), data.size(), 0);
  return sha256_hex(data);
}

struct Ledger {
  std::mutex mu;
  std::map<std::string, uint64_t> acknowledged;  // id -> seq
  std::set<uint64_t> fully_sent;                 // seqs whose whole body went out
};

TEST(CrashConsistencyTest, KilledServersLoseNothingAcknowledged) {
  UP_SKIP_ON_S3_BLOBS("kills servers mid-write and checks what they left on the local disk");
  TempDir dir;
  const std::string data = dir.path() + "/data";
  Ledger ledger;
  std::atomic<uint64_t> next_seq{1};
  std::mt19937 rng(12345);

  for (int round = 0; round < kKills; ++round) {
    ServerProcess server({}, data);
    server.start();
    HttpClient client(server.port());
    std::atomic<bool> stop{false};
    std::vector<std::thread> uploaders;
    uploaders.reserve(kUploaders);
    for (int u = 0; u < kUploaders; ++u) {
      uploaders.emplace_back([&] {
        while (!stop.load()) {
          const uint64_t seq = next_seq.fetch_add(1);
          const uint64_t size = size_of(seq);
          uint64_t sent = 0;
          auto r = client.upload(
              "POST", "/v1/files?name=s" + std::to_string(seq), bearer(ServerProcess::kAdminKey),
              size, [&](char* buf, size_t len, uint64_t off) { content_of(seq, buf, len, off); },
              &sent);
          std::lock_guard lock(ledger.mu);
          if (sent == size) ledger.fully_sent.insert(seq);
          if (r.status == 201) ledger.acknowledged[str(parse(r.body), "id")] = seq;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    server.kill9();
    stop = true;
    for (auto& t : uploaders) t.join();
  }

  // A server that was never killed looks at what the kills left.
  ServerProcess server({}, data);
  server.start();
  HttpClient client(server.port());
  std::map<std::string, std::string> visible;  // id -> name
  std::string cursor;
  for (;;) {
    auto r =
        client.request("GET", "/v1/files?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor),
                       bearer(ServerProcess::kAdminKey));
    ASSERT_EQ(r.status, 200);
    auto body = parse(r.body);
    for (auto& f : body["files"].as_array()) {
      auto& o = f.as_object();
      visible[std::string(o.at("id").as_string())] = std::string(o.at("name").as_string());
    }
    if (body["next_cursor"].is_null()) break;
    cursor = std::string(body["next_cursor"].as_string());
  }
  std::printf("%d kills: %zu uploads acknowledged, %zu files visible\n", kKills,
              ledger.acknowledged.size(), visible.size());
  ASSERT_GT(ledger.acknowledged.size(), static_cast<size_t>(kKills));

  for (const auto& [id, seq] : ledger.acknowledged) {
    ASSERT_TRUE(visible.count(id))
        << "acknowledged upload " << id << " (seq " << seq << ") is lost";
    auto d = client.download("/v1/files/" + id + "/content", bearer(ServerProcess::kAdminKey));
    EXPECT_EQ(d.status, 200);
    EXPECT_EQ(d.bytes, size_of(seq)) << id;
    EXPECT_EQ(d.sha256, sha_of(seq)) << id;
  }
  for (const auto& [id, name] : visible) {
    if (ledger.acknowledged.count(id)) continue;
    // Committed while its 201 was being lost: only a fully sent upload may be here, intact.
    const uint64_t seq = std::stoull(name.substr(1));
    EXPECT_TRUE(ledger.fully_sent.count(seq)) << "visible but never fully sent: " << name;
    auto d = client.download("/v1/files/" + id + "/content", bearer(ServerProcess::kAdminKey));
    EXPECT_EQ(d.sha256, sha_of(seq)) << name;
  }
  // The start-up sweep ran before the listener opened.
  EXPECT_TRUE(server.temp_files().empty());
  EXPECT_EQ(server.blob_files().size(), visible.size()) << "orphan blobs remain";
}

}  // namespace
}  // namespace up::testing
