// parse_s3_url (s3_blob_store.h): the --blobs s3://... form.

#include <string>
#include <string_view>

#include "storage/s3/s3_blob_store.h"

namespace up::storage {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  char l = static_cast<char>(c | 32);
  return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Result<uint64_t> number(std::string_view name, const std::string& v) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return fail(Errc::kInvalidArgument, "S3 URL: " + std::string(name) + " must be a number");
  return std::stoull(v);
}

Status set_param(S3BlobStoreOptions& o, std::string_view name, const std::string& v) {
  if (name == "endpoint") {
    o.endpoint = v;
  } else if (name == "region") {
    o.region = v;
  } else if (name == "path_style") {
    if (v != "true" && v != "false")
      return fail(Errc::kInvalidArgument, "S3 URL: path_style must be true or false");
    o.path_style = v == "true";
  } else if (name == "part_size_mb" || name == "read_piece_mb" || name == "single_put_max_mb") {
    auto mb = number(name, v);
    if (!mb) return fail(mb.error());
    (name == "part_size_mb"    ? o.part_size
     : name == "read_piece_mb" ? o.read_piece
                               : o.single_put_max) = *mb << 20;
  } else if (name == "parts_in_memory" || name == "pieces_ahead" || name == "single_puts") {
    auto n = number(name, v);
    if (!n) return fail(n.error());
    (name == "parts_in_memory" ? o.parts_in_memory
     : name == "pieces_ahead"  ? o.pieces_ahead
                               : o.single_puts) = static_cast<unsigned>(*n);
  } else {
    return fail(Errc::kInvalidArgument, "S3 URL: unknown parameter " + std::string(name));
  }
  return ok();
}

}  // namespace

Result<S3BlobStoreOptions> parse_s3_url(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme))
    return fail(Errc::kInvalidArgument, "S3 URL must start with s3://");
  url.remove_prefix(kScheme.size());
  S3BlobStoreOptions o;
  std::string_view query;
  if (auto q = url.find('?'); q != std::string_view::npos) {
    query = url.substr(q + 1);
    url = url.substr(0, q);
  }
  auto slash = url.find('/');
  o.bucket = std::string(url.substr(0, slash));
  if (slash != std::string_view::npos) o.prefix = std::string(url.substr(slash + 1));
  while (!o.prefix.empty() && o.prefix.back() == '/') o.prefix.pop_back();
  if (o.bucket.empty() || o.bucket.find_first_of(" :@") != std::string::npos)
    return fail(Errc::kInvalidArgument, "S3 URL: s3://bucket[/prefix] expected");
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos)
      return fail(Errc::kInvalidArgument, "S3 URL: parameter without a value");
    UP_TRY(set_param(o, pair.substr(0, eq), percent_decode(pair.substr(eq + 1))));
  }
  return o;
}

}  // namespace up::storage
