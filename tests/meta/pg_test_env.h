#pragma once
// The real PostgreSQL the store tests run against, started through
// ../shared/services/pg-up.sh (through support/service_env.h), and a fresh
// schema per test so that tests never see each other's rows. No libpq here:
// the helpers speak SQL through pg_test_env.cc.

#include <string>
#include <vector>

#include "core/result.h"

namespace up::meta::store_test {

// The app database's URL (PG_URL), starting the server on first use (once
// per process). kUnavailable, saying where the script was looked for, if it
// is missing or fails: the PostgreSQL tests then fail, never skip.
Result<std::string> pg_url();

// `url` with the search_path set to `schema` (libpq's options parameter).
std::string pg_url_with_schema(const std::string& url, const std::string& schema);

// Creates a new, empty schema with a name unique to this process and call;
// returns its name.
Result<std::string> pg_create_schema();
// Drops it and everything in it.
Status pg_drop_schema(const std::string& schema);

// Runs one SQL statement (no parameters) on a fresh connection to `url`;
// the first column of each row it returns, as text.
Result<std::vector<std::string>> pg_query(const std::string& url, const std::string& sql);

}  // namespace up::meta::store_test
