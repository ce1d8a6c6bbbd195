#pragma once
// Pieces shared by BlobStore implementations (not part of the interface).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "storage/blob_store.h"

namespace up::storage {

// A reader over bytes in memory (a packed small blob, the memory store): the
// range [offset, offset + length) of `data`, clipped to its end.
BlobReaderPtr make_buffer_reader(std::shared_ptr<const std::string> data, uint64_t offset,
                                 uint64_t length);

// Builds one BlobStore::list page from entries offered in any order, keeping
// only the `limit` smallest locators that match (memory stays bounded by the
// page, whatever the store holds). Not thread-safe.
class PageCollector {
 public:
  PageCollector(std::string_view prefix, std::string_view after, size_t limit);

  std::string_view prefix() const { return prefix_; }
  std::string_view after() const { return after_; }
  // True when `locator` could still be on the page (cheap: call before
  // fetching an entry's size and time).
  bool wants(std::string_view locator) const;
  // REQUIRES: wants(entry.locator).
  void add(BlobEntry entry);
  // The page; next_after is set when the page is full (more may follow).
  BlobPage finish() &&;

 private:
  struct ByLocator {
    bool operator()(const BlobEntry& a, const BlobEntry& b) const { return a.locator < b.locator; }
  };
  std::string prefix_;
  std::string after_;
  size_t limit_;
  std::set<BlobEntry, ByLocator> kept_;
};

}  // namespace up::storage
