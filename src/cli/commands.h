#pragma once
// The admin CLI's commands (`upgate tenants|apps|keys ...`). They act through
// the same core services as the server, on the same data directory; SQLite's
// WAL lets them run while the server is up. Each prints its result as JSON on
// stdout and returns a process exit code.

#include <string>

#include "core/result.h"

namespace up::core {
struct Services;
}

namespace up::cli {

// Logs a failed command's error; returns the process exit code for it (1).
int report(const Error& e);

int tenants_create(core::Services& s, const std::string& id, const std::string& name);
int tenants_list(core::Services& s);
// `settings` is a JSON object for the app's dialect (e.g. JPush's rate_limit_per_minute).
int apps_create(core::Services& s, const std::string& tenant, const std::string& id,
                const std::string& name, const std::string& dialect, const std::string& settings);
int apps_list(core::Services& s, const std::string& tenant);
int keys_create(core::Services& s, const std::string& tenant, const std::string& name, bool admin,
                const std::string& app);
int keys_list(core::Services& s, const std::string& tenant);
int keys_set_enabled(core::Services& s, const std::string& key_id, bool enabled);
int keys_delete(core::Services& s, const std::string& key_id);
int sweep(core::Services& s, long long orphan_grace_ms);

}  // namespace up::cli
