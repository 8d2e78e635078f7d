// Test fixture for the TPM backend: a fresh swtpm (Debian swtpm) per test on a free loopback port pair, a
// TpmBackend connected to it, and a real SQLite token database in a temporary directory. A missing swtpm
// fails the test; it never skips.
#pragma once
#include "store/token_db.h"
#include "tpm/tpm_token.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>

namespace keyseal::tpm::testing {

// One swtpm process with its state directory; start() again after stop()/kill() resumes the same TPM state
// on the same ports.
class Swtpm {
 public:
  Swtpm();
  ~Swtpm();
  void start();  // throws std::runtime_error when swtpm is missing or does not come up
  void stop();   // SIGTERM and wait
  void kill();   // SIGKILL mid-run, like a TPM that vanished
  std::string tcti() const;
  // Manufactures the TPM with EK certificates (RSA and ECC) and a platform certificate in its NV:
  // `swtpm_setup --tpm2 --create-ek-cert --create-platform-cert` with a swtpm-localca of its own under
  // dir()/localca (never the system's /var/lib/swtpm-localca or /etc). Call before start(). Throws
  // std::runtime_error when swtpm_setup is missing (Debian package swtpm-tools) or fails.
  void provision_ek_certs();
  // The local CA's certificates, PEM: its issuing CA (which signs the EK certificates) and its root.
  std::filesystem::path ek_ca_pem() const { return dir_ / "localca" / "ek-ca.pem"; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  bool launch(std::string& why);  // one fork/exec on port_; false (with why) when swtpm exited or never answered
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

CK_RV rv_of(const std::function<void()>& fn);

class SwtpmTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::shared_ptr<TpmBackend> connect(const std::string& pcrs = "");
  // TPM2_DictionaryAttackParameters with the (empty) lockout authorization of a fresh swtpm.
  void set_dictionary_attack(uint32_t max_tries, uint32_t recovery_s, uint32_t lockout_recovery_s);
  // A new token database with a uid, as core makes it before create_master_key.
  std::unique_ptr<store::TokenDb> new_db(const std::string& name = "token");

  Swtpm swtpm_;
  std::shared_ptr<TpmBackend> backend_;
};

}  // namespace keyseal::tpm::testing
