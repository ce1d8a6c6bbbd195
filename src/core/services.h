#pragma once
// Everything a dialect may use, built once by the composition root (src/app).

#include <functional>
#include <string>

#include "core/auth.h"
#include "core/clock.h"
#include "core/cursors.h"
#include "core/directory.h"
#include "core/files.h"
#include "core/rate_limiter.h"
#include "core/records.h"
#include "core/resumable.h"
#include "core/secret_settings.h"
#include "core/secrets.h"
#include "core/sweeper.h"
#include "core/uploads.h"

namespace up::core {

struct Services {
  const Clock& clock;
  Directory& directory;
  AuthService& auth;
  UploadService& uploads;
  ResumableUploads& resumable;
  FileService& files;
  RateLimiter& rate_limiter;
  Sweeper& sweeper;
  RecordService& records;
  CursorService& cursors;
  const Secrets& secrets;  // derive dialect signing keys from here
  DownloadLinks& links;
  // The base URL clients reach this server at (no trailing '/'), for URLs the
  // dialects hand out: --public-url, else the first listening address. Set
  // before the server starts serving.
  std::string public_url;
  // Moves the clock forward; set only when the server runs with --dev-clock
  // (integration tests drive expiry with it instead of sleeping).
  std::function<void(int64_t ms)> advance_clock;
  // Settings members no answer may show (redact_settings), named by the dialects.
  SecretSettings secret_settings;
};

}  // namespace up::core
