// Shared helpers for the store/ unit tests: a temporary directory per test and object-row builders.
#pragma once
#include "platform/paths.h"
#include "store/token_db.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace keyseal::store::testing {

// A fresh private directory (platform::make_temp_dir), removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = platform::make_temp_dir("keyseal-store-");
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline SecureBytes bytes(std::string_view s) { return to_bytes(view(s)); }

inline ObjectRow make_row(int n, CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY, bool is_private = false) {
  ObjectRow r;
  r.uid = "uid-" + std::to_string(n);
  r.cls = cls;
  r.key_type = cls == CKO_DATA ? CK_UNAVAILABLE_INFORMATION : CKK_EC;
  r.is_private = is_private;
  r.ckaid = bytes("id-" + std::to_string(n));
  r.label = "label " + std::to_string(n);
  r.attrs = bytes("attrs of " + std::to_string(n));
  return r;
}

inline CK_RV rv_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.rv;
  }
  return CKR_OK;
}

}  // namespace keyseal::store::testing
