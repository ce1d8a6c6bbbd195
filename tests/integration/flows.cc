#include "integration/flows.h"

#include <cstdlib>

#include "storage/s3_test_env.h"

namespace up::testing::flows {
namespace {

namespace json = boost::json;

constexpr const char* kBase = "/openim/acme/im";

// "http://127.0.0.1:7480/bucket" -> port 7480 and target "/bucket".
bool split_loopback_url(const std::string& url, uint16_t& port, std::string& target) {
  const std::string prefix = "http://127.0.0.1:";
  if (!url.starts_with(prefix)) return false;
  const size_t slash = url.find('/', prefix.size());
  port = static_cast<uint16_t>(std::atoi(url.c_str() + prefix.size()));
  target = slash == std::string::npos ? "/" : url.substr(slash);
  return port != 0;
}

}  // namespace

std::string rgw_blobs_flag(std::string& bucket) {
  auto rgw = storage::s3_test::rgw();
  if (!rgw) {
    ADD_FAILURE() << rgw.error().message;
    return {};
  }
  storage::s3_test::export_keys(*rgw);
  auto b = storage::s3_test::create_bucket();
  if (!b) {
    ADD_FAILURE() << b.error().message;
    return {};
  }
  bucket = *b;
  return storage::s3_test::blobs_url(*rgw, bucket, "upgate");
}

std::string form_body(const std::string& boundary,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& file) {
  std::string b;
  for (const auto& [name, value] : fields)
    b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
         value + "\r\n";
  b += "--" + boundary +
       "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
       "Content-Type: application/octet-stream\r\n\r\n" +
       file + "\r\n";
  return b + "--" + boundary + "--\r\n";
}

HttpResponse post_openim_form(const json::object& init, const std::string& file,
                              const HttpClient* via) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& [k, v] : init.at("formData").as_object())
    fields.emplace_back(std::string(k), std::string(v.as_string()));
  uint16_t port = 0;
  std::string target;
  const std::string url = str(init, "url");
  if (!split_loopback_url(url, port, target)) {
    ADD_FAILURE() << "not a loopback URL: " << url;
    return {};
  }
  const std::string boundary = "------------------------d74496d66958873e";
  const HttpClient direct(port);
  return (via ? *via : direct)
      .request("POST", target, {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
               form_body(boundary, fields, file));
}

void OpenIm::create(const HttpClient& c, const std::string& settings_json) {
  const Headers admin = bearer(ServerProcess::kAdminKey);
  auto t = c.request("POST", "/v1/admin/tenants", admin, R"({"id":"acme"})");
  EXPECT_TRUE(t.status == 201 || t.status == 409) << t.body;
  auto a = c.request("POST", "/v1/admin/tenants/acme/apps", admin,
                     R"({"id":"im","dialect":"openim","settings":)" + settings_json + "}");
  EXPECT_EQ(a.status, 201) << a.body;
  auto k = c.request("POST", "/v1/admin/tenants/acme/keys", admin,
                     R"({"name":"openim secret","app_id":"im"})");
  EXPECT_EQ(k.status, 201) << k.body;
  auto r = call(c, "/auth/get_admin_token",
                R"({"secret":")" + str(parse(k.body), "token") + R"(","userID":"imAdmin"})");
  admin_token_ = str(data(r), "token");
  EXPECT_FALSE(admin_token_.empty()) << json::serialize(r);
}

json::object OpenIm::call(const HttpClient& c, const std::string& route,
                          const std::string& body) const {
  Headers h = {{"operationID", "1646445464564"}, {"Content-Type", "application/json"}};
  if (!admin_token_.empty()) h.emplace_back("token", admin_token_);
  auto r = c.request("POST", kBase + route, h, body);
  EXPECT_EQ(r.status, 200) << route << ": " << r.body;
  return parse(r.body);
}

int64_t OpenIm::code(const json::object& envelope) {
  const auto* c = envelope.if_contains("errCode");
  return c && c->is_int64() ? c->as_int64() : -1;
}

json::object OpenIm::data(const json::object& envelope) {
  const auto* d = envelope.if_contains("data");
  return d && d->is_object() ? d->as_object() : json::object();
}

json::object OpenIm::initiate(const HttpClient& c, const std::string& name, size_t size,
                              const std::string& content_type) const {
  auto r = call(c, "/object/initiate_form_data",
                R"({"name":")" + name + R"(","size":)" + std::to_string(size) +
                    R"(,"contentType":")" + content_type + R"("})");
  EXPECT_EQ(code(r), 0) << json::serialize(r);
  return data(r);
}

json::object OpenIm::complete(const HttpClient& c, const json::object& init) const {
  return call(c, "/object/complete_form_data",
              R"({"id":")" + str(init, "id") + R"(","urlPrefix":"http://im.example/object/"})");
}

std::string OpenIm::fetch(const HttpClient& c, const std::string& name) const {
  auto r = call(c, "/object/access_url", R"({"name":")" + name + R"("})");
  EXPECT_EQ(code(r), 0) << json::serialize(r);
  uint16_t port = 0;
  std::string target;
  const std::string url = str(data(r), "url");
  if (!split_loopback_url(url, port, target)) {
    ADD_FAILURE() << "not a loopback URL: " << url;
    return {};
  }
  // The link is served by whichever process the client reaches.
  auto got = c.request("GET", target);
  EXPECT_EQ(got.status, 200) << got.body;
  return got.body;
}

}  // namespace up::testing::flows
