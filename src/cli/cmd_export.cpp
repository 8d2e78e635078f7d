// `keyseal export`: a public key (CKA_PUBLIC_KEY_INFO, or built from CKA_MODULUS/CKA_EC_POINT) or a certificate
// (CKA_VALUE) as PEM (PKCS#11 3.0 sections 4.6.3, 4.8, 4.9 and 5.7). There is no way to export a private key.
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/pem_p12.h"
#include "cli/uri.h"

#include <fstream>
#include <ostream>
#include <string>
#include <vector>

namespace keyseal::cli {
namespace {

std::string describe(const Options& o) {
  std::string s;
  if (o.id) s += " with id " + hex(*o.id);
  if (o.label) s += std::string(o.id ? " and" : " with") + " label '" + *o.label + "'";
  return s + " in slot " + std::to_string(*o.slot);
}

// The one object of a class that --id/--label name, or nothing; several matches are an error.
std::optional<CK_OBJECT_HANDLE> find_one(const Module& m, Session& s, CK_OBJECT_CLASS cls, const Options& o,
                                         const std::string& what) {
  const auto found = find_objects(m, s, cls, o.id, o.label);
  if (found.size() > 1)
    throw Failure(std::to_string(found.size()) + " " + what + "s" + describe(o) + "; name one with --id");
  if (found.empty()) return std::nullopt;
  return found[0];
}

void write_out(const Options& o, const std::string& pem, std::ostream& out) {
  if (!o.out) {
    out << pem;
    return;
  }
  std::ofstream f(*o.out, std::ios::binary | std::ios::trunc);
  if (!f) throw Failure("cannot create " + *o.out);
  f << pem;
  f.close();
  if (!f) throw Failure("cannot write " + *o.out);
}

}  // namespace

std::optional<std::vector<uint8_t>> public_key_info_of(Session& s, CK_OBJECT_HANDLE key) {
  if (auto info = s.attribute(key, CKA_PUBLIC_KEY_INFO); info && !info->empty()) return info;
  const auto kt = s.ulong_attribute(key, CKA_KEY_TYPE);
  if (!kt) return std::nullopt;
  if (*kt == CKK_RSA) {
    const auto n = s.attribute(key, CKA_MODULUS);
    const auto e = s.attribute(key, CKA_PUBLIC_EXPONENT);
    if (n && e && !n->empty() && !e->empty()) return spki_from_rsa(*n, *e);
  } else if (*kt == CKK_EC || *kt == CKK_EC_EDWARDS) {
    const auto params = s.attribute(key, CKA_EC_PARAMS);
    const auto point = s.attribute(key, CKA_EC_POINT);  // public key objects only
    if (params && point && !params->empty() && !point->empty()) return spki_from_ec(*params, *point);
  }
  return std::nullopt;
}

int run_export(const Options& o, std::ostream& out) {
  Module m(resolve_module_path(o.module));
  Session s(m, *o.slot, false);
  if (o.pin) s.login(CKU_USER, *o.pin);  // public keys and certificates are readable without it

  if (o.export_cert) {
    const auto cert = find_one(m, s, CKO_CERTIFICATE, o, "certificate");
    if (!cert) throw Failure("no certificate" + describe(o));
    const auto der = s.attribute(*cert, CKA_VALUE);
    if (!der || der->empty()) throw Failure("the certificate" + describe(o) + " has no CKA_VALUE");
    write_out(o, certificate_pem(*der), out);
    return kExitOk;
  }

  std::optional<std::vector<uint8_t>> spki;
  if (const auto pub = find_one(m, s, CKO_PUBLIC_KEY, o, "public key")) spki = public_key_info_of(s, *pub);
  if (!spki) {
    // A key pair whose public key object was deleted: the private key carries the public attributes too.
    if (const auto priv = find_one(m, s, CKO_PRIVATE_KEY, o, "private key")) spki = public_key_info_of(s, *priv);
  }
  if (!spki) {
    // Without the PIN only public objects are visible; a certificate still holds the public key.
    if (const auto cert = find_one(m, s, CKO_CERTIFICATE, o, "certificate")) {
      if (const auto der = s.attribute(*cert, CKA_VALUE)) spki = read_certificate(*der).spki;
    }
  }
  if (!spki)
    throw Failure("no public key" + describe(o) + (o.pin ? "" : " (give --pin to look at private keys too)"));
  write_out(o, public_key_pem(*spki), out);
  return kExitOk;
}

}  // namespace keyseal::cli
