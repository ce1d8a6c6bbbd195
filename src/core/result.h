#pragma once
// Result<T>: a value or an Error. No exceptions on the data path (STYLE.md §3.1).

#include <string>
#include <utility>

#include <tl/expected.hpp>

#include "core/errors.h"

namespace up {

// Not an aggregate on purpose: g++ 12 destroys an aggregate temporary written
// inside a co_await expression twice (`co_await f(Error{...})` double-frees);
// with a constructor it does not.
struct Error {
  Error() = default;
  explicit Error(Errc c) : code(c), message(default_message(c)) {}
  Error(Errc c, std::string m) : code(c), message(std::move(m)) {}

  Errc code = Errc::kInternal;
  std::string message;  // for humans; never contains secrets

  Kind kind() const { return kind_of(code); }
};

// A value or an Error that the caller must look at: [[nodiscard]] on the type makes
// every call that drops one a warning (a lost error is a lost file). Everything
// else is tl::expected's, plus the conversions a derived class loses: from
// tl::expected itself, and from another Result. The latter must be spelled out:
// without it, Jodoo, OpenIM and kintone uploads stored wrong sizes and checksums
// (which conversion went astray was not pinned down; the likely path is
// tl::expected's value constructor taking the whole Result<U>, which its
// converting constructor only matches through a derived-to-base conversion).
template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using Base = tl::expected<T, Error>;
  using Base::Base;
  Result(Base e) : Base(std::move(e)) {}  // implicit, as tl::expected's own conversions
  template <class U>
  Result(const Result<U>& other) : Base(static_cast<const tl::expected<U, Error>&>(other)) {}
  template <class U>
  Result(Result<U>&& other) : Base(static_cast<tl::expected<U, Error>&&>(other)) {}
};
using Status = Result<void>;

// `return fail(Errc::kNotFound);` or with a specific message.
inline tl::unexpected<Error> fail(Errc code, std::string message = {}) {
  if (message.empty()) message = std::string(default_message(code));
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

inline Status ok() { return {}; }

}  // namespace up

// Propagates an error: `UP_TRY(writer->append(buf));`
#define UP_TRY(expr)                                                                          \
  do {                                                                                        \
    if (auto up_try_r_ = (expr); !up_try_r_) return ::up::fail(std::move(up_try_r_.error())); \
  } while (0)
