// A session (PKCS#11 3.0 sections 5.6 to 5.13): its token, read/write flag, the one active operation of each
// kind, the active search, and the output-buffer convention, implemented once for every function that returns
// bytes. Each session has its own mutex; nothing here takes a module-wide lock.
#pragma once
#include "common/mechanism_params.h"
#include "common/operation.h"
#include "core/attributes.h"
#include "core/object.h"
#include "core/token.h"

#include <keyseal/pkcs11.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace keyseal::core {

enum class OpKind { sign = 0, verify, encrypt, decrypt, digest };

// Where the caller wants output: a size query (NULL buffer) or a buffer of `capacity` bytes.
struct OutSpec {
  bool query = true;
  size_t capacity = 0;
};
// What to hand back: `bytes` to copy out (when it fits), and always the length to report.
struct OutResult {
  size_t length = 0;
  SecureBytes bytes;
  bool too_small = false;  // CKR_BUFFER_TOO_SMALL, operation stays active
  bool has_bytes = false;
};

// CKA_KEYSEAL_TPM_PUBLIC, CKA_KEYSEAL_ATTESTATION_NONCE, CKA_KEYSEAL_ATTESTATION.
bool is_keyseal_vendor_attribute(CK_ATTRIBUTE_TYPE t);

class Session {
 public:
  Session(CK_SESSION_HANDLE h, CK_SLOT_ID slot, std::shared_ptr<Token> token, bool rw)
      : handle_(h), slot_(slot), token_(std::move(token)), rw_(rw) {}

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_SLOT_ID slot() const { return slot_; }
  Token& token() { return *token_; }
  const std::shared_ptr<Token>& token_ptr() { return token_; }
  bool rw() const { return rw_; }
  CK_STATE state() const;
  bool user() const { return token_->login_state() == LoginState::user; }
  bool so() const { return token_->login_state() == LoginState::so; }

  // Operations.
  void op_init(OpKind kind, const MechanismParams& m, CK_OBJECT_HANDLE key);
  void digest_init(const MechanismParams& m);
  OutResult single(OpKind kind, ByteView in, OutSpec out);          // C_Sign, C_Encrypt, C_Decrypt, C_Digest
  OutResult update(OpKind kind, ByteView in, OutSpec out);          // C_EncryptUpdate, C_DecryptUpdate; absorbs for others
  OutResult final(OpKind kind, OutSpec out);                        // C_SignFinal, C_EncryptFinal, ...
  void digest_key(CK_OBJECT_HANDLE key);
  void verify(ByteView data, ByteView signature);
  void verify_final(ByteView signature);
  void abort(OpKind kind);           // an argument error ended the operation
  void require_active(OpKind kind);  // CKR_OPERATION_NOT_INITIALIZED
  bool is_active(OpKind kind) { return active(kind).op != nullptr; }
  // C_Login(CKU_CONTEXT_SPECIFIC): the PIN again for an active operation whose key demands it (section 5.6.8).
  void context_login(ByteView pin);

  // Objects.
  CK_OBJECT_HANDLE create_object(AttributeMap attrs);
  CK_OBJECT_HANDLE copy_object(CK_OBJECT_HANDLE h, const AttributeMap& changes);
  void destroy_object(CK_OBJECT_HANDLE h);
  ObjectPtr object(CK_OBJECT_HANDLE h) { return token_->object(h, user()); }
  // An object used as a key: a bad handle reports `invalid_rv` (CKR_KEY_HANDLE_INVALID and its relatives).
  ObjectPtr key_object(CK_OBJECT_HANDLE h, CK_RV invalid_rv = CKR_KEY_HANDLE_INVALID);
  size_t object_size(CK_OBJECT_HANDLE h);
  void set_attributes(CK_OBJECT_HANDLE h, const std::vector<std::pair<CK_ATTRIBUTE_TYPE, SecureBytes>>& tmpl);
  // keyseal's vendor attributes (include/keyseal/pkcs11.h). The attestation nonce is this session's, per object;
  // the attestation made for it is kept until the nonce changes, so a size query and the read after it agree.
  void check_attestation_nonce(CK_OBJECT_HANDLE h, ByteView nonce);  // what set_attestation_nonce would refuse
  void set_attestation_nonce(CK_OBJECT_HANDLE h, ByteView nonce);
  // The vendor attributes among `types` that object `o` has, computed (empty when none).
  AttributeMap vendor_attributes(const Object& o, const std::vector<CK_ATTRIBUTE_TYPE>& types);
  void find_init(const AttributeMap& tmpl);
  std::vector<CK_OBJECT_HANDLE> find_next(size_t max);
  void find_final();

  // Keys (section 5.14).
  CK_OBJECT_HANDLE generate_key(const MechanismParams& m, AttributeMap tmpl);
  std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> generate_key_pair(const MechanismParams& m, AttributeMap pub,
                                                                  AttributeMap priv);
  SecureBytes wrap_key(const MechanismParams& m, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key);
  CK_OBJECT_HANDLE unwrap_key(const MechanismParams& m, CK_OBJECT_HANDLE unwrapping_key, ByteView wrapped,
                              AttributeMap tmpl);
  CK_OBJECT_HANDLE derive_key(const MechanismParams& m, CK_OBJECT_HANDLE base_key, AttributeMap tmpl);

  std::mutex mu;  // held by the ABI layer around each call on this session
  void close() { closed_ = true; }  // C_CloseSession: nothing may be created through it any more

 private:
  enum class Phase { single, update, final };
  struct Active {
    std::unique_ptr<Operation> op;
    ObjectPtr key;
    bool multipart = false;  // Update was called
    bool single_only = false;
    bool needs_auth = false;  // CKA_ALWAYS_AUTHENTICATE key: a context-specific login must come first
    bool single_started = false;  // C_Sign (etc.) was called, as a size query or too small: no Update now
    std::optional<SecureBytes> pending;  // kept after CKR_BUFFER_TOO_SMALL, for the same call only
    Phase pending_phase = Phase::single;
    SecureBytes pending_input;  // SHA-256 of the input that made `pending`: a retry must repeat it
  };
  std::optional<SecureBytes> take_pending(Active& a, Phase phase, ByteView in);
  Active& active(OpKind k) { return ops_[static_cast<size_t>(k)]; }
  void refuse_after_single(Active& a);
  OutResult deliver(Active& a, Phase phase, SecureBytes result, OutSpec out, bool end_on_success, ByteView in);
  void check_new_object_access(const AttributeMap& attrs);
  SecureBytes hkdf_salt_key(CK_OBJECT_HANDLE h);
  CK_OBJECT_HANDLE store_new(AttributeMap attrs);

  const CK_SESSION_HANDLE handle_;
  const CK_SLOT_ID slot_;
  std::shared_ptr<Token> token_;
  const bool rw_;
  std::array<Active, 5> ops_;
  bool closed_ = false;
  struct AttestState {
    SecureBytes nonce;
    std::optional<SecureBytes> value;  // made for `nonce`
  };
  std::map<CK_OBJECT_HANDLE, AttestState> attest_;
  bool find_active_ = false;
  std::vector<CK_OBJECT_HANDLE> found_;
  size_t found_pos_ = 0;
};

}  // namespace keyseal::core
