// libFuzzer target for the attribute template path: bytes become a caller's template (type, length, value
// triples, as C_CreateObject receives them after marshalling), which to_map() parses and the attribute policy
// checks for each origin. Any outcome but a keyseal::Error is a bug.
#include "common/error.h"
#include "core/attribute_policy.h"
#include "core/attributes.h"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

using namespace keyseal;

namespace {

// Interesting attribute types, so that short inputs reach the policy's rules rather than only "type invalid".
const CK_ATTRIBUTE_TYPE kTypes[] = {
    CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_VALUE, CKA_CERTIFICATE_TYPE, CKA_KEY_TYPE, CKA_ID,
    CKA_SENSITIVE, CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_VERIFY, CKA_DERIVE,
    CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_VALUE_LEN,
    CKA_EXTRACTABLE, CKA_LOCAL, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_KEY_GEN_MECHANISM,
    CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE, CKA_EC_PARAMS, CKA_EC_POINT, CKA_UNIQUE_ID, CKA_TRUSTED,
    CKA_WRAP_WITH_TRUSTED, CKA_ALLOWED_MECHANISMS, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_START_DATE,
    CKA_ALWAYS_AUTHENTICATE, CKA_PUBLIC_KEY_INFO, CKA_APPLICATION, CKA_OBJECT_ID, CKA_CHECK_VALUE};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::pair<CK_ATTRIBUTE_TYPE, SecureBytes>> tmpl;
  size_t i = 0;
  while (i + 2 <= size && tmpl.size() < 64) {
    const uint8_t sel = data[i++];
    const size_t len = data[i++] % 40;
    CK_ATTRIBUTE_TYPE type = kTypes[sel % (sizeof kTypes / sizeof kTypes[0])];
    if (sel >= 250) type = 0x80000000UL | sel;  // vendor-defined
    const size_t n = std::min(len, size - i);
    SecureBytes v(data + i, data + i + n);
    i += n;
    // Most values of CK_ULONG attributes in real templates are class/type constants: make some small.
    if (v.size() == sizeof(CK_ULONG) && (sel & 1)) {
      CK_ULONG small = v[0] % 8;
      std::memcpy(v.data(), &small, sizeof small);
    }
    tmpl.emplace_back(type, std::move(v));
  }
  const uint8_t mode = size ? data[0] : 0;
  try {
    core::AttributeMap m = core::to_map(tmpl);
    const core::Origin origins[] = {core::Origin::create, core::Origin::generate, core::Origin::unwrap,
                                    core::Origin::derive};
    core::check_new_object(m, origins[mode % 4], mode & 4);
    core::finish_new_object(m, origins[mode % 4], CKM_AES_KEY_GEN, "fuzz");
    for (const auto& [type, value] : tmpl) {
      (void)core::check_read(m, type);
      try {
        core::check_modify(m, type, view(value), mode & 8, mode & 4);
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
