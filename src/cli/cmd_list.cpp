// `keyseal list`: each token and its objects with RFC 7512 pkcs11: URIs (PKCS#11 3.0 sections 5.5 and 5.7:
// C_GetTokenInfo, C_FindObjects, C_GetAttributeValue). Without a PIN only public objects are visible.
#include "cli/commands.h"
#include "cli/describe.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/uri.h"

#include <ostream>
#include <string>
#include <vector>

namespace keyseal::cli {
namespace {

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : ", ") + w;
  return s;
}

// "RSA 2048", "EC prime256v1 (256)", "AES 256", "X.509": what kind of key or certificate this is.
std::string kind_of(Session& s, CK_OBJECT_HANDLE obj, CK_OBJECT_CLASS cls) {
  if (cls == CKO_CERTIFICATE) {
    const auto ct = s.ulong_attribute(obj, CKA_CERTIFICATE_TYPE);
    return ct && *ct == CKC_X_509 ? "X.509" : "";
  }
  if (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY && cls != CKO_SECRET_KEY) return "";
  const auto kt = s.ulong_attribute(obj, CKA_KEY_TYPE);
  if (!kt) return "";
  std::string kind = key_type_name(*kt);
  if (*kt == CKK_RSA) {
    if (const auto bits = s.ulong_attribute(obj, CKA_MODULUS_BITS)) return kind + " " + std::to_string(*bits);
    if (const auto mod = s.attribute(obj, CKA_MODULUS)) {
      size_t n = mod->size(), lead = 0;
      while (lead < n && (*mod)[lead] == 0) ++lead;  // tolerate a leading zero byte
      return kind + " " + std::to_string((n - lead) * 8);
    }
  } else if (*kt == CKK_EC || *kt == CKK_EC_EDWARDS || *kt == CKK_EC_MONTGOMERY) {
    if (const auto params = s.attribute(obj, CKA_EC_PARAMS)) {
      const auto [name, bits] = curve_of(*params);
      return kind + " " + name + (bits ? " (" + std::to_string(bits) + ")" : "");
    }
  } else if (cls == CKO_SECRET_KEY) {
    if (const auto len = s.ulong_attribute(obj, CKA_VALUE_LEN)) return kind + " " + std::to_string(*len * 8);
  }
  return kind;
}

// The PKCS#11 3.0 profiles a token states with CKO_PROFILE objects (profiles specification, CKP_* values).
std::string profile_name(CK_ULONG id) {
  switch (id) {
    case CKP_BASELINE_PROVIDER: return "baseline provider";
    case CKP_EXTENDED_PROVIDER: return "extended provider";
    case CKP_AUTHENTICATION_TOKEN: return "authentication token";
    case CKP_PUBLIC_CERTIFICATES_TOKEN: return "public certificates token";
    default: return "profile " + std::to_string(id);
  }
}

void list_objects(Session& s, const std::string& token, std::ostream& out) {
  const auto objects = s.find_all();
  std::vector<std::string> profiles;
  size_t shown = 0;
  for (const CK_OBJECT_HANDLE obj : objects) {
    const auto cls = s.ulong_attribute(obj, CKA_CLASS);
    if (!cls) continue;  // every object has a class; skip one the module cannot describe
    if (*cls == CKO_PROFILE) {  // not a user object: reported on one line below
      if (const auto id = s.ulong_attribute(obj, CKA_PROFILE_ID)) profiles.push_back(profile_name(*id));
      continue;
    }
    ++shown;
    const auto label_bytes = s.attribute(obj, CKA_LABEL);
    const auto id = s.attribute(obj, CKA_ID);
    std::optional<std::string> label;
    if (label_bytes) label = std::string(label_bytes->begin(), label_bytes->end());

    out << "    " << class_name(*cls);
    if (const std::string kind = kind_of(s, obj, *cls); !kind.empty()) out << "  " << kind;
    out << "  label \"" << (label ? *label : "") << "\"";
    if (id) out << "  id " << (id->empty() ? "(empty)" : hex(*id));
    out << "\n";
    ObjectUriParts parts{token, label, std::nullopt, *cls};
    if (id) parts.id = std::span<const uint8_t>(*id);
    out << "      " << object_uri(parts) << "\n";
  }
  if (shown == 0) out << "    (none)\n";
  if (!profiles.empty()) out << "  profiles: " << join(profiles) << "\n";
}

}  // namespace

int run_list(const Options& o, std::ostream& out) {
  Module m(resolve_module_path(o.module));
  std::vector<CK_SLOT_ID> slots;
  if (o.slot) slots.push_back(*o.slot);  // C_GetTokenInfo reports a bad or empty slot
  else slots = m.slots(true);
  if (slots.empty()) out << "No tokens present.\n";

  for (const CK_SLOT_ID id : slots) {
    const CK_TOKEN_INFO t = m.token_info(id);
    const std::string label = token_label(t);
    out << "Slot " << id << ": token \"" << label << "\"\n";
    out << "  serial: " << trim_padded(t.serialNumber, sizeof t.serialNumber)
        << "  manufacturer: " << trim_padded(t.manufacturerID, sizeof t.manufacturerID)
        << "  model: " << trim_padded(t.model, sizeof t.model) << "\n";
    out << "  flags: " << join(token_flag_words(t.flags)) << "\n";
    if (!(t.flags & CKF_TOKEN_INITIALIZED)) {
      out << "  (empty token: run 'keyseal init' to initialise it)\n";
      continue;
    }
    out << "  uri: " << token_uri(t) << "\n";
    Session s(m, id, false);
    if (o.pin) {
      s.login(CKU_USER, *o.pin);
      out << "  objects:\n";
    } else {
      out << "  objects (public only; give --pin to list private objects too):\n";
    }
    list_objects(s, label, out);
  }
  return kExitOk;
}

}  // namespace keyseal::cli
