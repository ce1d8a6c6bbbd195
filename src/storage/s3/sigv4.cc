#include "storage/s3/sigv4.h"

#include <algorithm>

#include "core/crypto.h"

namespace up::storage::s3 {

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
  const std::string date = sigv4::amz_date(in.now);
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
  const std::string scope = sigv4::scope(day, in.region);
  const std::string to_sign = std::string(sigv4::kAlgorithm) + "\n" + date + "\n" + scope + "\n" +
                              crypto::to_hex(crypto::sha256(request));
  const std::string signature = sigv4::signature(in.secret_key, day, in.region, to_sign);
  return {
      {"x-amz-date", date},
      {"x-amz-content-sha256", std::string(in.payload_hash)},
      {"Authorization", "AWS4-HMAC-SHA256 Credential=" + std::string(in.access_key) + "/" + scope +
                            ", SignedHeaders=" + signed_headers + ", Signature=" + signature}};
}

}  // namespace up::storage::s3
