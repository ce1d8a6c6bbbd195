#pragma once
// Identifiers and secrets.

#include <cstddef>
#include <cstdint>
#include <string>

namespace up {

// A 26-character, time-ordered id (ULID layout, Crockford base32, lower case):
// 48 bits of milliseconds then 80 random bits. Ids sort by creation time, which
// gives list pagination a stable order; within a process, ids of the same
// millisecond sort in creation order too. Only [0-9a-z] characters.
std::string new_object_id(int64_t unix_ms);

// `bytes` random bytes as lower-case hex (cryptographically secure).
std::string random_hex(size_t bytes);

// A random token of [A-Za-z0-9] characters (cryptographically secure).
std::string random_token(size_t length);

}  // namespace up
