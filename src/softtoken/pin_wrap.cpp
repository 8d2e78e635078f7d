// The master-key record of the soft token (see pin_wrap.h for the schemes).
#include "softtoken/pin_wrap.h"

#include <string>

#include "common/error.h"
#include "crypto/aead.h"
#include "crypto/random.h"

namespace keyseal::softtoken {
namespace {

constexpr size_t kSalt = 16, kHeader = 1 + 12 + kSalt, kStretched = 32, kSecret = 32;
// Upper bounds on stored parameters, so a tampered record cannot make us allocate unbounded memory.
constexpr uint32_t kMaxT = 16, kMaxMKib = 1u << 20, kMaxLanes = 16;  // at most 1 GiB per login
constexpr std::string_view kWrongPin = "PIN does not open the master key";

void put_u32(SecureBytes& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get_u32(ByteView b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}

SecureBytes aad(PinScheme s, std::string_view context) {
  const std::string_view prefix = s == PinScheme::argon2id_v1 ? "keyseal/master-key/v1/" : "keyseal/master-key/v2/";
  SecureBytes a = to_bytes(view(prefix));
  a.insert(a.end(), context.begin(), context.end());
  return a;
}

// Scheme 2's KEK from the stretched PIN and one candidate fingerprint secret.
SecureBytes kek_v2(ByteView stretched, ByteView secret, std::string_view context) {
  SecureBytes ikm(stretched.begin(), stretched.end());
  ikm.insert(ikm.end(), secret.begin(), secret.end());
  const std::string info = "keyseal/kek/v2/" + std::string(context);
  return crypto::hkdf_sha256(view(ikm), ByteView(), view(info), 32);
}

SecureBytes header(PinScheme s, const crypto::Argon2Params& p, ByteView salt) {
  SecureBytes rec;
  rec.push_back(static_cast<uint8_t>(s));
  put_u32(rec, p.t_cost);
  put_u32(rec, p.m_cost_kib);
  put_u32(rec, p.lanes);
  rec.insert(rec.end(), salt.begin(), salt.end());
  return rec;
}

}  // namespace

PinScheme record_scheme(ByteView rec) {
  require(rec.size() > kHeader, CKR_DEVICE_ERROR, "master-key record is truncated");
  require(rec[0] >= static_cast<uint8_t>(PinScheme::argon2id_v1) &&
              rec[0] <= static_cast<uint8_t>(PinScheme::argon2id_fingerprint_v3),
          CKR_DEVICE_ERROR, "master-key record has an unknown scheme");
  return static_cast<PinScheme>(rec[0]);
}

namespace {

// Where a record's binding (scheme 3) and its sealed master key lie.
struct Parts {
  ByteView binding, sealed;
};
Parts record_parts(ByteView rec) {
  if (record_scheme(rec) != PinScheme::argon2id_fingerprint_v3) return {ByteView(), rec.subspan(kHeader)};
  require(rec.size() > kHeader + 2, CKR_DEVICE_ERROR, "master-key record is truncated");
  const size_t len = (size_t{rec[kHeader]} << 8) | rec[kHeader + 1];
  require(len >= 1 && rec.size() > kHeader + 2 + len, CKR_DEVICE_ERROR, "master-key record is truncated");
  return {rec.subspan(kHeader + 2, len), rec.subspan(kHeader + 2 + len)};
}

// Scheme 3's associated data also covers the binding, so shares cannot be swapped between records unnoticed.
SecureBytes aad_v3(std::string_view context, ByteView binding) {
  SecureBytes a = to_bytes(view(std::string_view("keyseal/master-key/v3/")));
  a.insert(a.end(), context.begin(), context.end());
  a.push_back(0);
  a.insert(a.end(), binding.begin(), binding.end());
  return a;
}

SecureBytes kek_v3(ByteView stretched, ByteView secret, std::string_view context) {
  SecureBytes ikm(stretched.begin(), stretched.end());
  ikm.insert(ikm.end(), secret.begin(), secret.end());
  const std::string info = "keyseal/kek/v3/" + std::string(context);
  return crypto::hkdf_sha256(view(ikm), ByteView(), view(info), 32);
}

}  // namespace

ByteView record_binding(ByteView rec) {
  return record_parts(rec).binding;
}

SecureBytes stretch_pin(ByteView pin, ByteView salt, const crypto::Argon2Params& p) {
  require(salt.size() == kSalt, CKR_ARGUMENTS_BAD, "PIN salt must be 16 bytes");
  return crypto::argon2id(pin, salt, p, kStretched);
}

SecureBytes mask_key_v3(ByteView stretched, std::string_view context) {
  const std::string info = "keyseal/fp-mask/v3/" + std::string(context);
  return crypto::hkdf_sha256(stretched, ByteView(), view(info), 32);
}

SecureBytes seal_master_key_v3(ByteView master_key, ByteView stretched, ByteView salt, const crypto::Argon2Params& p,
                               ByteView binding, ByteView fingerprint_secret, std::string_view context) {
  require(fingerprint_secret.size() == kSecret, CKR_ARGUMENTS_BAD, "fingerprint secret must be 32 bytes");
  require(!binding.empty() && binding.size() <= 0xffff, CKR_ARGUMENTS_BAD, "fingerprint binding has a bad length");
  SecureBytes rec = header(PinScheme::argon2id_fingerprint_v3, p, salt);
  rec.push_back(static_cast<uint8_t>(binding.size() >> 8));
  rec.push_back(static_cast<uint8_t>(binding.size()));
  rec.insert(rec.end(), binding.begin(), binding.end());
  const SecureBytes kek = kek_v3(stretched, fingerprint_secret, context);
  const SecureBytes sealed = crypto::seal_aes256gcm(view(kek), view(aad_v3(context, binding)), master_key);
  rec.insert(rec.end(), sealed.begin(), sealed.end());
  return rec;
}

crypto::Argon2Params record_params(ByteView rec) {
  (void)record_scheme(rec);
  crypto::Argon2Params p;
  p.t_cost = get_u32(rec, 1);
  p.m_cost_kib = get_u32(rec, 5);
  p.lanes = get_u32(rec, 9);
  require(p.t_cost >= 1 && p.t_cost <= kMaxT && p.m_cost_kib >= 8 && p.m_cost_kib <= kMaxMKib && p.lanes >= 1 &&
              p.lanes <= kMaxLanes,
          CKR_DEVICE_ERROR, "master-key record has implausible Argon2 parameters");
  return p;
}

SecureBytes seal_master_key(ByteView master_key, ByteView pin, std::string_view context,
                            const crypto::Argon2Params& p) {
  SecureBytes salt = crypto::random_bytes(kSalt);
  SecureBytes rec = header(PinScheme::argon2id_v1, p, view(salt));
  SecureBytes kek = crypto::argon2id(pin, view(salt), p, kStretched);
  SecureBytes sealed = crypto::seal_aes256gcm(view(kek), view(aad(PinScheme::argon2id_v1, context)), master_key);
  rec.insert(rec.end(), sealed.begin(), sealed.end());
  return rec;
}

SecureBytes seal_master_key_v2(ByteView master_key, ByteView pin, ByteView fingerprint_secret, std::string_view context,
                               const crypto::Argon2Params& p) {
  require(fingerprint_secret.size() == kSecret, CKR_ARGUMENTS_BAD, "fingerprint secret must be 32 bytes");
  SecureBytes salt = crypto::random_bytes(kSalt);
  SecureBytes rec = header(PinScheme::argon2id_fingerprint_v2, p, view(salt));
  SecureBytes stretched = crypto::argon2id(pin, view(salt), p, kStretched);
  SecureBytes kek = kek_v2(view(stretched), fingerprint_secret, context);
  SecureBytes sealed =
      crypto::seal_aes256gcm(view(kek), view(aad(PinScheme::argon2id_fingerprint_v2, context)), master_key);
  rec.insert(rec.end(), sealed.begin(), sealed.end());
  return rec;
}

SecureBytes open_master_key_bound(ByteView rec, ByteView pin, std::string_view context,
                                  const BoundSecretSearch& search) {
  const PinScheme scheme = record_scheme(rec);
  const crypto::Argon2Params p = record_params(rec);
  const ByteView salt = rec.subspan(13, kSalt);
  const Parts parts = record_parts(rec);
  const ByteView sealed = parts.sealed;
  SecureBytes stretched = crypto::argon2id(pin, salt, p, kStretched);
  const bool v3 = scheme == PinScheme::argon2id_fingerprint_v3;
  const SecureBytes ad = v3 ? aad_v3(context, parts.binding) : aad(scheme, context);
  if (scheme == PinScheme::argon2id_v1) {
    try {
      return crypto::open_aes256gcm(view(stretched), view(ad), sealed);
    } catch (const Error& e) {
      if (e.rv == CKR_ENCRYPTED_DATA_INVALID) fail(CKR_PIN_INCORRECT, std::string(kWrongPin));
      throw;
    }
  }
  require(static_cast<bool>(search), CKR_DEVICE_ERROR, "master-key record needs the fingerprint binding");
  SecureBytes master_key;
  const SecureBytes mask_key = v3 ? mask_key_v3(view(stretched), context) : SecureBytes();
  const bool opened = search(view(mask_key), parts.binding, [&](ByteView candidate) {
    if (candidate.size() != kSecret) return false;
    SecureBytes kek = v3 ? kek_v3(view(stretched), candidate, context) : kek_v2(view(stretched), candidate, context);
    try {
      master_key = crypto::open_aes256gcm(view(kek), view(ad), sealed);
      return true;
    } catch (const Error& e) {
      if (e.rv == CKR_ENCRYPTED_DATA_INVALID) return false;
      throw;
    }
  });
  // A changed machine and a wrong PIN are the same failure: same rv, same text.
  if (!opened) fail(CKR_PIN_INCORRECT, std::string(kWrongPin));
  return master_key;
}

SecureBytes open_master_key(ByteView rec, ByteView pin, std::string_view context, const SecretSearch& search) {
  require(record_scheme(rec) != PinScheme::argon2id_fingerprint_v3, CKR_DEVICE_ERROR,
          "a scheme-3 master-key record needs its binding opened with the PIN");
  if (!search) return open_master_key_bound(rec, pin, context, BoundSecretSearch());
  return open_master_key_bound(rec, pin, context,
                               [&](ByteView, ByteView, const SecretCheckFn& check) { return search(check); });
}

SecureBytes open_master_key(ByteView rec, ByteView pin, std::string_view context) {
  return open_master_key(rec, pin, context, SecretSearch());
}

}  // namespace keyseal::softtoken
