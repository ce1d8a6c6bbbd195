#include "core/sigv4.h"

#include <cstdio>
#include <ctime>

#include "core/crypto.h"
#include "core/text.h"

namespace up::sigv4 {
namespace {

std::tm utc(UnixMs t) {
  time_t secs = static_cast<time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

}  // namespace

std::string amz_date(UnixMs t) {
  const std::tm tm = utc(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string policy_expiration(UnixMs t) {
  const std::tm tm = utc(t);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  const int ms = static_cast<int>(((t % 1000) + 1000) % 1000);
  char tail[8];
  std::snprintf(tail, sizeof tail, ".%03dZ", ms);
  return std::string(buf) + tail;
}

std::string scope(std::string_view yyyymmdd, std::string_view region, std::string_view service) {
  std::string out(yyyymmdd);
  out.append("/").append(region).append("/").append(service).append("/aws4_request");
  return out;
}

std::string signing_key(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                        std::string_view service) {
  std::string k = crypto::hmac_sha256(std::string("AWS4").append(secret), yyyymmdd);
  k = crypto::hmac_sha256(k, region);
  k = crypto::hmac_sha256(k, service);
  return crypto::hmac_sha256(k, "aws4_request");
}

std::string signature(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                      std::string_view text) {
  return crypto::to_hex(crypto::hmac_sha256(signing_key(secret, yyyymmdd, region), text));
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += c;
    } else {
      auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

Fields post_form(const PostFormRequest& r) {
  const std::string date = amz_date(r.now);
  const std::string day = date.substr(0, 8);
  const std::string credential = r.access_key_id + "/" + scope(day, r.region);
  // minio-go's marshalJSON (spec/openim.md §3.3): eq conditions in this
  // order, then the length range with spaces after the commas.
  std::string text = "{\"expiration\":\"" + policy_expiration(r.expires_at) + "\",\"conditions\":[";
  auto eq = [&](std::string_view field, std::string_view value) {
    text.append("[\"eq\",\"$").append(field).append("\",\"");
    append_json_escaped(text, value);
    text += "\"],";
  };
  eq("key", r.key);
  eq("success_action_status", "200");
  if (!r.content_type.empty()) eq("Content-Type", r.content_type);
  eq("bucket", r.bucket);
  eq("x-amz-date", date);
  eq("x-amz-algorithm", kAlgorithm);
  eq("x-amz-credential", credential);
  text += "[\"content-length-range\", 0, " + std::to_string(r.max_size) + "]]}";
  const std::string policy = crypto::base64(text);

  Fields form;
  form.emplace_back("key", r.key);
  form.emplace_back("bucket", r.bucket);
  form.emplace_back("success_action_status", "200");
  if (!r.content_type.empty()) form.emplace_back("Content-Type", r.content_type);
  form.emplace_back("policy", policy);
  form.emplace_back("x-amz-algorithm", std::string(kAlgorithm));
  form.emplace_back("x-amz-credential", credential);
  form.emplace_back("x-amz-date", date);
  form.emplace_back("x-amz-signature", signature(r.secret_key, day, r.region, policy));
  return form;
}

}  // namespace up::sigv4
