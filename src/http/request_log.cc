#include "http/request_log.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "core/ids.h"
#include "core/text.h"

namespace up::http {

RequestId new_request_id() {
  // A per-thread random seed stepped by splitmix64 (a bijection), not
  // RAND_bytes per request: the CSPRNG's locks showed in small-GET profiles.
  thread_local uint64_t state = [] {
    uint64_t seed = 0;
    for (char c : random_hex(8))
      seed = seed * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
    return seed;
  }();
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  static constexpr char kHex[] = "0123456789abcdef";
  RequestId id;
  for (int i = 15; i >= 0; --i, z >>= 4) id.digits[static_cast<size_t>(i)] = kHex[z & 15];
  return id;
}

bool safe_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
  return true;
}

namespace {

// The wall clock as "2026-12-04T16:43:27.123Z", in `buf`. The part up to the
// seconds is formatted once per second and thread: snprintf per line was a
// tenth of a small GET's instructions.
std::string_view timestamp(std::array<char, 24>& buf) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  thread_local int64_t cached_second = -1;
  thread_local std::string cached_prefix;  // "2026-12-04T16:43:27"
  const int64_t second = now / 1000;
  if (second != cached_second || cached_prefix.empty()) {
    cached_prefix = format_iso8601(second * 1000).substr(0, 19);
    cached_second = second;
  }
  const size_t n = std::min<size_t>(cached_prefix.size(), buf.size() - 5);
  std::memcpy(buf.data(), cached_prefix.data(), n);
  const auto ms = static_cast<unsigned>(now % 1000);
  char* p = buf.data() + n;
  *p++ = '.';
  *p++ = static_cast<char>('0' + ms / 100);
  *p++ = static_cast<char>('0' + ms / 10 % 10);
  *p++ = static_cast<char>('0' + ms % 10);
  *p++ = 'Z';
  return std::string_view(buf.data(), n + 5);
}

// True when `raw` needs no JSON escape: every byte printable ASCII (0x20-0x7E)
// other than '"' and '\\'. Checked 8 bytes at a time (the byte loop was a
// twentieth of a small GET's instructions); each test below is exact as a
// yes/no for the word.
bool plain_json_text(std::string_view raw) {
  if (raw.size() < 8) {
    for (const char ch : raw) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
    }
    return true;
  }
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  uint64_t flagged = 0;  // a high bit set in some byte when the word needs an escape
  const auto check = [&flagged](const char* at) {
    uint64_t w = 0;
    std::memcpy(&w, at, 8);
    const uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
    flagged |= ((w - kOnes * 0x20) & ~w & kHigh)              // a byte below 0x20
               | (((w + kOnes) | w) & kHigh)                  // 0x7F or above
               | ((quote - kOnes) & ~quote & kHigh)           // '"'
               | ((backslash - kOnes) & ~backslash & kHigh);  // '\\'
  };
  for (size_t i = 0; i + 8 <= raw.size(); i += 8) check(raw.data() + i);
  check(raw.data() + raw.size() - 8);  // the tail, overlapping what was checked
  return flagged == 0;
}

}  // namespace

void append_json_text(std::string& out, std::string_view raw) {
  if (plain_json_text(raw)) {
    out += raw;
    return;
  }
  append_json_escaped(out, raw);
}

void append_json_field(std::string& out, std::string_view name, std::string_view value) {
  if (!plain_json_text(name) || !plain_json_text(value)) {
    out += ",\"";
    append_json_text(out, name);
    out += "\":\"";
    append_json_text(out, value);
    out += '"';
    return;
  }
  // Sized once (a field per request, the tenant, on most routes).
  append_all(out, ",\"", name, "\":\"", value, "\"");
}

void append_access_line(std::string& line, const AccessEntry& e) {
  // Sized once and written in place, without printf: the temporaries of a
  // chain of `+`, then snprintf, then an append per piece (a capacity check
  // and a call to copy each), were a visible share of a small GET's cost.
  std::array<char, 24> ts{};
  DecimalDigits status{}, in{}, out{}, ms{};
  const char thousandths[] = {'.', static_cast<char>('0' + e.us % 1000 / 100),
                              static_cast<char>('0' + e.us % 100 / 10),
                              static_cast<char>('0' + e.us % 10)};
  const std::string_view time = timestamp(ts);
  const bool plain =
      plain_json_text(e.remote) && plain_json_text(e.method) && plain_json_text(e.path);
  // Run twice when the texts need no escapes: to size the room, then to fill
  // it (the literals' sizes are constants where `put` is inlined, so each
  // copy is a few moves, not a call). Otherwise once, appending.
  const auto pieces = [&](auto&& put, auto&& text) {
    put("{\"ts\":\"");
    put(time);
    put("\",\"id\":\"");
    put(e.request_id);
    put("\",\"remote\":\"");
    text(e.remote);
    put("\",\"method\":\"");
    text(e.method);
    put("\",\"path\":\"");
    text(e.path);
    put("\",\"status\":");
    put(format_decimal(status, static_cast<uint64_t>(e.status < 0 ? 0 : e.status)));
    put(",\"bytes_in\":");
    put(format_decimal(in, e.bytes_in));
    put(",\"bytes_out\":");
    put(format_decimal(out, e.bytes_out));
    // Milliseconds with 3 decimals, from whole microseconds (as "%.3f" would print them).
    put(",\"ms\":");
    put(format_decimal(ms, e.us / 1000));
    put(std::string_view(thousandths, sizeof thousandths));
    put(e.extra_fields);
    put("}\n");
  };
  if (!plain) {
    const auto append = [&line](std::string_view piece) { line += piece; };
    pieces(append, [&line](std::string_view text) { append_json_text(line, text); });
    return;
  }
  size_t need = 0;
  const auto count = [&need](std::string_view piece) { need += piece.size(); };
  pieces(count, count);
  const size_t at = line.size();
  line.resize(at + need);
  char* to = line.data() + at;
  const auto copy = [&to](std::string_view piece) {
    std::memcpy(to, piece.data(), piece.size());
    to += piece.size();
  };
  pieces(copy, copy);
}

}  // namespace up::http
