// attest/mu: TPM 2.0 big-endian (un)marshalling of TPMT_PUBLIC, TPMS_ATTEST and TPMT_SIGNATURE (Part 2,
// chapters 10-12), written from the specification's tables. One walk per structure serves both directions: the
// Writer and the Reader offer the same calls, and a union's selector is always read before its union.
#include "attest/mu/mu.h"

#include <cstring>
#include <type_traits>

namespace keyseal::attest::mu {
namespace {

class Writer {
 public:
  Writer(uint8_t* buf, size_t cap, size_t pos) : buf_(buf), cap_(cap), pos_(pos) {}
  static constexpr bool reading = false;

  void u8(uint8_t v) { raw(&v, 1); }
  void u16(uint16_t v) {
    const uint8_t b[2] = {uint8_t(v >> 8), uint8_t(v)};
    raw(b, 2);
  }
  void u32(uint32_t v) {
    const uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    raw(b, 4);
  }
  void u64(uint64_t v) {
    u32(uint32_t(v >> 32));
    u32(uint32_t(v));
  }
  void raw(const uint8_t* p, size_t n) {
    if (rc_ != TSS2_RC_SUCCESS) return;
    if (buf_) {
      if (pos_ > cap_ || cap_ - pos_ < n) return fail(TSS2_MU_RC_INSUFFICIENT_BUFFER);
      if (n) std::memcpy(buf_ + pos_, p, n);
    }
    pos_ += n;
  }
  // A TPM2B: its size, then that many bytes of data (which holds `capacity` at most).
  void sized(uint16_t size, const uint8_t* data, size_t capacity) {
    if (size > capacity) return fail(TSS2_MU_RC_BAD_SIZE);
    u16(size);
    raw(data, size);
  }
  void fail(TSS2_RC rc) {
    if (rc_ == TSS2_RC_SUCCESS) rc_ = rc;
  }
  TSS2_RC rc() const { return rc_; }
  size_t pos() const { return pos_; }

 private:
  uint8_t* buf_;
  size_t cap_;
  size_t pos_;
  TSS2_RC rc_ = TSS2_RC_SUCCESS;
};

class Reader {
 public:
  Reader(const uint8_t* buf, size_t cap, size_t pos) : buf_(buf), cap_(cap), pos_(pos) {}
  static constexpr bool reading = true;

  void u8(uint8_t& v) { raw(&v, 1); }
  void u16(uint16_t& v) {
    uint8_t b[2] = {};
    raw(b, 2);
    v = uint16_t(b[0] << 8 | b[1]);
  }
  void u32(uint32_t& v) {
    uint8_t b[4] = {};
    raw(b, 4);
    v = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
  }
  void u64(uint64_t& v) {
    uint32_t hi = 0, lo = 0;
    u32(hi);
    u32(lo);
    v = uint64_t(hi) << 32 | lo;
  }
  void raw(uint8_t* p, size_t n) {
    if (rc_ != TSS2_RC_SUCCESS) return;
    if (pos_ > cap_ || cap_ - pos_ < n) return fail(TSS2_MU_RC_INSUFFICIENT_BUFFER);
    if (n) std::memcpy(p, buf_ + pos_, n);
    pos_ += n;
  }
  void sized(uint16_t& size, uint8_t* data, size_t capacity) {
    u16(size);
    if (rc_ != TSS2_RC_SUCCESS) return;
    if (size > capacity) return fail(TSS2_MU_RC_BAD_SIZE);
    raw(data, size);
  }
  void fail(TSS2_RC rc) {
    if (rc_ == TSS2_RC_SUCCESS) rc_ = rc;
  }
  TSS2_RC rc() const { return rc_; }
  size_t pos() const { return pos_; }

 private:
  const uint8_t* buf_;
  size_t cap_;
  size_t pos_;
  TSS2_RC rc_ = TSS2_RC_SUCCESS;
};

// Any TPM2B: `size` and one byte array member.
template <class IO, class S, class A>
void tpm2b(IO& io, S& size, A& array) {
  static_assert(std::is_array_v<std::remove_cv_t<A>>);
  io.sized(size, array, sizeof array);
}

bool digest_size(TPMI_ALG_HASH alg, size_t& n) {
  switch (alg) {
    case TPM2_ALG_SHA1: n = TPM2_SHA1_DIGEST_SIZE; return true;
    case TPM2_ALG_SHA256: n = TPM2_SHA256_DIGEST_SIZE; return true;
    case TPM2_ALG_SHA384: n = TPM2_SHA384_DIGEST_SIZE; return true;
    case TPM2_ALG_SHA512: n = TPM2_SHA512_DIGEST_SIZE; return true;
    case TPM2_ALG_SM3_256: n = TPM2_SM3_256_DIGEST_SIZE; return true;
    default: return false;
  }
}

// ---------------------------------------------------------------------------------------- TPMT_PUBLIC (12.2.4)
template <class IO, class T>  // TPMT_SYM_DEF_OBJECT (11.1.7)
void sym_def_object(IO& io, T& v) {
  io.u16(v.algorithm);
  switch (v.algorithm) {
    case TPM2_ALG_AES:
    case TPM2_ALG_SM4:
    case TPM2_ALG_CAMELLIA:
      io.u16(v.keyBits.sym);
      io.u16(v.mode.sym);
      break;
    case TPM2_ALG_XOR: io.u16(v.keyBits.exclusiveOr); break;
    case TPM2_ALG_NULL: break;
    default: io.fail(TSS2_MU_RC_BAD_VALUE);
  }
}

template <class IO, class T>  // TPMT_RSA_SCHEME and TPMT_ECC_SCHEME: a selector and TPMU_ASYM_SCHEME (11.2.3.5)
void asym_scheme(IO& io, T& v) {
  io.u16(v.scheme);
  switch (v.scheme) {
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS:
    case TPM2_ALG_OAEP:
    case TPM2_ALG_ECDSA:
    case TPM2_ALG_SM2:
    case TPM2_ALG_ECSCHNORR:
    case TPM2_ALG_ECDH:
    case TPM2_ALG_ECMQV: io.u16(v.details.anySig.hashAlg); break;
    case TPM2_ALG_ECDAA:
      io.u16(v.details.ecdaa.hashAlg);
      io.u16(v.details.ecdaa.count);
      break;
    case TPM2_ALG_RSAES:
    case TPM2_ALG_NULL: break;
    default: io.fail(TSS2_MU_RC_BAD_VALUE);
  }
}

template <class IO, class T>  // TPMT_KDF_SCHEME (11.2.3.3)
void kdf_scheme(IO& io, T& v) {
  io.u16(v.scheme);
  switch (v.scheme) {
    case TPM2_ALG_MGF1:
    case TPM2_ALG_KDF1_SP800_56A:
    case TPM2_ALG_KDF2:
    case TPM2_ALG_KDF1_SP800_108: io.u16(v.details.mgf1.hashAlg); break;
    case TPM2_ALG_NULL: break;
    default: io.fail(TSS2_MU_RC_BAD_VALUE);
  }
}

template <class IO, class T>  // TPMT_KEYEDHASH_SCHEME (11.1.23)
void keyedhash_scheme(IO& io, T& v) {
  io.u16(v.scheme);
  switch (v.scheme) {
    case TPM2_ALG_HMAC: io.u16(v.details.hmac.hashAlg); break;
    case TPM2_ALG_XOR:
      io.u16(v.details.exclusiveOr.hashAlg);
      io.u16(v.details.exclusiveOr.kdf);
      break;
    case TPM2_ALG_NULL: break;
    default: io.fail(TSS2_MU_RC_BAD_VALUE);
  }
}

template <class IO, class T>
void public_area(IO& io, T& v) {
  io.u16(v.type);
  io.u16(v.nameAlg);
  io.u32(v.objectAttributes);
  tpm2b(io, v.authPolicy.size, v.authPolicy.buffer);
  auto& p = v.parameters;
  auto& u = v.unique;
  switch (v.type) {  // TPMU_PUBLIC_PARMS (12.2.3.7), then TPMU_PUBLIC_ID (12.2.3.2)
    case TPM2_ALG_KEYEDHASH:
      keyedhash_scheme(io, p.keyedHashDetail.scheme);
      tpm2b(io, u.keyedHash.size, u.keyedHash.buffer);
      break;
    case TPM2_ALG_SYMCIPHER:
      sym_def_object(io, p.symDetail.sym);
      tpm2b(io, u.sym.size, u.sym.buffer);
      break;
    case TPM2_ALG_RSA:
      sym_def_object(io, p.rsaDetail.symmetric);
      asym_scheme(io, p.rsaDetail.scheme);
      io.u16(p.rsaDetail.keyBits);
      io.u32(p.rsaDetail.exponent);
      tpm2b(io, u.rsa.size, u.rsa.buffer);
      break;
    case TPM2_ALG_ECC:
      sym_def_object(io, p.eccDetail.symmetric);
      asym_scheme(io, p.eccDetail.scheme);
      io.u16(p.eccDetail.curveID);
      kdf_scheme(io, p.eccDetail.kdf);
      tpm2b(io, u.ecc.x.size, u.ecc.x.buffer);
      tpm2b(io, u.ecc.y.size, u.ecc.y.buffer);
      break;
    default: io.fail(TSS2_MU_RC_BAD_VALUE);
  }
}

// ----------------------------------------------------------------------------------------- TPMS_ATTEST (10.12.12)
template <class IO, class T>
void clock_info(IO& io, T& v) {
  io.u64(v.clock);
  io.u32(v.resetCount);
  io.u32(v.restartCount);
  io.u8(v.safe);
}

template <class IO, class T>
void attest(IO& io, T& v) {
  io.u32(v.magic);  // not checked here: the verifier says what is wrong with it
  io.u16(v.type);
  tpm2b(io, v.qualifiedSigner.size, v.qualifiedSigner.name);
  tpm2b(io, v.extraData.size, v.extraData.buffer);
  clock_info(io, v.clockInfo);
  io.u64(v.firmwareVersion);
  auto& a = v.attested;
  switch (v.type) {  // TPMU_ATTEST (10.12.11)
    case TPM2_ST_ATTEST_CERTIFY:
      tpm2b(io, a.certify.name.size, a.certify.name.name);
      tpm2b(io, a.certify.qualifiedName.size, a.certify.qualifiedName.name);
      break;
    case TPM2_ST_ATTEST_CREATION:
      tpm2b(io, a.creation.objectName.size, a.creation.objectName.name);
      tpm2b(io, a.creation.creationHash.size, a.creation.creationHash.buffer);
      break;
    case TPM2_ST_ATTEST_QUOTE: {
      auto& sel = a.quote.pcrSelect;
      io.u32(sel.count);
      if (sel.count > TPM2_NUM_PCR_BANKS) {
        io.fail(TSS2_MU_RC_BAD_SIZE);
        break;
      }
      for (uint32_t i = 0; i < sel.count; ++i) {
        auto& s = sel.pcrSelections[i];
        io.u16(s.hash);
        io.u8(s.sizeofSelect);
        if (s.sizeofSelect > sizeof s.pcrSelect) {
          io.fail(TSS2_MU_RC_BAD_SIZE);
          break;
        }
        io.raw(s.pcrSelect, s.sizeofSelect);
      }
      tpm2b(io, a.quote.pcrDigest.size, a.quote.pcrDigest.buffer);
      break;
    }
    case TPM2_ST_ATTEST_COMMAND_AUDIT:
      io.u64(a.commandAudit.auditCounter);
      io.u16(a.commandAudit.digestAlg);
      tpm2b(io, a.commandAudit.auditDigest.size, a.commandAudit.auditDigest.buffer);
      tpm2b(io, a.commandAudit.commandDigest.size, a.commandAudit.commandDigest.buffer);
      break;
    case TPM2_ST_ATTEST_SESSION_AUDIT:
      io.u8(a.sessionAudit.exclusiveSession);
      tpm2b(io, a.sessionAudit.sessionDigest.size, a.sessionAudit.sessionDigest.buffer);
      break;
    case TPM2_ST_ATTEST_TIME:
      io.u64(a.time.time.time);
      clock_info(io, a.time.time.clockInfo);
      io.u64(a.time.firmwareVersion);
      break;
    case TPM2_ST_ATTEST_NV:
      tpm2b(io, a.nv.indexName.size, a.nv.indexName.name);
      io.u16(a.nv.offset);
      tpm2b(io, a.nv.nvContents.size, a.nv.nvContents.buffer);
      break;
    default: io.fail(TSS2_MU_RC_BAD_VALUE);
  }
}

// --------------------------------------------------------------------------------------- TPMT_SIGNATURE (11.3.4)
template <class IO, class T>
void signature(IO& io, T& v) {
  io.u16(v.sigAlg);
  auto& s = v.signature;
  switch (v.sigAlg) {  // TPMU_SIGNATURE (11.3.3)
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS:
      io.u16(s.rsassa.hash);
      tpm2b(io, s.rsassa.sig.size, s.rsassa.sig.buffer);
      break;
    case TPM2_ALG_ECDSA:
    case TPM2_ALG_ECDAA:
    case TPM2_ALG_SM2:
    case TPM2_ALG_ECSCHNORR:
      io.u16(s.ecdsa.hash);
      tpm2b(io, s.ecdsa.signatureR.size, s.ecdsa.signatureR.buffer);
      tpm2b(io, s.ecdsa.signatureS.size, s.ecdsa.signatureS.buffer);
      break;
    case TPM2_ALG_HMAC: {  // TPMT_HA: the digest's size follows from its hash
      io.u16(s.hmac.hashAlg);
      size_t n = 0;
      if (!digest_size(s.hmac.hashAlg, n)) {
        io.fail(TSS2_MU_RC_BAD_VALUE);
        break;
      }
      io.raw(reinterpret_cast<std::conditional_t<IO::reading, uint8_t*, const uint8_t*>>(&s.hmac.digest), n);
      break;
    }
    case TPM2_ALG_NULL: break;
    default: io.fail(TSS2_MU_RC_BAD_VALUE);
  }
}

// ------------------------------------------------------------------------------ tss2-mu's calling convention
template <class T, class Walk>
TSS2_RC do_marshal(const T* src, uint8_t buffer[], size_t buffer_size, size_t* offset, Walk walk) {
  if (!src) return TSS2_MU_RC_BAD_REFERENCE;
  if (!buffer && !offset) return TSS2_MU_RC_BAD_REFERENCE;
  Writer w(buffer, buffer_size, offset ? *offset : 0);
  walk(w, *src);
  if (w.rc() != TSS2_RC_SUCCESS) return w.rc();
  if (offset) *offset = w.pos();
  return TSS2_RC_SUCCESS;
}

template <class T, class Walk>
TSS2_RC do_unmarshal(const uint8_t buffer[], size_t buffer_size, size_t* offset, T* dest, Walk walk) {
  if (!buffer) return TSS2_MU_RC_BAD_REFERENCE;
  Reader r(buffer, buffer_size, offset ? *offset : 0);
  T value{};
  walk(r, value);
  if (r.rc() != TSS2_RC_SUCCESS) return r.rc();
  if (dest) *dest = value;
  if (offset) *offset = r.pos();
  return TSS2_RC_SUCCESS;
}

constexpr auto kPublic = [](auto& io, auto& v) { public_area(io, v); };
constexpr auto kAttest = [](auto& io, auto& v) { attest(io, v); };
constexpr auto kSignature = [](auto& io, auto& v) { signature(io, v); };

}  // namespace

TSS2_RC marshal(const TPMT_PUBLIC* src, uint8_t buffer[], size_t buffer_size, size_t* offset) {
  return do_marshal(src, buffer, buffer_size, offset, kPublic);
}
TSS2_RC unmarshal(const uint8_t buffer[], size_t buffer_size, size_t* offset, TPMT_PUBLIC* dest) {
  return do_unmarshal(buffer, buffer_size, offset, dest, kPublic);
}
TSS2_RC marshal(const TPMS_ATTEST* src, uint8_t buffer[], size_t buffer_size, size_t* offset) {
  return do_marshal(src, buffer, buffer_size, offset, kAttest);
}
TSS2_RC unmarshal(const uint8_t buffer[], size_t buffer_size, size_t* offset, TPMS_ATTEST* dest) {
  return do_unmarshal(buffer, buffer_size, offset, dest, kAttest);
}
TSS2_RC marshal(const TPMT_SIGNATURE* src, uint8_t buffer[], size_t buffer_size, size_t* offset) {
  return do_marshal(src, buffer, buffer_size, offset, kSignature);
}
TSS2_RC unmarshal(const uint8_t buffer[], size_t buffer_size, size_t* offset, TPMT_SIGNATURE* dest) {
  return do_unmarshal(buffer, buffer_size, offset, dest, kSignature);
}

}  // namespace keyseal::attest::mu
