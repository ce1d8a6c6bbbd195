#include "core/errors.h"

namespace up {

Kind kind_of(Errc code) {
  switch (code) {
#define UP_X(name, number, kind, msg) \
  case Errc::name: return Kind::kind;
    UP_ERROR_CATALOGUE(UP_X)
#undef UP_X
  }
  return Kind::kInternal;
}

std::string_view default_message(Errc code) {
  switch (code) {
#define UP_X(name, number, kind, msg) \
  case Errc::name: return msg;
    UP_ERROR_CATALOGUE(UP_X)
#undef UP_X
  }
  return "unknown error";
}

std::string_view name_of(Errc code) {
  switch (code) {
#define UP_X(name, number, kind, msg) \
  case Errc::name: return #name;
    UP_ERROR_CATALOGUE(UP_X)
#undef UP_X
  }
  return "kUnknown";
}

}  // namespace up
