#include "storage/s3/sigv4.h"

#include <algorithm>
#include <ctime>

#include "core/crypto.h"

namespace up::storage::s3 {
namespace {

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

}  // namespace

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

std::string amz_date(UnixMs t) {
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string canonical_query(const Fields& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query) enc.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

Fields sign(const SignInput& in) {
  const std::string date = amz_date(in.now);
  const std::string day = date.substr(0, 8);
  Fields headers{{"host", std::string(in.host)},
                 {"x-amz-content-sha256", std::string(in.payload_hash)},
                 {"x-amz-date", date}};
  if (in.headers) headers.insert(headers.end(), in.headers->begin(), in.headers->end());
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers, signed_headers;
  for (const auto& [k, v] : headers) {
    canonical_headers += k + ":" + v + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += k;
  }
  const std::string request = std::string(in.method) + "\n" + std::string(in.canonical_uri) + "\n" +
                              (in.query ? canonical_query(*in.query) : "") + "\n" +
                              canonical_headers + "\n" + signed_headers + "\n" +
                              std::string(in.payload_hash);
  const std::string scope = day + "/" + std::string(in.region) + "/s3/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + crypto::to_hex(crypto::sha256(request));
  std::string key = crypto::hmac_sha256("AWS4" + std::string(in.secret_key), day);
  key = crypto::hmac_sha256(key, in.region);
  key = crypto::hmac_sha256(key, "s3");
  key = crypto::hmac_sha256(key, "aws4_request");
  const std::string signature = crypto::to_hex(crypto::hmac_sha256(key, to_sign));
  return {
      {"x-amz-date", date},
      {"x-amz-content-sha256", std::string(in.payload_hash)},
      {"Authorization", "AWS4-HMAC-SHA256 Credential=" + std::string(in.access_key) + "/" + scope +
                            ", SignedHeaders=" + signed_headers + ", Signature=" + signature}};
}

}  // namespace up::storage::s3
