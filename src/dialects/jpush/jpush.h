#pragma once
// The JPush file API (/v3/files), spec/jpush.md §5. An upgate app with dialect
// "jpush" is a JPush AppKey (its id); an API key bound to that app is its
// masterSecret.

#include "http/handler.h"

namespace up::core {
struct Services;
}

namespace up::dialects::jpush {

http::HandlerPtr make_handler(core::Services& services);

}  // namespace up::dialects::jpush
