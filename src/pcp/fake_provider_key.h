// FakeProvider internals shared by fake_provider.cpp and fake_attest.cpp: the key record and small OpenSSL helpers.
#pragma once
#include "pcp/fake_provider.h"

#include <openssl/bn.h>
#include <openssl/evp.h>

#include <memory>

namespace keyseal::pcp {

namespace fake_detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;

inline const EVP_MD* md_of(Hash h) {
  switch (h) {
    case Hash::sha1: return EVP_sha1();
    case Hash::sha256: return EVP_sha256();
    case Hash::sha384: return EVP_sha384();
    case Hash::sha512: return EVP_sha512();
    default: return nullptr;
  }
}

inline Status st(uint32_t c, const char* call) { return Status{c, call}; }

inline SecureBytes bn_bytes(const BIGNUM* b, size_t pad_to = 0) {
  const size_t n = static_cast<size_t>(BN_num_bytes(b));
  SecureBytes out(pad_to > n ? pad_to : n, 0);
  BN_bn2bin(b, out.data() + (out.size() - n));
  return out;
}

}  // namespace fake_detail

struct FakeProvider::Key {
  KeySpec spec;
  std::unique_ptr<EVP_PKEY, fake_detail::PkeyFree> pkey;
};

}  // namespace keyseal::pcp
