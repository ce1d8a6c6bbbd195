#pragma once
// The core's vocabulary (DESIGN.md "Concepts"). Plain data; no behaviour, no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace up {

// Wall-clock time as milliseconds since the Unix epoch (UTC).
using UnixMs = int64_t;

// Limits that can be set per tenant and per app. An unset field means "inherit"
// (app -> tenant -> server default); 0 means "no limit" only where a field says so.
struct Quota {
  std::optional<uint64_t> max_bytes;         // total stored bytes, temporaries included
  std::optional<uint64_t> max_objects;       // total live objects
  std::optional<uint64_t> max_object_bytes;  // one file
};

struct Tenant {
  std::string id;
  std::string name;
  Quota quota;
  std::vector<std::string> cors_origins;  // origins allowed to call from a browser; "*" for any
  std::string settings_json = "{}";  // dialect settings (e.g. Jodoo fsizeLimit); opaque to core
  UnixMs created_at = 0;
};

struct App {
  std::string tenant_id;
  std::string id;  // unique inside its tenant
  std::string name;
  std::string dialect;  // "native", "jodoo", "openim", "kintone", "jpush"
  Quota quota;
  std::string settings_json = "{}";  // dialect settings; opaque to core
  UnixMs created_at = 0;
};

enum class KeyRole { kMember, kAdmin };

// An API key. The secret is never stored: only its SHA-256, compared in
// constant time; its id is derived from that hash (core/auth.cc).
struct ApiKey {
  std::string id;
  std::string tenant_id;
  std::string name;
  KeyRole role = KeyRole::kMember;
  std::string app_id;         // empty: every app of the tenant
  std::string secret_sha256;  // hex
  bool enabled = true;
  UnixMs created_at = 0;
};

enum class ObjectState { kTemporary, kAttached, kStored, kDeleted };

// A stored file. `key` is the dialect-visible name (a Qiniu saveKey, an S3
// object name, ...); it is unique per (tenant, app) when not empty and is never
// overwritten. `id` is upgate's own, time-ordered id (see core/ids.h).
struct Object {
  std::string id;
  std::string tenant_id;
  std::string app_id;
  std::string key;
  std::string name;  // the client's file name, UTF-8; never used as a path
  std::string content_type;
  uint64_t size = 0;
  std::string sha256;   // hex, always computed
  std::string md5;      // hex, when the upload asked for it
  std::string qetag;    // Qiniu etag, when the upload asked for it
  std::string locator;  // where the blob store keeps the bytes
  ObjectState state = ObjectState::kStored;
  UnixMs created_at = 0;
  std::optional<UnixMs> expires_at;  // temporaries and TTL'd objects
  std::string transaction_id;        // a temporary can be bound only under it
  std::string owner;                 // dialect's uploader identity (user id, ...)
  std::string meta_json = "{}";      // dialect extras (x:vars, ttl, ...); opaque to core
};

// Groups the uploads of one client operation (Jodoo transaction_id, ...).
struct Transaction {
  std::string tenant_id;
  std::string app_id;
  std::string id;  // client-chosen
  UnixMs created_at = 0;
  UnixMs expires_at = 0;
};

// A minimal JSON document in an app's form (a Jodoo entry; a kintone app is
// its own form, form_id ""), enough for the dialects' record APIs. Its file
// fields reference objects; binding flips them to kAttached (meta_store.h).
struct Record {
  std::string tenant_id;
  std::string app_id;
  std::string form_id;
  std::string id;                // dialect-visible, unique per form; the store uses seq when empty
  uint64_t seq = 0;              // 1, 2, ... per form, assigned on insert
  uint64_t revision = 1;         // +1 on every update
  std::string data_json = "{}";  // the dialect's field document; opaque to core
  std::vector<std::string> file_ids;  // ids of the objects bound to it
  std::string batch_key;              // an idempotent batch write's key (a Jodoo transaction_id)
  std::string creator;
  std::string updater;
  UnixMs created_at = 0;
  UnixMs updated_at = 0;
};

struct Usage {
  uint64_t bytes = 0;
  uint64_t objects = 0;
};

const char* to_string(ObjectState s);
std::optional<ObjectState> object_state_from(std::string_view s);
const char* to_string(KeyRole r);

}  // namespace up
