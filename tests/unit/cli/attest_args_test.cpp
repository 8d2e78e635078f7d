// Parsing of the issue-14 verifier commands: `verify-attestation` and `make-credential`.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/errors.h"

using namespace keyseal::cli;

namespace {

Options parse_at(std::initializer_list<const char*> args) {
  std::vector<std::vector<char>> storage;
  std::vector<char*> ptrs;
  for (const char* a : args) storage.emplace_back(a, a + std::strlen(a) + 1);
  for (auto& s : storage) ptrs.push_back(s.data());
  return parse_args(std::span<char*>(ptrs));
}

}  // namespace

TEST(CliAttestArgs, VerifyAttestation) {
  Options o = parse_at({"verify-attestation", "--roots", "a.pem", "--roots=b.pem", "--nonce", "0a0B", "ev.json"});
  EXPECT_EQ(o.command, Command::verify_attestation);
  EXPECT_EQ(o.roots, (std::vector<std::string>{"a.pem", "b.pem"}));
  EXPECT_EQ(o.nonce, (std::vector<uint8_t>{0x0a, 0x0b}));
  EXPECT_EQ(o.file, "ev.json");
  EXPECT_FALSE(o.format);
  o = parse_at({"verify-attestation", "--format", "tpm", "--roots", "a.pem", "st.cbor"});
  EXPECT_EQ(o.format, "tpm");
  EXPECT_EQ(command_name(Command::verify_attestation), "verify-attestation");

  EXPECT_THROW(parse_at({"verify-attestation", "ev.json"}), UsageError);                        // no --roots
  EXPECT_THROW(parse_at({"verify-attestation", "--roots", "a.pem"}), UsageError);               // no FILE
  EXPECT_THROW(parse_at({"verify-attestation", "--roots", "a", "--format", "pem", "f"}), UsageError);
  EXPECT_THROW(parse_at({"verify-attestation", "--roots", "a", "--nonce", "xyz", "f"}), UsageError);
  EXPECT_THROW(parse_at({"verify-attestation", "--roots", "a", "--nonce", "", "f"}), UsageError);
  EXPECT_THROW(parse_at({"verify-attestation", "--roots", "a", "--nonce", "01", "--nonce", "02", "f"}), UsageError);
  EXPECT_THROW(parse_at({"verify-attestation", "--roots", "a", "--slot", "1", "f"}), UsageError);
  EXPECT_THROW(parse_at({"verify-attestation", "--roots", "a", "f", "g"}), UsageError);
  const std::string long_nonce(130, 'a');
  EXPECT_THROW(parse_at({"verify-attestation", "--roots", "a", "--nonce", long_nonce.c_str(), "f"}), UsageError);
  EXPECT_THROW(parse_at({"list", "--roots", "a"}), UsageError);
  EXPECT_NE(usage_text(Command::verify_attestation).find("--roots"), std::string::npos);
}

TEST(CliAttestArgs, MakeCredential) {
  Options o = parse_at({"make-credential", "--ak", "ak.json", "--secret", "00ff", "--ek-cert", "ek.pem", "--out", "c"});
  EXPECT_EQ(o.command, Command::make_credential);
  EXPECT_EQ(o.ak, "ak.json");
  EXPECT_EQ(o.ek_cert, "ek.pem");
  EXPECT_EQ(o.secret, (std::vector<uint8_t>{0x00, 0xff}));
  EXPECT_EQ(o.out, "c");
  EXPECT_THROW(parse_at({"make-credential", "--ak", "ak.json"}), UsageError);
  EXPECT_THROW(parse_at({"make-credential", "--secret", "01"}), UsageError);
  EXPECT_THROW(parse_at({"make-credential", "--ak", "a", "--secret", "0"}), UsageError);
  EXPECT_THROW(parse_at({"make-credential", "--ak", "a", "--secret", "01", "file"}), UsageError);
  EXPECT_THROW(parse_at({"make-credential", "--ak", "a", "--secret", "01", "--roots", "r"}), UsageError);
  EXPECT_THROW(parse_at({"export", "--slot", "1", "--id", "01", "--public", "--secret", "01"}), UsageError);
}
