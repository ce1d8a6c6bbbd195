#include "core/ids.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace up {
namespace {

void fill_random(unsigned char* out, size_t n) {
  // RAND_bytes only fails when the CSPRNG cannot be seeded; ids and secrets
  // must never be predictable, so that is fatal.
  if (RAND_bytes(out, static_cast<int>(n)) != 1) std::abort();
}

}  // namespace

std::string new_object_id(int64_t unix_ms) {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford
  static constexpr unsigned __int128 kRandomLimit = static_cast<unsigned __int128>(1) << 80;
  std::array<unsigned char, 10> rnd{};
  fill_random(rnd.data(), rnd.size());
  unsigned __int128 fresh = 0;
  for (auto b : rnd) fresh = (fresh << 8) | b;

  // Ids made in the same millisecond must still sort in creation order (list
  // pages are cut by id), so within a process the random part of such an id
  // is the last one's plus a random step: increasing, yet not guessable. A
  // clock stepping back (a VM resumed from a snapshot) counts as that same
  // millisecond.
  static std::mutex mutex;
  static uint64_t last_ms = 0;
  static unsigned __int128 last_random = 0;
  auto t = static_cast<uint64_t>(unix_ms);
  unsigned __int128 r = fresh;
  {
    std::lock_guard lock(mutex);
    t = std::max(t, last_ms);
    const unsigned __int128 step = 1 + (fresh >> 40);  // 1 .. 2^40
    if (t == last_ms && last_random < kRandomLimit - step) r = last_random + step;
    last_ms = t;
    last_random = r;
  }

  std::string id(26, '0');
  for (int i = 9; i >= 0; --i) {  // 10 chars = 50 bits, of which 48 carry the time
    id[i] = kAlphabet[t & 31];
    t >>= 5;
  }
  // 80 random bits -> 16 base32 chars.
  for (int i = 25; i >= 10; --i) {
    id[i] = kAlphabet[static_cast<unsigned>(r & 31)];
    r >>= 5;
  }
  return id;
}

std::string random_hex(size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string raw(bytes, '\0');
  fill_random(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string random_token(size_t length) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    std::array<unsigned char, 64> buf{};
    fill_random(buf.data(), buf.size());
    for (unsigned char c : buf) {
      if (c >= 248) continue;  // 248 = 4 * 62: reject to keep the choice uniform
      out.push_back(kChars[c % 62]);
      if (out.size() == length) break;
    }
  }
  return out;
}

}  // namespace up
