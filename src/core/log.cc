#include "core/log.h"

#include <cstdio>
#include <mutex>
#include <string>

namespace up::log {
namespace {

std::mutex& log_mutex() {
  static std::mutex mu;
  return mu;
}

void write_line(std::FILE* to, std::string_view line) {
  std::lock_guard lock(log_mutex());
  std::fwrite(line.data(), 1, line.size(), to);
  std::fflush(to);
}

}  // namespace

void error(std::string_view message) {
  std::string line = "upgate: ";
  line.append(message).push_back('\n');
  write_line(stderr, line);
}

void request_error(std::string_view request_id, std::string_view message) {
  std::string line = "upgate: request ";
  line.append(request_id).append(": ").append(message).push_back('\n');
  write_line(stderr, line);
}

void notice(std::string_view text) { write_line(stderr, text); }

void access(std::string_view line) { write_line(stdout, line); }

}  // namespace up::log
