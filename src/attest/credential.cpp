// TPM2_MakeCredential in software (TPM 2.0 Part 1 sections 24.4 and 24.5, Part 3 section 12.6): a seed shared
// with the EK (RSA: OAEP with label "IDENTITY"; ECC: one-pass ECDH with an ephemeral key and KDFe, Part 1
// annexes B.10.4 and C.6.4), then KDFa(seed, "STORAGE", name) keys AES-CFB over the credential, and
// KDFa(seed, "INTEGRITY") keys the outer HMAC over encIdentity || name. Labels include their terminating NUL.
#include "attest/evidence.h"
#include "attest/tpm_structs.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <cstring>
#include <stdexcept>

namespace keyseal::attest {
namespace {

using detail::Pkey;

void put16(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
void append(Bytes& out, const Bytes& b) { out.insert(out.end(), b.begin(), b.end()); }
Bytes label(std::string_view s) {
  Bytes b(s.begin(), s.end());
  b.push_back(0);
  return b;
}
Bytes tpm2b(const Bytes& b) {
  Bytes out;
  put16(out, b.size());
  append(out, b);
  return out;
}

Bytes hmac(const EVP_MD* md, const Bytes& key, const Bytes& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out, &n))
    throw std::runtime_error("HMAC failed");
  return Bytes(out, out + n);
}

// KDFa (Part 1 section 11.4.10.2): SP 800-108 counter mode with HMAC.
Bytes kdfa(const EVP_MD* md, const Bytes& key, std::string_view use, const Bytes& context_u, const Bytes& context_v,
           uint32_t bits) {
  Bytes out;
  for (uint32_t i = 1; out.size() * 8 < bits; ++i) {
    Bytes in;
    put32(in, i);
    append(in, label(use));
    append(in, context_u);
    append(in, context_v);
    put32(in, bits);
    append(out, hmac(md, key, in));
  }
  out.resize((bits + 7) / 8);
  return out;
}

// KDFe (Part 1 section 11.4.10.3): SP 800-56A concatenation KDF with the hash alone.
Bytes kdfe(const EVP_MD* md, const Bytes& z, std::string_view use, const Bytes& party_u, const Bytes& party_v,
           uint32_t bits) {
  Bytes out;
  for (uint32_t i = 1; out.size() * 8 < bits; ++i) {
    Bytes in;
    put32(in, i);
    append(in, z);
    append(in, label(use));
    append(in, party_u);
    append(in, party_v);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(in.data(), in.size(), d, &n, md, nullptr) != 1) throw std::runtime_error("digest failed");
    out.insert(out.end(), d, d + n);
  }
  out.resize((bits + 7) / 8);
  return out;
}

struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using Ctx = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;

// RSA EK: the seed OAEP-encrypted with the EK's name algorithm and label "IDENTITY" (Part 1 annex B.10.3).
Bytes rsa_secret(const TPMT_PUBLIC& ek, const Bytes& seed) {
  Pkey key = detail::key_of(ek);
  Ctx ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  const Bytes l = label("IDENTITY");
  unsigned char* lbl = static_cast<unsigned char*>(OPENSSL_memdup(l.data(), l.size()));
  const EVP_MD* md = detail::md_of(ek.nameAlg);
  if (!ctx || !lbl || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), lbl, static_cast<int>(l.size())) != 1) {
    OPENSSL_free(lbl);
    throw std::invalid_argument("cannot set up OAEP with the EK");
  }
  size_t n = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &n, seed.data(), seed.size()) != 1)
    throw std::invalid_argument("OAEP encryption to the EK failed");
  Bytes out(n);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &n, seed.data(), seed.size()) != 1)
    throw std::invalid_argument("OAEP encryption to the EK failed");
  out.resize(n);
  return out;
}

// ECC EK: an ephemeral key on the EK's curve; the seed is KDFe(Z, "IDENTITY", ephemeral x, EK x) and the
// secret sent is the ephemeral public point (Part 1 annex C.6.4).
Bytes ecc_secret(const TPMT_PUBLIC& ek, Bytes& seed) {
  const TPMI_ECC_CURVE curve = ek.parameters.eccDetail.curveID;
  const char* group = detail::curve_name(curve);
  const size_t len = detail::curve_bytes(curve);
  Pkey peer = detail::key_of(ek);
  EVP_PKEY* eph_raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group);
  if (!eph_raw) throw std::runtime_error("ephemeral EC key generation failed");
  Pkey eph(eph_raw);
  Ctx ctx(EVP_PKEY_CTX_new(eph.get(), nullptr));
  size_t zlen = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &zlen) != 1)
    throw std::invalid_argument("ECDH with the EK failed");
  Bytes z(zlen);
  if (EVP_PKEY_derive(ctx.get(), z.data(), &zlen) != 1) throw std::invalid_argument("ECDH with the EK failed");
  z.resize(zlen);  // the shared point's x, padded to the field size
  unsigned char point[1 + 2 * 66];
  size_t plen = 0;
  if (EVP_PKEY_get_octet_string_param(eph.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &plen) != 1 ||
      plen != 1 + 2 * len || point[0] != 0x04)
    throw std::runtime_error("cannot read the ephemeral point");
  const Bytes ex(point + 1, point + 1 + len), ey(point + 1 + len, point + 1 + 2 * len);
  const Bytes ekx(ek.unique.ecc.x.buffer, ek.unique.ecc.x.buffer + ek.unique.ecc.x.size);
  seed = kdfe(detail::md_of(ek.nameAlg), z, "IDENTITY", ex, ekx, static_cast<uint32_t>(8 * detail::digest_size(ek.nameAlg)));
  Bytes out = tpm2b(ex);  // TPMS_ECC_POINT
  append(out, tpm2b(ey));
  return out;
}

const EVP_CIPHER* aes_cfb(uint16_t bits) {
  switch (bits) {
    case 128: return EVP_aes_128_cfb128();
    case 192: return EVP_aes_192_cfb128();
    case 256: return EVP_aes_256_cfb128();
    default: return nullptr;
  }
}

// AES-CFB with a zero IV (encIdentity), either way; nullopt when OpenSSL fails.
std::optional<Bytes> cfb(const EVP_CIPHER* cipher, const Bytes& key, const Bytes& in, bool encrypt) {
  Bytes out(in.size());
  const unsigned char iv[16] = {};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n1 = 0, n2 = 0;
  const bool ok = ctx && EVP_CipherInit_ex(ctx, cipher, nullptr, key.data(), iv, encrypt ? 1 : 0) == 1 &&
                  EVP_CipherUpdate(ctx, out.data(), &n1, in.data(), static_cast<int>(in.size())) == 1 &&
                  EVP_CipherFinal_ex(ctx, out.data() + n1, &n2) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok || static_cast<size_t>(n1 + n2) != in.size()) return std::nullopt;
  return out;
}

size_t get16(const Bytes& b, size_t at) { return size_t(b[at]) << 8 | b[at + 1]; }

}  // namespace

Credential make_credential(const Bytes& ek_public, const Bytes& ak_name, const Bytes& secret) {
  const TPMT_PUBLIC ek = detail::parse_public(ek_public, "ek_public");
  const EVP_MD* md = detail::md_of(ek.nameAlg);
  if (!md) throw std::invalid_argument("ek_public: unsupported name algorithm");
  const size_t dsize = detail::digest_size(ek.nameAlg);
  if (secret.empty() || secret.size() > dsize)
    throw std::invalid_argument("the credential secret must have 1 to " + std::to_string(dsize) + " bytes");
  if (ak_name.size() < 2 || ak_name.size() != 2 + detail::digest_size(static_cast<TPMI_ALG_HASH>(ak_name[0] << 8 | ak_name[1])))
    throw std::invalid_argument("ak_name is not a TPM name");
  if (!(ek.objectAttributes & TPMA_OBJECT_RESTRICTED) || !(ek.objectAttributes & TPMA_OBJECT_DECRYPT) ||
      (ek.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT))
    throw std::invalid_argument("ek_public is not a restricted decryption key (not an EK)");
  const TPMT_SYM_DEF_OBJECT& sym =
      ek.type == TPM2_ALG_RSA ? ek.parameters.rsaDetail.symmetric : ek.parameters.eccDetail.symmetric;
  const EVP_CIPHER* cipher = sym.algorithm == TPM2_ALG_AES && sym.mode.aes == TPM2_ALG_CFB ? aes_cfb(sym.keyBits.aes)
                                                                                            : nullptr;
  if (!cipher) throw std::invalid_argument("ek_public: its symmetric algorithm is not AES-CFB");

  Credential c;
  Bytes seed;
  if (ek.type == TPM2_ALG_RSA) {
    seed = detail::random_bytes(dsize);
    c.encrypted_secret = tpm2b(rsa_secret(ek, seed));
  } else if (ek.type == TPM2_ALG_ECC) {
    c.encrypted_secret = tpm2b(ecc_secret(ek, seed));
  } else {
    throw std::invalid_argument("ek_public is neither RSA nor ECC");
  }

  // encIdentity: CFB encryption, zero IV, of the TPM2B_DIGEST holding the secret.
  const Bytes sym_key = kdfa(md, seed, "STORAGE", ak_name, {}, sym.keyBits.aes);
  Bytes plain = tpm2b(secret);
  std::optional<Bytes> enc_or = cfb(cipher, sym_key, plain, true);
  OPENSSL_cleanse(plain.data(), plain.size());
  if (!enc_or) throw std::runtime_error("AES-CFB failed");
  const Bytes enc = std::move(*enc_or);

  const Bytes hmac_key = kdfa(md, seed, "INTEGRITY", {}, {}, static_cast<uint32_t>(8 * dsize));
  Bytes mac_in = enc;
  append(mac_in, ak_name);
  Bytes id_object = tpm2b(hmac(md, hmac_key, mac_in));  // TPM2B_DIGEST outerHMAC, then encIdentity
  append(id_object, enc);
  c.credential_blob = tpm2b(id_object);
  OPENSSL_cleanse(seed.data(), seed.size());
  return c;
}

// TPM2_ActivateCredential in software, the inverse of make_credential for an RSA EK (OAEP with the EK's name
// algorithm and label "IDENTITY"): for emulated TPMs (the fake Platform Crypto Provider). nullopt when any size,
// the OAEP decryption or the integrity HMAC is wrong, as the TPM refuses them.
std::optional<Bytes> detail::activate_credential(EVP_PKEY* ek_private, const TPMT_PUBLIC& ek, const Bytes& ak_name,
                                                 const Credential& c) {
  const EVP_MD* md = md_of(ek.nameAlg);
  const size_t dsize = digest_size(ek.nameAlg);
  const TPMT_SYM_DEF_OBJECT& sym = ek.parameters.rsaDetail.symmetric;
  const EVP_CIPHER* cipher = sym.algorithm == TPM2_ALG_AES && sym.mode.aes == TPM2_ALG_CFB ? aes_cfb(sym.keyBits.aes)
                                                                                            : nullptr;
  const Bytes& id = c.credential_blob;
  const Bytes& es = c.encrypted_secret;
  if (ek.type != TPM2_ALG_RSA || !md || !cipher || id.size() < 4 || get16(id, 0) != id.size() - 2 ||
      es.size() < 2 || get16(es, 0) != es.size() - 2)
    return std::nullopt;
  const size_t hlen = get16(id, 2);
  if (hlen != dsize || 4 + hlen >= id.size()) return std::nullopt;
  const Bytes mac(id.begin() + 4, id.begin() + 4 + static_cast<ptrdiff_t>(hlen));
  const Bytes enc(id.begin() + 4 + static_cast<ptrdiff_t>(hlen), id.end());

  Ctx ctx(EVP_PKEY_CTX_new(ek_private, nullptr));
  const Bytes l = label("IDENTITY");
  unsigned char* lbl = static_cast<unsigned char*>(OPENSSL_memdup(l.data(), l.size()));
  if (!ctx || !lbl || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), lbl, static_cast<int>(l.size())) != 1) {
    OPENSSL_free(lbl);
    return std::nullopt;
  }
  size_t n = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &n, es.data() + 2, es.size() - 2) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  Bytes seed(n);
  if (EVP_PKEY_decrypt(ctx.get(), seed.data(), &n, es.data() + 2, es.size() - 2) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  seed.resize(n);

  const Bytes hmac_key = kdfa(md, seed, "INTEGRITY", {}, {}, static_cast<uint32_t>(8 * dsize));
  Bytes mac_in = enc;
  append(mac_in, ak_name);
  const Bytes want = hmac(md, hmac_key, mac_in);
  const bool intact = want.size() == mac.size() && CRYPTO_memcmp(want.data(), mac.data(), mac.size()) == 0;
  const Bytes sym_key = intact ? kdfa(md, seed, "STORAGE", ak_name, {}, sym.keyBits.aes) : Bytes{};
  OPENSSL_cleanse(seed.data(), seed.size());
  if (!intact) return std::nullopt;

  std::optional<Bytes> plain_or = cfb(cipher, sym_key, enc, false);
  if (!plain_or) return std::nullopt;
  Bytes& plain = *plain_or;
  if (plain.size() < 2 || get16(plain, 0) != plain.size() - 2 || plain.size() - 2 > dsize) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return std::nullopt;
  }
  Bytes secret(plain.begin() + 2, plain.end());
  OPENSSL_cleanse(plain.data(), plain.size());
  return secret;
}

}  // namespace keyseal::attest
