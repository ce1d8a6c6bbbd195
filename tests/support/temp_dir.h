#pragma once
// A fresh folder under /tmp for one test, removed with everything in it.
// Shared by every test folder (tests/support is on their include path).

#include <cstdlib>
#include <filesystem>
#include <string>

namespace up::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/upgate-test-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Empty when the folder could not be created.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace up::testing
