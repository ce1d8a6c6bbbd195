#pragma once
// A BlobStore over an S3-compatible object store (Ceph RGW in our tests,
// MinIO, AWS S3), shared by every upgate process that points at it.
//
// Transport: libcurl (Debian's libcurl4-openssl-dev), blocking, on the
// blocking pool. The server's own client (http/client.h) holds a whole request
// and answer body in a string and speaks no TLS; libcurl streams bodies through
// callbacks, speaks TLS, and keeps connections alive per pool thread. A pool
// thread is held for the length of one request (a part, a read piece, a
// streamed single PUT: the one request that lasts a whole upload).
//
// Layout: blob `L` is the object `<prefix>/L` (just `L` without a prefix).
// Never overwriting rests first on the locator being unique per blob (an object
// id). Then: a single PUT carries `If-None-Match: *`, which RGW 16 honours (412
// PreconditionFailed on an existing key: kAlreadyExists, atomically). RGW 16
// ignores that header on CompleteMultipartUpload (measured: it overwrote), so
// a multipart commit HEADs the key first; two multipart writers racing for
// one locator between that HEAD and the complete could still overwrite.
//
// Writes of a known size (create()'s size_hint, a request's Content-Length)
// over part_size and at most single_put_max (5 GiB, S3's limit): one PUT of
// that Content-Length, streamed while the client is still sending, because
// RGW stores a single PUT at twice its multipart rate (bench/README.md, item
// 7). append() copies into 1 MiB buffers, at most 4 of them unsent (then it
// waits), that curl's read callback takes on a pool thread; commit() waits
// for the answer. Fewer or more bytes than announced, a failure, or a writer
// dropped uncommitted abort the transfer before its last byte (curl's read
// callback), and RGW keeps nothing. Signed UNSIGNED-PAYLOAD like every
// request here (RGW and S3 accept it on any PUT). Such a PUT holds one thread
// of the store's transfer pool for the whole upload, at the client's pace
// (a stall is 2 minutes without a byte, not 15 s): at most `single_puts` (8)
// run per store, more go multipart, so keep it under the pool's size
// (--blocking-threads, 16) to leave threads for reads and parts.
//
// Other writes: bytes gather in a part buffer (part_size). A blob that ends before
// the buffer fills goes as one PUT at commit(); a larger one becomes a
// multipart upload whose parts are sent while the client is still sending,
// with at most `parts_in_memory` parts held per writer (the one filling plus
// those on their way). CompleteMultipartUpload at commit(); AbortMultipartUpload
// on any failure and when an uncommitted writer is destroyed (asynchronously,
// on the pool, once its parts in flight are done). A crashed writer's upload
// is aborted by remove_stale_temporaries once it last moved (its newest part's
// LastModified from ListParts, else Initiated) before the cutoff: a live upload
// adds a part at least every part_size bytes, so another process's sweep
// leaves it alone however long it runs.
//
// Reads: open() is one ranged GET of the first 256 KiB (its Content-Range
// gives the size); then ranged GETs growing to `read_piece`, up to
// `pieces_ahead` of them streamed into buffers on the pool while the caller
// consumes the piece before them (at most 1 + pieces_ahead pieces in memory
// per reader; bytes in order; any failed piece fails the read).
//
// Compose (s3_compose.cc says the plan): a multipart upload whose parts are
// UploadPartCopy of the ranges of 5 MiB or more; smaller ranges are read
// through and sent as normal parts of at least 5 MiB (S3's minimum); four
// parts on their way at a time, at most parts_in_memory read-through parts
// held. Under part_size in all, only small ranges: one PUT.
// No ranges make an empty blob. Over 10,000 parts: kUnimplemented (the caller
// copies the bytes itself).
//
// Errors: unreachable store, stalled transfer, 5xx -> kUnavailable; idempotent
// calls (GET, HEAD, DELETE, listings, and compose's parts) are retried with
// backoff first, the writer's writes never. The store object is thread-safe;
// writers and readers are not.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/blocking.h"
#include "core/result.h"
#include "storage/blob_store.h"

namespace up::storage {

struct S3BlobStoreOptions {
  std::string endpoint;  // "http://127.0.0.1:7480"; empty: https://s3.<region>.amazonaws.com
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;  // without leading or trailing '/'
  bool path_style = false;
  std::string access_key;
  std::string secret_key;
  // 16 MiB parts, two on their way while the next fills: RGW spends less per
  // byte on larger parts, and two in flight overlap the latency each part
  // pays at its end (bench/README.md, issue 15: 8 MiB one at a time ran RGW's
  // multipart at half its single-PUT rate). Peak RSS of a 1 GiB multipart
  // upload 69 MiB (24 MiB as a streamed single PUT).
  uint64_t part_size = 16ull << 20;  // at least 5 MiB (S3's minimum part)
  unsigned parts_in_memory = 3;      // per writer, at least 1
  // A blob whose size is known up front (BlobStore::create's size_hint),
  // larger than part_size and at most this, goes as one PUT streamed while the
  // client sends: RGW stores a single PUT faster than a multipart upload
  // (bench/README.md, item 7). 0: never; at most 5 GiB (S3's single-PUT limit).
  uint64_t single_put_max = 5ull << 30;
  // Streamed PUTs at once per store (each holds a pool thread for its whole
  // upload); more fall back to multipart. At least 1 when single_put_max > 0.
  unsigned single_puts = 8;
  // 8 MiB pieces, three on their way: half the GETs of 4 MiB ones and the
  // steadiest rate of those measured (bench/README.md, item 7, 2026-12-04), in
  // 1 + 3 pieces of memory per download.
  uint64_t read_piece = 8ull << 20;
  unsigned pieces_ahead = 3;  // GETs on their way per reader, at least 1
  int attempts = 3;           // of idempotent calls
};

// Parses "s3://bucket[/prefix][?endpoint=URL&region=R&path_style=true&part_size_mb=N
// &parts_in_memory=N&single_put_max_mb=N&single_puts=N&read_piece_mb=N&pieces_ahead=N]". Keys are
// not part of the URL (set them afterwards). kInvalidArgument with a one-line message.
Result<S3BlobStoreOptions> parse_s3_url(std::string_view url);

// Connects to the bucket (one listing) and returns the store; its blocking
// calls run on `pool`, which must outlive it. One-line errors for start-up:
// kUnavailable (endpoint unreachable), kStorageIo (no such bucket, keys
// refused, anything else the store answers).
Result<BlobStorePtr> open_s3_blob_store(const S3BlobStoreOptions& options,
                                        core::BlockingPool& pool);

}  // namespace up::storage
