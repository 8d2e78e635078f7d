// The soft token's TPM share and machine view (see soft_share.h; TPM 2.0 Part 3 sections 12.1 Create,
// 12.2 Load, 12.7 Unseal).
#include "tpm/soft_share.h"

#include "common/log.h"
#include "fingerprint/linux_sources.h"
#include "tpm/connection.h"
#include "tpm/ek_factor.h"
#include "tpm/tss_errors.h"

#include <tss2/tss2_mu.h>

#include <cstring>
#include <filesystem>

namespace keyseal::tpm {

namespace {

constexpr uint8_t kShareVersion = 1;

// Record: version | TPM2B_NAME of the parent | TPM2B_PUBLIC | TPM2B_PRIVATE of the sealed object.
struct ShareRecord {
  TPM2B_NAME parent{};
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
};

SecureBytes encode(const ShareRecord& r) {
  SecureBytes out(1 + sizeof(TPM2B_NAME) + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE));
  out[0] = kShareVersion;
  size_t off = 1;
  TSS2_RC rc = Tss2_MU_TPM2B_NAME_Marshal(&r.parent, out.data(), out.size(), &off);
  if (rc == TSS2_RC_SUCCESS) rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&r.pub, out.data(), out.size(), &off);
  if (rc == TSS2_RC_SUCCESS) rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&r.priv, out.data(), out.size(), &off);
  if (rc != TSS2_RC_SUCCESS) fail(CKR_GENERAL_ERROR, "encoding the TPM share record");
  out.resize(off);
  return out;
}

ShareRecord decode(ByteView b) {
  ShareRecord r;
  size_t off = 1;
  if (b.empty() || b[0] != kShareVersion ||
      Tss2_MU_TPM2B_NAME_Unmarshal(b.data(), b.size(), &off, &r.parent) != TSS2_RC_SUCCESS ||
      Tss2_MU_TPM2B_PUBLIC_Unmarshal(b.data(), b.size(), &off, &r.pub) != TSS2_RC_SUCCESS ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal(b.data(), b.size(), &off, &r.priv) != TSS2_RC_SUCCESS || off != b.size())
    fail(CKR_DEVICE_ERROR, "the token's TPM share record is malformed or of an unknown version");
  return r;
}

bool same_name(const TPM2B_NAME& a, const TPM2B_NAME& b) {
  return a.size == b.size && std::memcmp(a.name, b.name, a.size) == 0;
}

// The srk_template() primary for one exchange: the connection's storage parent when that is it (no persistent
// SRK), else made now and flushed when the exchange ends. Sealing under it rather than under whatever sits at
// 0x81000001 keeps the share readable when a persistent SRK is provisioned or evicted later.
class TemplateParent {
 public:
  explicit TemplateParent(Connection::Guard& g) : g_(g) {}
  ~TemplateParent() { release(); }
  TemplateParent(const TemplateParent&) = delete;
  TemplateParent& operator=(const TemplateParent&) = delete;

  // Inside a `retrying` exchange. Returns the rc of TPM2_CreatePrimary (success when the parent serves).
  TSS2_RC make() {
    release();
    if (g_.parent_is_template()) {
      handle_ = g_.parent();
      name_ = g_.parent_name();
      return TSS2_RC_SUCCESS;
    }
    const TSS2_RC rc = create_srk_primary(g_.ctx(), handle_, name_);
    owned_ = rc == TSS2_RC_SUCCESS;
    return rc;
  }
  ESYS_TR handle() const { return handle_; }
  const TPM2B_NAME& name() const { return name_; }
  void release() noexcept {
    if (owned_) g_.flush(handle_);
    owned_ = false;
    handle_ = ESYS_TR_NONE;
  }

 private:
  Connection::Guard& g_;
  ESYS_TR handle_ = ESYS_TR_NONE;
  TPM2B_NAME name_{};
  bool owned_ = false;
};

// A TPM failure that is not "this TPM cannot open the record": always a device error, never a PIN code.
[[noreturn]] void device_error(const std::string& what, TSS2_RC rc) {
  throw TssError(CKR_DEVICE_ERROR, what + ": " + describe(rc), rc);
}

class Sealer final : public softtoken::TpmSealer {
 public:
  explicit Sealer(std::string tcti) : tcti_(std::move(tcti)) {}

  SecureBytes seal(ByteView secret) override {
    require(secret.size() <= sizeof(TPM2B_SENSITIVE_DATA::buffer), CKR_GENERAL_ERROR, "TPM share too large");
    auto conn = Connection::shared(tcti_);
    auto g = conn->lock();
    TPM2B_PUBLIC tmpl{};
    TPMT_PUBLIC& p = tmpl.publicArea;
    p.type = TPM2_ALG_KEYEDHASH;
    p.nameAlg = TPM2_ALG_SHA256;
    // No PIN here (the soft token's KEK checks it), so noDA: wrong PINs never reach the TPM's DA counter.
    p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA;
    p.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    TPM2B_SENSITIVE_CREATE sens{};
    sens.sensitive.data.size = static_cast<UINT16>(secret.size());
    std::memcpy(sens.sensitive.data.buffer, secret.data(), secret.size());
    const TPM2B_DATA outside{};
    const TPML_PCR_SELECTION no_pcrs{};
    TemplateParent parent(g);
    ShareRecord r;
    TPM2B_PRIVATE* out_priv = nullptr;
    TPM2B_PUBLIC* out_pub = nullptr;
    TPM2B_CREATION_DATA* cdata = nullptr;
    TPM2B_DIGEST* chash = nullptr;
    TPMT_TK_CREATION* ticket = nullptr;
    auto free_out = [&] {
      Esys_Free(out_priv), Esys_Free(out_pub), Esys_Free(cdata), Esys_Free(chash), Esys_Free(ticket);
      out_priv = nullptr, out_pub = nullptr, cdata = nullptr, chash = nullptr, ticket = nullptr;
    };
    TSS2_RC rc = TSS2_RC_SUCCESS;
    try {
      rc = g.retrying([&] {
        free_out();
        if (const TSS2_RC made = parent.make(); made != TSS2_RC_SUCCESS) return made;
        return Esys_Create(g.ctx(), parent.handle(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                           &outside, &no_pcrs, &out_priv, &out_pub, &cdata, &chash, &ticket);
      });
    } catch (...) {
      secure_wipe(&sens, sizeof sens);
      free_out();
      throw;
    }
    secure_wipe(&sens, sizeof sens);
    if (rc == TSS2_RC_SUCCESS) r.parent = parent.name(), r.pub = *out_pub, r.priv = *out_priv;
    free_out();
    if (rc != TSS2_RC_SUCCESS) device_error("sealing the soft token's TPM share (TPM2_CreatePrimary/TPM2_Create)", rc);
    return encode(r);
  }

  std::optional<SecureBytes> unseal(ByteView record) override {
    const ShareRecord r = decode(record);
    auto conn = Connection::shared(tcti_);
    auto g = conn->lock();
    TemplateParent parent(g);
    ESYS_TR h = ESYS_TR_NONE;
    TPM2B_SENSITIVE_DATA* out = nullptr;
    bool other_parent = false;
    auto release = [&] {
      if (h != ESYS_TR_NONE) g.flush(h);
      h = ESYS_TR_NONE;
      parent.release();
    };
    TSS2_RC rc = TSS2_RC_SUCCESS;
    try {
      rc = g.retrying([&] {
        release();
        if (const TSS2_RC made = parent.make(); made != TSS2_RC_SUCCESS) return made;
        other_parent = !same_name(parent.name(), r.parent);
        if (other_parent) return TSS2_RC_SUCCESS;  // another TPM, or this one after TPM2_Clear
        const TSS2_RC loaded =
            Esys_Load(g.ctx(), parent.handle(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &r.priv, &r.pub, &h);
        if (loaded != TSS2_RC_SUCCESS) {
          h = ESYS_TR_NONE;
          return loaded;
        }
        return Esys_Unseal(g.ctx(), h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &out);
      });
    } catch (...) {
      release();
      throw;
    }
    release();
    if (rc == TSS2_RC_SUCCESS && other_parent) {
      log::debug("the soft token's TPM share was sealed under another storage primary (another TPM, or this one "
                 "cleared)");
      return std::nullopt;
    }
    if (rc == TSS2_RC_SUCCESS) {
      SecureBytes secret = to_bytes(out->buffer, out->size);
      secure_wipe(out, sizeof *out);
      Esys_Free(out);
      return secret;
    }
    const TSS2_RC code = tpm_code(rc);
    if (code == TPM2_RC_INTEGRITY || code == TPM2_RC_BINDING) {  // a record this TPM did not make
      log::debug("this TPM does not load the soft token's TPM share: " + describe(rc));
      return std::nullopt;
    }
    if (is_connection_error(rc)) g.check(rc, "unsealing the soft token's TPM share");  // drops the connection
    device_error("unsealing the soft token's TPM share", rc);
  }

 private:
  std::string tcti_;
};

}  // namespace

bool tpm_expected(const std::string& tcti) {
  std::error_code ec;
  return !tcti.empty() || std::filesystem::exists("/dev/tpmrm0", ec) || std::filesystem::exists("/dev/tpm0", ec);
}

std::shared_ptr<softtoken::TpmSealer> make_sealer(const std::string& tcti) {
  return std::make_shared<Sealer>(tcti);
}

softtoken::Machine this_machine(const std::string& tcti) {
  if (!tpm_expected(tcti)) return softtoken::Machine();
  softtoken::FactorProvider factors = [tcti](const std::filesystem::path& dir) {
    auto sources = fingerprint::linux_sources(dir);
    sources.push_back(ek_factor_source(tcti));
    return fingerprint::read_factors(sources);
  };
  return softtoken::Machine(std::move(factors), make_sealer(tcti));
}

}  // namespace keyseal::tpm
