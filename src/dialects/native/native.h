#pragma once
// upgate's own JSON API (/v1, /healthz), documented in docs/openapi.yaml.

#include "http/handler.h"

namespace up::core {
struct Services;
}

namespace up::dialects::native {

http::HandlerPtr make_handler(core::Services& services);

}  // namespace up::dialects::native
