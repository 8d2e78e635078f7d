// Test helper: a soft token as issue 5 wrote it (scheme-2 PIN records, one k-of-n split of F shared by both
// roles in "fp.binding", masks keyed by the factor values alone), to test the upgrade away from it. Written
// here byte for byte from issue 5's formats, not through today's code, which no longer makes such tokens.
#pragma once
#include <string>

#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "fake_machine.h"
#include "fingerprint/binding.h"
#include "softtoken/pin_wrap.h"

namespace keyseal::softtoken::testing {

// Writes the legacy records into `token` for master key `mk`; with `tpm`, also issue 5's TPM share.
inline void write_issue5_token(TempToken& token, ByteView mk, ByteView so_pin, ByteView user_pin,
                               const std::vector<fingerprint::Factor>& factors, const crypto::Argon2Params& params,
                               TpmSealer* tpm = nullptr) {
  store::TokenDb& db = *token.db;
  const auto uid = db.get_meta("uid");
  const std::string uid_text(uid->begin(), uid->end());
  const SecureBytes s = crypto::random_bytes(32);
  SecureBytes f = s;
  if (tpm) {
    const SecureBytes t = crypto::random_bytes(32);
    db.set_meta("fp.tpm", view(tpm->seal(view(t))));
    for (size_t i = 0; i < f.size(); ++i) f[i] ^= t[i];
  }
  const SecureBytes secret_key =
      crypto::hkdf_sha256(mk, ByteView(), view(std::string_view("keyseal/fp-secret/v1")), 32);
  db.set_meta("fp.secret",
              view(crypto::seal_aes256gcm(view(secret_key), view("keyseal/fp-secret/v1/" + uid_text), view(s))));
  const auto binding = fingerprint::enrol_secret(view(f), factors, ByteView(), 1);
  const auto bytes = fingerprint::serialize(binding);
  db.set_meta("fp.binding", ByteView(bytes.data(), bytes.size()));
  db.set_meta("pin.so", view(seal_master_key_v2(mk, so_pin, view(s), uid_text + "/so", params)));
  db.set_meta("pin.user", view(seal_master_key_v2(mk, user_pin, view(s), uid_text + "/user", params)));
}

}  // namespace keyseal::softtoken::testing
