#include "core/types.h"

namespace up {

const char* to_string(ObjectState s) {
  switch (s) {
    case ObjectState::kTemporary: return "temporary";
    case ObjectState::kAttached: return "attached";
    case ObjectState::kStored: return "stored";
    case ObjectState::kDeleted: return "deleted";
  }
  return "stored";
}

std::optional<ObjectState> object_state_from(std::string_view s) {
  if (s == "temporary") return ObjectState::kTemporary;
  if (s == "attached") return ObjectState::kAttached;
  if (s == "stored") return ObjectState::kStored;
  if (s == "deleted") return ObjectState::kDeleted;
  return std::nullopt;
}

const char* to_string(KeyRole r) { return r == KeyRole::kAdmin ? "admin" : "member"; }

}  // namespace up
