// Software RSA encodings around the TPM's raw RSA operation (RFC 8017 sections 7.1.2, 9.2, B.2.1 MGF1).
#include "tpm/rsa_padding.h"

#include "common/error.h"
#include "crypto/digest.h"
#include "crypto/random.h"

namespace keyseal::tpm {

namespace {

const uint8_t kSha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
const uint8_t kSha224[] = {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                           0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c};
const uint8_t kSha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                           0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
const uint8_t kSha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                           0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
const uint8_t kSha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                           0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

SecureBytes mgf1(CK_MECHANISM_TYPE hash, ByteView seed, size_t len) {
  SecureBytes out;
  SecureBytes block(seed.begin(), seed.end());
  block.resize(seed.size() + 4);
  for (uint32_t counter = 0; out.size() < len; ++counter) {
    for (int i = 0; i < 4; ++i) block[seed.size() + i] = static_cast<uint8_t>(counter >> (24 - 8 * i));
    SecureBytes h = crypto::digest(hash, view(block));
    out.insert(out.end(), h.begin(), h.end());
  }
  out.resize(len);
  return out;
}

}  // namespace

ByteView digest_info_prefix(CK_MECHANISM_TYPE hash) {
  switch (hash) {
    case CKM_SHA_1: return kSha1;
    case CKM_SHA224: return kSha224;
    case CKM_SHA256: return kSha256;
    case CKM_SHA384: return kSha384;
    case CKM_SHA512: return kSha512;
    default: return {};
  }
}

bool parse_digest_info(ByteView in, CK_MECHANISM_TYPE& hash, ByteView& digest) {
  for (CK_MECHANISM_TYPE h : {CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512}) {
    const ByteView p = digest_info_prefix(h);
    if (in.size() == p.size() + crypto::digest_size(h) && equal_bytes(in.first(p.size()), p)) {
      hash = h;
      digest = in.subspan(p.size());
      return true;
    }
  }
  return false;
}

SecureBytes pkcs1_type1(ByteView t, size_t k) {
  require(k >= 11 && t.size() <= k - 11, CKR_DATA_LEN_RANGE, "input too long for CKM_RSA_PKCS with this key");
  SecureBytes em(k, 0xFF);
  em[0] = 0x00;
  em[1] = 0x01;
  em[k - t.size() - 1] = 0x00;
  std::copy(t.begin(), t.end(), em.begin() + static_cast<long>(k - t.size()));
  return em;
}

SecureBytes pkcs1_type2_decode(ByteView em) {
  require(em.size() >= 11, CKR_ENCRYPTED_DATA_INVALID, "PKCS#1 block too short");
  unsigned bad = em[0] | (em[1] ^ 2u);
  size_t sep = 0;
  unsigned found = 0;
  for (size_t i = 2; i < em.size(); ++i) {  // the first zero after the padding, without early exit
    const unsigned is_zero = em[i] == 0;
    sep = (is_zero & (found ^ 1u)) ? i : sep;
    found |= is_zero;
  }
  bad |= (found ^ 1u) | (sep < 10 ? 1u : 0u);
  require(bad == 0, CKR_ENCRYPTED_DATA_INVALID, "PKCS#1 v1.5 decoding failed");
  return SecureBytes(em.begin() + static_cast<long>(sep + 1), em.end());
}

size_t pss_max_salt(size_t hash_len, size_t mod_bits) {
  const size_t em_len = (mod_bits - 1 + 7) / 8;
  return em_len >= hash_len + 2 ? em_len - hash_len - 2 : 0;
}

SecureBytes pss_encode(ByteView m_hash, CK_MECHANISM_TYPE hash, CK_MECHANISM_TYPE mgf_hash, size_t salt_len,
                       size_t mod_bits) {
  const size_t h = crypto::digest_size(hash);
  require(m_hash.size() == h, CKR_DATA_LEN_RANGE, "PSS input is not a digest of the PSS hash");
  require(mod_bits >= 16 && salt_len <= pss_max_salt(h, mod_bits), CKR_MECHANISM_PARAM_INVALID,
          "the PSS salt does not fit the modulus");
  const size_t em_bits = mod_bits - 1, em_len = (em_bits + 7) / 8, k = (mod_bits + 7) / 8;
  const SecureBytes salt = crypto::random_bytes(salt_len);
  // H = Hash(0x00 * 8 || mHash || salt)
  SecureBytes m_prime(8, 0);
  m_prime.insert(m_prime.end(), m_hash.begin(), m_hash.end());
  m_prime.insert(m_prime.end(), salt.begin(), salt.end());
  const SecureBytes hh = crypto::digest(hash, view(m_prime));
  // maskedDB = (PS || 0x01 || salt) xor MGF1(H), its top 8 * emLen - emBits bits cleared
  const size_t db_len = em_len - h - 1;
  SecureBytes db(db_len - salt_len - 1, 0);
  db.push_back(0x01);
  db.insert(db.end(), salt.begin(), salt.end());
  const SecureBytes mask = mgf1(mgf_hash, view(hh), db_len);
  for (size_t i = 0; i < db_len; ++i) db[i] ^= mask[i];
  db[0] &= static_cast<uint8_t>(0xFF >> (8 * em_len - em_bits));
  SecureBytes out(k - em_len, 0);  // EM is one byte shorter than the modulus when modBits - 1 is a multiple of 8
  out.insert(out.end(), db.begin(), db.end());
  out.insert(out.end(), hh.begin(), hh.end());
  out.push_back(0xBC);
  return out;
}

SecureBytes oaep_decode(ByteView em, CK_MECHANISM_TYPE hash, CK_MECHANISM_TYPE mgf_hash, ByteView label) {
  const size_t h = crypto::digest_size(hash);
  const size_t k = em.size();
  require(k >= 2 * h + 2, CKR_ENCRYPTED_DATA_INVALID, "OAEP block too short");
  const SecureBytes lhash = crypto::digest(hash, label);
  const ByteView masked_seed = em.subspan(1, h), masked_db = em.subspan(1 + h);
  SecureBytes seed = mgf1(mgf_hash, masked_db, h);
  for (size_t i = 0; i < h; ++i) seed[i] ^= masked_seed[i];
  SecureBytes db = mgf1(mgf_hash, view(seed), masked_db.size());
  for (size_t i = 0; i < db.size(); ++i) db[i] ^= masked_db[i];
  // Constant-time over the block: every check folds into `bad`, the separator is found without branching.
  unsigned bad = em[0];
  bad |= equal_constant_time(ByteView(db.data(), h), view(lhash)) ? 0u : 1u;
  size_t sep = 0;
  unsigned found = 0;
  for (size_t i = h; i < db.size(); ++i) {
    const unsigned is_one = db[i] == 0x01, is_zero = db[i] == 0x00;
    const unsigned take = is_one & (found ^ 1u);
    sep = take ? i : sep;
    bad |= (found ^ 1u) & (is_one ^ 1u) & (is_zero ^ 1u);
    found |= is_one;
  }
  bad |= found ^ 1u;
  require(bad == 0, CKR_ENCRYPTED_DATA_INVALID, "OAEP decoding failed");
  return SecureBytes(db.begin() + static_cast<long>(sep + 1), db.end());
}

}  // namespace keyseal::tpm
