#pragma once
// Core services over the in-memory backends, on a manual clock.

#include "core/auth.h"
#include "core/clock.h"
#include "core/directory.h"
#include "core/files.h"
#include "core/sweeper.h"
#include "core/uploads.h"
#include "meta/memory/memory_meta_store.h"
#include "storage/memory/memory_blob_store.h"

namespace up::testing {

struct CoreFixture {
  ManualClock clock;
  meta::MetaStorePtr meta = meta::make_memory_meta_store();
  storage::BlobStorePtr blobs = storage::make_memory_blob_store();
  core::Directory directory{*meta, clock, 1ull << 30};
  core::AuthService auth{*meta, clock};
  core::UploadService uploads{directory, *meta, *blobs, clock};
  core::FileService files{*meta, *blobs, clock};
  core::Sweeper sweeper{*meta, *blobs, clock};

  CoreFixture() { (void)directory.create_tenant("t1", "Tenant One"); }

  Result<Object> upload(core::UploadSpec spec, std::string_view content) {
    auto up = uploads.begin(std::move(spec));
    if (!up) return fail(up.error());
    UP_TRY((*up)->append(content));
    return (*up)->commit();
  }

  size_t blob_count() {
    size_t n = 0;
    (void)blobs->list([&](const storage::BlobEntry&) { ++n; });
    return n;
  }
};

inline core::UploadSpec spec_for(std::string tenant, std::string name) {
  core::UploadSpec s;
  s.tenant_id = std::move(tenant);
  s.name = std::move(name);
  return s;
}

}  // namespace up::testing
