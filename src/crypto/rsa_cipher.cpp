// RSA encryption and decryption (PKCS#11 3.0 current mechanisms 2.1.6 PKCS #1 v1.5, 2.1.8 OAEP, 2.1.10 X.509).
// All are single-part; the input limits are checked here so the caller gets the CK_RV the spec names.
#include "crypto/asym.h"
#include "crypto/key_state.h"

#include <openssl/crypto.h>
#include <openssl/rsa.h>

namespace keyseal::crypto {
namespace {

class RsaCipher final : public Operation {
 public:
  RsaCipher(const PKey& key, const MechanismParams& m, bool encrypt) : key_(key), type_(m.type), encrypt_(encrypt) {
    require(static_cast<bool>(key_) && key_.kind() == KeyKind::rsa, CKR_KEY_TYPE_INCONSISTENT, "not an RSA key");
    require(encrypt_ || key_.has_private(), CKR_KEY_TYPE_INCONSISTENT, "decryption needs a private key");
    require(type_ == CKM_RSA_PKCS || type_ == CKM_RSA_X_509 || type_ == CKM_RSA_PKCS_OAEP, CKR_MECHANISM_INVALID,
            "not an RSA encryption mechanism");
    if (type_ == CKM_RSA_PKCS_OAEP) {
      require(m.hash != 0, CKR_MECHANISM_PARAM_INVALID, "OAEP needs a hash");
      hash_ = md_for(m.hash);
      mgf_ = md_for(m.mgf_hash ? m.mgf_hash : m.hash);
      label_ = m.label;
    }
  }

  size_t output_size(size_t) const override { return key_.signature_size(); }
  bool multipart() const override { return false; }
  size_t finish_size() const override { return 0; }
  SecureBytes finish() override { fail(CKR_FUNCTION_FAILED, "RSA encryption is single-part"); }

  SecureBytes run(ByteView in) override {
    size_t k = key_.signature_size();
    SecureBytes input;
    if (encrypt_) {
      size_t overhead = type_ == CKM_RSA_X_509 ? 0
                        : type_ == CKM_RSA_PKCS ? 11
                                                : 2 * static_cast<size_t>(EVP_MD_get_size(hash_)) + 2;
      require(in.size() + overhead <= k, CKR_DATA_LEN_RANGE, "RSA plaintext too long for the key");
      if (type_ == CKM_RSA_X_509) input.assign(k - in.size(), 0);
    } else {
      require(in.size() == k, CKR_ENCRYPTED_DATA_LEN_RANGE, "RSA ciphertext must be k bytes");
    }
    input.insert(input.end(), in.begin(), in.end());

    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(libctx(), key_.get(), nullptr));
    if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_PKEY_CTX_new_from_pkey");
    ossl_check(encrypt_ ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get()), CKR_FUNCTION_FAILED,
               "RSA cipher init");
    int pad = type_ == CKM_RSA_X_509 ? RSA_NO_PADDING : type_ == CKM_RSA_PKCS ? RSA_PKCS1_PADDING
                                                                              : RSA_PKCS1_OAEP_PADDING;
    ossl_check(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), pad), CKR_FUNCTION_FAILED, "RSA padding");
    if (type_ == CKM_RSA_PKCS_OAEP) {
      ossl_check(EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), hash_), CKR_MECHANISM_PARAM_INVALID, "OAEP md");
      ossl_check(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), mgf_), CKR_MECHANISM_PARAM_INVALID, "OAEP mgf");
      if (!label_.empty()) {
        void* l = OPENSSL_memdup(label_.data(), label_.size());
        if (!l) ossl_fail(CKR_HOST_MEMORY, "OAEP label");
        if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), l, static_cast<int>(label_.size())) <= 0) {
          OPENSSL_free(l);
          ossl_fail(CKR_MECHANISM_PARAM_INVALID, "OAEP label");
        }
      }
    }
    SecureBytes out(k);
    size_t len = out.size();
    if (encrypt_) {
      // X.509 input at or above the modulus is the only way raw encryption fails.
      ossl_check(EVP_PKEY_encrypt(ctx.get(), out.data(), &len, input.data(), input.size()),
                 type_ == CKM_RSA_X_509 ? CKR_DATA_INVALID : CKR_FUNCTION_FAILED, "RSA encrypt");
    } else {
      ossl_check(EVP_PKEY_decrypt(ctx.get(), out.data(), &len, input.data(), input.size()),
                 CKR_ENCRYPTED_DATA_INVALID, "RSA decrypt");
    }
    out.resize(len);
    return out;
  }

 private:
  PKey key_;
  CK_MECHANISM_TYPE type_;
  bool encrypt_;
  const EVP_MD* hash_ = nullptr;
  const EVP_MD* mgf_ = nullptr;
  SecureBytes label_;
};

}  // namespace

std::unique_ptr<Operation> make_rsa_encryptor(const PKey& pub, const MechanismParams& m) {
  return std::make_unique<RsaCipher>(pub, m, true);
}

std::unique_ptr<Operation> make_rsa_decryptor(const PKey& priv, const MechanismParams& m) {
  return std::make_unique<RsaCipher>(priv, m, false);
}

}  // namespace keyseal::crypto
