#pragma once
// The one way upgate writes log lines. Diagnostics go to stderr as
// "upgate: <message>", access-log lines to stdout as given. Each line is one
// write under a lock, so lines from several threads never interleave.
// Thread-safe.

#include <string_view>

namespace up::log {

// A diagnostic for the operator (a failure, or the end of an outage):
// "upgate: <message>\n" on stderr.
void error(std::string_view message);
// The same, for one request: "upgate: request <id>: <message>\n".
void request_error(std::string_view request_id, std::string_view message);
// Text meant for the operator to read as is (a banner, a key shown once), on stderr.
void notice(std::string_view text);
// One access-log line (the caller ends it with '\n'), on stdout, flushed.
void access(std::string_view line);

}  // namespace up::log
