// The TPM connection: probe and status, token info, a TPM that vanishes and comes back, more keys than the
// TPM has object slots (no resource manager), exactly one TPM command per signature, two threads signing.
#include "tpm_test_util.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace keyseal::tpm::testing {
namespace {

using TpmConnectionTest = SwtpmTest;

std::string trimmed(const CK_UTF8CHAR* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

TEST_F(TpmConnectionTest, StatusAndTokenInfoNameTheTpm) {
  const Status s = probe_status(swtpm_.tcti());
  EXPECT_TRUE(s.present) << s.why;
  EXPECT_TRUE(s.ready) << s.why;
  EXPECT_EQ(s.manufacturer, "IBM (software TPM)");
  EXPECT_EQ(s.spec_level.rfind("2.0 rev 1.", 0), 0u) << s.spec_level;
  EXPECT_FALSE(s.firmware.empty());
  EXPECT_NE(std::find(s.pcr_banks.begin(), s.pcr_banks.end(), "sha256"), s.pcr_banks.end());
  EXPECT_EQ(s.lockout, "not in lockout, 0 of 32 failures, recovery 1 s");
  EXPECT_EQ(backend_->kind(), "tpm");

  auto db = new_db();
  CK_TOKEN_INFO info{};
  info.flags = CKF_TOKEN_INITIALIZED;
  backend_->fill_token_info(*db, info);
  EXPECT_EQ(trimmed(info.manufacturerID, sizeof info.manufacturerID), "IBM (software TPM)");
  EXPECT_EQ(trimmed(info.model, sizeof info.model), "tpm token");
  EXPECT_TRUE(info.flags & CKF_TOKEN_INITIALIZED);  // core's flags stay
  EXPECT_FALSE(info.flags & CKF_USER_PIN_LOCKED);
  EXPECT_EQ(info.hardwareVersion.major, 1);
}

TEST_F(TpmConnectionTest, NoTpmGivesNullAndAReason) {
  std::string why;
  EXPECT_FALSE(connect_backend(Options{"swtpm:host=127.0.0.1,port=1", ""}, why));
  EXPECT_NE(why.find("TPM"), std::string::npos) << why;
  const Status s = probe_status("swtpm:host=127.0.0.1,port=1");
  EXPECT_FALSE(s.present);
  EXPECT_FALSE(s.why.empty());
}

TEST_F(TpmConnectionTest, TpmKilledGivesDeviceErrorAndRestartWorks) {
  KeyPair k = gen_ec(*backend_, crypto::Curve::p256);
  const SecureBytes data = bytes("before the crash");
  EXPECT_NO_THROW(verify(k, mech(CKM_ECDSA_SHA256), view(data), view(sign(*backend_, k, mech(CKM_ECDSA_SHA256), view(data)))));
  swtpm_.kill();
  EXPECT_EQ(rv_of([&] { sign(*backend_, k, mech(CKM_ECDSA_SHA256), view(data)); }), CKR_DEVICE_ERROR);
  EXPECT_EQ(rv_of([&] { sign(*backend_, k, mech(CKM_ECDSA_SHA256), view(data)); }), CKR_DEVICE_ERROR);  // still gone
  auto db = new_db();
  EXPECT_EQ(rv_of([&] { backend_->create_master_key(*db, view(bytes("pin")), 10); }), CKR_DEVICE_ERROR);
  EXPECT_FALSE(backend_->status().present);
  swtpm_.start();  // same state directory, same port
  SecureBytes sig = sign(*backend_, k, mech(CKM_ECDSA_SHA256), view(data));
  EXPECT_NO_THROW(verify(k, mech(CKM_ECDSA_SHA256), view(data), view(sig)));
  EXPECT_TRUE(backend_->status().present);
}

TEST_F(TpmConnectionTest, MoreKeysThanObjectSlotsRoundRobin) {
  std::vector<KeyPair> keys;
  for (int i = 0; i < 5; ++i) keys.push_back(i % 2 ? gen_rsa(*backend_, 2048) : gen_ec(*backend_, crypto::Curve::p256));
  const SecureBytes data = bytes("round robin");
  for (int round = 0; round < 3; ++round) {
    for (const KeyPair& k : keys) {
      const MechanismParams m = mech(core::get_ulong(k.priv, CKA_KEY_TYPE) == CKK_RSA ? CKM_SHA256_RSA_PKCS : CKM_ECDSA_SHA256);
      SecureBytes sig = sign(*backend_, k, m, view(data));
      EXPECT_NO_THROW(verify(k, m, view(data), view(sig)));
      EXPECT_LE(backend_->loaded_objects(), 3u);
    }
  }
}

TEST_F(TpmConnectionTest, OneTpmCommandPerSignature) {
  KeyPair ec = gen_ec(*backend_, crypto::Curve::p256);
  KeyPair rsa = gen_rsa(*backend_, 2048);
  const SecureBytes data = bytes("count me");
  for (const KeyPair* k : {&ec, &rsa}) {
    const MechanismParams m = mech(k == &ec ? CKM_ECDSA_SHA256 : CKM_SHA256_RSA_PKCS);
    sign(*backend_, *k, m, view(data));  // loads the key
    const uint64_t before = backend_->tpm_commands();
    for (int i = 0; i < 10; ++i) sign(*backend_, *k, m, view(data));
    EXPECT_EQ(backend_->tpm_commands() - before, 10u);
  }
}

TEST_F(TpmConnectionTest, TwoThreadsSign) {
  KeyPair a = gen_ec(*backend_, crypto::Curve::p256);
  KeyPair b = gen_ec(*backend_, crypto::Curve::p384);
  std::atomic<int> errors{0};
  auto work = [&](const KeyPair& k) {
    for (int i = 0; i < 25; ++i) {
      try {
        const SecureBytes data = bytes("thread message " + std::to_string(i));
        verify(k, mech(CKM_ECDSA_SHA256), view(data), view(sign(*backend_, k, mech(CKM_ECDSA_SHA256), view(data))));
      } catch (const Error&) {
        ++errors;
      }
    }
  };
  std::thread t1(work, std::cref(a)), t2(work, std::cref(b));
  t1.join();
  t2.join();
  EXPECT_EQ(errors.load(), 0);
}

// Without swtpm the fixture fails loudly (CI must not skip the TPM tests silently).
TEST(TpmFixture, MissingSwtpmIsAnError) {
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", "/nonexistent", 1);
  Swtpm s;
  try {
    s.start();
    ADD_FAILURE() << "started swtpm without it on PATH";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not installed"), std::string::npos) << e.what();
  }
  ::setenv("PATH", saved.c_str(), 1);
}

}  // namespace
}  // namespace keyseal::tpm::testing
