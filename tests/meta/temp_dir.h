#pragma once
// A fresh directory per test, removed with everything in it at scope exit.
// (tests/storage has its own; a shared tests/common one would replace both.)

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace up::meta::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "upgate-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace up::meta::test
