// DPAPI wrapper (see dpapi_wrapper.h). Nothing here logs a secret; blobs and secrets pass through LocalFree'd
// buffers that are wiped first.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <wincrypt.h>
#include <dpapi.h>

#include <string>

#include "common/error.h"
#include "common/log.h"
#include "softtoken/dpapi_wrapper.h"

namespace keyseal::softtoken {
namespace {

DATA_BLOB blob_of(ByteView v) {
  DATA_BLOB b;
  b.cbData = static_cast<DWORD>(v.size());
  b.pbData = const_cast<BYTE*>(v.data());
  return b;
}

SecureBytes take(DATA_BLOB& out) {
  SecureBytes r(out.pbData, out.pbData + out.cbData);
  SecureZeroMemory(out.pbData, out.cbData);
  LocalFree(out.pbData);
  out.pbData = nullptr;
  return r;
}

class DpapiWrapper final : public OsSecretWrapper {
 public:
  std::string name() const override { return std::string(kDpapiWrapperName); }

  SecureBytes wrap(ByteView secret, ByteView context) override {
    require(secret.size() <= 0xffff && context.size() <= 0xffff, CKR_ARGUMENTS_BAD, "DPAPI: input too long");
    DATA_BLOB in = blob_of(secret), entropy = blob_of(context), out{};
    if (!CryptProtectData(&in, L"keyseal", &entropy, nullptr, nullptr, CRYPTPROTECT_UI_FORBIDDEN, &out))
      fail(CKR_FUNCTION_FAILED, "CryptProtectData failed (error " + std::to_string(GetLastError()) + ")");
    return take(out);
  }

  std::optional<SecureBytes> unwrap(ByteView blob, ByteView context) override {
    if (blob.empty() || blob.size() > 64 * 1024 || context.size() > 0xffff) return std::nullopt;
    DATA_BLOB in = blob_of(blob), entropy = blob_of(context), out{};
    LPWSTR description = nullptr;
    if (!CryptUnprotectData(&in, &description, &entropy, nullptr, nullptr, CRYPTPROTECT_UI_FORBIDDEN, &out)) {
      log::info("CryptUnprotectData refused the token's share (error " + std::to_string(GetLastError()) + ")");
      return std::nullopt;
    }
    if (description) LocalFree(description);
    return take(out);
  }
};

}  // namespace

std::shared_ptr<OsSecretWrapper> dpapi_wrapper() { return std::make_shared<DpapiWrapper>(); }

}  // namespace keyseal::softtoken
