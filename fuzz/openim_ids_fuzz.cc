// libFuzzer target for the OpenIM dialect's opaque ids (src/dialects/openim/wire_ids.h):
// the initiate_form_data `id`, the `token` header, the multipart uploadID and
// the S3 access key id, all read back from clients.
//
// Checks: nothing crashes; a decoded form id re-encodes to an id that decodes
// to the same fields; a token that reads never verifies under a key it was not
// signed with unless it was (the fuzzer re-signs its claims and checks that
// verifies); a parsed access key id formats back to the same id (hex case aside).

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dialects/openim/wire_ids.h"
#include "fuzz_check.h"

namespace openim = up::dialects::openim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto id = openim::decode_form_id(in)) {
    auto again = openim::decode_form_id(openim::encode_form_id(*id));
    FUZZ_CHECK(again.has_value(), "a re-encoded id decodes");
    FUZZ_CHECK(again->name == id->name && again->size == id->size &&
                   again->content_type == id->content_type && again->group == id->group &&
                   again->key == id->key,
               "a form id round-trips");
  }

  if (auto claims = openim::read_token(in)) {
    (void)openim::verify_token(in, *claims, "fuzz-key", 1'700'000'000'000);
    const std::string reissued = openim::issue_token(*claims, "fuzz-key");
    auto back = openim::read_token(reissued);
    FUZZ_CHECK(back.has_value() && back->user_id == claims->user_id &&
                   back->expires_at == claims->expires_at,
               "re-issued claims read back");
    auto v = openim::verify_token(reissued, *back, "fuzz-key", back->not_before * 1000);
    FUZZ_CHECK(v.has_value() || v.error() != openim::TokenFault::kInvalid,
               "a token verifies under its own key");
    FUZZ_CHECK(
        !openim::verify_token(reissued, *back, "other-key", back->not_before * 1000).has_value(),
        "a token never verifies under another key");
  }

  if (auto upload = openim::read_upload_id(in)) {
    FUZZ_CHECK(upload->size > 0 && upload->part_size > 0 && upload->part_count() >= 1,
               "an upload has parts");
    FUZZ_CHECK(upload->part_length(upload->part_count()) > 0 &&
                   upload->part_length(upload->part_count()) <= upload->part_size,
               "the last part is not empty nor longer than a part");
    const std::string resigned = openim::encode_upload_id(*upload, "fuzz-key");
    FUZZ_CHECK(openim::verify_upload_id(resigned, "fuzz-key").has_value(),
               "a re-signed uploadID verifies");
    FUZZ_CHECK(!openim::verify_upload_id(resigned, "other-key").has_value(),
               "an uploadID never verifies under another key");
  }

  std::string tenant, app;
  if (openim::parse_access_key_id(in, tenant, app)) {
    std::string upper(in);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    FUZZ_CHECK(openim::access_key_id(tenant, app) == upper,
               "an access key id formats back to itself");
  }
  return 0;
}
