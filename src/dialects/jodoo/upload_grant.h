#pragma once
// What every Qiniu upload request shares (the form upload and the resumable
// uploads' requests, spec/jodoo.md §2.3-2.6, spec/qiniu-resumable.md §8): the
// token's verification, the upload its policy allows, the key rules, and the
// final answer (default body or the policy's callback, 579 when it fails).

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "core/result.h"
#include "core/types.h"
#include "core/uploads.h"
#include "dialects/jodoo/qiniu.h"
#include "http/exchange.h"

namespace up::core {
struct Services;
}

namespace up::dialects::jodoo {

class CallbackClient;

// What a verified token allows.
struct Grant {
  UploadToken token;
  std::string secret_key;
  App app;
};

// Blocking (tenant and app reads on a cache miss). Checks the signature with
// the tenant's key of the token's version, the deadline and the scope; counts
// the request against the upload rate limits when `count_rate` (once per
// file: the form upload, a resumable upload's start or end, not its pieces).
Result<Grant> verify_grant(core::Services& s, std::string_view token_text, bool count_rate = true);

// The upload the grant allows: its size bounds, single use of the saveKey,
// the transaction binding. The key, name and meta are the request's.
core::UploadSpec grant_upload_spec(const Grant& g);

// The object key per Qiniu's rules: a "bucket:key" scope pins it; otherwise
// the saveKey wins when forced or when the request names none. Checked
// (kInvalidArgument "invalid key").
Result<std::string> resolve_key(const PutPolicy& p, const std::string* requested);

// The object's meta_json from a request's variables: "x:*" custom variables
// and "x-qn-meta-*" metadata.
std::string upload_meta_json(const std::map<std::string, std::string>& vars);

// The 200 answer for a committed object: the policy's callback's body when it
// has one (the object is removed and kCallbackFailed returned when the
// callback fails), else {"key","hash"}. `etag` is the hash clients see (the
// object's qetag unless a v2 part layout makes it another).
boost::asio::awaitable<Result<http::Response>> final_answer(
    http::Exchange& ex, core::Services& s, const CallbackClient& callbacks, const Grant& g,
    const Object& object, const std::map<std::string, std::string>& vars, const std::string& etag,
    std::string content_type = "application/json");

// Qiniu's envelope for an upload error ("file exists" for a used or taken key).
http::Response upload_error_response(const http::Exchange& ex, const Error& e);

}  // namespace up::dialects::jodoo
