#pragma once
// The Qiniu form upload (POST / on the upload host, spec/jodoo.md §2.4).

#include <boost/asio/awaitable.hpp>

namespace up::core {
struct Services;
}
namespace up::http {
class Exchange;
}

namespace up::dialects::jodoo {

class CallbackClient;

// Verifies the token, streams the file part into a temporary object bound to
// the token's transaction, checks the late fields (crc32) and the deadline,
// commits, runs the callback when the policy has one, and answers in Qiniu's
// envelope.
boost::asio::awaitable<void> serve_form_upload(http::Exchange& ex, core::Services& services,
                                               const CallbackClient& callbacks);

}  // namespace up::dialects::jodoo
