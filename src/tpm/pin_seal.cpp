// Sealing and unsealing the token master key (TPM 2.0 Part 3 sections 12.1 Create with sensitive data,
// 12.7 Unseal, 11.1 StartAuthSession, 23.4 PolicySecret, 23.7 PolicyPCR, 23.18 PolicyAuthValue,
// 23.19 PolicyPassword, 22.4 PCR_Read).
#include "tpm/pin_seal.h"

#include "common/log.h"
#include "crypto/digest.h"
#include "tpm/pin_nv.h"
#include "tpm/probe.h"
#include "tpm/tss_errors.h"

#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>
#include <sstream>

namespace keyseal::tpm {

namespace {

// Version 1: the DA-protected sealed object, PIN = its authValue. Version 2 adds the PIN-fail NV index whose
// authValue the sealed object's policy requires (pin_nv.h).
constexpr uint8_t kRecordDa = 1, kRecordNv = 2;

struct Record {
  TPM2_HANDLE nv = 0;  // 0: version 1
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
  SecureBytes pcr_values;  // each selected PCR's value, in selection order, at sealing time
};

SecureBytes encode(const Record& r) {
  SecureBytes out(1 + 4 + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE) + 2 + r.pcr_values.size());
  out[0] = r.nv ? kRecordNv : kRecordDa;
  size_t off = 1;
  TSS2_RC rc = r.nv ? Tss2_MU_UINT32_Marshal(r.nv, out.data(), out.size(), &off) : TSS2_RC_SUCCESS;
  if (rc == TSS2_RC_SUCCESS) rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&r.pub, out.data(), out.size(), &off);
  if (rc == TSS2_RC_SUCCESS) rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&r.priv, out.data(), out.size(), &off);
  if (rc == TSS2_RC_SUCCESS) rc = Tss2_MU_UINT16_Marshal(static_cast<UINT16>(r.pcr_values.size()), out.data(), out.size(), &off);
  if (rc != TSS2_RC_SUCCESS) throw_tss(rc, "encoding the sealed PIN record");
  if (!r.pcr_values.empty()) std::memcpy(out.data() + off, r.pcr_values.data(), r.pcr_values.size());
  out.resize(off + r.pcr_values.size());
  return out;
}

Record decode(ByteView b) {
  Record r;
  size_t off = 1;
  UINT16 n = 0;
  const bool nv = !b.empty() && b[0] == kRecordNv;
  if (b.empty() || (b[0] != kRecordDa && !nv) ||
      (nv && (Tss2_MU_UINT32_Unmarshal(b.data(), b.size(), &off, &r.nv) != TSS2_RC_SUCCESS || r.nv == 0)) ||
      Tss2_MU_TPM2B_PUBLIC_Unmarshal(b.data(), b.size(), &off, &r.pub) != TSS2_RC_SUCCESS ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal(b.data(), b.size(), &off, &r.priv) != TSS2_RC_SUCCESS ||
      Tss2_MU_UINT16_Unmarshal(b.data(), b.size(), &off, &n) != TSS2_RC_SUCCESS || off + n != b.size())
    fail(CKR_DEVICE_ERROR, "the token's sealed PIN record is malformed or of an unknown version");
  r.pcr_values = to_bytes(b.subspan(off));
  return r;
}

// One PCR at a time: simple, and TPM2_PCR_Read returns at most eight values per call anyway.
SecureBytes read_pcrs(Connection::Guard& g, const TPML_PCR_SELECTION& sel, std::vector<std::string>* names) {
  SecureBytes out;
  for (UINT32 b = 0; b < sel.count; ++b) {
    const TPMS_PCR_SELECTION& s = sel.pcrSelections[b];
    for (unsigned i = 0; i < s.sizeofSelect * 8u; ++i) {
      if (!(s.pcrSelect[i / 8] & (1u << (i % 8)))) continue;
      TPML_PCR_SELECTION one{};
      one.count = 1;
      one.pcrSelections[0].hash = s.hash;
      one.pcrSelections[0].sizeofSelect = s.sizeofSelect;
      one.pcrSelections[0].pcrSelect[i / 8] = static_cast<BYTE>(1u << (i % 8));
      UINT32 counter = 0;
      TPML_PCR_SELECTION* got_sel = nullptr;
      TPML_DIGEST* values = nullptr;
      g.check(Esys_PCR_Read(g.ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &one, &counter, &got_sel, &values),
              "TPM2_PCR_Read");
      const bool ok = values->count == 1;
      if (ok) out.insert(out.end(), values->digests[0].buffer, values->digests[0].buffer + values->digests[0].size);
      Esys_Free(got_sel), Esys_Free(values);
      require(ok, CKR_DEVICE_ERROR, "PCR " + hash_name(s.hash) + ":" + std::to_string(i) + " is not allocated");
      if (names) names->push_back(hash_name(s.hash) + ":" + std::to_string(i));
    }
  }
  return out;
}

size_t digest_len(TPMI_ALG_HASH h) {
  switch (h) {
    case TPM2_ALG_SHA1: return 20;
    case TPM2_ALG_SHA384: case TPM2_ALG_SHA3_384: return 48;
    case TPM2_ALG_SHA512: case TPM2_ALG_SHA3_512: return 64;
    default: return 32;
  }
}

// A policy (or trial) session with the sealed object's policy applied: PolicySecret(PIN-fail index, `auth`)
// for a version 2 record, then PolicyPCR(current values of `sel`) when bound, then PolicyPassword. The
// PIN-fail index comes first, so a wrong PIN is counted there and never reaches the DA-protected object.
ESYS_TR policy_session(Connection::Guard& g, const TPML_PCR_SELECTION& sel, TPM2_SE type, TPM2_HANDLE nv,
                       ByteView auth) {
  ESYS_TR s = start_plain_session(g, type);
  try {
    if (nv != 0) {
      NvRef index(g, nv);
      TPM2B_AUTH a{};
      a.size = static_cast<UINT16>(std::min(auth.size(), sizeof a.buffer));
      if (a.size != 0) std::memcpy(a.buffer, auth.data(), a.size);
      const TSS2_RC set = Esys_TR_SetAuth(g.ctx(), index.tr(), &a);
      secure_wipe(&a, sizeof a);
      g.check(set, "Esys_TR_SetAuth");
      TPM2B_TIMEOUT* timeout = nullptr;
      TPMT_TK_AUTH* ticket = nullptr;
      const TSS2_RC rc = Esys_PolicySecret(g.ctx(), index.tr(), s, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                           nullptr, nullptr, nullptr, 0, &timeout, &ticket);
      Esys_Free(timeout), Esys_Free(ticket);
      // The index refuses its authValue once pinCount reached pinLimit: this token's PIN is locked.
      if (tpm_code(rc) == TPM2_RC_AUTH_UNAVAILABLE || tpm_code(rc) == TPM2_RC_NV_AUTHORIZATION)
        throw TssError(CKR_PIN_LOCKED, "PIN locked: the TPM's retry limit for this token's PIN is reached", rc);
      g.check(rc, "TPM2_PolicySecret (PIN-fail index)");
    }
    TPM2B_DIGEST empty{};  // empty pcrDigest: the TPM uses the PCRs' current values
    if (sel.count != 0)
      g.check(Esys_PolicyPCR(g.ctx(), s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel), "TPM2_PolicyPCR");
    // PolicyPassword extends the digest exactly as PolicyAuthValue does (Part 3 section 23.19), but the
    // object's authValue then goes as a password instead of an HMAC: ESYS computes no command/response
    // hashes (about 0.7 ms of client CPU per unseal on this machine). The PIN-derived value crosses to
    // the TPM in the clear either way (PolicySecret and the version 1 unseal send it as a password too).
    g.check(Esys_PolicyPassword(g.ctx(), s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE), "TPM2_PolicyPassword");
  } catch (...) {
    g.flush(s);
    throw;
  }
  return s;
}

// Which selected PCRs differ from their values at sealing time, as "sha256:16, sha256:23".
std::string changed_pcrs(Connection::Guard& g, const TPML_PCR_SELECTION& sel, ByteView sealed) {
  std::vector<std::string> names;
  const SecureBytes now = read_pcrs(g, sel, &names);
  std::string out;
  size_t off = 0, k = 0;
  for (UINT32 b = 0; b < sel.count; ++b) {
    const size_t len = digest_len(sel.pcrSelections[b].hash);
    for (unsigned i = 0; i < sel.pcrSelections[b].sizeofSelect * 8u; ++i) {
      if (!(sel.pcrSelections[b].pcrSelect[i / 8] & (1u << (i % 8)))) continue;
      const bool differs = off + len > now.size() || off + len > sealed.size() ||
                           std::memcmp(now.data() + off, sealed.data() + off, len) != 0;
      if (differs && k < names.size()) out += (out.empty() ? "" : ", ") + names[k];
      off += len, ++k;
    }
  }
  return out.empty() ? "none (the policy itself differs)" : out;
}

}  // namespace

TPML_PCR_SELECTION parse_pcrs(const std::string& spec, const std::vector<TPMI_ALG_HASH>& banks) {
  TPML_PCR_SELECTION sel{};
  if (spec.empty()) return sel;
  std::stringstream banks_in(spec);
  std::string part;
  while (std::getline(banks_in, part, '+')) {
    const size_t colon = part.find(':');
    require(colon != std::string::npos && colon + 1 < part.size(), CKR_ARGUMENTS_BAD,
            "PCR selection '" + spec + "' is not bank:index,index (e.g. sha256:0,7)");
    const TPMI_ALG_HASH h = hash_by_name(part.substr(0, colon));
    require(h != TPM2_ALG_ERROR, CKR_ARGUMENTS_BAD, "unknown PCR bank '" + part.substr(0, colon) + "'");
    require(banks.empty() || std::find(banks.begin(), banks.end(), h) != banks.end(), CKR_ARGUMENTS_BAD,
            "this TPM has no PCR bank " + part.substr(0, colon));
    require(sel.count < TPM2_NUM_PCR_BANKS, CKR_ARGUMENTS_BAD, "too many PCR banks");
    TPMS_PCR_SELECTION* s = nullptr;
    for (UINT32 i = 0; i < sel.count; ++i)
      if (sel.pcrSelections[i].hash == h) s = &sel.pcrSelections[i];
    if (!s) {
      s = &sel.pcrSelections[sel.count++];
      s->hash = h;
      s->sizeofSelect = 3;
    }
    std::stringstream idx_in(part.substr(colon + 1));
    std::string idx;
    while (std::getline(idx_in, idx, ',')) {
      char* end = nullptr;
      const unsigned long i = std::strtoul(idx.c_str(), &end, 10);
      require(!idx.empty() && end && *end == 0 && i < 24, CKR_ARGUMENTS_BAD, "PCR index '" + idx + "' not in 0-23");
      s->pcrSelect[i / 8] |= static_cast<BYTE>(1u << (i % 8));
    }
  }
  return sel;
}

std::string pcrs_text(const TPML_PCR_SELECTION& sel) {
  std::string out;
  for (UINT32 b = 0; b < sel.count; ++b) {
    std::string idx;
    for (unsigned i = 0; i < sel.pcrSelections[b].sizeofSelect * 8u; ++i)
      if (sel.pcrSelections[b].pcrSelect[i / 8] & (1u << (i % 8))) idx += (idx.empty() ? "" : ",") + std::to_string(i);
    if (idx.empty()) continue;
    out += (out.empty() ? "" : "+") + hash_name(sel.pcrSelections[b].hash) + ":" + idx;
  }
  return out;
}

SecureBytes pin_auth(std::string_view token_uid, std::string_view role, ByteView pin) {
  static constexpr std::string_view kLabel = "keyseal/tpm-pin/v1";
  SecureBytes in;
  for (ByteView part : {view(kLabel), view(token_uid), view(role), pin}) {
    in.insert(in.end(), part.begin(), part.end());
    in.push_back(0);
  }
  in.pop_back();
  return crypto::digest(CKM_SHA256, view(in));
}

SecureBytes seal_secret(Connection::Guard& g, ByteView secret, ByteView auth, const std::string& pcrs,
                        TPM2_HANDLE nv) {
  const TPML_PCR_SELECTION sel = parse_pcrs(pcrs, {});
  TPM2B_PUBLIC tmpl{};
  TPMT_PUBLIC& p = tmpl.publicArea;
  p.type = TPM2_ALG_KEYEDHASH;
  p.nameAlg = TPM2_ALG_SHA256;
  // noDA clear: with an NV index no right-PIN use ever fails here (a wrong PIN fails at the index first), but
  // whoever redefines the index with an authValue of their own (NV names do not cover the authValue, and the
  // owner hierarchy is open on most machines) still meets the dictionary-attack logic. See docs/tpm.md.
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
  p.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
  Record r;
  r.nv = nv;
  if (sel.count == 0 && nv == 0) {
    p.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
  } else {
    // userWithAuth clear: only the policy opens it. Trial session for its digest (the PIN is right here).
    ESYS_TR trial = policy_session(g, sel, TPM2_SE_TRIAL, nv, auth);
    TPM2B_DIGEST* digest = nullptr;
    const TSS2_RC rc = Esys_PolicyGetDigest(g.ctx(), trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest);
    g.flush(trial);
    g.check(rc, "TPM2_PolicyGetDigest");
    p.authPolicy = *digest;
    Esys_Free(digest);
    if (sel.count != 0) r.pcr_values = read_pcrs(g, sel, nullptr);
  }
  TPM2B_SENSITIVE_CREATE sens{};
  require(auth.size() <= sizeof sens.sensitive.userAuth.buffer && secret.size() <= sizeof sens.sensitive.data.buffer,
          CKR_GENERAL_ERROR, "sealed secret too large");
  sens.sensitive.userAuth.size = static_cast<UINT16>(auth.size());
  if (!auth.empty()) std::memcpy(sens.sensitive.userAuth.buffer, auth.data(), auth.size());
  sens.sensitive.data.size = static_cast<UINT16>(secret.size());
  std::memcpy(sens.sensitive.data.buffer, secret.data(), secret.size());
  const TSS2_RC rc = g.create(sens, tmpl, r.pub, r.priv);
  secure_wipe(&sens, sizeof sens);
  g.check(rc, "TPM2_Create (sealed master key)");
  return encode(r);
}

TPM2_HANDLE sealed_nv_index(ByteView record) {
  if (record.size() < 5 || record[0] != kRecordNv) return 0;
  return decode(record).nv;
}

SecureBytes unseal_secret(Connection::Guard& g, ByteView record, ByteView auth, const std::string& pcrs) {
  const Record r = decode(record);
  const TPML_PCR_SELECTION sel = parse_pcrs(pcrs, {});
  if (r.nv == 0) {
    // Version 1: the TPM's dictionary-attack counter is shared by every user of the TPM. Never spend its last
    // attempt: a PIN guess here must not lock the whole TPM (tpm2-pkcs11 does; our own counter is core's).
    g.refresh_variable_state();
    const TpmInfo& da = g.info();
    if (da_refuses(da))
      fail(CKR_PIN_LOCKED, "the TPM's dictionary-attack protection is " +
                               std::string(da.in_lockout ? "in lockout" : "one failure from lockout") + " (" +
                               lockout_text(da) + "); no PIN is tried until it recovers");
  }
  ESYS_TR h = ESYS_TR_NONE;
  ESYS_TR session = ESYS_TR_PASSWORD;
  TPM2B_SENSITIVE_DATA* out = nullptr;
  auto release = [&] {
    if (session != ESYS_TR_PASSWORD) g.flush(session);
    if (h != ESYS_TR_NONE) g.flush(h);
    session = ESYS_TR_PASSWORD, h = ESYS_TR_NONE;
  };
  TSS2_RC rc = TSS2_RC_SUCCESS;
  try {
    // Authorise, load and unseal as one exchange: on a raw TPM another client may flush the object in
    // between, and then all of it runs again (an auth failure is never retried: it counts). The policy comes
    // first: a wrong PIN then costs no TPM2_Load.
    rc = g.retrying([&] {
      release();
      if (sel.count != 0 || r.nv != 0) {
        session = policy_session(g, sel, TPM2_SE_POLICY, r.nv, auth);
        // continueSession clear: the TPM ends the session with a successful unseal (no flush command).
        (void)Esys_TRSess_SetAttributes(g.ctx(), session, 0, TPMA_SESSION_CONTINUESESSION);
      }
      h = g.load_transient(r.pub, r.priv);
      TPM2B_AUTH a{};
      a.size = static_cast<UINT16>(std::min(auth.size(), sizeof a.buffer));
      if (a.size != 0) std::memcpy(a.buffer, auth.data(), a.size);
      const TSS2_RC set = Esys_TR_SetAuth(g.ctx(), h, &a);
      secure_wipe(&a, sizeof a);
      g.check(set, "Esys_TR_SetAuth");
      const TSS2_RC unsealed = Esys_Unseal(g.ctx(), h, session, ESYS_TR_NONE, ESYS_TR_NONE, &out);
      if (unsealed == TSS2_RC_SUCCESS && session != ESYS_TR_PASSWORD) {
        Esys_TR_Close(g.ctx(), &session);  // gone from the TPM; ESYS keeps its record until closed
        session = ESYS_TR_PASSWORD;
      }
      return unsealed;
    });
  } catch (...) {
    release();
    throw;
  }
  release();
  if (rc == TSS2_RC_SUCCESS) {
    SecureBytes secret = to_bytes(out->buffer, out->size);
    secure_wipe(out, sizeof *out);
    Esys_Free(out);
    return secret;
  }
  const TSS2_RC code = tpm_code(rc);
  if ((code == TPM2_RC_POLICY_FAIL || code == TPM2_RC_PCR_CHANGED) && sel.count != 0) {
    const std::string changed = changed_pcrs(g, sel, view(r.pcr_values));
    log::error("TPM token: the PCR policy " + pcrs_text(sel) + " of the sealed master key no longer holds; changed: " +
               changed);
    throw TssError(CKR_FUNCTION_FAILED, "boot state changed: PCR policy " + pcrs_text(sel) +
                   " no longer holds (changed: " + changed + ")", rc);
  }
  if (code == TPM2_RC_POLICY_FAIL) {  // not the PIN, not PCRs: the PIN-fail index is another one than at sealing
    log::error("TPM token: the sealed master key's policy no longer holds: its PIN-fail NV index was replaced");
    throw TssError(CKR_DEVICE_ERROR, "the PIN-fail NV index of this token was replaced", rc);
  }
  if (code == TPM2_RC_LOCKOUT && r.nv != 0)  // other users' failures put the TPM in lockout; the PIN was right
    throw TssError(CKR_PIN_LOCKED, "the TPM is in dictionary-attack lockout (failures of other TPM users)", rc);
  g.check(rc, "TPM2_Unseal");
  fail(CKR_GENERAL_ERROR, "unreachable");
}

bool da_refuses(const TpmInfo& da) {
  return da.in_lockout || (da.max_auth_fail > 1 && da.lockout_counter + 1 >= da.max_auth_fail);
}

}  // namespace keyseal::tpm
