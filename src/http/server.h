#pragma once
// The HTTP/1.1 server: Beast + Asio with one coroutine per connection. Beast
// lives only in server.cc; this header is cheap to include.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "http/handler.h"

namespace up::core {
class BlockingPool;
}

namespace up::http {

struct ServerConfig {
  // "host:port"; "localhost:port" binds 127.0.0.1 and ::1 on the same port.
  // Port 0 picks a free one (see Server::urls()).
  std::vector<std::string> listen = {"127.0.0.1:8080"};
  unsigned io_threads = 2;
  // Where Exchange::offload runs blocking work (required). The stores' own
  // pool: one set of threads for all blocking work of the process.
  core::BlockingPool* blocking = nullptr;
  uint32_t header_limit_bytes = 16 * 1024;           // request line + all headers
  std::chrono::milliseconds header_timeout{10'000};  // to receive a complete header
  std::chrono::milliseconds idle_timeout{60'000};    // between requests and per body read
  std::chrono::milliseconds shutdown_grace{15'000};  // in-flight requests after SIGTERM
  std::string tls_cert_file;                         // PEM; TLS is on when both are set
  std::string tls_key_file;
  // Whether browsers on this origin may call (CORS). Unset: no CORS headers.
  std::function<bool(std::string_view origin)> cors_allowed;
  bool access_log = true;  // one JSON line per request on stdout
};

class Server {
 public:
  Server(ServerConfig config, std::vector<HandlerPtr> handlers);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners. Errors: kUnavailable (address in use, bad address, TLS files).
  Status start();
  // "http://127.0.0.1:PORT" for each listener, after start().
  std::vector<std::string> urls() const;
  // Serves until SIGINT/SIGTERM or stop(), then shuts down gracefully. Blocks.
  void run();
  // Thread-safe; begins a graceful shutdown.
  void stop();

  struct Impl;  // defined in server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace up::http
