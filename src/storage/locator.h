#pragma once
// Locator validation shared by every BlobStore implementation.

#include <cstddef>
#include <string_view>

#include "core/result.h"

namespace up::storage {

inline constexpr size_t kMaxLocatorLength = 128;

// True when `locator` is 1..128 characters of [A-Za-z0-9_-]. Such a token can
// never name a parent folder or contain a separator, so a store may use it as a
// file or key name as is.
inline bool is_valid_locator(std::string_view locator) {
  if (locator.empty() || locator.size() > kMaxLocatorLength) return false;
  for (char c : locator) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// kInvalidArgument unless is_valid_locator(locator).
inline Status check_locator(std::string_view locator) {
  if (!is_valid_locator(locator)) return fail(Errc::kInvalidArgument, "invalid blob locator");
  return ok();
}

}  // namespace up::storage
