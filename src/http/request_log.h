#pragma once
// A request's id and its access-log line (http/server.cc). No Beast.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace up::http {

// A request id for the log: 16 hex digits, unique per process for practical
// purposes. Not a secret: nothing relies on it being unpredictable. Held in
// place: 16 characters are one past std::string's inline room, so a string
// cost an allocation per request.
struct RequestId {
  std::array<char, 16> digits;
  std::string_view view() const { return {digits.data(), digits.size()}; }
};
RequestId new_request_id();
// Whether a client's X-Request-Id may be used as ours (logged and echoed).
bool safe_request_id(std::string_view id);

struct AccessEntry {
  std::string_view request_id, remote, method, path;
  int status = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t us = 0;                // duration, printed as milliseconds with 3 decimals
  std::string_view extra_fields;  // ",\"name\":\"value\"..." (Exchange::log_field)
};
// Appends one JSON line, "\n"-terminated, stamped with the wall clock.
void append_access_line(std::string& line, const AccessEntry& e);
// Appends `raw` as the inside of a JSON string: as it is when every byte is
// printable ASCII needing no escape (ids, addresses, most paths), else as
// append_json_escaped (core/text.h) makes it.
void append_json_text(std::string& out, std::string_view raw);
// Appends `,"<name>":"<value>"`, each text as append_json_text writes it (an
// access line's extra field, Exchange::log_field).
void append_json_field(std::string& out, std::string_view name, std::string_view value);

}  // namespace up::http
