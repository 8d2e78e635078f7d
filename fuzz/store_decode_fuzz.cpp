// libFuzzer target for store::decode_attributes (keyseal attribute record format v1): any input must either
// decode or throw Error(CKR_DEVICE_ERROR); a decoded record must re-encode to the same bytes (canonical form).
#include "store/attribute_codec.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyseal;
  std::vector<store::StoredAttribute> attrs;
  try {
    attrs = store::decode_attributes(ByteView(data, size));
  } catch (const Error& e) {
    if (e.rv != CKR_DEVICE_ERROR) std::abort();
    return 0;
  }
  SecureBytes again = store::encode_attributes(attrs);
  if (!equal_bytes(view(again), ByteView(data, size))) std::abort();
  return 0;
}
