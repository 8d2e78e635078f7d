// PIN-fail NV indexes of TPM tokens: definition in keyseal's handle range, the first write (pinCount 0,
// pinLimit), reads through the empty read policy, and removal (TPM 2.0 Part 3 sections 30.2 GetCapability,
// 31.3 NV_DefineSpace, 31.4 NV_UndefineSpace, 31.5 NV_Write, 31.13 NV_Read).
#include "tpm/pin_nv.h"

#include "common/log.h"
#include "tpm/tss_errors.h"

#include <cstdio>
#include <cstring>
#include <set>

namespace keyseal::tpm {

namespace {

std::string hex(TPM2_HANDLE h) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08X", static_cast<unsigned>(h));
  return b;
}

// pinfail | noDA | ownerWrite | ownerRead | policyRead, authPolicy = 32 zero bytes: a fresh policy session
// (digest all zeros) satisfies it, so anyone can read the count without a PIN even where the owner hierarchy
// has an authValue, and nothing else can be done with the policy (ADMIN-role commands need
// PolicyCommandCode; there is no policyWrite). ownerRead: the cheaper read where the owner's auth is empty.
// authWrite is not allowed on PIN indexes; the only writes are at definition and by set_pin, both of which
// need the owner hierarchy anyway (TPM2_NV_DefineSpace). A right PIN needs no write: the TPM sets pinCount
// back to 0 on a successful authorisation (checked on swtpm/libtpms, tested).
TPM2B_NV_PUBLIC pin_index_public(TPM2_HANDLE handle) {
  TPM2B_NV_PUBLIC p{};
  p.nvPublic.nvIndex = handle;
  p.nvPublic.nameAlg = TPM2_ALG_SHA256;
  p.nvPublic.attributes = (static_cast<TPMA_NV>(TPM2_NT_PIN_FAIL) << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_NO_DA |
                          TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_POLICYREAD;
  p.nvPublic.authPolicy.size = 32;  // zeros
  p.nvPublic.dataSize = 8;          // TPMS_NV_PIN_COUNTER_PARAMETERS
  return p;
}

// keyseal's handles in use now (one TPM2_GetCapability).
std::set<TPM2_HANDLE> used_handles(Connection::Guard& g) {
  std::set<TPM2_HANDLE> used;
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* cap = nullptr;
  g.check(Esys_GetCapability(g.ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, kPinNvFirst,
                             kPinNvCount, &more, &cap),
          "TPM2_GetCapability (NV handles)");
  for (UINT32 i = 0; i < cap->data.handles.count; ++i) used.insert(cap->data.handles.handle[i]);
  Esys_Free(cap);
  return used;
}

// Whether the TPM's refusal means "no index for this token here" (fall back) rather than a broken TPM.
bool unavailable(TSS2_RC rc) {
  switch (tpm_code(rc)) {
    case TPM2_RC_NV_SPACE: case TPM2_RC_NV_DEFINED: case TPM2_RC_BAD_AUTH: case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_LOCKOUT: case TPM2_RC_ATTRIBUTES: case TPM2_RC_HIERARCHY: case TPM2_RC_NV_RANGE:
    case TPM2_RC_NV_SIZE: case TPM2_RC_POLICY: case TPM2_RC_VALUE: case TPM2_RC_NV_UNAVAILABLE:
    case TPM2_RC_NV_RATE: case TPM2_RC_MEMORY:
      return true;
    default:
      return false;
  }
}

SecureBytes counter_bytes(uint32_t failures, uint32_t limit) {
  SecureBytes b(8);
  for (int i = 0; i < 4; ++i) {
    b[i] = static_cast<uint8_t>(failures >> (24 - 8 * i));
    b[4 + i] = static_cast<uint8_t>(limit >> (24 - 8 * i));
  }
  return b;
}

}  // namespace

NvRef::NvRef(Connection::Guard& g, TPM2_HANDLE handle) : ctx_(g.ctx()) {
  const TSS2_RC rc = Esys_TR_FromTPMPublic(ctx_, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr_);
  if (rc == TSS2_RC_SUCCESS) return;
  tr_ = ESYS_TR_NONE;
  if (is_connection_error(rc)) g.check(rc, "TPM2_NV_ReadPublic");
  throw TssError(CKR_DEVICE_ERROR,
                 "the token's PIN-fail NV index " + hex(handle) + " is gone from the TPM (TPM cleared, or the "
                 "index undefined by its owner): " + describe(rc), rc);
}

NvRef::~NvRef() {
  if (tr_ != ESYS_TR_NONE) Esys_TR_Close(ctx_, &tr_);
}

std::optional<TPM2_HANDLE> define_pin_index(Connection::Guard& g, ByteView auth, uint32_t limit, std::string& why) {
  require(limit >= 1, CKR_GENERAL_ERROR, "PIN limit 0");
  const std::set<TPM2_HANDLE> used = used_handles(g);
  TPM2B_AUTH a{};
  require(auth.size() <= sizeof a.buffer, CKR_GENERAL_ERROR, "PIN auth too long");
  a.size = static_cast<UINT16>(auth.size());
  if (!auth.empty()) std::memcpy(a.buffer, auth.data(), auth.size());
  TSS2_RC rc = TSS2_RC_SUCCESS;
  for (TPM2_HANDLE h = kPinNvFirst; h < kPinNvFirst + kPinNvCount; ++h) {
    if (used.count(h)) continue;
    const TPM2B_NV_PUBLIC pub = pin_index_public(h);
    ESYS_TR tr = ESYS_TR_NONE;
    rc = Esys_NV_DefineSpace(g.ctx(), ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &a, &pub, &tr);
    if (tpm_code(rc) == TPM2_RC_NV_DEFINED) continue;  // taken since the capability read (another process)
    if (rc != TSS2_RC_SUCCESS) break;
    const SecureBytes data = counter_bytes(0, limit);
    TPM2B_MAX_NV_BUFFER buf{};
    buf.size = 8;
    std::memcpy(buf.buffer, data.data(), 8);
    rc = Esys_NV_Write(g.ctx(), ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf, 0);
    Esys_TR_Close(g.ctx(), &tr);
    secure_wipe(&a, sizeof a);
    if (rc != TSS2_RC_SUCCESS) {
      (void)undefine_pin_index(g, h);
      if (!unavailable(rc)) g.check(rc, "TPM2_NV_Write (PIN-fail index)");
      why = "the TPM refused the first write of a PIN-fail index: " + describe(rc);
      return std::nullopt;
    }
    return h;
  }
  secure_wipe(&a, sizeof a);
  if (rc == TSS2_RC_SUCCESS || tpm_code(rc) == TPM2_RC_NV_DEFINED) {
    why = "keyseal's NV handle range " + hex(kPinNvFirst) + "-" + hex(kPinNvFirst + kPinNvCount - 1) + " is full";
    return std::nullopt;
  }
  if (!unavailable(rc)) g.check(rc, "TPM2_NV_DefineSpace (PIN-fail index)");
  const TSS2_RC code = tpm_code(rc);
  why = code == TPM2_RC_NV_SPACE ? "the TPM's NV memory is full"
        : code == TPM2_RC_BAD_AUTH || code == TPM2_RC_AUTH_FAIL || code == TPM2_RC_LOCKOUT
            ? "the TPM owner hierarchy has an authorization value (NV indexes need it)"
            : "the TPM refused a PIN-fail NV index";
  why += ": " + describe(rc);
  return std::nullopt;
}

PinCount read_pin_index(Connection::Guard& g, TPM2_HANDLE handle) {
  NvRef nv(g, handle);
  // The owner hierarchy's (empty, on most machines) password first: one command. Where the owner has an
  // authValue, the empty read policy: a policy session and a read that costs swtpm about 2 ms more. Owner
  // authorisation failures are not counted by the TPM's dictionary-attack logic.
  TPM2B_MAX_NV_BUFFER* data = nullptr;
  TSS2_RC rc = Esys_NV_Read(g.ctx(), ESYS_TR_RH_OWNER, nv.tr(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0,
                            &data);
  if (rc != TSS2_RC_SUCCESS && !is_connection_error(rc)) {
    ESYS_TR s = start_plain_session(g, TPM2_SE_POLICY);
    // continueSession clear: the TPM ends the session with a successful read (no flush command).
    (void)Esys_TRSess_SetAttributes(g.ctx(), s, 0, TPMA_SESSION_CONTINUESESSION);
    rc = Esys_NV_Read(g.ctx(), nv.tr(), nv.tr(), s, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &data);
    if (rc != TSS2_RC_SUCCESS) g.flush(s);
    else Esys_TR_Close(g.ctx(), &s);  // gone from the TPM; ESYS keeps its record until closed
  }
  if (rc != TSS2_RC_SUCCESS) {
    if (!is_connection_error(rc))
      throw TssError(CKR_DEVICE_ERROR, "reading the PIN-fail NV index " + hex(handle) + ": " + describe(rc), rc);
    g.check(rc, "TPM2_NV_Read (PIN-fail index)");
  }
  PinCount c;
  const bool ok = data->size == 8;
  if (ok) {
    for (int i = 0; i < 4; ++i) {
      c.failures = (c.failures << 8) | data->buffer[i];
      c.limit = (c.limit << 8) | data->buffer[4 + i];
    }
  }
  Esys_Free(data);
  require(ok, CKR_DEVICE_ERROR, "the PIN-fail NV index " + hex(handle) + " is not 8 bytes");
  return c;
}

bool undefine_pin_index(Connection::Guard& g, TPM2_HANDLE handle) noexcept {
  try {
    NvRef nv(g, handle);
    const TSS2_RC rc =
        Esys_NV_UndefineSpace(g.ctx(), ESYS_TR_RH_OWNER, nv.tr(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc == TSS2_RC_SUCCESS) {
      nv.release();  // ESYS closed the resource with the index
      return true;
    }
    log::warn("TPM token: could not remove the PIN-fail NV index " + hex(handle) + ": " + describe(rc));
  } catch (const Error& e) {
    log::debug("TPM token: PIN-fail NV index " + hex(handle) + " not removed: " + e.detail);
  }
  return false;
}

ESYS_TR start_plain_session(Connection::Guard& g, TPM2_SE type) {
  TPMT_SYM_DEF sym{};
  sym.algorithm = TPM2_ALG_NULL;
  ESYS_TR s = ESYS_TR_NONE;
  g.check(Esys_StartAuthSession(g.ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                nullptr, type, &sym, TPM2_ALG_SHA256, &s),
          "TPM2_StartAuthSession");
  return s;
}

}  // namespace keyseal::tpm
