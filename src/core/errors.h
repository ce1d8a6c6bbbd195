#pragma once
// The one error catalogue of upgate. Every failure the core can report has a
// numbered code here; dialects map codes (or their kinds) to their own envelopes
// in each dialect's errors.cc and nowhere else. Numbers are stable: never
// reuse or renumber one, append new ones.

#include <string_view>

namespace up {

// Canonical kinds, shaped like Abseil's status codes. A kind says what the
// client can do about the failure; the code says exactly what failed.
enum class Kind {
  kInvalidArgument,   // the request is malformed; do not retry unchanged
  kUnauthenticated,   // no or bad credentials
  kPermissionDenied,  // credentials fine, not allowed
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // system state must change first (expired, wrong transaction)
  kTooLarge,            // payload over a limit
  kOutOfRange,          // e.g. an unsatisfiable Range
  kResourceExhausted,   // quota or rate limit
  kUnavailable,         // retry later (shutting down, overloaded)
  kDeadlineExceeded,
  kInternal,  // a bug or an environment failure (I/O error)
  kUnimplemented,
};

// X(name, number, kind, default message)
#define UP_ERROR_CATALOGUE(X)                                                               \
  X(kInvalidArgument, 1000, kInvalidArgument, "invalid argument")                           \
  X(kBadJson, 1001, kInvalidArgument, "malformed JSON body")                                \
  X(kBadMultipart, 1002, kInvalidArgument, "malformed multipart body")                      \
  X(kMissingField, 1003, kInvalidArgument, "a required field is missing")                   \
  X(kBadName, 1004, kInvalidArgument, "invalid name")                                       \
  X(kBadCursor, 1005, kInvalidArgument, "invalid pagination cursor")                        \
  X(kBadContent, 1006, kInvalidArgument, "content does not meet the rules")                 \
  X(kTooSmall, 1007, kInvalidArgument, "payload smaller than allowed")                      \
  X(kBadContentType, 1008, kInvalidArgument, "invalid content type")                        \
  X(kBadRange, 1050, kOutOfRange, "requested range not satisfiable")                        \
  X(kUnauthenticated, 1100, kUnauthenticated, "missing or invalid credentials")             \
  X(kKeyDisabled, 1101, kUnauthenticated, "credential disabled")                            \
  X(kGrantInvalid, 1102, kUnauthenticated, "upload credential invalid")                     \
  X(kGrantExpired, 1103, kUnauthenticated, "upload credential expired")                     \
  X(kPermissionDenied, 1200, kPermissionDenied, "permission denied")                        \
  X(kGrantScope, 1201, kPermissionDenied, "upload credential does not cover this request")  \
  X(kNotFound, 1300, kNotFound, "not found")                                                \
  X(kObjectNotFound, 1301, kNotFound, "file not found")                                     \
  X(kTenantNotFound, 1302, kNotFound, "tenant not found")                                   \
  X(kAppNotFound, 1303, kNotFound, "app not found")                                         \
  X(kKeyNotFound, 1304, kNotFound, "key not found")                                         \
  X(kTransactionNotFound, 1305, kNotFound, "transaction not found")                         \
  X(kRecordNotFound, 1306, kNotFound, "record not found")                                   \
  X(kRouteNotFound, 1307, kNotFound, "no such route")                                       \
  X(kAlreadyExists, 1400, kAlreadyExists, "already exists")                                 \
  X(kObjectKeyExists, 1401, kAlreadyExists, "an object with this key already exists")       \
  X(kGrantUsed, 1402, kAlreadyExists, "upload credential already used")                     \
  X(kDuplicateRequest, 1403, kAlreadyExists, "request already processed")                   \
  X(kTooLarge, 1500, kTooLarge, "payload too large")                                        \
  X(kHeadersTooLarge, 1501, kTooLarge, "request headers too large")                         \
  X(kQuotaExceeded, 1600, kResourceExhausted, "storage quota exceeded")                     \
  X(kKeyLimit, 1601, kResourceExhausted, "too many keys")                                   \
  X(kRateLimited, 1602, kResourceExhausted, "rate limit exceeded")                          \
  X(kObjectLimit, 1603, kResourceExhausted, "too many files")                               \
  X(kFailedPrecondition, 1700, kFailedPrecondition, "precondition failed")                  \
  X(kTransactionMismatch, 1701, kFailedPrecondition, "file belongs to another transaction") \
  X(kTransactionExpired, 1702, kFailedPrecondition, "transaction expired")                  \
  X(kRevisionConflict, 1703, kFailedPrecondition, "revision conflict")                      \
  X(kChecksumMismatch, 1704, kFailedPrecondition, "checksum mismatch")                      \
  X(kSizeMismatch, 1705, kFailedPrecondition, "size mismatch")                              \
  X(kObjectNotTemporary, 1706, kFailedPrecondition, "file is not awaiting binding")         \
  X(kUnavailable, 1800, kUnavailable, "service unavailable")                                \
  X(kShuttingDown, 1801, kUnavailable, "server is shutting down")                           \
  X(kTimeout, 1802, kDeadlineExceeded, "timed out")                                         \
  X(kCallbackFailed, 1803, kUnavailable, "upload callback failed")                          \
  X(kTransactionConflict, 1804, kUnavailable, "metadata transaction conflict; retry")       \
  X(kInternal, 1900, kInternal, "internal error")                                           \
  X(kStorageIo, 1901, kInternal, "storage I/O error")                                       \
  X(kMetaIo, 1902, kInternal, "metadata store error")                                       \
  X(kDiskFull, 1903, kResourceExhausted, "no space left on storage")                        \
  X(kUnimplemented, 1950, kUnimplemented, "not implemented")                                \
  X(kMethodNotAllowed, 1951, kUnimplemented, "method not allowed")

enum class Errc : int {
#define UP_X(name, number, kind, msg) name = (number),
  UP_ERROR_CATALOGUE(UP_X)
#undef UP_X
};

// kTransactionConflict is the retryable error of metadata transactions: a
// store that aborts a transaction for a serialization conflict (PostgreSQL's
// SERIALIZABLE, SQLSTATE 40001/40P01) rolls it back and returns this code, and
// core runs the whole transaction again, a bounded number of times
// (core/transact.h). Its kind is kUnavailable, so a client sees it only when
// every retry lost, as "retry later". retry_transaction() is the one test for it.
constexpr bool retry_transaction(Errc code) { return code == Errc::kTransactionConflict; }

Kind kind_of(Errc code);
std::string_view default_message(Errc code);
// The enumerator name, e.g. "kObjectNotFound"; for logs.
std::string_view name_of(Errc code);

}  // namespace up
