// `keyseal import` and `keyseal import-cert`: a key pair and its certificate from PKCS#12 or PEM onto a token
// through C_CreateObject (PKCS#11 3.0 section 5.7; object attributes of sections 4.6.3, 4.8 and 4.9).
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/pem_p12.h"
#include "cli/prompt.h"
#include "cli/uri.h"

#include <algorithm>
#include <deque>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

namespace keyseal::cli {
namespace {

// A C_CreateObject template that owns its values (wiped when freed: it holds private key material).
class Template {
 public:
  void bytes(CK_ATTRIBUTE_TYPE t, ByteView v) {
    values_.emplace_back(v.begin(), v.end());
    attrs_.push_back({t, values_.back().data(), values_.back().size()});
  }
  void text(CK_ATTRIBUTE_TYPE t, const std::string& s) { bytes(t, view(s)); }
  void ulong(CK_ATTRIBUTE_TYPE t, CK_ULONG v) { bytes(t, ByteView(reinterpret_cast<const uint8_t*>(&v), sizeof v)); }
  void boolean(CK_ATTRIBUTE_TYPE t, bool v) {
    const CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
    bytes(t, ByteView(&b, 1));
  }
  // An attribute some modules do not know (CKA_PUBLIC_KEY_INFO is PKCS#11 2.40): dropped on a retry.
  void optional_bytes(CK_ATTRIBUTE_TYPE t, ByteView v) {
    bytes(t, v);
    optional_.push_back(t);
  }
  bool drop_optional() {
    const size_t before = attrs_.size();
    std::erase_if(attrs_, [&](const CK_ATTRIBUTE& a) {
      return std::find(optional_.begin(), optional_.end(), a.type) != optional_.end();
    });
    optional_.clear();
    return attrs_.size() != before;
  }
  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return attrs_.size(); }

 private:
  std::deque<SecureBytes> values_;  // a deque keeps earlier values in place as more are added
  std::vector<CK_ATTRIBUTE> attrs_;
  std::vector<CK_ATTRIBUTE_TYPE> optional_;
};

SecureBytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure("cannot open " + path);
  SecureBytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Failure("cannot read " + path);
  return data;
}

// The first line of the file, without its line end.
SecureBytes password_from_file(const std::string& path) {
  SecureBytes data = read_file(path);
  size_t n = 0;
  while (n < data.size() && data[n] != '\n' && data[n] != '\r') ++n;
  return SecureBytes(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
}

SecureBytes user_pin(const Options& o, const std::string& token) {
  return o.pin ? *o.pin : ask_pin("User PIN for token '" + token + "': ");
}

CK_OBJECT_HANDLE create(const Module& m, Session& s, Template& t, const std::string& what) {
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = m.fn().C_CreateObject(s.handle(), t.data(), t.size(), &h);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID && t.drop_optional())
    rv = m.fn().C_CreateObject(s.handle(), t.data(), t.size(), &h);
  check(rv, "C_CreateObject (" + what + ")");
  return h;
}

CK_KEY_TYPE key_type_of(KeyAlg a) {
  switch (a) {
    case KeyAlg::rsa: return CKK_RSA;
    case KeyAlg::ec: return CKK_EC;
    default: return CKK_EC_EDWARDS;
  }
}

void common_key_attributes(Template& t, CK_OBJECT_CLASS cls, const KeyMaterial& k, const std::string& label,
                           ByteView id, const Certificate* cert) {
  t.ulong(CKA_CLASS, cls);
  t.ulong(CKA_KEY_TYPE, key_type_of(k.alg));
  t.boolean(CKA_TOKEN, true);
  t.text(CKA_LABEL, label);
  t.bytes(CKA_ID, id);
  if (cert) t.bytes(CKA_SUBJECT, cert->subject);
  t.optional_bytes(CKA_PUBLIC_KEY_INFO, k.spki);
  if (k.alg == KeyAlg::rsa) {
    t.bytes(CKA_MODULUS, k.modulus);
    t.bytes(CKA_PUBLIC_EXPONENT, k.public_exponent);
  } else {
    t.bytes(CKA_EC_PARAMS, k.ec_params);
  }
}

void private_key_template(Template& t, const KeyMaterial& k, const std::string& label, ByteView id,
                          const Certificate* cert) {
  common_key_attributes(t, CKO_PRIVATE_KEY, k, label, id, cert);
  t.boolean(CKA_PRIVATE, true);
  t.boolean(CKA_SENSITIVE, true);
  t.boolean(CKA_EXTRACTABLE, false);
  t.boolean(CKA_SIGN, true);
  t.boolean(CKA_UNWRAP, false);  // least privilege: sign (and decrypt for RSA) only
  if (k.alg == KeyAlg::rsa) {
    t.boolean(CKA_DECRYPT, true);
    t.bytes(CKA_PRIVATE_EXPONENT, view(k.private_exponent));
    t.bytes(CKA_PRIME_1, view(k.prime_1));
    t.bytes(CKA_PRIME_2, view(k.prime_2));
    t.bytes(CKA_EXPONENT_1, view(k.exponent_1));
    t.bytes(CKA_EXPONENT_2, view(k.exponent_2));
    t.bytes(CKA_COEFFICIENT, view(k.coefficient));
  } else {
    if (k.alg == KeyAlg::ec) t.boolean(CKA_DERIVE, true);
    t.bytes(CKA_VALUE, view(k.value));
  }
}

void public_key_template(Template& t, const KeyMaterial& k, const std::string& label, ByteView id,
                         const Certificate* cert) {
  common_key_attributes(t, CKO_PUBLIC_KEY, k, label, id, cert);
  t.boolean(CKA_PRIVATE, false);
  t.boolean(CKA_VERIFY, true);
  t.boolean(CKA_WRAP, false);
  if (k.alg == KeyAlg::rsa) t.boolean(CKA_ENCRYPT, true);
  else t.bytes(CKA_EC_POINT, k.ec_point);
}

void certificate_template(Template& t, const Certificate& c, const std::string& label, ByteView id) {
  t.ulong(CKA_CLASS, CKO_CERTIFICATE);
  t.ulong(CKA_CERTIFICATE_TYPE, CKC_X_509);
  t.boolean(CKA_TOKEN, true);
  t.boolean(CKA_PRIVATE, false);
  t.text(CKA_LABEL, label);
  t.bytes(CKA_ID, id);
  t.bytes(CKA_SUBJECT, c.subject);
  t.bytes(CKA_ISSUER, c.issuer);
  t.bytes(CKA_SERIAL_NUMBER, c.serial);
  t.bytes(CKA_VALUE, c.der);
}

std::string default_label(const Options& o, const KeyFile& f) {
  if (o.label) return *o.label;
  if (!f.friendly_name.empty()) return f.friendly_name;
  if (f.key_cert_count && !f.certs[0].common_name.empty()) return f.certs[0].common_name;
  switch (f.key->alg) {
    case KeyAlg::rsa: return "RSA key";
    case KeyAlg::ec: return "EC key";
    case KeyAlg::ed448: return "Ed448 key";
    default: return "Ed25519 key";
  }
}

std::string uri_of(const std::string& token, const std::string& label, ByteView id, CK_OBJECT_CLASS cls) {
  return object_uri(ObjectUriParts{token, label, id, cls});
}

// Destroys what an import created so far when a later step fails: no half-imported key stays behind.
class Rollback {
 public:
  Rollback(const Module& m, Session& s) : m_(m), s_(s) {}
  ~Rollback() {
    for (const CK_OBJECT_HANDLE h : made_) m_.fn().C_DestroyObject(s_.handle(), h);
  }
  void add(CK_OBJECT_HANDLE h) { made_.push_back(h); }
  void commit() { made_.clear(); }

 private:
  const Module& m_;
  Session& s_;
  std::vector<CK_OBJECT_HANDLE> made_;
};

}  // namespace

std::vector<CK_OBJECT_HANDLE> find_objects(const Module& m, Session& s, CK_OBJECT_CLASS cls,
                                           const std::optional<std::vector<uint8_t>>& id,
                                           const std::optional<std::string>& label) {
  Template t;
  t.ulong(CKA_CLASS, cls);
  if (id) t.bytes(CKA_ID, *id);
  if (label) t.text(CKA_LABEL, *label);
  check(m.fn().C_FindObjectsInit(s.handle(), t.data(), t.size()), "C_FindObjectsInit");
  std::vector<CK_OBJECT_HANDLE> found;
  CK_OBJECT_HANDLE batch[32];
  for (;;) {
    CK_ULONG n = 0;
    const CK_RV rv = m.fn().C_FindObjects(s.handle(), batch, 32, &n);
    if (rv != CKR_OK) {
      m.fn().C_FindObjectsFinal(s.handle());
      throw Error(rv, "C_FindObjects");
    }
    if (n == 0) break;
    found.insert(found.end(), batch, batch + n);
  }
  check(m.fn().C_FindObjectsFinal(s.handle()), "C_FindObjectsFinal");
  return found;
}

int run_import(const Options& o, std::ostream& out) {
  const SecureBytes data = read_file(*o.file);
  const KeyFile f = read_key_file(view(data), [&] {
    if (o.p12_pass_file) return password_from_file(*o.p12_pass_file);
    try {
      return ask_pin("Password for " + *o.file + ": ");
    } catch (const UsageError&) {
      throw UsageError(*o.file + " needs a password and there is no terminal to ask it on; give --p12-pass-file");
    }
  });
  const KeyMaterial& key = *f.key;
  const Certificate* cert = f.key_cert_count ? &f.certs[0] : nullptr;
  const std::vector<uint8_t> id = o.id ? *o.id : key_id_from_spki(key.spki);
  const std::string label = default_label(o, f);

  Module m(resolve_module_path(o.module));
  const std::string token = token_label(m.token_info(*o.slot));
  Session s(m, *o.slot, true);
  s.login(CKU_USER, user_pin(o, token));
  for (const CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE}) {
    if (!find_objects(m, s, cls, id, std::nullopt).empty())
      throw Failure("the token in slot " + std::to_string(*o.slot) + " already has a " +
                    std::string(uri_type(cls).value_or("")) + " object with id " + hex(id) +
                    "; give another --id or delete it first");
  }

  Rollback undo(m, s);
  Template priv, pub;
  private_key_template(priv, key, label, id, cert);
  undo.add(create(m, s, priv, "private key"));
  public_key_template(pub, key, label, id, cert);
  undo.add(create(m, s, pub, "public key"));
  if (cert) {
    Template c;
    certificate_template(c, *cert, label, id);
    undo.add(create(m, s, c, "certificate"));
  }
  undo.commit();

  out << "Imported into token '" << token << "' (slot " << *o.slot << ") with id " << hex(id) << ":\n";
  out << "private key: " << uri_of(token, label, id, CKO_PRIVATE_KEY) << "\n";
  out << "public key: " << uri_of(token, label, id, CKO_PUBLIC_KEY) << "\n";
  if (cert) out << "certificate: " << uri_of(token, label, id, CKO_CERTIFICATE) << "\n";
  else out << "certificate: none in the file (add one with 'keyseal import-cert')\n";
  if (f.certs.size() > f.key_cert_count)
    out << "note: " << f.certs.size() - f.key_cert_count
        << " other certificate(s) in the file (CA chain) were not imported\n";
  return kExitOk;
}

int run_import_cert(const Options& o, std::ostream& out) {
  const SecureBytes data = read_file(*o.file);
  const Certificate cert = read_certificate(view(data));
  const std::vector<uint8_t>& id = *o.id;

  Module m(resolve_module_path(o.module));
  const std::string token = token_label(m.token_info(*o.slot));
  Session s(m, *o.slot, true);
  s.login(CKU_USER, user_pin(o, token));
  const std::string where = " with id " + hex(id) + " in slot " + std::to_string(*o.slot);

  std::vector<CK_OBJECT_HANDLE> keys = find_objects(m, s, CKO_PUBLIC_KEY, id, std::nullopt);
  const auto privs = find_objects(m, s, CKO_PRIVATE_KEY, id, std::nullopt);
  keys.insert(keys.end(), privs.begin(), privs.end());
  if (keys.empty()) throw Failure("no key" + where + "; import or generate the key first");
  std::optional<std::string> key_label;
  bool matched = false;
  for (const CK_OBJECT_HANDLE k : keys) {
    const auto spki = public_key_info_of(s, k);
    if (!spki) continue;
    if (!same_public_key(*spki, cert.spki))
      throw Failure("the certificate's public key is not the key" + where + "; nothing stored");
    matched = true;
    if (const auto l = s.attribute(k, CKA_LABEL); l && !key_label)
      key_label = std::string(l->begin(), l->end());
  }
  if (!matched) throw Failure("cannot read the public key of the key" + where + " to compare it");
  if (!find_objects(m, s, CKO_CERTIFICATE, id, std::nullopt).empty())
    throw Failure("a certificate" + where + " is already stored; delete it first to replace it");

  const std::string label = o.label ? *o.label : key_label.value_or(cert.common_name);
  Template t;
  certificate_template(t, cert, label, id);
  create(m, s, t, "certificate");
  out << "certificate: " << uri_of(token, label, id, CKO_CERTIFICATE) << "\n";
  return kExitOk;
}

}  // namespace keyseal::cli
