// PCP claims and key blobs (pcp_claim.h). A reader over the blob's bytes carries the remaining length, so each
// size field is checked against what is left before anything is taken; sums are done in 64 bits.
#include "attest/pcp_claim.h"
#include "attest/tpm_structs.h"

#include <tss2/tss2_mu.h>

#include <cstring>
#include <stdexcept>

namespace keyseal::attest {
namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("PCP claim: " + what); }

uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
void put_le32(Bytes& out, uint64_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void append(Bytes& out, const Bytes& b) { out.insert(out.end(), b.begin(), b.end()); }

// A PCP header: `words` little-endian words at the start of `b` (named `what`), its magic and headerSize checked.
// Returns the words; `b` must hold at least headerSize bytes.
std::vector<uint32_t> header(const Bytes& b, const char* what, uint32_t magic, size_t words, size_t size_word,
                             size_t min_header) {
  if (b.size() < 4 * words) bad(std::string(what) + " is truncated (" + std::to_string(b.size()) + " bytes)");
  std::vector<uint32_t> w(words);
  for (size_t i = 0; i < words; ++i) w[i] = le32(b.data() + 4 * i);
  if (w[0] != magic) bad(std::string(what) + " has a wrong magic");
  const uint32_t hs = w[size_word];
  if (hs < min_header || hs > b.size())
    bad(std::string(what) + " header size " + std::to_string(hs) + " is out of range");
  return w;
}

// `count` sections of the given sizes after `offset`; their total must be exactly the rest of `b` (exact) or fit in
// it (not exact).
std::vector<Bytes> sections(const Bytes& b, size_t offset, const std::vector<uint32_t>& sizes, const char* what,
                            bool exact) {
  uint64_t total = offset;
  for (uint32_t s : sizes) total += s;
  if (total > b.size()) bad(std::string(what) + " sections overrun the blob (" + std::to_string(total) + " > " +
                            std::to_string(b.size()) + " bytes)");
  if (exact && total != b.size())
    bad(std::string(what) + " has " + std::to_string(b.size() - total) + " bytes after its sections");
  std::vector<Bytes> out;
  size_t at = offset;
  for (uint32_t s : sizes) {
    out.emplace_back(b.begin() + static_cast<ptrdiff_t>(at), b.begin() + static_cast<ptrdiff_t>(at + s));
    at += s;
  }
  return out;
}

// A TPM2B's contents when `b` is exactly one TPM2B (2-byte big-endian size, then that many bytes).
Bytes tpm2b_contents(const Bytes& b, const std::string& what) {
  if (b.size() < 2) bad(what + " is truncated");
  const size_t n = size_t(b[0]) << 8 | b[1];
  if (n != b.size() - 2) bad(what + "'s TPM2B size " + std::to_string(n) + " does not match its " +
                             std::to_string(b.size() - 2) + " bytes");
  return Bytes(b.begin() + 2, b.end());
}

const uint8_t kEkPolicy[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                               0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                               0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

}  // namespace

Bytes ek_public_from_modulus(const Bytes& modulus) {
  if (modulus.size() != 256) bad("the EK modulus has " + std::to_string(modulus.size()) + " bytes, not 256");
  TPMT_PUBLIC p{};
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;  // 0x000300B2
  p.authPolicy.size = sizeof kEkPolicy;
  std::memcpy(p.authPolicy.buffer, kEkPolicy, sizeof kEkPolicy);
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.rsaDetail.keyBits = 2048;
  p.parameters.rsaDetail.exponent = 0;
  p.unique.rsa.size = 256;
  std::memcpy(p.unique.rsa.buffer, modulus.data(), 256);
  return detail::marshal(p);
}

Bytes rsa_public_blob(const Bytes& modulus, const Bytes& exponent) {
  Bytes b;
  put_le32(b, kRsa1Magic);
  put_le32(b, 8 * modulus.size());
  put_le32(b, exponent.size());
  put_le32(b, modulus.size());
  put_le32(b, 0);
  put_le32(b, 0);
  append(b, exponent);
  append(b, modulus);
  return b;
}

Bytes ek_public_from_rsa_blob(const Bytes& blob) {
  // BCRYPT_RSAKEY_BLOB: Magic, BitLength, cbPublicExp, cbModulus, cbPrime1, cbPrime2; then exponent, modulus.
  if (blob.size() < 24) bad("the EK blob is truncated");
  std::vector<uint32_t> w(6);
  for (size_t i = 0; i < 6; ++i) w[i] = le32(blob.data() + 4 * i);
  if (w[0] != kRsa1Magic) bad("the EK blob is not a BCRYPT_RSAPUBLIC_BLOB");
  const std::vector<Bytes> s = sections(blob, 24, {w[2], w[3]}, "the EK blob", true);
  Bytes e = s[0];
  while (!e.empty() && e.front() == 0) e.erase(e.begin());
  if (e != Bytes{0x01, 0x00, 0x01}) bad("the EK's exponent is not 65537");
  if (w[1] != 8 * uint64_t(w[3])) bad("the EK blob's bit length does not match its modulus");
  return ek_public_from_modulus(s[1]);
}

// One TPM2B at `off`: its size and bytes, within `b`. Only the six TPMT/TPMS (un)marshal calls of tpm_structs.cpp
// are used here, so this parser builds on Windows, where attest/mu stands in for them.
Bytes take_2b(const Bytes& b, size_t& off, const char* what) {
  if (b.size() - off < 2) bad(std::string("idBinding: ") + what + " is malformed");
  const size_t n = (size_t(b[off]) << 8) | b[off + 1];
  if (b.size() - off - 2 < n) bad(std::string("idBinding: ") + what + " is malformed");
  Bytes out(b.begin() + static_cast<ptrdiff_t>(off + 2), b.begin() + static_cast<ptrdiff_t>(off + 2 + n));
  off += 2 + n;
  return out;
}

Bytes ak_public_from_id_binding(const Bytes& b) {
  // TPM2B_PUBLIC || TPM2B_CREATION_DATA || TPM2B_ATTEST || TPMT_SIGNATURE
  size_t off = 0;
  Bytes ak = take_2b(b, off, "TPM2B_PUBLIC");
  TPMT_PUBLIC pub{};
  size_t inner = 0;
  if (ak.empty() || Tss2_MU_TPMT_PUBLIC_Unmarshal(ak.data(), ak.size(), &inner, &pub) != 0)
    bad("idBinding: TPM2B_PUBLIC is malformed");
  if (inner != ak.size()) bad("idBinding: TPM2B_PUBLIC's size does not match its public area");
  if (take_2b(b, off, "TPM2B_CREATION_DATA").empty()) bad("idBinding: TPM2B_CREATION_DATA is malformed");
  if (take_2b(b, off, "TPM2B_ATTEST").empty()) bad("idBinding: TPM2B_ATTEST is malformed");
  TPMT_SIGNATURE sig{};
  if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(b.data(), b.size(), &off, &sig) != 0)
    bad("idBinding: TPMT_SIGNATURE is malformed");
  if (off != b.size()) bad("idBinding has " + std::to_string(b.size() - off) + " bytes after its signature");
  return ak;
}

PcpClaim parse_pcp_claim(const Bytes& claim) {
  // KAST: Magic, Version, Platform, HeaderSize, cbIdBinding, cbKeyAttestation, cbAIKOpaque.
  const std::vector<uint32_t> k = header(claim, "KAST", kKastMagic, 7, 3, 28);
  if (k[1] != 1) bad("KAST version " + std::to_string(k[1]) + " is not 1");
  if (k[2] != 2) bad("KAST platform " + std::to_string(k[2]) + " is not 2 (TPM 2.0)");
  std::vector<Bytes> ks = sections(claim, k[3], {k[4], k[5], k[6]}, "KAST", true);
  PcpClaim c;
  c.id_binding = std::move(ks[0]);
  c.aik_opaque = std::move(ks[2]);
  const Bytes& kads = ks[1];
  // KADS: Magic, Platform, HeaderSize, cbKeyAttest, cbSignature, cbKeyBlob.
  const std::vector<uint32_t> a = header(kads, "KADS", kKadsMagic, 6, 2, 24);
  if (a[1] != 2) bad("KADS platform " + std::to_string(a[1]) + " is not 2 (TPM 2.0)");
  std::vector<Bytes> as = sections(kads, a[2], {a[3], a[4], a[5]}, "KADS", true);
  c.key_attest = std::move(as[0]);
  c.signature = std::move(as[1]);
  if (c.key_attest.empty()) bad("KADS has no keyAttest");
  if (c.signature.empty() || c.signature.size() > TPM2_MAX_RSA_KEY_BYTES)
    bad("KADS signature size " + std::to_string(c.signature.size()) + " is out of range");
  c.key_public = key_public_from_pcp_key_blob(as[2]);
  return c;
}

Bytes key_public_from_pcp_key_blob(const Bytes& pcpm) {
  // PCPM: magic, cbHeader, pcpType, flags, then nine section sizes (public first).
  const std::vector<uint32_t> m = header(pcpm, "PCPM", kPcpmMagic, 13, 1, 52);
  if (m[2] != 2) bad("PCPM type " + std::to_string(m[2]) + " is not 2 (TPM 2.0)");
  const std::vector<Bytes> ms = sections(pcpm, m[1], std::vector<uint32_t>(m.begin() + 4, m.end()), "PCPM", false);
  Bytes pub = tpm2b_contents(ms[0], "PCPM public");
  detail::parse_public(pub, "PCP claim: PCPM public");  // throws when it is no TPMT_PUBLIC
  return pub;
}

Evidence evidence_from_pcp_claim(const Bytes& claim, const Bytes& id_binding, const Bytes& ek_rsa_blob,
                                 std::vector<Bytes> ek_certificates) {
  PcpClaim c = parse_pcp_claim(claim);
  Evidence e;
  const TPMS_ATTEST info = detail::parse_attest(c.key_attest, "PCP claim: keyAttest");
  e.nonce.assign(info.extraData.buffer, info.extraData.buffer + info.extraData.size);
  e.key_public = std::move(c.key_public);
  e.certify_info = std::move(c.key_attest);
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_RSASSA;
  sig.signature.rsassa.hash = TPM2_ALG_SHA1;
  sig.signature.rsassa.sig.size = static_cast<UINT16>(c.signature.size());
  std::memcpy(sig.signature.rsassa.sig.buffer, c.signature.data(), c.signature.size());
  e.certify_signature = detail::marshal(sig);
  e.origin = std::string(kOriginGeneratedFixedTpm);
  if (!c.id_binding.empty()) {
    e.ak_public = ak_public_from_id_binding(c.id_binding);
    if (!id_binding.empty() && ak_public_from_id_binding(id_binding) != e.ak_public)
      bad("the claim's idBinding and the AIK's are of different keys");
  } else if (!id_binding.empty()) {
    e.ak_public = ak_public_from_id_binding(id_binding);
  } else {
    bad("no idBinding: the AIK's public area is unknown");
  }
  e.ek_public = ek_public_from_rsa_blob(ek_rsa_blob);
  e.ek_certificates = std::move(ek_certificates);
  return e;
}

Bytes pcp_key_blob(const Bytes& tpm2b_public, const Bytes& tpm2b_private) {
  Bytes b;
  const uint32_t words[13] = {kPcpmMagic, 56, 2, 0, static_cast<uint32_t>(tpm2b_public.size()),
                              static_cast<uint32_t>(tpm2b_private.size()), 0, 0, 0, 0, 0, 0, 0};
  for (uint32_t w : words) put_le32(b, w);
  b.push_back(0x0B);  // pcrAlgId TPM_ALG_SHA256, little-endian, then padding to 56
  b.insert(b.end(), 3, 0);
  append(b, tpm2b_public);
  append(b, tpm2b_private);
  return b;
}

Bytes pcp_claim_blob(const Bytes& id_binding, const Bytes& key_attest, const Bytes& signature, const Bytes& key_blob) {
  Bytes kads;
  for (uint64_t w : {uint64_t(kKadsMagic), uint64_t(2), uint64_t(24), uint64_t(key_attest.size()),
                     uint64_t(signature.size()), uint64_t(key_blob.size())})
    put_le32(kads, w);
  append(kads, key_attest);
  append(kads, signature);
  append(kads, key_blob);
  Bytes b;
  for (uint64_t w : {uint64_t(kKastMagic), uint64_t(1), uint64_t(2), uint64_t(28), uint64_t(id_binding.size()),
                     uint64_t(kads.size()), uint64_t(0)})
    put_le32(b, w);
  append(b, id_binding);
  append(b, kads);
  return b;
}

}  // namespace keyseal::attest
