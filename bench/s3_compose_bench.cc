// Issue 16: a resumable upload's pieces joined inside S3 (BlobStore::compose)
// against the way ResumableUploads::complete() joins them today, reading each
// piece and writing it again through upgate (a reader per piece, 256 KiB
// reads, one S3 writer). Run by bench/s3_compose.sh against a private RGW;
// prints one line per round, the two ways alternating. Not a test.
//
// Usage: s3_compose_bench BUCKET [PIECES [PIECE_MIB [ROUNDS]]] with S3_ENDPOINT,
// S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION set (as s3-up.sh prints them);
// BENCH_ENGINE_PIDS: the engine's daemons, whose CPU time each round reports.

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/blocking.h"
#include "storage/blob_store.h"
#include "storage/s3/s3_blob_store.h"
#include "support/await.h"

namespace {

using up::Status;
using up::storage::BlobRange;
using up::storage::BlobStore;
namespace net = boost::asio;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// One piece, written as a client's chunk would be.
net::awaitable<Status> put_piece(BlobStore& store, std::string locator, const std::string& bytes) {
  auto w = store.create(locator);
  if (!w) co_return up::fail(w.error());
  if (auto st = co_await (*w)->append(bytes); !st) co_return st;
  co_return co_await (*w)->commit();
}

// What complete() does today (core/uploads.cc, Upload::copy_in), less the hashing.
net::awaitable<Status> copy_through(BlobStore& store, std::string locator,
                                    const std::vector<BlobRange>& ranges) {
  auto w = store.create(locator);
  if (!w) co_return up::fail(w.error());
  std::vector<char> buf(256 * 1024);
  for (const BlobRange& r : ranges) {
    auto reader = co_await store.open(r.locator, r.offset, r.length);
    if (!reader) co_return up::fail(reader.error());
    for (;;) {
      auto n = co_await (*reader)->read(buf);
      if (!n) co_return up::fail(n.error());
      if (*n == 0) break;
      if (auto st = co_await (*w)->append(std::string_view(buf.data(), *n)); !st) co_return st;
    }
  }
  co_return co_await (*w)->commit();
}

// CPU seconds of the processes in `pids` ("1 2 ...": the engine's daemons) so far.
double engine_cpu_seconds(const std::string& pids) {
  double total = 0;
  std::istringstream in(pids);
  for (std::string pid; in >> pid;) {
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {  // utime and stime are fields 14, 15
      if (i == 14) utime = std::stoull(f);
      if (i == 15) stime = std::stoull(f);
    }
    total += static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return total;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: s3_compose_bench BUCKET [PIECES [PIECE_MIB [ROUNDS]]]\n");
    return 2;
  }
  const int pieces = argc > 2 ? std::atoi(argv[2]) : 128;
  const uint64_t piece = (argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 8) << 20;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 2;
  const std::string engine_pids = env("BENCH_ENGINE_PIDS");
  up::storage::S3BlobStoreOptions o;
  o.endpoint = env("S3_ENDPOINT");
  o.region = env("S3_REGION");
  o.access_key = env("S3_ACCESS_KEY");
  o.secret_key = env("S3_SECRET_KEY");
  o.bucket = argv[1];
  o.prefix = "compose";
  o.path_style = true;
  auto pool = up::core::make_thread_pool(8);
  auto store = up::storage::open_s3_blob_store(o, *pool);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  std::string bytes(piece, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 2654435761u >> 13);
  std::vector<BlobRange> ranges;
  for (int i = 0; i < pieces; ++i) {
    ranges.push_back(BlobRange{"piece-" + std::to_string(i), 0, piece});
    bytes[0] = static_cast<char>(i);  // pieces differ
    if (auto st = up::testing::await(put_piece(**store, ranges.back().locator, bytes)); !st) {
      std::fprintf(stderr, "piece %d: %s\n", i, st.error().message.c_str());
      return 1;
    }
  }
  const double mib = static_cast<double>(piece) * pieces / (1 << 20);
  std::printf("%d pieces x %llu MiB = %.0f MiB\n", pieces,
              static_cast<unsigned long long>(piece >> 20), mib);
  for (int round = 0; round < 2 * rounds; ++round) {
    const bool compose = round % 2 == 0;
    const std::string locator = (compose ? "composed-" : "through-") + std::to_string(round);
    const double cpu0 = cpu_seconds();
    const double engine0 = engine_cpu_seconds(engine_pids);
    const auto t0 = std::chrono::steady_clock::now();
    Status st = compose ? (*store)->compose(locator, ranges)
                        : up::testing::await(copy_through(**store, locator, ranges));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const double engine = engine_cpu_seconds(engine_pids) - engine0;
    if (!st) {
      std::fprintf(stderr, "%s: %s\n", locator.c_str(), st.error().message.c_str());
      return 1;
    }
    auto r = up::testing::await((*store)->open(locator, 0, UINT64_MAX));
    if (!r || (*r)->size() != piece * pieces) {
      std::fprintf(stderr, "%s: wrong size\n", locator.c_str());
      return 1;
    }
    std::printf("%-8s %7.2f s  %7.1f MiB/s  CPU: upgate %5.2f s, engine %6.2f s\n",
                compose ? "compose" : "through", s, mib / s, cpu, engine);
    std::fflush(stdout);
    if (auto rm = (*store)->remove(locator); !rm) return 1;
  }
  return 0;
}
