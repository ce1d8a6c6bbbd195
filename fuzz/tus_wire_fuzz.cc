// libFuzzer target for the tus wire format of the native API
// (src/dialects/native/tus_wire.h): the header values a client sends
// (Upload-Metadata, Upload-Checksum, Upload-Concat, Upload-Offset) and the
// signed upload URL and grant tokens read back from clients.
//
// Input: byte 0 selects nothing (kept for seeds' readability); the rest is fed
// to every reader. A token is also re-signed with the fuzzer's key, so the
// JSON payload readers run on arbitrary bytes, not only on bad signatures.
// Checks: nothing crashes; metadata keys are non-empty; a checksum's digest
// has its algorithm's length; a final concat lists tokens without '/' or
// blanks; a size parses back to its decimal; a decoded token or grant
// re-encodes to one that decodes to the same fields, and never verifies under
// another key.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/crypto.h"
#include "dialects/native/tus_wire.h"
#include "fuzz_check.h"

namespace tus = up::dialects::native::tus;
namespace crypto = up::crypto;

namespace {

void check_token(const std::string& token) {
  auto t = tus::decode_upload_token(token, "fuzz-key");
  if (!t) return;
  const std::string again = tus::encode_upload_token(*t, "fuzz-key");
  auto back = tus::decode_upload_token(again, "fuzz-key");
  FUZZ_CHECK(back.has_value() && back->id == t->id && back->length == t->length &&
                 back->metadata == t->metadata && back->concat == t->concat &&
                 back->expires_at == t->expires_at && back->grant_id == t->grant_id,
             "an upload token round-trips");
  FUZZ_CHECK(!tus::decode_upload_token(again, "other-key").has_value(),
             "an upload token never verifies under another key");
}

void check_grant(const std::string& grant) {
  auto g = tus::decode_grant(grant, "fuzz-key");
  if (!g) return;
  const std::string again = tus::encode_grant(*g, "fuzz-key");
  auto back = tus::decode_grant(again, "fuzz-key");
  FUZZ_CHECK(back.has_value() && back->id == g->id && back->max_bytes == g->max_bytes &&
                 back->expires_at == g->expires_at && back->tenant_id == g->tenant_id,
             "a grant round-trips");
  FUZZ_CHECK(!tus::decode_grant(again, "other-key").has_value(),
             "a grant never verifies under another key");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!in.empty()) in.remove_prefix(1);

  if (auto m = tus::parse_metadata(in))
    for (auto& [key, value] : *m) FUZZ_CHECK(!key.empty(), "metadata keys are not empty");
  if (auto c = tus::parse_checksum(in)) {
    const size_t want = c->algo == crypto::Digest::Algo::kSha1     ? 20
                        : c->algo == crypto::Digest::Algo::kSha256 ? 32
                                                                   : 16;
    FUZZ_CHECK(c->digest.size() == want, "a checksum has its algorithm's length");
  }
  if (auto c = tus::parse_concat(in)) {
    if (c->kind == tus::Concat::kFinal) FUZZ_CHECK(!c->tokens.empty(), "a final lists uploads");
    for (auto& t : c->tokens)
      FUZZ_CHECK(t.find_first_of("/ \t") == std::string::npos, "a token is one path segment");
  }
  if (auto n = tus::parse_size(in, "Upload-Offset")) {
    std::string_view digits = in;
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    FUZZ_CHECK(std::to_string(*n) == digits, "a size is its decimal");
  }

  // As sent, and re-signed with the fuzzer's key (payload "." signature).
  const std::string payload(in.substr(0, in.find('.')));
  const std::string signed_token =
      payload + "." + crypto::base64url(crypto::hmac_sha256("fuzz-key", payload), false);
  check_token(std::string(in));
  check_token(signed_token);
  check_grant(std::string(in));
  check_grant(std::string(tus::kGrantPrefix) + signed_token);
  return 0;
}
