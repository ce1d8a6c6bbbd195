// The vendors' own kintone clients against upgate: @kintone/rest-api-client
// (tests/compat/kintone_client.mjs) and @kintone/cli's record export/import
// with attachments. Both insist on http://localhost, so the server also
// listens on localhost (IPv4 and IPv6, one port).

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace up::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSettings =
    R"({"fields":[{"code":"title","type":"SINGLE_LINE_TEXT","label":"Title"},)"
    R"({"code":"attachment","type":"FILE","label":"Attachment"}]})";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class KintoneCompatTest : public ServerTest {
 protected:
  void SetUp() override {
    make_server({"--listen", "localhost:0", "--kintone-tenant", "acme"});
    cli({"tenants", "create", "acme"});
    cli({"apps", "create", "1", "--tenant", "acme", "--dialect", "kintone", "--settings",
         kSettings});
    std::string guest = kSettings;
    guest.insert(1, R"("guest_space_id":"5",)");
    cli({"apps", "create", "5", "--tenant", "acme", "--dialect", "kintone", "--settings", guest});
    token_ = token("1");
    guest_token_ = token("5");
    cli({"kintone", "users", "set", "alice", "--tenant", "acme", "--password", "alice-pw"});
    cli({"kintone", "spaces", "set", "5", "--tenant", "acme", "--members", "alice"});
    start_made_server();
    std::smatch m;
    const std::string out = server_->stdout_text();
    ASSERT_TRUE(std::regex_search(out, m, std::regex("http://localhost:([0-9]+)"))) << out;
    base_url_ = "http://localhost:" + m[1].str();
  }

  std::string token(const std::string& app) {
    return str(parse(cli({"kintone", "tokens", "create", "--tenant", "acme", "--app", app})),
               "token");
  }

  // What the server serves for a record fileKey.
  std::string download(const std::string& file_key, const std::string& prefix = "/k/v1") {
    auto r = client_->request("GET", prefix + "/file.json?fileKey=" + file_key,
                              {{"X-Cybozu-API-Token", prefix == "/k/v1" ? token_ : guest_token_}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }

  std::string token_, guest_token_, base_url_;
};

TEST_F(KintoneCompatTest, RestApiClient) {
  int rc = -1;
  const std::string out =
      run_command("cd " UPGATE_COMPAT_DIR " && KINTONE_URL=" + base_url_ +
                      " KINTONE_TOKEN=" + token_ + " KINTONE_GUEST_TOKEN=" + guest_token_ +
                      " KINTONE_USER=alice KINTONE_PASSWORD=alice-pw node kintone_client.mjs 2>&1",
                  &rc);
  ASSERT_EQ(rc, 0) << out;
  const size_t at = out.find("{\"viaToken\"");
  ASSERT_NE(at, std::string::npos) << out;
  auto summary = parse(out.substr(at));
  EXPECT_EQ(summary["bulk"].as_int64(), 1203);
  // The server serves what the client uploaded, under the keys the client read.
  const std::string ascii = "hello from the kintone client\n";
  for (const char* via : {"viaToken", "viaPassword"}) {
    auto& keys = summary[via].at("fileKeys").as_array();
    ASSERT_EQ(keys.size(), 2u) << via;
    EXPECT_EQ(download(std::string(keys[0].as_string())), ascii);
    EXPECT_EQ(download(std::string(keys[1].as_string())).size(), 300'000u);
  }
  auto& guest_keys = summary["viaGuest"].at("fileKeys").as_array();
  EXPECT_EQ(download(std::string(guest_keys[0].as_string()), "/k/guest/5/v1"), ascii);
  // Stored rows: 1 + 1203 + 1 records in app 1.
  auto page = client_->request("GET", "/k/v1/records.json?app=1&totalCount=true&query=limit%201",
                               {{"X-Cybozu-API-Token", token_}});
  EXPECT_EQ(str(parse(page.body), "totalCount"), "1205");
}

TEST_F(KintoneCompatTest, CliRecordImportExportWithAttachments) {
  TempDir dir;
  const std::string in = dir.path() + "/in", out = dir.path() + "/out";
  fs::create_directories(in + "/files");
  const std::string big = pattern_string(200'000);
  std::ofstream(in + "/files/a.txt", std::ios::binary) << "alpha\n";
  std::ofstream(in + "/files/b.bin", std::ios::binary) << big;
  std::ofstream(in + "/files/数据.txt", std::ios::binary) << "中文内容";
  std::ofstream(dir.path() + "/records.csv") << "\"title\",\"attachment\"\n"
                                                "\"first\",\"files/a.txt\nfiles/b.bin\"\n"
                                                "\"second\",\"files/数据.txt\"\n"
                                                "\"third\",\"\"\n";
  const std::string cli_kintone = std::string(UPGATE_COMPAT_DIR) + "/node_modules/.bin/cli-kintone";
  const std::string common = " --base-url " + base_url_ + " --app 1 --api-token " + token_;
  int rc = -1;
  std::string log = run_command(cli_kintone + " record import" + common + " --file-path " +
                                    dir.path() + "/records.csv --attachments-dir " + in + " 2>&1",
                                &rc);
  ASSERT_EQ(rc, 0) << log;

  auto page =
      parse(client_
                ->request("GET",
                          "/k/v1/records.json?app=1&query=order%20by%20%24id%20asc&totalCount=true",
                          {{"X-Cybozu-API-Token", token_}})
                .body);
  ASSERT_EQ(str(page, "totalCount"), "3");
  auto& first = page["records"].as_array()[0].as_object();
  EXPECT_EQ(first.at("title").at("value"), "first");
  ASSERT_EQ(first.at("attachment").at("value").as_array().size(), 2u);
  EXPECT_EQ(first.at("attachment").at("value").at(1).at("name"), "b.bin");
  EXPECT_TRUE(download(std::string(
                  first.at("attachment").at("value").at(1).at("fileKey").as_string())) == big);

  fs::create_directories(out);
  const std::string csv = run_command(
      cli_kintone + " record export" + common + " --attachments-dir " + out + " 2>/dev/null", &rc);
  ASSERT_EQ(rc, 0) << csv;
  EXPECT_NE(csv.find("\"first\""), std::string::npos) << csv;
  EXPECT_NE(csv.find("\"third\""), std::string::npos) << csv;
  EXPECT_EQ(read_file(out + "/attachment-1/a.txt"), "alpha\n");
  EXPECT_TRUE(read_file(out + "/attachment-1/b.bin") == big);
  EXPECT_EQ(read_file(out + "/attachment-2/数据.txt"), "中文内容");

  // And back in: the exported CSV and files import as new records with the same files.
  std::ofstream(dir.path() + "/exported.csv") << csv;
  log = run_command(cli_kintone + " record import" + common + " --file-path " + dir.path() +
                        "/exported.csv --attachments-dir " + out + " 2>&1",
                    &rc);
  ASSERT_EQ(rc, 0) << log;
  auto again = parse(
      client_
          ->request(
              "GET",
              "/k/v1/"
              "records.json?app=1&query=%24id%20%3E%203%20order%20by%20%24id%20asc&totalCount=true",
              {{"X-Cybozu-API-Token", token_}})
          .body);
  ASSERT_EQ(str(again, "totalCount"), "3");
  auto& copy = again["records"].as_array()[0].as_object();
  EXPECT_EQ(copy.at("title").at("value"), "first");
  EXPECT_TRUE(download(std::string(
                  copy.at("attachment").at("value").at(1).at("fileKey").as_string())) == big);
}

}  // namespace
}  // namespace up::testing
