// The soft token's TPM share and machine view (see soft_share.h; TPM 2.0 Part 3 sections 12.1 Create,
// 12.2 Load, 12.7 Unseal).
#include "tpm/soft_share.h"

#include "common/log.h"
#include "fingerprint/linux_sources.h"
#include "tpm/connection.h"
#include "tpm/ek_factor.h"
#include "tpm/pin_seal.h"
#include "tpm/tss_errors.h"

#include <tss2/tss2_mu.h>

#include <cstring>
#include <filesystem>

namespace keyseal::tpm {

namespace {

constexpr uint8_t kShareVersion = 1;

// Record: version | TPM2B_NAME of the storage parent | the sealed-object record of pin_seal.h.
SecureBytes encode(const TPM2B_NAME& parent, ByteView sealed) {
  SecureBytes out(1 + sizeof(TPM2B_NAME) + sealed.size());
  out[0] = kShareVersion;
  size_t off = 1;
  if (Tss2_MU_TPM2B_NAME_Marshal(&parent, out.data(), out.size(), &off) != TSS2_RC_SUCCESS)
    fail(CKR_GENERAL_ERROR, "encoding the TPM share record");
  std::memcpy(out.data() + off, sealed.data(), sealed.size());
  out.resize(off + sealed.size());
  return out;
}

bool same_name(const TPM2B_NAME& a, const TPM2B_NAME& b) {
  return a.size == b.size && std::memcmp(a.name, b.name, a.size) == 0;
}

class Sealer final : public softtoken::TpmSealer {
 public:
  explicit Sealer(std::string tcti) : tcti_(std::move(tcti)) {}

  SecureBytes seal(ByteView secret) override {
    auto conn = Connection::shared(tcti_);
    auto g = conn->lock();
    require(g.parent_error().empty(), CKR_DEVICE_ERROR, "no usable TPM storage parent: " + g.parent_error());
    const SecureBytes sealed = seal_secret(g, secret, ByteView(), "", /*dictionary_protected=*/false);
    return encode(g.parent_name(), view(sealed));
  }

  std::optional<SecureBytes> unseal(ByteView record) override {
    TPM2B_NAME parent{};
    size_t off = 1;
    if (record.empty() || record[0] != kShareVersion ||
        Tss2_MU_TPM2B_NAME_Unmarshal(record.data(), record.size(), &off, &parent) != TSS2_RC_SUCCESS)
      fail(CKR_DEVICE_ERROR, "the token's TPM share record is malformed or of an unknown version");
    auto conn = Connection::shared(tcti_);
    auto g = conn->lock();
    require(g.parent_error().empty(), CKR_DEVICE_ERROR, "no usable TPM storage parent: " + g.parent_error());
    if (!same_name(parent, g.parent_name())) {
      log::info("the soft token's TPM share was sealed under another storage parent (another TPM, or this one cleared)");
      return std::nullopt;
    }
    try {
      return unseal_secret(g, record.subspan(off), ByteView(), "");
    } catch (const TssError& e) {
      const TSS2_RC code = tpm_code(e.tss_rc);
      if (code != TPM2_RC_INTEGRITY && code != TPM2_RC_BINDING && code != TPM2_RC_AUTH_FAIL &&
          code != TPM2_RC_BAD_AUTH && code != TPM2_RC_POLICY_FAIL)
        throw;  // the TPM does not answer, or is busy or failing: not a sign of another machine
      log::info("this TPM does not open the soft token's TPM share: " + describe(e.tss_rc));
      return std::nullopt;
    }
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
