// AES block-cipher modes (PKCS#11 3.0 current mechanisms 2.10 ECB/CBC/CBC_PAD, 2.11 CTR, 2.12 GCM) as
// Operations, on the cached EVP_CIPHER objects. GCM decryption releases no plaintext before the tag checks.
#include "crypto/ossl.h"
#include "crypto/symmetric.h"

#include <climits>
#include <mutex>
#include <vector>

namespace keyseal::crypto {
namespace {

constexpr size_t kGcmDefaultIvLen = 12;  // what a freshly keyed OpenSSL GCM context expects

AesMode mode_of(CK_MECHANISM_TYPE t) {
  switch (t) {
    case CKM_AES_ECB: return AesMode::ecb;
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD: return AesMode::cbc;
    case CKM_AES_CTR: return AesMode::ctr;
    case CKM_AES_GCM: return AesMode::gcm;
    default: fail(CKR_MECHANISM_INVALID, "not an AES cipher mechanism");
  }
}

// A context keyed for one mode and direction, without IV.
CipherCtxPtr new_keyed_ctx(AesMode mode, ByteView key, bool encrypt) {
  const EVP_CIPHER* cipher = aes_cipher(mode, key.size());
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_CIPHER_CTX_new");
  ossl_check(EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), nullptr, encrypt ? 1 : 0, nullptr),
             CKR_FUNCTION_FAILED, "AES key");
  return ctx;
}

}  // namespace

struct AesKey::State {
  SecureBytes key;
  std::mutex mu;
  std::vector<EVP_CIPHER_CTX*> pool[4][2];  // [ecb, cbc, ctr, gcm][decrypt, encrypt]: keyed, idle
  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    for (auto& by_mode : pool)
      for (auto& list : by_mode)
        for (EVP_CIPHER_CTX* c : list) EVP_CIPHER_CTX_free(c);
  }
};

namespace {

constexpr size_t kMaxPooled = 8;

// A keyed context for mode/direction: an idle one from the pool, else a new one.
CipherCtxPtr take_ctx(AesKey::State& s, AesMode mode, bool encrypt) {
  {
    std::lock_guard<std::mutex> g(s.mu);
    auto& list = s.pool[static_cast<int>(mode)][encrypt ? 1 : 0];
    if (!list.empty()) {
      CipherCtxPtr c(list.back());
      list.pop_back();
      return c;
    }
  }
  return new_keyed_ctx(mode, view(s.key), encrypt);
}

// Called from a destructor: never throws; a context that cannot be kept is freed.
void give_back_ctx(AesKey::State& s, AesMode mode, bool encrypt, CipherCtxPtr c) noexcept {
  try {
    std::lock_guard<std::mutex> g(s.mu);
    auto& list = s.pool[static_cast<int>(mode)][encrypt ? 1 : 0];
    if (list.size() < kMaxPooled) {
      list.push_back(c.get());
      c.release();
    }
  } catch (...) {
  }
}

class AesCipher final : public Operation {
 public:
  // keyed: a context keyed for this mode and direction (new, or idle from a pool); the IV is set here.
  // pool: where `keyed` goes back once the operation has completed normally (null: it is freed).
  AesCipher(bool encrypt, CipherCtxPtr keyed, const MechanismParams& m, std::shared_ptr<AesKey::State> pool = {})
      : type_(m.type), mode_(mode_of(m.type)), encrypt_(encrypt), ctx_(std::move(keyed)), pool_(std::move(pool)) {
    const AesMode mode = mode_;
    const uint8_t* iv = nullptr;
    if (mode == AesMode::cbc || mode == AesMode::ctr) {
      require(m.iv.size() == 16, CKR_MECHANISM_PARAM_INVALID, "AES CBC/CTR needs a 16-byte IV");
      iv = m.iv.data();
    }
    if (mode == AesMode::ctr) init_counter(m);
    if (mode == AesMode::gcm) {
      require(!m.iv.empty() && m.iv.size() < INT_MAX, CKR_MECHANISM_PARAM_INVALID, "GCM needs an IV");
      require(m.tag_bits >= 8 && m.tag_bits <= 128 && m.tag_bits % 8 == 0, CKR_MECHANISM_PARAM_INVALID,
              "GCM tag length must be 8..128 bits, whole bytes");
      require(m.aad.size() < INT_MAX, CKR_MECHANISM_PARAM_INVALID, "GCM AAD too long");
      tag_len_ = m.tag_bits / 8;
      reusable_iv_ = m.iv.size() == kGcmDefaultIvLen;  // a pooled context must keep the default IV length
      if (m.iv.size() != kGcmDefaultIvLen)
        ossl_check(EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(m.iv.size()), nullptr),
                   CKR_MECHANISM_PARAM_INVALID, "GCM IV length");
      ossl_check(EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, m.iv.data(), encrypt_, nullptr),
                 CKR_FUNCTION_FAILED, "GCM IV");
      int len = 0;
      if (!m.aad.empty())
        ossl_check(EVP_CipherUpdate(ctx_.get(), nullptr, &len, m.aad.data(), static_cast<int>(m.aad.size())),
                   CKR_FUNCTION_FAILED, "GCM AAD");
      return;
    }
    // Also with no IV (ECB): re-initialising resets what a pooled context kept from its last use.
    ossl_check(EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, iv, encrypt_, nullptr), CKR_FUNCTION_FAILED,
               "AES IV");
    EVP_CIPHER_CTX_set_padding(ctx_.get(), type_ == CKM_AES_CBC_PAD ? 1 : 0);
  }

  ~AesCipher() override {
    if (pool_ && completed_ && reusable_iv_) give_back_ctx(*pool_, mode_, encrypt_, std::move(ctx_));
  }
  AesCipher(const AesCipher&) = delete;
  AesCipher& operator=(const AesCipher&) = delete;

  // The size queries refuse what run() and transform() would refuse, before adding a tag or a padding block to
  // a length that could then wrap (a query for 2^64-1 bytes must not answer 15).
  size_t output_size(size_t in_len) const override {
    check_part(in_len);
    switch (type_) {
      case CKM_AES_CBC_PAD: return encrypt_ ? (in_len / 16 + 1) * 16 : in_len;
      case CKM_AES_GCM: return encrypt_ ? in_len + tag_len_ : (in_len > tag_len_ ? in_len - tag_len_ : 0);
      default: return in_len;
    }
  }
  size_t transform_size(size_t in_len) const override {
    check_part(in_len);
    if (type_ == CKM_AES_CTR || (type_ == CKM_AES_GCM && encrypt_)) return in_len;
    if (type_ == CKM_AES_GCM) return 0;
    return (held() + in_len) / 16 * 16;
  }
  size_t finish_size() const override {
    if (type_ == CKM_AES_GCM) return encrypt_ ? tag_len_ : (buffer_.size() > tag_len_ ? buffer_.size() - tag_len_ : 0);
    if (type_ == CKM_AES_CBC_PAD) return 16;
    return 0;
  }

  SecureBytes run(ByteView in) override {
    if (type_ == CKM_AES_ECB || type_ == CKM_AES_CBC || (type_ == CKM_AES_CBC_PAD && !encrypt_))
      require(in.size() % 16 == 0, len_rv(), "AES input is not a whole number of blocks");
    if (type_ == CKM_AES_GCM && encrypt_) return gcm_seal_once(in);
    SecureBytes out = transform(in);
    SecureBytes tail = finish();
    out.insert(out.end(), tail.begin(), tail.end());
    return out;
  }

  SecureBytes transform(ByteView in) override {
    check_part(in.size());
    if (type_ == CKM_AES_GCM && !encrypt_) {  // keep everything until the tag is known to be good
      // gcm_open hands the whole buffer to OpenSSL in one int-sized call.
      require(in.size() < kMaxPart - buffer_.size(), len_rv(), "GCM ciphertext too long");
      buffer_.insert(buffer_.end(), in.begin(), in.end());
      return {};
    }
    if (type_ == CKM_AES_CTR) check_counter(in.size());
    SecureBytes out(transform_size(in.size()) + 16);
    int len = 0;
    ossl_check(EVP_CipherUpdate(ctx_.get(), out.data(), &len, in.data(), static_cast<int>(in.size())),
               CKR_FUNCTION_FAILED, "AES update");
    total_ += in.size();
    out.resize(static_cast<size_t>(len));
    return out;
  }

  SecureBytes finish() override {
    if (type_ == CKM_AES_GCM) return encrypt_ ? gcm_tag() : gcm_open();
    if (type_ != CKM_AES_CTR && !(type_ == CKM_AES_CBC_PAD && encrypt_))
      require(total_ % 16 == 0, len_rv(), "AES input is not a whole number of blocks");
    if (type_ == CKM_AES_CBC_PAD && !encrypt_)
      require(total_ > 0, CKR_ENCRYPTED_DATA_LEN_RANGE, "CBC_PAD ciphertext is empty");
    SecureBytes out(32);
    int len = 0;
    ossl_check(EVP_CipherFinal_ex(ctx_.get(), out.data(), &len), encrypt_ ? CKR_FUNCTION_FAILED
                                                                           : CKR_ENCRYPTED_DATA_INVALID,
               "AES final");
    out.resize(static_cast<size_t>(len));
    completed_ = true;
    return out;
  }

 private:
  CK_RV len_rv() const { return encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE; }
  // OpenSSL's EVP_CipherUpdate takes an int length; with room for a block and a tag.
  static constexpr size_t kMaxPart = INT_MAX - 32;
  void check_part(size_t in_len) const { require(in_len < kMaxPart, len_rv(), "AES input too long"); }

  // Bytes OpenSSL holds back between updates (CBC_PAD decryption keeps a whole final block).
  size_t held() const {
    size_t r = total_ % 16;
    if (type_ == CKM_AES_CBC_PAD && !encrypt_ && r == 0 && total_ > 0) return 16;
    return r;
  }

  // PKCS#11 CTR: only the low counter_bits of the block count; running past them would reuse keystream.
  void init_counter(const MechanismParams& m) {
    require(m.counter_bits >= 1 && m.counter_bits <= 128, CKR_MECHANISM_PARAM_INVALID, "CTR counter bits 1..128");
    if (m.counter_bits == 128) return;
    unsigned __int128 ctr = 0;
    for (uint8_t b : m.iv) ctr = (ctr << 8) | b;
    unsigned __int128 modulus = static_cast<unsigned __int128>(1) << m.counter_bits;
    ctr &= modulus - 1;
    ctr_blocks_left_ = modulus - ctr;
    ctr_limited_ = true;
  }
  void check_counter(size_t n) {
    if (!ctr_limited_) return;
    unsigned __int128 blocks = (static_cast<unsigned __int128>(total_) + n + 15) / 16;
    require(blocks <= ctr_blocks_left_, len_rv(), "CTR counter would wrap");
  }

  SecureBytes gcm_tag() {
    SecureBytes out(16 + tag_len_);
    int len = 0;
    ossl_check(EVP_CipherFinal_ex(ctx_.get(), out.data(), &len), CKR_FUNCTION_FAILED, "GCM final");
    out.resize(static_cast<size_t>(len));
    size_t at = out.size();
    out.resize(at + tag_len_);
    ossl_check(EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_len_), out.data() + at),
               CKR_FUNCTION_FAILED, "GCM tag");
    completed_ = true;
    return out;
  }

  // Single-part GCM encryption straight into one buffer of the final size: ciphertext then tag.
  SecureBytes gcm_seal_once(ByteView in) {
    check_part(in.size());
    SecureBytes out(in.size() + tag_len_);
    int len = 0;
    if (!in.empty())
      ossl_check(EVP_CipherUpdate(ctx_.get(), out.data(), &len, in.data(), static_cast<int>(in.size())),
                 CKR_FUNCTION_FAILED, "GCM encrypt");
    require(static_cast<size_t>(len) == in.size(), CKR_GENERAL_ERROR, "GCM output of unexpected length");
    int tail = 0;
    uint8_t scratch[16];  // GCM's final writes nothing; a buffer anyway, in case
    ossl_check(EVP_CipherFinal_ex(ctx_.get(), scratch, &tail), CKR_FUNCTION_FAILED, "GCM final");
    require(tail == 0, CKR_GENERAL_ERROR, "GCM final produced output");
    total_ += in.size();
    ossl_check(EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_len_),
                                   out.data() + in.size()),
               CKR_FUNCTION_FAILED, "GCM tag");
    completed_ = true;
    return out;
  }

  SecureBytes gcm_open() {
    require(buffer_.size() >= tag_len_, CKR_ENCRYPTED_DATA_LEN_RANGE, "GCM input shorter than the tag");
    size_t ct_len = buffer_.size() - tag_len_;
    SecureBytes out(ct_len + 16);
    int len = 0;
    if (ct_len)
      ossl_check(EVP_CipherUpdate(ctx_.get(), out.data(), &len, buffer_.data(), static_cast<int>(ct_len)),
                 CKR_FUNCTION_FAILED, "GCM decrypt");
    size_t total = static_cast<size_t>(len);
    ossl_check(EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_len_),
                                   buffer_.data() + ct_len),
               CKR_FUNCTION_FAILED, "GCM set tag");
    if (EVP_CipherFinal_ex(ctx_.get(), out.data() + total, &len) <= 0) {
      secure_wipe(out.data(), out.size());
      ossl_fail(CKR_ENCRYPTED_DATA_INVALID, "GCM tag mismatch");
    }
    out.resize(total + static_cast<size_t>(len));
    completed_ = true;
    return out;
  }

  CK_MECHANISM_TYPE type_;
  AesMode mode_;
  bool encrypt_;
  CipherCtxPtr ctx_;
  std::shared_ptr<AesKey::State> pool_;
  bool completed_ = false;    // finished normally: the context may serve another operation
  bool reusable_iv_ = true;
  size_t total_ = 0;
  size_t tag_len_ = 0;
  SecureBytes buffer_;
  bool ctr_limited_ = false;
  unsigned __int128 ctr_blocks_left_ = 0;
};

}  // namespace

AesKey::AesKey(ByteView key) : s_(std::make_shared<State>()) {
  (void)aes_cipher(AesMode::ecb, key.size());  // CKR_KEY_SIZE_RANGE now rather than at first use
  s_->key = to_bytes(key);
}

AesKey::~AesKey() = default;

std::unique_ptr<Operation> make_aes_cipher(bool encrypt, ByteView key, const MechanismParams& m) {
  return std::make_unique<AesCipher>(encrypt, new_keyed_ctx(mode_of(m.type), key, encrypt), m);
}

std::unique_ptr<Operation> make_aes_cipher(bool encrypt, const AesKey& key, const MechanismParams& m) {
  AesMode mode = mode_of(m.type);
  CipherCtxPtr ctx = take_ctx(*key.state(), mode, encrypt);
  return std::make_unique<AesCipher>(encrypt, std::move(ctx), m, key.state());
}

}  // namespace keyseal::crypto
