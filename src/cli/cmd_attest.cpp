// `keyseal attest` and `keyseal attest-ak` (docs/attestation.md). attest reads the key's attestation through
// PKCS#11 like any application would (CKA_KEYSEAL_ATTESTATION_NONCE, then CKA_KEYSEAL_ATTESTATION:
// include/keyseal/pkcs11.h); attest-ak works on this user's TPM attestation key directly, through compose/.
#include "attest/evidence.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/pem_p12.h"
#include "cli/prompt.h"
#include "cli/uri.h"
#include "compose/compose.h"
#include "core/config.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace keyseal::cli {
namespace {

std::string read_text(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Failure("cannot open " + file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_out(const std::optional<std::string>& file, const std::string& data, std::ostream& out) {
  if (!file) {
    out << data;
    return;
  }
  std::ofstream f(*file, std::ios::binary | std::ios::trunc);
  if (!f) throw Failure("cannot create " + *file);
  f << data;
  f.close();
  if (!f) throw Failure("cannot write " + *file);
}

std::string pem_block(const char* name, const attest::Bytes& der) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio(bio.get(), name, "", der.data(), static_cast<long>(der.size())) <= 0)
    throw Failure(std::string("cannot write a PEM ") + name + " block");
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

std::string base64(const attest::Bytes& b) {
  std::string out(4 * ((b.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(), static_cast<int>(b.size()));
  out.resize(static_cast<size_t>(n));
  return out + "\n";
}

// Every certificate of a PEM file (or the one DER certificate it holds), in order.
std::vector<attest::Bytes> read_certificates(const std::string& file) {
  const std::string text = read_text(file);
  std::vector<attest::Bytes> out = attest::certificates_from_pem(text);
  if (out.empty()) {
    const Certificate c = read_certificate(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    out.emplace_back(c.der.begin(), c.der.end());
  }
  return out;
}

std::string describe_key(const Options& o) {
  std::string s;
  if (o.id) s += " with id " + hex(*o.id);
  if (o.label) s += std::string(o.id ? " and" : " with") + " label '" + *o.label + "'";
  return s + " in slot " + std::to_string(*o.slot);
}

}  // namespace

int run_attest(const Options& o, std::ostream& out) {
  Module m(resolve_module_path(o.module));
  Session s(m, *o.slot, false);
  s.login(CKU_USER, o.pin ? *o.pin : ask_pin("User PIN for token '" + token_label(m.token_info(*o.slot)) + "': "));
  const auto keys = find_objects(m, s, CKO_PRIVATE_KEY, o.id, o.label);
  if (keys.empty()) throw Failure("no private key" + describe_key(o));
  if (keys.size() > 1) throw Failure(std::to_string(keys.size()) + " private keys" + describe_key(o) + "; name one with --id");
  const CK_OBJECT_HANDLE key = keys[0];

  std::vector<uint8_t> nonce = *o.nonce;
  CK_ATTRIBUTE set{CKA_KEYSEAL_ATTESTATION_NONCE, nonce.data(), static_cast<CK_ULONG>(nonce.size())};
  CK_RV rv = m.fn().C_SetAttributeValue(s.handle(), key, &set, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
    throw Failure("the private key" + describe_key(o) + " is not in a TPM (a soft-token key cannot be attested: "
                  "its protection is the keystore's, which no TPM vouches for)");
  if (rv != CKR_OK) throw Error(rv, "setting the attestation nonce");
  CK_ATTRIBUTE get{CKA_KEYSEAL_ATTESTATION, nullptr, 0};
  rv = m.fn().C_GetAttributeValue(s.handle(), key, &get, 1);
  if (rv != CKR_OK) throw Error(rv, "attesting the key");
  std::string json(get.ulValueLen, '\0');
  get.pValue = json.data();
  rv = m.fn().C_GetAttributeValue(s.handle(), key, &get, 1);
  if (rv != CKR_OK) throw Error(rv, "attesting the key");
  json.resize(get.ulValueLen);

  const std::string format = o.format.value_or("json");
  if (format == "json") {
    write_out(o.out, json.back() == '\n' ? json : json + "\n", out);
    return kExitOk;
  }
  const attest::Evidence e = attest::from_json(json);
  if (format == "tpm") {
    const attest::Bytes cbor = attest::to_tpm_statement(e);
    // Binary into a file; base64 on a terminal or pipe, where raw CBOR would be garbled.
    write_out(o.out, o.out ? std::string(cbor.begin(), cbor.end()) : base64(cbor), out);
    return kExitOk;
  }
  std::string pem;
  pem += pem_block("TPM ATTEST", e.certify_info);
  pem += pem_block("TPM SIGNATURE", e.certify_signature);
  pem += pem_block("TPM PUBLIC", e.key_public);
  if (!e.creation_info.empty()) {
    pem += pem_block("TPM CREATION ATTEST", e.creation_info);
    pem += pem_block("TPM CREATION SIGNATURE", e.creation_signature);
  }
  pem += pem_block("TPM AK PUBLIC", e.ak_public);
  pem += pem_block("TPM EK PUBLIC", e.ek_public);
  for (const auto& c : e.ak_certificates) pem += pem_block("CERTIFICATE", c);
  for (const auto& c : e.ek_certificates) pem += pem_block("CERTIFICATE", c);
  write_out(o.out, pem, out);
  return kExitOk;
}

int run_attest_ak(const Options& o, std::ostream& out) {
  const core::Config config = core::load_config();
  if (o.activate) {
    const attest::Credential c = attest::credential_from_json(read_text(*o.activate));
    const std::optional<attest::Bytes> secret = compose::activate_credential(config, c);
    if (!secret)
      throw Failure("the TPM refused the credential: it was made for another attestation key or another TPM's "
                    "endorsement key");
    out << hex(*secret) << "\n";
    return kExitOk;
  }
  if (o.store_cert) {
    compose::store_ak_certificates(config, read_certificates(*o.store_cert));
    out << "Stored the attestation key's certificate chain; 'keyseal attest' now includes it.\n";
    return kExitOk;
  }
  write_out(o.out, attest::to_json(compose::attestation_key(config)) + "\n", out);
  return kExitOk;
}

}  // namespace keyseal::cli
