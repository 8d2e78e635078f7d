// Recovery code for the soft token's hardware binding (see recovery.h; issue 5, item 4).
#include "softtoken/recovery.h"

#include "common/error.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "store/token_db.h"

namespace keyseal::softtoken {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr uint8_t kRecordVersion = 1;
constexpr size_t kSaltLen = 16;

std::string info_for(store::TokenDb& db) {
  auto uid = db.get_meta("uid");
  return "keyseal/recovery/v1/" + (uid ? std::string(uid->begin(), uid->end()) : std::string());
}

SecureBytes code_key(ByteView code_bytes, ByteView salt, const std::string& info) {
  // The code carries 160 random bits: no stretching is needed, HKDF only separates the key.
  return crypto::hkdf_sha256(code_bytes, salt, view(info), 32);
}

}  // namespace

SecureBytes make_recovery_code() {
  const SecureBytes raw = crypto::random_bytes(kRecoveryCodeBytes);
  SecureBytes out;
  uint32_t acc = 0;
  int bits = 0;
  size_t chars = 0;
  for (uint8_t b : raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      if (chars > 0 && chars % 4 == 0) out.push_back('-');
      out.push_back(static_cast<uint8_t>(kAlphabet[(acc >> (bits - 5)) & 31]));
      bits -= 5;
      ++chars;
    }
  }
  secure_wipe(&acc, sizeof acc);
  return out;  // 160 bits = 32 characters exactly, no padding
}

SecureBytes parse_recovery_code(ByteView typed) {
  SecureBytes out;
  uint32_t acc = 0;
  int bits = 0;
  size_t chars = 0;
  for (uint8_t c : typed) {
    if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<uint8_t>(c - 'a' + 'A');
    const auto pos = kAlphabet.find(static_cast<char>(c));
    require(pos != std::string_view::npos, CKR_ARGUMENTS_BAD, "not a recovery code (unexpected character)");
    acc = (acc << 5) | static_cast<uint32_t>(pos);
    bits += 5;
    ++chars;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(acc >> (bits - 8)));
      bits -= 8;
    }
  }
  secure_wipe(&acc, sizeof acc);
  require(chars == kRecoveryCodeBytes * 8 / 5 && out.size() == kRecoveryCodeBytes, CKR_ARGUMENTS_BAD,
          "not a recovery code (it has 32 characters A-Z, 2-7)");
  return out;
}

bool has_recovery(store::TokenDb& db) {
  return db.get_meta(kRecoveryKey).has_value();
}

void seal_recovery(store::TokenDb& db, ByteView secret, ByteView code) {
  const SecureBytes code_bytes = parse_recovery_code(code);
  const SecureBytes salt = crypto::random_bytes(kSaltLen);
  const std::string info = info_for(db);
  SecureBytes rec{kRecordVersion};
  rec.insert(rec.end(), salt.begin(), salt.end());
  const SecureBytes sealed =
      crypto::seal_aes256gcm(view(code_key(view(code_bytes), view(salt), info)), view(info), secret);
  rec.insert(rec.end(), sealed.begin(), sealed.end());
  db.set_meta(kRecoveryKey, view(rec));
}

SecureBytes open_recovery(store::TokenDb& db, ByteView code) {
  const SecureBytes code_bytes = parse_recovery_code(code);
  auto rec = db.get_meta(kRecoveryKey);
  require(rec.has_value(), CKR_FUNCTION_FAILED, "the token has no recovery code (it was made without --recovery-code)");
  require(rec->size() > 1 + kSaltLen && (*rec)[0] == kRecordVersion, CKR_DEVICE_ERROR,
          "the token's recovery record is malformed");
  const ByteView r = view(*rec);
  const std::string info = info_for(db);
  try {
    SecureBytes s = crypto::open_aes256gcm(view(code_key(view(code_bytes), r.subspan(1, kSaltLen), info)), view(info),
                                           r.subspan(1 + kSaltLen));
    require(s.size() == fingerprint::kSecretLen, CKR_DEVICE_ERROR, "the token's recovery record is malformed");
    return s;
  } catch (const Error& e) {
    if (e.rv == CKR_ENCRYPTED_DATA_INVALID) fail(CKR_PIN_INCORRECT, "the recovery code does not open this token");
    throw;
  }
}

SecureBytes add_recovery_code(store::TokenDb& db, CK_USER_TYPE who, ByteView pin, const Machine& machine) {
  const Unlocked u = unlock_master_key(db, who, pin, machine);
  const auto secret = ensure_fingerprint_secret(db, view(u.master_key), machine);
  require(secret.has_value(), CKR_FUNCTION_FAILED,
          "the token is not bound to this machine (no hardware factor found), so there is nothing to recover");
  SecureBytes code = make_recovery_code();
  seal_recovery(db, view(*secret), view(code));
  return code;
}

std::string recover_binding(store::TokenDb& db, ByteView code, const Machine& machine) {
  const SecureBytes secret = open_recovery(db, code);
  const auto current = machine.factors(db.path().parent_path());
  rebind(db, view(secret), current, machine);
  // Right PINs refused on the changed hardware counted as failures; the code's holder starts afresh, so a
  // token locked that way is not lost after all.
  db.transaction([&] {
    db.delete_meta(store::kPinFailuresSo);
    db.delete_meta(store::kPinFailuresUser);
  });
  return binding_summary(db, machine);
}

}  // namespace keyseal::softtoken
