// attest/mu on Windows: the six tss2-mu functions the verifier calls (tpm_structs.cpp), under tss2-mu's own names
// and declarations (tss2_mu.h from Debian's libtss2-dev), answered by keyseal's attest/mu. Not built on Linux,
// where libtss2-mu provides them.
#include <tss2/tss2_mu.h>

#include "attest/mu/mu.h"

namespace mu = keyseal::attest::mu;

extern "C" {

TSS2_RC Tss2_MU_TPMT_PUBLIC_Marshal(TPMT_PUBLIC const* src, uint8_t buffer[], size_t buffer_size, size_t* offset) {
  return mu::marshal(src, buffer, buffer_size, offset);
}
TSS2_RC Tss2_MU_TPMT_PUBLIC_Unmarshal(uint8_t const buffer[], size_t buffer_size, size_t* offset, TPMT_PUBLIC* dest) {
  return mu::unmarshal(buffer, buffer_size, offset, dest);
}
TSS2_RC Tss2_MU_TPMS_ATTEST_Marshal(TPMS_ATTEST const* src, uint8_t buffer[], size_t buffer_size, size_t* offset) {
  return mu::marshal(src, buffer, buffer_size, offset);
}
TSS2_RC Tss2_MU_TPMS_ATTEST_Unmarshal(uint8_t const buffer[], size_t buffer_size, size_t* offset, TPMS_ATTEST* dest) {
  return mu::unmarshal(buffer, buffer_size, offset, dest);
}
TSS2_RC Tss2_MU_TPMT_SIGNATURE_Marshal(TPMT_SIGNATURE const* src, uint8_t buffer[], size_t buffer_size,
                                       size_t* offset) {
  return mu::marshal(src, buffer, buffer_size, offset);
}
TSS2_RC Tss2_MU_TPMT_SIGNATURE_Unmarshal(uint8_t const buffer[], size_t buffer_size, size_t* offset,
                                         TPMT_SIGNATURE* dest) {
  return mu::unmarshal(buffer, buffer_size, offset, dest);
}

}  // extern "C"
