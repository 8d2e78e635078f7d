// A TPM token's own PIN retry counter: one PIN-fail NV index per PIN role (TPM 2.0 Part 1 section 37.4.3
// TPM_NT_PIN_FAIL, Part 3 sections 31.3 NV_DefineSpace, 31.4 NV_UndefineSpace, 31.5 NV_Write, 31.13 NV_Read).
// The TPM counts wrong authorisations with the index's authValue in pinCount, resets it on a right one, and
// refuses the authValue once pinCount reaches pinLimit; the index is noDA, so the TPM-wide dictionary-attack
// counter is never touched. See docs/tpm.md "PINs and the master key".
#pragma once
#include "common/secure_bytes.h"
#include "tpm/connection.h"

#include <cstdint>
#include <optional>
#include <string>

namespace keyseal::tpm {

// keyseal's handles: a sub-range of the owner NV range (TCG handle registry 0x01000000-0x013FFFFF), probed for
// a free one at each definition.
inline constexpr TPM2_HANDLE kPinNvFirst = 0x013B5000;
inline constexpr uint32_t kPinNvCount = 256;

struct PinCount {
  uint32_t failures = 0;  // pinCount
  uint32_t limit = 0;     // pinLimit
};

// An ESYS resource for an NV index (from TPM2_NV_ReadPublic), closed without a TPM command at scope end.
class NvRef {
 public:
  NvRef(Connection::Guard& g, TPM2_HANDLE handle);  // CKR_DEVICE_ERROR when the index does not exist
  ~NvRef();
  NvRef(const NvRef&) = delete;
  NvRef& operator=(const NvRef&) = delete;
  ESYS_TR tr() const { return tr_; }
  void release() { tr_ = ESYS_TR_NONE; }

 private:
  ESYS_CONTEXT* ctx_;
  ESYS_TR tr_ = ESYS_TR_NONE;
};

// Defines a PIN-fail index (owner authorisation) with `auth` as its authValue and writes pinCount 0 / pinLimit
// `limit`. nullopt with `why` filled when the TPM cannot give one (NV space full, keyseal's range taken, owner
// hierarchy has an authValue, no PIN-fail index support); connection errors throw.
std::optional<TPM2_HANDLE> define_pin_index(Connection::Guard& g, ByteView auth, uint32_t limit, std::string& why);
// Reads pinCount/pinLimit with the owner's empty password or else the index's empty read policy: no PIN and
// no owner authValue needed.
PinCount read_pin_index(Connection::Guard& g, TPM2_HANDLE handle);
// Best effort (owner authorisation): logs and returns false when the index stays.
bool undefine_pin_index(Connection::Guard& g, TPM2_HANDLE handle) noexcept;

// An unbound, unsalted SHA-256 session of `type` (policy or trial) with no parameter encryption: the
// sessions the PIN records use (the PIN-derived auth goes in PolicySecret or as a password, never on the wire
// in a way a session would protect). The caller flushes it, or lets the TPM end it with continueSession clear.
ESYS_TR start_plain_session(Connection::Guard& g, TPM2_SE type);

}  // namespace keyseal::tpm
