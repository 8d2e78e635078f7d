// attest/mu: keyseal's own (un)marshalling of the three TPM 2.0 structures the verifier reads and writes
// (TPM 2.0 Library Part 2: TPMT_PUBLIC 12.2.4, TPMS_ATTEST 10.12.12, TPMT_SIGNATURE 11.3.4), with tss2-mu's
// calling convention. Windows has no tss2-mu (Debian's tpm2-tss upstream tarball is not served to this project),
// so there tss2_mu_abi.cpp gives these functions tss2-mu's names; on Linux the verifier uses libtss2-mu and this
// code is built only for the differential test that holds it to libtss2-mu's bytes.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <cstddef>
#include <cstdint>

namespace keyseal::attest::mu {

// Marshal: writes at buffer[*offset] and advances *offset; a null buffer only adds the size to *offset.
// Unmarshal: reads from buffer[*offset] and advances *offset; a null dest only checks and skips the bytes.
// A null offset means 0 and is not written back. On failure nothing is written and *offset is unchanged.
// Unknown selectors (types, schemes, algorithms) are refused, as are sizes larger than the buffer they fill. Two
// inputs libtss2-mu 3.2.1 accepts are refused here, both meaningless to a verifier: a TPMT_PUBLIC of type
// TPM_ALG_NULL and an HMAC TPMT_SIGNATURE whose hash is TPM_ALG_NULL (tests/unit/attest/test_mu.cpp).
TSS2_RC marshal(const TPMT_PUBLIC* src, uint8_t buffer[], size_t buffer_size, size_t* offset);
TSS2_RC unmarshal(const uint8_t buffer[], size_t buffer_size, size_t* offset, TPMT_PUBLIC* dest);
TSS2_RC marshal(const TPMS_ATTEST* src, uint8_t buffer[], size_t buffer_size, size_t* offset);
TSS2_RC unmarshal(const uint8_t buffer[], size_t buffer_size, size_t* offset, TPMS_ATTEST* dest);
TSS2_RC marshal(const TPMT_SIGNATURE* src, uint8_t buffer[], size_t buffer_size, size_t* offset);
TSS2_RC unmarshal(const uint8_t buffer[], size_t buffer_size, size_t* offset, TPMT_SIGNATURE* dest);

}  // namespace keyseal::attest::mu
