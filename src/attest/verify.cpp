// The verifier: each check of evidence.h's list, reported by its stable name with a reason either way. Every TPM
// structure is re-parsed here from the bytes the TPM produced; a piece that does not parse fails the checks that
// need it (and only those), so a report always names every check.
#include "attest/evidence.h"
#include "attest/tpm_structs.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace keyseal::attest {

bool Report::ok() const {
  if (checks.empty()) return false;
  for (const Check& c : checks)
    if (!c.ok) return false;
  return true;
}

const Check* Report::find(std::string_view name) const {
  for (const Check& c : checks)
    if (c.name == name) return &c;
  return nullptr;
}

namespace {

using detail::Cert;

constexpr uint32_t kGenerated = 0xff544347;  // TPM_GENERATED_VALUE
constexpr const char* kEkuAk = "2.23.133.8.3";  // tcg-kp-AIKCertificate

struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};

// EK certificates may mark TPM-specific extensions critical that OpenSSL does not process: the TCG EK Credential
// Profile's subjectDirectoryAttributes (TPM specification, security assertions). Those, on the end-entity
// certificate only, are accepted; any other unhandled critical extension still fails the chain.
int tolerate_tpm_extensions(int ok, X509_STORE_CTX* ctx) {
  if (ok || X509_STORE_CTX_get_error(ctx) != X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION ||
      X509_STORE_CTX_get_error_depth(ctx) != 0)
    return ok;
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert, i);
    if (!X509_EXTENSION_get_critical(ext) || X509_supported_extension(ext)) continue;
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_directory_attributes) return 0;
  }
  return 1;
}

// "" when `leaf` chains to one of `roots` (any of them is a trust anchor, so an intermediate CA given as a root
// is enough) with `others` as untrusted intermediates; else OpenSSL's reason.
std::string chain(X509* leaf, const std::vector<Bytes>& others, const std::vector<Bytes>& roots) {
  if (roots.empty()) return "no roots given";
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  for (const Bytes& r : roots) {
    Cert c = detail::parse_cert(r);
    if (!c) return "a root is not a DER certificate";
    X509_STORE_add_cert(store.get(), c.get());
  }
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_set_verify_cb(store.get(), tolerate_tpm_extensions);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  std::vector<Cert> keep;
  for (const Bytes& o : others)
    if (Cert c = detail::parse_cert(o)) {
      sk_X509_push(untrusted, c.get());
      keep.push_back(std::move(c));
    }
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  std::string why;
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted) != 1) {
    why = "cannot set up chain verification";
  } else if (X509_verify_cert(ctx.get()) != 1) {
    why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
  sk_X509_free(untrusted);
  ERR_clear_error();
  return why;
}

bool has_eku(X509* cert, const char* oid) {
  auto* eku = static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr));
  if (!eku) return false;
  bool found = false;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) {
    char buf[80];
    OBJ_obj2txt(buf, sizeof buf, sk_ASN1_OBJECT_value(eku, i), 1);
    if (std::string_view(buf) == oid) found = true;
  }
  EXTENDED_KEY_USAGE_free(eku);
  return found;
}

template <class T, class F>
std::optional<T> try_parse(F parse, const Bytes& b, const std::string& what, std::string& err) {
  if (b.empty()) {
    err = what + " is missing";
    return std::nullopt;
  }
  try {
    return parse(b, what);
  } catch (const std::invalid_argument& e) {
    err = e.what();
    return std::nullopt;
  }
}

uint32_t be32(const Bytes& b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// The AK certificate path of ak_bound_to_ek: "" when good.
std::string ak_certificate_problem(const Evidence& e, const std::optional<TPMT_PUBLIC>& ak, const VerifyOptions& o) {
  if (e.ak_certificates.empty()) return "no AK certificate";
  Cert leaf = detail::parse_cert(e.ak_certificates[0]);
  if (!leaf) return "the AK certificate is not DER";
  const std::vector<Bytes> rest(e.ak_certificates.begin() + 1, e.ak_certificates.end());
  if (std::string why = chain(leaf.get(), rest, o.roots); !why.empty()) return "the AK certificate: " + why;
  if (!has_eku(leaf.get(), kEkuAk)) return "the AK certificate lacks EKU 2.23.133.8.3";
  if (!ak || !detail::same_key(leaf.get(), *ak)) return "the AK certificate's key is not ak_public's";
  return "";
}

}  // namespace

Report verify(const Evidence& e, const VerifyOptions& o) {
  Report r;
  auto add = [&r](std::string name, bool ok, std::string detail) {
    r.checks.push_back(Check{std::move(name), ok, std::move(detail)});
  };
  std::string ek_err, ak_err, key_err, info_err, sig_err;
  const auto ek = try_parse<TPMT_PUBLIC>(detail::parse_public, e.ek_public, "ek_public", ek_err);
  const auto ak = try_parse<TPMT_PUBLIC>(detail::parse_public, e.ak_public, "ak_public", ak_err);
  const auto key = try_parse<TPMT_PUBLIC>(detail::parse_public, e.key_public, "key_public", key_err);
  const auto info = try_parse<TPMS_ATTEST>(detail::parse_attest, e.certify_info, "certify_info", info_err);
  const auto sig = try_parse<TPMT_SIGNATURE>(detail::parse_signature, e.certify_signature, "certify_signature", sig_err);
  const std::string ak_cert_problem = ak_certificate_problem(e, ak, o);
  // A "tpm" statement carries no EK: its AK certificate, issued after the CA checked the EK at enrolment,
  // stands for the EK checks and the AK's attributes.
  const bool statement_only = e.ek_public.empty() && e.ek_certificates.empty() && !e.ak_certificates.empty();

  // ek_certificate_chain, ek_certificate_matches
  if (statement_only && ak_cert_problem.empty()) {
    add("ek_certificate_chain", true, "no EK in the evidence; the AK certificate chaining to the roots stands for it");
    add("ek_certificate_matches", true, "no EK in the evidence; the AK certificate stands for it");
  } else if (e.ek_certificates.empty()) {
    add("ek_certificate_chain", false, "no EK certificate in the evidence (the TPM has none in its NV)");
    add("ek_certificate_matches", false, "no EK certificate");
  } else {
    std::vector<Cert> chained;
    std::string first_why;
    for (size_t i = 0; i < e.ek_certificates.size(); ++i) {
      Cert c = detail::parse_cert(e.ek_certificates[i]);
      if (!c) {
        if (first_why.empty()) first_why = "EK certificate " + std::to_string(i) + " is not DER";
        continue;
      }
      std::vector<Bytes> others = e.ek_certificates;
      others.erase(others.begin() + static_cast<ptrdiff_t>(i));
      const std::string why = chain(c.get(), others, o.roots);
      if (why.empty()) chained.push_back(std::move(c));
      else if (first_why.empty()) first_why = "EK certificate " + std::to_string(i) + ": " + why;
    }
    add("ek_certificate_chain", !chained.empty(),
        chained.empty() ? first_why : std::to_string(chained.size()) + " EK certificate(s) chain to the roots");
    bool match = false;
    for (const Cert& c : chained) match = match || (ek && detail::same_key(c.get(), *ek));
    add("ek_certificate_matches", match,
        match ? "a chaining EK certificate holds ek_public's key"
              : !ek ? ek_err : "no EK certificate chaining to the roots holds ek_public's key");
  }

  // ak_attributes
  if (!ak) {
    add("ak_attributes", false, ak_err);
  } else {
    const TPMA_OBJECT a = ak->objectAttributes;
    std::string missing;
    if (!(a & TPMA_OBJECT_RESTRICTED)) missing += " not restricted;";
    if (!(a & TPMA_OBJECT_SIGN_ENCRYPT)) missing += " not a signing key;";
    if (a & TPMA_OBJECT_DECRYPT) missing += " a decryption key;";
    if (!(a & TPMA_OBJECT_FIXEDTPM)) missing += " no fixedTPM;";
    if (!(a & TPMA_OBJECT_FIXEDPARENT)) missing += " no fixedParent;";
    if (!(a & TPMA_OBJECT_SENSITIVEDATAORIGIN)) missing += " no sensitiveDataOrigin;";
    if (!missing.empty()) missing.pop_back();
    add("ak_attributes", missing.empty(),
        missing.empty() ? std::string("restricted signing key, fixedTPM, fixedParent, sensitiveDataOrigin") +
                              (statement_only ? " (as its AK certificate vouches)" : "")
                        : "the AK is" + missing);
  }

  // ak_bound_to_ek
  if (ak_cert_problem.empty()) {
    add("ak_bound_to_ek", true, "an AK certificate (EKU 2.23.133.8.3) chaining to the roots holds ak_public's key");
  } else if (!o.activate) {
    add("ak_bound_to_ek", false, ak_cert_problem + ", and no credential activation to try");
  } else if (!ek || !ak) {
    add("ak_bound_to_ek", false, !ek ? ek_err : ak_err);
  } else {
    std::string detail;
    bool ok = false;
    try {
      const Bytes secret = detail::random_bytes(std::min<size_t>(32, detail::digest_size(ek->nameAlg)));
      const std::optional<Bytes> got = o.activate(make_credential(e.ek_public, name_of(e.ak_public), secret));
      ok = got && *got == secret;
      detail = ok ? "the TPM activated a fresh credential made for the AK with ek_public"
                  : got ? "credential activation returned a different secret" : "credential activation failed";
    } catch (const std::exception& x) {
      detail = std::string("credential activation failed: ") + x.what();
    }
    add("ak_bound_to_ek", ok, (e.ak_certificates.empty() ? "" : ak_cert_problem + "; ") + detail);
  }

  // attest_magic, attest_type (from the raw bytes: they decide how the rest parses)
  if (e.certify_info.size() < 6) {
    add("attest_magic", false, "certify_info is too short");
    add("attest_type", false, "certify_info is too short");
  } else {
    const uint32_t magic = be32(e.certify_info, 0);
    const uint16_t type = static_cast<uint16_t>(e.certify_info[4] << 8 | e.certify_info[5]);
    add("attest_magic", magic == kGenerated,
        magic == kGenerated ? "TPM_GENERATED_VALUE" : "magic is not TPM_GENERATED_VALUE: not made by a TPM");
    add("attest_type", type == TPM2_ST_ATTEST_CERTIFY && info.has_value(),
        type != TPM2_ST_ATTEST_CERTIFY ? "type is not TPM_ST_ATTEST_CERTIFY"
                                       : info ? "TPM_ST_ATTEST_CERTIFY" : info_err);
  }

  // attest_signature
  if (!sig || !ak) {
    add("attest_signature", false, !sig ? sig_err : ak_err);
  } else {
    const std::string why = detail::verify_signature(*ak, *sig, e.certify_info);
    add("attest_signature", why.empty(), why.empty() ? "signed by the AK" : why);
  }

  // nonce
  if (!info) {
    add("nonce", false, info_err);
  } else {
    const Bytes got(info->extraData.buffer, info->extraData.buffer + info->extraData.size);
    if (!o.nonce) add("nonce", true, "not checked (no nonce given); the evidence's is " + detail::hex(got));
    else if (got == *o.nonce) add("nonce", true, "extraData is the expected nonce");
    else add("nonce", false, "extraData " + detail::hex(got) + " is not the expected nonce " + detail::hex(*o.nonce));
  }

  // attested_name
  if (!info || info->type != TPM2_ST_ATTEST_CERTIFY || !key) {
    add("attested_name", false, !key ? key_err : !info ? info_err : "certify_info is not a certification");
  } else {
    const TPM2B_NAME& n = info->attested.certify.name;
    const bool same = Bytes(n.name, n.name + n.size) == name_of(e.key_public);
    add("attested_name", same, same ? "the certified name is key_public's" : "the certified name is not key_public's");
  }

  // key_fixed_tpm, key_fixed_parent, key_sensitive_data_origin, key_use
  if (!key) {
    for (const char* n : {"key_fixed_tpm", "key_fixed_parent", "key_sensitive_data_origin", "key_use"})
      add(n, false, key_err);
  } else {
    const TPMA_OBJECT a = key->objectAttributes;
    add("key_fixed_tpm", a & TPMA_OBJECT_FIXEDTPM,
        a & TPMA_OBJECT_FIXEDTPM ? "fixedTPM: the key cannot leave the TPM" : "no fixedTPM: the key can be duplicated");
    add("key_fixed_parent", a & TPMA_OBJECT_FIXEDPARENT,
        a & TPMA_OBJECT_FIXEDPARENT ? "fixedParent" : "no fixedParent: the key can be duplicated");
    const bool origin = a & TPMA_OBJECT_SENSITIVEDATAORIGIN;
    add("key_sensitive_data_origin", origin,
        origin ? "sensitiveDataOrigin: the TPM made the key"
               : e.origin == kOriginImported ? "no sensitiveDataOrigin: the key was imported (origin \"imported\")"
                                             : "no sensitiveDataOrigin: the TPM did not make the key");
    const bool sign = a & TPMA_OBJECT_SIGN_ENCRYPT, decrypt = a & TPMA_OBJECT_DECRYPT;
    const bool restricted = a & TPMA_OBJECT_RESTRICTED;
    add("key_use", (sign || decrypt) && !restricted,
        restricted ? "a restricted key (TPM-internal use), not an application key"
        : sign && decrypt ? "signing and decryption"
        : sign ? "signing" : decrypt ? "decryption" : "neither signing nor decryption");
  }

  // creation
  if (e.origin == kOriginImported) {
    add("creation", false, "origin \"imported\": the TPM did not make this key");
  } else if (e.origin.empty() && e.creation_info.empty()) {
    add("creation", true, "no origin claimed and no creation evidence (a tpm statement carries none)");
  } else if (e.origin == kOriginGeneratedFixedTpm && e.creation_info.empty() && e.creation_signature.empty()) {
    // No TPM2_CertifyCreation exists on this route (the Windows PCP offers none). The attributes the AK certified
    // prove the origin on their own: the TPM refuses fixedTPM on any object that was not made inside it
    // (TPM2_Import and TPM2_LoadExternal require fixedTPM and fixedParent clear; TPM 2.0 Part 1 "fixedTPM",
    // Part 3 TPM2_Import/TPM2_LoadExternal), it sets fixedTPM only under a fixedTPM parent chain, and
    // sensitiveDataOrigin says the TPM, not the caller, made the private part (TPM2_Create refuses it when
    // sensitive data is supplied). The certified name covers those attributes, and ak_bound_to_ek ties the AK to
    // a genuine TPM. What CertifyCreation would add (parent name, PCRs at creation) is not claimed. The rule
    // needs this origin explicitly: evidence claiming "generated" without creation evidence still fails, so the
    // Linux route (which always has CertifyCreation) keeps its stricter check.
    std::string missing;
    if (!key) missing = key_err;
    else {
      const TPMA_OBJECT a = key->objectAttributes;
      if (!(a & TPMA_OBJECT_FIXEDTPM)) missing += " no fixedTPM;";
      if (!(a & TPMA_OBJECT_FIXEDPARENT)) missing += " no fixedParent;";
      if (!(a & TPMA_OBJECT_SENSITIVEDATAORIGIN)) missing += " no sensitiveDataOrigin;";
      if (!missing.empty()) missing = "origin \"generated-fixedtpm\" without creation evidence, but the key has" +
                                      missing.substr(0, missing.size() - 1);
    }
    add("creation", missing.empty(),
        missing.empty() ? "not needed: fixedTPM and sensitiveDataOrigin certified by the AK (the TPM made this key; "
                          "no TPM2_CertifyCreation on this route)"
                        : missing);
  } else if (e.origin != kOriginGenerated && e.origin != kOriginGeneratedFixedTpm) {
    add("creation", false, "unknown origin \"" + e.origin + "\"");
  } else {
    std::string err, serr;
    const auto ci = try_parse<TPMS_ATTEST>(detail::parse_attest, e.creation_info, "creation_info", err);
    const auto cs = try_parse<TPMT_SIGNATURE>(detail::parse_signature, e.creation_signature, "creation_signature", serr);
    std::string why;
    if (!ci) why = err + " (origin \"generated\" needs TPM2_CertifyCreation evidence)";
    else if (!cs) why = serr;
    else if (ci->magic != kGenerated) why = "creation_info's magic is not TPM_GENERATED_VALUE";
    else if (ci->type != TPM2_ST_ATTEST_CREATION) why = "creation_info is not a TPM_ST_ATTEST_CREATION";
    else if (!ak) why = ak_err;
    else if (std::string s = detail::verify_signature(*ak, *cs, e.creation_info); !s.empty()) why = "creation_info: " + s;
    else if (!key) why = key_err;
    else if (Bytes(ci->attested.creation.objectName.name,
                   ci->attested.creation.objectName.name + ci->attested.creation.objectName.size) != name_of(e.key_public))
      why = "creation_info names another object";
    add("creation", why.empty(), why.empty() ? "TPM2_CertifyCreation by the AK: the TPM made this key" : why);
  }
  return r;
}

}  // namespace keyseal::attest
