// libFuzzer target for the Jodoo dialect's Qiniu parsers
// (src/dialects/jodoo/qiniu.h, resumable_wire.h): upload tokens and put
// policies, magic-variable substitution, the crc32 form field, and the
// resumable upload's ctx/uploadId and mkfile path.
//
// Checks:
//   - parse_upload_token never crashes; a policy it accepts survives a
//     serialize -> sign -> parse round trip unchanged, and the signature of
//     the re-made token verifies under its key and not under another;
//   - substitution with no known variable leaves text without '$' unchanged,
//     never exceeds its limit, and a JSON template stays valid JSON whatever
//     valid UTF-8 value is substituted into a string;
//   - a parsed crc32 field prints back to the same digits (less leading zeros);
//   - a ctx/uploadId is refused (kFailedPrecondition) unless signed with the
//     key, and one made of the input's fields reads back unchanged; a parsed
//     mkfile path holds only valid UTF-8 values.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "core/text.h"
#include "dialects/jodoo/qiniu.h"
#include "dialects/jodoo/resumable_wire.h"
#include "fuzz_check.h"

namespace {

using namespace up::dialects::jodoo;

void check_token(std::string_view input) {
  auto t = parse_upload_token(input);
  if (!t) {
    FUZZ_CHECK(t.error().code == up::Errc::kGrantInvalid, "a refused token is not kGrantInvalid");
    return;
  }
  const PutPolicy& p = t->policy;
  const std::string again = make_upload_token(t->access_key, "sk", policy_json(p));
  if (again.size() > kMaxTokenBytes) return;  // a longer signature than the input's
  auto back = parse_upload_token(again);
  FUZZ_CHECK(back.has_value(), "a re-made token does not parse");
  const PutPolicy& q = back->policy;
  FUZZ_CHECK(
      q.scope == p.scope && q.save_key == p.save_key && q.force_save_key == p.force_save_key &&
          q.fsize_min == p.fsize_min && q.fsize_limit == p.fsize_limit &&
          q.deadline == p.deadline && q.callback_url == p.callback_url &&
          q.callback_host == p.callback_host && q.callback_body == p.callback_body &&
          q.callback_body_type == p.callback_body_type && q.transaction_id == p.transaction_id,
      "the policy changed in a round trip");
  FUZZ_CHECK(signature_matches(*back, "sk"), "a re-made token does not verify");
  FUZZ_CHECK(!signature_matches(*back, "other"), "a token verifies under another key");
}

void check_substitution(std::string_view input) {
  auto none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  for (BodyEscape e : {BodyEscape::kJsonString, BodyEscape::kFormUrlEncoded, BodyEscape::kNone}) {
    auto out = substitute_magic_variables(input, none, e, 1024);
    if (out) FUZZ_CHECK(out->size() <= 1024, "substitution exceeded its limit");
    if (input.find('$') == std::string_view::npos && input.size() <= 1024)
      FUZZ_CHECK(out && *out == input, "text without variables changed");
  }
  if (!up::valid_utf8(input)) return;
  const std::string value(input);
  auto echo = [&](std::string_view) -> std::optional<std::string> { return value; };
  auto json_out =
      substitute_magic_variables(R"j({"a":"$(key)","b":"${x:y}"})j", echo, BodyEscape::kJsonString);
  FUZZ_CHECK(json_out.has_value(), "a small JSON template failed");
  boost::system::error_code ec;
  auto v = boost::json::parse(*json_out, ec);
  FUZZ_CHECK(!ec, "substitution broke the JSON template");
  FUZZ_CHECK(v.as_object().at("a").as_string() == value,
             "the JSON value is not the substituted text");
}

void check_crc32(std::string_view input) {
  auto v = parse_crc32_field(input);
  if (!v) return;
  std::string digits(input);
  while (!digits.empty() &&
         (digits.back() == ' ' || digits.back() == '\r' || digits.back() == '\n'))
    digits.pop_back();
  digits.erase(0, digits.find_first_not_of(' '));
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
  FUZZ_CHECK(std::to_string(*v) == digits, "crc32 does not print back to its digits");
}

void check_resumable(std::string_view input) {
  using Kind = ResumableToken::Kind;
  auto read = decode_resumable_token(input, "k", Kind::kBlock, 0);
  if (!read) FUZZ_CHECK(read.error().code == up::Errc::kFailedPrecondition, "wrong refusal");
  (void)resumable_token_tenant(input);
  // Fields as upgate makes them (short ids without '\n'), from the input.
  ResumableToken t;
  t.kind = Kind::kMultipart;
  const std::string field(input.substr(0, std::min<size_t>(input.find('\n'), 128)));
  t.tenant_id = field;
  t.id = field;
  t.size = input.size();
  t.expires_s = 5;
  const std::string text = encode_resumable_token(t, "k");
  auto back = decode_resumable_token(text, "k", Kind::kMultipart, 5);
  FUZZ_CHECK(back && back->tenant_id == field && back->id == field && back->size == input.size(),
             "a ctx does not read back");
  FUZZ_CHECK(!decode_resumable_token(text, "other", Kind::kMultipart, 5), "forged ctx accepted");
  FUZZ_CHECK(!decode_resumable_token(text, "k", Kind::kMultipart, 6), "expired ctx accepted");

  auto mkfile = parse_mkfile_path(input);
  if (!mkfile) return;
  FUZZ_CHECK(!mkfile->key || up::valid_utf8(*mkfile->key), "mkfile key not UTF-8");
  FUZZ_CHECK(up::valid_utf8(mkfile->fname) && up::valid_utf8(mkfile->mime_type),
             "mkfile value not UTF-8");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_token(input);
  check_substitution(input);
  check_crc32(input);
  check_resumable(input);
  return 0;
}
