// What upgate creates in its data directory is not readable by others, whatever
// the umask it was started with (docs/configuration.md, "Data directory"):
// folders 0750, files 0640, key material 0600. And a generated bootstrap key
// never reaches stdout (the access log's stream).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace up::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Every folder and file under `root` (and `root` itself), by path, with its
// permission bits. lstat: a symlink would be reported as one, not followed.
std::map<std::string, mode_t> modes_under(const std::string& root) {
  std::map<std::string, mode_t> out;
  auto add = [&](const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) out[p.string()] = st.st_mode;
  };
  add(root);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    add(it->path());
  }
  return out;
}

// The mode each entry must have: 0750 for folders, 0600 for key material,
// 0640 for any other file. Returns how many entries were checked.
size_t expect_private_modes(const std::string& root) {
  const auto modes = modes_under(root);
  for (const auto& [path, mode] : modes) {
    const std::string name = fs::path(path).filename().string();
    SCOPED_TRACE(path);
    if (S_ISDIR(mode)) {
      EXPECT_EQ(mode & 07777, 0750u) << std::oct << (mode & 07777);
    } else {
      EXPECT_TRUE(S_ISREG(mode)) << "not a regular file";
      const mode_t want = name == "master.key" || name == "bootstrap-key.txt" ? 0600 : 0640;
      EXPECT_EQ(mode & 07777, want) << std::oct << (mode & 07777);
    }
  }
  return modes.size();
}

bool has_file(const std::map<std::string, mode_t>& modes, const std::string& suffix) {
  for (const auto& [path, mode] : modes)
    if (path.size() >= suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DataPermissionsTest : public ::testing::Test {
 protected:
  // The server and CLI processes the tests start inherit umask 000: nothing
  // upgate creates may then rely on the umask to hide it.
  void SetUp() override { old_umask_ = ::umask(0); }
  void TearDown() override { ::umask(old_umask_); }

  mode_t old_umask_ = 0;
};

TEST_F(DataPermissionsTest, ServerCreatesFoldersAndFilesWithoutAccessForOthers) {
  UP_SKIP_ON_S3_BLOBS("checks the modes of the blob files and small-blobs.db");
  ServerProcess server;
  server.start();
  HttpClient client(server.port());
  const Headers auth = {{"Authorization", std::string("Bearer ") + ServerProcess::kAdminKey},
                        {"Content-Type", "application/octet-stream"}};
  // A small file goes into small-blobs.db, one over 8 KiB into a segment of
  // small-blobs/, a large one into blobs/<aa>/.
  auto small = client.request("POST", "/v1/files?name=small.bin", auth, pattern_string(1000));
  ASSERT_EQ(small.status, 201) << small.body;
  auto packed = client.request("POST", "/v1/files?name=packed.bin", auth, pattern_string(30'000));
  ASSERT_EQ(packed.status, 201) << packed.body;
  auto large = client.upload("POST", "/v1/files?name=large.bin", auth, 200 * 1024, pattern_bytes);
  ASSERT_EQ(large.status, 201) << large.body;

  // An upload in flight: its temporary file sits in tmp/ while the body streams.
  int fd = client.connect_socket();
  ASSERT_GE(fd, 0);
  const std::string head = std::string("POST /v1/files?name=slow.bin HTTP/1.1\r\nHost: x\r\n") +
                           "Authorization: Bearer " + ServerProcess::kAdminKey +
                           "\r\nContent-Type: application/octet-stream\r\n"
                           "Content-Length: 1048576\r\n\r\n";
  const std::string part = pattern_string(200 * 1024);
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  ASSERT_EQ(::send(fd, part.data(), part.size(), MSG_NOSIGNAL), static_cast<ssize_t>(part.size()));
  for (int i = 0; i < 100 && server.temp_files().empty(); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(server.temp_files().size(), 1u);

  // While the server runs, SQLite's -wal and -shm files exist too.
  const auto modes = modes_under(server.data_dir());
  for (const char* f :
       {"/upgate.db", "/upgate.db-wal", "/upgate.db-shm", "/small-blobs.db", "/small-blobs.db-wal",
        "/small-blobs.db-shm", ".pack", "/master.key", ".tmp"})
    EXPECT_TRUE(has_file(modes, f)) << f;
  EXPECT_EQ(server.blob_files().size(), 3u);
  EXPECT_GT(expect_private_modes(server.data_dir()), 256u + 16u);
  ::close(fd);
}

TEST_F(DataPermissionsTest, AdminCliCreatesADataDirectoryWithoutAccessForOthers) {
  UP_SKIP_ON_S3_BLOBS("checks the modes of the blob files and small-blobs.db");
  TempDir dir;
  // Missing parents are created too, with the same mode.
  const std::string data = dir.path() + "/srv/upgate";
  const ServerProcess never_started({}, data);  // for its cli()
  int rc = -1;
  const std::string out = never_started.cli({"tenants", "create", "acme"}, &rc);
  ASSERT_EQ(rc, 0) << out;
  const auto modes = modes_under(data);
  for (const char* f : {"/upgate.db", "/small-blobs.db", "/master.key"})
    EXPECT_TRUE(has_file(modes, f)) << f;
  expect_private_modes(dir.path() + "/srv");
}

TEST_F(DataPermissionsTest, GeneratedBootstrapKeyGoesToAPrivateFileNotStdout) {
  TempDir dir;
  ServerProcess server({}, dir.path() + "/data");
  server.set_bootstrap_key("");  // the server generates one
  server.start();
  // The harness's stdout and stderr are a file, not a terminal: the key goes
  // to <data>/bootstrap-key.txt, and the output only says where.
  const std::string path = server.data_dir() + "/bootstrap-key.txt";
  std::string key = read_file(path);
  ASSERT_FALSE(key.empty());
  ASSERT_EQ(key.back(), '\n');
  key.pop_back();
  EXPECT_EQ(key.rfind("upk_", 0), 0u) << key;
  const std::string log = server.stdout_text();
  EXPECT_EQ(log.find(key), std::string::npos) << log;
  EXPECT_NE(log.find(path), std::string::npos) << log;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  HttpClient client(server.port());
  EXPECT_EQ(client.request("GET", "/v1/admin/tenants", bearer(key)).status, 200);

  // Once the default tenant has a key, a restart shows and writes nothing.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  server.terminate();
  ServerProcess again({}, server.data_dir());
  again.set_bootstrap_key("");
  again.start();
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(again.stdout_text().find("bootstrap admin key"), std::string::npos)
      << again.stdout_text();
}

TEST_F(DataPermissionsTest, AKeyGeneratedForAStartThatFailsIsDropped) {
  // A port in use makes the start fail after the key was generated.
  int busy = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(busy, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(busy, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(busy, 1), 0);
  ASSERT_EQ(::getsockname(busy, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const char* bin = std::getenv("UPGATE_BIN");
  int rc = -1;
  run_command(std::string(bin ? bin : "./upgate") + " serve --data '" + data +
                  "' --listen 127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + " 2>&1",
              &rc);
  ::close(busy);
  EXPECT_EQ(rc, 1);
  // Nobody saw that key: the next start must make and show another.
  EXPECT_FALSE(fs::exists(data + "/bootstrap-key.txt"));
  const ServerProcess never_started({}, data);
  EXPECT_EQ(never_started.cli({"keys", "list", "--tenant", "default"}), "");
}

TEST_F(DataPermissionsTest, GivenBootstrapKeyIsNotPrinted) {
  ServerProcess server;
  server.start();
  const std::string log = server.stdout_text();
  EXPECT_EQ(log.find(ServerProcess::kAdminKey), std::string::npos) << log;
  EXPECT_NE(log.find("--bootstrap-key"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(server.data_dir() + "/bootstrap-key.txt"));
}

}  // namespace
}  // namespace up::testing
