#pragma once
// What the parts of the OpenIM dialect share: handler.cc (routing, /auth and
// object access), form_upload.cc (the S3 POST-form upload) and
// multipart_upload.cc (multipart uploads): the request context, JSON field
// readers and the app lookup (the name aliases are dialect_prelude.h's).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/result.h"
#include "core/types.h"
#include "dialects/dialect_prelude.h"
#include "dialects/openim/settings.h"
#include "dialects/openim/wire_ids.h"
#include "http/exchange.h"

namespace up::core {
struct Services;
}  // namespace up::core

namespace up::dialects::openim {

constexpr const char* kDialect = "openim";
constexpr size_t kMaxNameBytes = 1024;

// An authenticated OpenIM request.
struct Context {
  App app;
  Settings settings;
  TokenClaims claims;  // user_id empty for /auth/get_admin_token
};

// The app's S3 secret access key (derived, never stored).
std::string s3_secret(const core::Services& s, std::string_view tenant, std::string_view app);

// checkUploadName (OpenIM tool.go).
Status check_name(std::string_view name, const TokenClaims& user);

// JSON request members: absent or null reads as empty / 0 / false.
Result<std::string> string_field(const boost::json::object& o, const char* name);
Result<int64_t> int_field(const boost::json::object& o, const char* name);
bool bool_field(const boost::json::object& o, const char* name);

// Reads the members of a JSON request in order, as string_field and
// int_field do; the first wrong one is the status, and the later ones are not read.
//   if (auto st = Members(req).text("name", name).integer("size", size).status(); !st) ...
class Members {
 public:
  explicit Members(const boost::json::object& o) : o_(o) {}
  Members& text(const char* name, std::string& out);
  Members& integer(const char* name, int64_t& out);
  Members& texts(const char* name, std::vector<std::string>& out);  // an array of strings
  Members& integers(const char* name, std::vector<int64_t>& out);   // an array of integers
  const Status& status() const { return status_; }

 private:
  const boost::json::object& o_;
  Status status_;
};

// The data of an answer that is a URL: {"url": ...}.
std::string url_data(const std::string& url);

// Where OpenIM keeps content by hash (s3/cont: openim/data/hash/<hash>).
std::string hash_key(const std::string& hash);

// Blocking: the app at an API address, if it is an OpenIM app.
Result<App> openim_app(const core::Services& s, const std::string& tenant,
                       const std::string& app_id);

// Blocking: the object an OpenIM name stands for (through its alias, if any).
Result<Object> resolve_name(core::Services& s, const App& app, const std::string& name);
// Blocking: makes `name` stand for the object keyed `key`, replacing an
// earlier alias of the name (OpenIM lets a name be uploaded again).
Status bind_name(core::Services& s, const App& app, const std::string& name,
                 const std::string& key);

// Answers with the OpenIM API envelope, logging an internal error's detail.
boost::asio::awaitable<void> fail_with(http::Exchange& ex, const Error& e);
// The same in the S3 endpoint's XML envelope (no key).
boost::asio::awaitable<void> fail_s3(http::Exchange& ex, const Error& e, const std::string& bucket);

}  // namespace up::dialects::openim
