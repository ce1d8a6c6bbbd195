#pragma once
// Runs coroutines to completion in tests: each call drives its own io_context
// on the calling thread (pool work still runs on the pool, as in the server).

#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/blocking.h"

namespace up::testing {

namespace net = boost::asio;

template <class T>
net::awaitable<void> into(std::optional<T>& out, net::awaitable<T> task) {
  out.emplace(co_await std::move(task));
}

// `auto r = await(store.open("x", 0, 10));`
template <class T>
T await(net::awaitable<T> task) {
  net::io_context io;
  std::optional<T> out;
  net::co_spawn(io, into(out, std::move(task)), net::detached);
  io.run();
  return std::move(*out);
}

// Runs all `tasks` concurrently on one io_context driven by `threads` threads.
template <class T>
std::vector<T> await_all(std::vector<net::awaitable<T>> tasks, int threads = 2) {
  net::io_context io;
  std::vector<std::optional<T>> out(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i)
    net::co_spawn(io, into(out[i], std::move(tasks[i])), net::detached);
  std::vector<std::thread> helpers;
  for (int t = 1; t < threads; ++t) helpers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& h : helpers) h.join();
  std::vector<T> results;
  results.reserve(out.size());
  for (auto& o : out) results.push_back(std::move(*o));
  return results;
}

}  // namespace up::testing
