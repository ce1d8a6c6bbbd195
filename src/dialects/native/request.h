#pragma once
// Request helpers shared by the native routes (handler.cc) and tus (tus.cc):
// who a request acts as, and its JSON body.

#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "core/auth.h"
#include "dialects/dialect_prelude.h"

namespace up::dialects::native {

// The API key in `Authorization: Bearer <key>` (cached verification first,
// then the store on the blocking pool).
net::awaitable<Result<core::Principal>> authenticate(Exchange& ex, core::AuthService& auth);
// authenticate's answer when it needs no store: a key verified within the
// cache time, or a request without a well-formed key; nullopt otherwise. Not
// a coroutine, so a request with a cached key costs no frame for it.
std::optional<Result<core::Principal>> authenticate_cached(const Exchange& ex,
                                                           core::AuthService& auth);

// The app a request acts on: ?app= or the key's own; a key bound to an app
// cannot reach another.
Result<std::string> app_of(const Exchange& ex, const core::Principal& p);

// The body as a JSON object ({} when empty); kBadJson otherwise, kTooLarge
// past 64 KiB.
net::awaitable<Result<json::object>> read_json_object(Exchange& ex);

}  // namespace up::dialects::native
