// Cryptographic operations of a session (PKCS#11 3.0 sections 5.8 encrypt, 5.9 decrypt, 5.10 digest, 5.11 sign,
// 5.12 verify): choosing who runs them (crypto/ for public keys and digests, the backend for private and secret
// keys), the one-active-operation rule, and the output-buffer convention (section 5.2) in one place.
#include "core/key_info.h"
#include "core/mechanisms.h"
#include "core/session.h"
#include "crypto/asym.h"
#include "crypto/digest.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace keyseal::core {
namespace {

CK_FLAGS flag_for(OpKind k) {
  switch (k) {
    case OpKind::sign: return CKF_SIGN;
    case OpKind::verify: return CKF_VERIFY;
    case OpKind::encrypt: return CKF_ENCRYPT;
    case OpKind::decrypt: return CKF_DECRYPT;
    case OpKind::digest: return CKF_DIGEST;
  }
  return 0;
}

CK_ATTRIBUTE_TYPE usage_for(OpKind k) {
  switch (k) {
    case OpKind::sign: return CKA_SIGN;
    case OpKind::verify: return CKA_VERIFY;
    case OpKind::encrypt: return CKA_ENCRYPT;
    case OpKind::decrypt: return CKA_DECRYPT;
    default: return 0;
  }
}

// Inputs no process can hold: a length this large is a caller's wrapped arithmetic, and refusing it here keeps
// every operation's size computation (input plus tag or padding) from wrapping to a tiny buffer size.
// A quarter of what both size_t and CK_ULONG hold, so that no output size (input plus padding, tag or IV) can
// wrap in either: with Windows' 32-bit CK_ULONG that is 1 GiB (a 4 GiB - 1 key-wrap query once answered 15).
constexpr size_t kMaxInput = std::min<size_t>(std::numeric_limits<size_t>::max(), std::numeric_limits<CK_ULONG>::max()) / 4;

void check_input_length(OpKind k, ByteView in) {
  require(in.size() <= kMaxInput, k == OpKind::decrypt ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE,
          "input length out of range");
}

// What a pending result is tied to: its input's SHA-256 (no copy of the data, which may be a plaintext).
SecureBytes input_fingerprint(ByteView in) { return crypto::digest(CKM_SHA256, in); }

}  // namespace

CK_STATE Session::state() const {
  switch (token_->login_state()) {
    case LoginState::user: return rw_ ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    case LoginState::so: return CKS_RW_SO_FUNCTIONS;
    default: return rw_ ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
  }
}

// Checks that a key may be used with a mechanism for a purpose (sections 5.8-5.14 error lists).
void check_key_for(const Object& key, const MechanismRow& row, CK_ATTRIBUTE_TYPE usage) {
  const CK_OBJECT_CLASS cls = key.cls();
  require(cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY, CKR_KEY_TYPE_INCONSISTENT,
          "object is not a key");
  require(key_type_compatible(row, key.key_type()), CKR_KEY_TYPE_INCONSISTENT, "key type does not fit the mechanism");
  if (usage) require(key.flag(usage), CKR_KEY_FUNCTION_NOT_PERMITTED, "the key's usage attribute forbids this");
  if (const SecureBytes* allowed = get_bytes(key.attrs, CKA_ALLOWED_MECHANISMS); allowed && !allowed->empty()) {
    bool listed = false;
    for (size_t off = 0; off + sizeof(CK_MECHANISM_TYPE) <= allowed->size(); off += sizeof(CK_MECHANISM_TYPE)) {
      CK_MECHANISM_TYPE t;
      std::memcpy(&t, allowed->data() + off, sizeof t);
      listed |= t == row.type;
    }
    require(listed, CKR_MECHANISM_INVALID, "mechanism not in the key's CKA_ALLOWED_MECHANISMS");
  }
  const CK_ULONG size = key_size(key);
  require(size >= row.min_key && size <= row.max_key, CKR_KEY_SIZE_RANGE, "key size outside the mechanism's range");
}

void Session::op_init(OpKind kind, const MechanismParams& m, CK_OBJECT_HANDLE h) {
  Active& a = active(kind);
  require(!a.op, CKR_OPERATION_ACTIVE, "an operation of this kind is active");
  const MechanismRow* row = find_mechanism(m.type);
  require(row && (row->flags & flag_for(kind)), CKR_MECHANISM_INVALID, "mechanism does not support this operation");
  ObjectPtr key = key_object(h);
  // The key's class must fit the operation before its usage flags are looked at (a public key cannot sign).
  const CK_OBJECT_CLASS cls = key->cls();
  const bool fits = cls == CKO_SECRET_KEY ||
                    (cls == CKO_PRIVATE_KEY && (kind == OpKind::sign || kind == OpKind::decrypt)) ||
                    (cls == CKO_PUBLIC_KEY && (kind == OpKind::verify || kind == OpKind::encrypt));
  require(fits, CKR_KEY_TYPE_INCONSISTENT, "this kind of key cannot do this operation");
  check_key_for(*key, *row, usage_for(kind));
  std::unique_ptr<Operation> op;
  Backend& b = token_->backend();
  switch (key->cls()) {
    case CKO_PUBLIC_KEY:
      if (kind == OpKind::verify) op = crypto::make_verifier(public_pkey(*key), m);
      else if (kind == OpKind::encrypt) op = crypto::make_rsa_encryptor(public_pkey(*key), m);
      else fail(CKR_KEY_TYPE_INCONSISTENT, "a public key cannot sign or decrypt");
      break;
    case CKO_PRIVATE_KEY:
    case CKO_SECRET_KEY:
      require(key->secrets_loaded, CKR_USER_NOT_LOGGED_IN, "this key needs a login");
      require(b.supports(m.type), CKR_MECHANISM_INVALID, "the token cannot do this mechanism");
      if (kind == OpKind::sign) op = b.sign(*key, m);
      else if (kind == OpKind::decrypt) op = b.decrypt(*key, m);
      else if (key->cls() == CKO_SECRET_KEY && kind == OpKind::encrypt) op = b.encrypt(*key, m);
      else if (key->cls() == CKO_SECRET_KEY && kind == OpKind::verify) op = b.verify(*key, m);
      else fail(CKR_KEY_TYPE_INCONSISTENT, "a private key cannot verify or encrypt");
      break;
  }
  a.needs_auth = (kind == OpKind::sign || kind == OpKind::decrypt) && key->flag(CKA_ALWAYS_AUTHENTICATE);
  a.op = std::move(op);
  a.key = std::move(key);
  a.single_only = !row->multipart;
}

void Session::context_login(ByteView pin) {
  require(user(), CKR_USER_NOT_LOGGED_IN, "context-specific login needs a user login");
  Active* target = nullptr;
  for (OpKind k : {OpKind::sign, OpKind::decrypt})
    if (active(k).op && active(k).needs_auth) target = &active(k);
  require(target != nullptr, CKR_OPERATION_NOT_INITIALIZED, "no operation waits for a context-specific login");
  token_->check_pin(CKU_USER, pin);
  target->needs_auth = false;
}

ObjectPtr Session::key_object(CK_OBJECT_HANDLE h, CK_RV invalid_rv) {
  try {
    return object(h);
  } catch (const Error& e) {
    if (e.rv == CKR_OBJECT_HANDLE_INVALID) fail(invalid_rv, e.detail);
    throw;
  }
}

void Session::digest_init(const MechanismParams& m) {
  Active& a = active(OpKind::digest);
  require(!a.op, CKR_OPERATION_ACTIVE, "a digest is active");
  const MechanismRow* row = find_mechanism(m.type);
  require(row && (row->flags & CKF_DIGEST), CKR_MECHANISM_INVALID, "not a digest mechanism");
  a.op = crypto::make_digest(m.type);
}

void Session::require_active(OpKind kind) {
  require(active(kind).op != nullptr, CKR_OPERATION_NOT_INITIALIZED, "no operation of this kind is active");
}

void Session::abort(OpKind kind) { active(kind) = Active{}; }

OutResult Session::deliver(Active& a, Phase phase, SecureBytes result, OutSpec out, bool end_on_success,
                           ByteView in) {
  OutResult res;
  res.length = result.size();
  if (out.query || result.size() > out.capacity) {
    res.too_small = !out.query;
    a.pending_input = input_fingerprint(in);
    a.pending = std::move(result);
    a.pending_phase = phase;
    return res;
  }
  res.bytes = std::move(result);
  res.has_bytes = true;
  if (end_on_success) a = Active{};
  else a.pending.reset();
  return res;
}

// Output kept after CKR_BUFFER_TOO_SMALL goes to a repeat of the call that made it. A single-part result is the
// operation's whole output, so a *Final call may collect it too (pkcs11-tool does); an Update's output is not,
// and handing it to Final would silently drop the last block or the tag.
// A repeat must pass the same input (section 5.2: the application calls the function again with a larger
// buffer). Other input is an application bug that must never be answered with the first input's output (a
// GCM decryption of a forged ciphertext would return the genuine plaintext). Computing afresh is not possible:
// the first call consumed the operation's state (a finished digest, a GCM tag already checked). So the
// operation ends with CKR_ARGUMENTS_BAD, the generic code for arguments unfit for the call, which names the
// caller's mistake rather than the data (CKR_DATA_INVALID would say the new input is bad in itself).
std::optional<SecureBytes> Session::take_pending(Active& a, Phase phase, ByteView in) {
  if (!a.pending) return std::nullopt;
  if (a.pending_phase != phase && !(a.pending_phase == Phase::single && phase == Phase::final)) {
    a = Active{};
    fail(CKR_OPERATION_ACTIVE, "the previous call's output was never collected");
  }
  if (phase != Phase::final && !equal_constant_time(view(a.pending_input), view(input_fingerprint(in)))) {
    a = Active{};
    fail(CKR_ARGUMENTS_BAD, "a repeated call after CKR_BUFFER_TOO_SMALL passed different input; operation ended");
  }
  std::optional<SecureBytes> p = std::move(a.pending);
  a.pending.reset();
  return p;
}

// PKCS#11 3.0 section 5.8 and its siblings: C_Encrypt (C_Sign, ...) "must be called after C_EncryptInit without
// intervening C_EncryptUpdate calls", and cannot be continued by them either. Once a single-part call has been
// made (a size query, or one that returned CKR_BUFFER_TOO_SMALL), an Update or a Final that would not collect
// its result mixes the two: the spec names no code, so CKR_OPERATION_ACTIVE as for the reverse order, and the
// operation ends, as after any error.
void Session::refuse_after_single(Active& a) {
  if (!a.single_started) return;
  a = Active{};
  fail(CKR_OPERATION_ACTIVE, "multi-part call after a single-part call of the same operation");
}

OutResult Session::single(OpKind kind, ByteView in, OutSpec out) {
  Active& a = active(kind);
  require(a.op != nullptr, CKR_OPERATION_NOT_INITIALIZED, "operation not initialised");
  require(!a.needs_auth, CKR_USER_NOT_LOGGED_IN, "this key needs C_Login(CKU_CONTEXT_SPECIFIC) first");
  if (auto p = take_pending(a, Phase::single, in)) return deliver(a, Phase::single, std::move(*p), out, true, in);
  if (a.multipart) {
    a = Active{};
    fail(CKR_OPERATION_ACTIVE, "single-part call after a multi-part update");
  }
  a.single_started = true;
  SecureBytes result;
  try {
    check_input_length(kind, in);
    if (out.query) {
      OutResult r;
      r.length = a.op->output_size(in.size());
      return r;
    }
    result = a.op->run(in);
  } catch (...) {
    a = Active{};
    throw;
  }
  return deliver(a, Phase::single, std::move(result), out, true, in);
}

OutResult Session::update(OpKind kind, ByteView in, OutSpec out) {
  Active& a = active(kind);
  require(a.op != nullptr, CKR_OPERATION_NOT_INITIALIZED, "operation not initialised");
  require(!a.needs_auth, CKR_USER_NOT_LOGGED_IN, "this key needs C_Login(CKU_CONTEXT_SPECIFIC) first");
  refuse_after_single(a);
  try {
    require(!a.single_only, CKR_FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only");
    a.multipart = true;
    check_input_length(kind, in);
    if (kind == OpKind::encrypt || kind == OpKind::decrypt) {
      if (auto p = take_pending(a, Phase::update, in))
        return deliver(a, Phase::update, std::move(*p), out, false, in);
      if (out.query) {
        OutResult r;
        r.length = a.op->transform_size(in.size());
        return r;
      }
      return deliver(a, Phase::update, a.op->transform(in), out, false, in);
    }
    a.op->absorb(in);
    return OutResult{};
  } catch (...) {
    a = Active{};
    throw;
  }
}

OutResult Session::final(OpKind kind, OutSpec out) {
  Active& a = active(kind);
  require(a.op != nullptr, CKR_OPERATION_NOT_INITIALIZED, "operation not initialised");
  require(!a.needs_auth, CKR_USER_NOT_LOGGED_IN, "this key needs C_Login(CKU_CONTEXT_SPECIFIC) first");
  if (auto p = take_pending(a, Phase::final, {})) return deliver(a, Phase::final, std::move(*p), out, true, {});
  refuse_after_single(a);
  try {
    require(!a.single_only, CKR_FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only");
    if (out.query) {
      OutResult r;
      r.length = a.op->finish_size();
      return r;
    }
    return deliver(a, Phase::final, a.op->finish(), out, true, {});
  } catch (...) {
    a = Active{};
    throw;
  }
}

void Session::verify(ByteView data, ByteView signature) {
  Active& a = active(OpKind::verify);
  require(a.op != nullptr, CKR_OPERATION_NOT_INITIALIZED, "verify not initialised");
  std::unique_ptr<Operation> op = std::move(a.op);
  const bool multipart = a.multipart;
  a = Active{};  // C_Verify always ends the operation
  require(!multipart, CKR_OPERATION_ACTIVE, "single-part call after a multi-part update");
  op->verify(data, signature);
}

void Session::verify_final(ByteView signature) {
  Active& a = active(OpKind::verify);
  require(a.op != nullptr, CKR_OPERATION_NOT_INITIALIZED, "verify not initialised");
  std::unique_ptr<Operation> op = std::move(a.op);
  const bool single_only = a.single_only;
  a = Active{};
  require(!single_only, CKR_FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only");
  op->verify_finish(signature);
}

void Session::digest_key(CK_OBJECT_HANDLE h) {
  Active& a = active(OpKind::digest);
  require(a.op != nullptr, CKR_OPERATION_NOT_INITIALIZED, "digest not initialised");
  refuse_after_single(a);
  try {
    ObjectPtr key = key_object(h);
    const SecureBytes* v = get_bytes(key->attrs, CKA_VALUE);
    require(key->cls() == CKO_SECRET_KEY && v, CKR_KEY_INDIGESTIBLE, "only secret keys with a value can be digested");
    a.multipart = true;
    a.op->absorb(view(*v));
  } catch (...) {
    a = Active{};
    throw;
  }
}

}  // namespace keyseal::core
