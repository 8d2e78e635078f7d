// The master-key record of the soft token (see pin_wrap.h for the scheme).
#include "softtoken/pin_wrap.h"

#include "common/error.h"
#include "crypto/aead.h"
#include "crypto/random.h"

namespace keyseal::softtoken {
namespace {

constexpr size_t kSalt = 16, kHeader = 1 + 12 + kSalt;
// Upper bounds on stored parameters, so a tampered record cannot make us allocate unbounded memory.
constexpr uint32_t kMaxT = 16, kMaxMKib = 1u << 20, kMaxLanes = 16;  // at most 1 GiB per login

void put_u32(SecureBytes& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get_u32(ByteView b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}

SecureBytes aad(std::string_view context) {
  SecureBytes a = to_bytes(view(std::string_view("keyseal/master-key/v1/")));
  a.insert(a.end(), context.begin(), context.end());
  return a;
}

}  // namespace

SecureBytes seal_master_key(ByteView master_key, ByteView pin, std::string_view context,
                            const crypto::Argon2Params& p) {
  SecureBytes rec;
  rec.push_back(static_cast<uint8_t>(PinScheme::argon2id_v1));
  put_u32(rec, p.t_cost);
  put_u32(rec, p.m_cost_kib);
  put_u32(rec, p.lanes);
  SecureBytes salt = crypto::random_bytes(kSalt);
  rec.insert(rec.end(), salt.begin(), salt.end());
  SecureBytes kek = crypto::argon2id(pin, view(salt), p, 32);
  SecureBytes sealed = crypto::seal_aes256gcm(view(kek), view(aad(context)), master_key);
  rec.insert(rec.end(), sealed.begin(), sealed.end());
  return rec;
}

SecureBytes open_master_key(ByteView rec, ByteView pin, std::string_view context) {
  require(rec.size() > kHeader, CKR_DEVICE_ERROR, "master-key record is truncated");
  require(rec[0] == static_cast<uint8_t>(PinScheme::argon2id_v1), CKR_DEVICE_ERROR,
          "master-key record has an unknown scheme");
  crypto::Argon2Params p;
  p.t_cost = get_u32(rec, 1);
  p.m_cost_kib = get_u32(rec, 5);
  p.lanes = get_u32(rec, 9);
  require(p.t_cost >= 1 && p.t_cost <= kMaxT && p.m_cost_kib >= 8 && p.m_cost_kib <= kMaxMKib && p.lanes >= 1 &&
              p.lanes <= kMaxLanes,
          CKR_DEVICE_ERROR, "master-key record has implausible Argon2 parameters");
  const ByteView salt = rec.subspan(13, kSalt);
  SecureBytes kek = crypto::argon2id(pin, salt, p, 32);
  try {
    return crypto::open_aes256gcm(view(kek), view(aad(context)), rec.subspan(kHeader));
  } catch (const Error& e) {
    if (e.rv == CKR_ENCRYPTED_DATA_INVALID) fail(CKR_PIN_INCORRECT, "PIN does not open the master key");
    throw;
  }
}

}  // namespace keyseal::softtoken
