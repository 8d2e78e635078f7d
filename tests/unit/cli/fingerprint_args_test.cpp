// Parsing of the issue-5 command-line additions: `fingerprint`, `recover`, and init's --backend auto, --pcrs
// and --recovery-code.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/errors.h"

using namespace keyseal::cli;

namespace {

Options parse_fp(std::initializer_list<const char*> args) {
  std::vector<std::vector<char>> storage;
  std::vector<char*> ptrs;
  for (const char* a : args) storage.emplace_back(a, a + std::strlen(a) + 1);
  for (auto& s : storage) ptrs.push_back(s.data());
  return parse_args(std::span<char*>(ptrs));
}

}  // namespace

TEST(CliFingerprintArgs, FingerprintCommand) {
  Options o = parse_fp({"fingerprint"});
  EXPECT_EQ(o.command, Command::fingerprint);
  EXPECT_FALSE(o.slot);
  o = parse_fp({"fingerprint", "--slot", "3", "--pin", "1234"});
  EXPECT_EQ(o.slot, CK_SLOT_ID{3});
  ASSERT_TRUE(o.pin);
  EXPECT_EQ(std::string(o.pin->begin(), o.pin->end()), "1234");
  EXPECT_EQ(command_name(Command::fingerprint), "fingerprint");
  EXPECT_THROW(parse_fp({"fingerprint", "--pin", "1234"}), UsageError);  // a PIN for which token?
  EXPECT_THROW(parse_fp({"fingerprint", "--label", "x"}), UsageError);
  EXPECT_THROW(parse_fp({"fingerprint", "--recovery-code"}), UsageError);
  EXPECT_NE(usage_text(Command::fingerprint).find("never a"), std::string::npos);
}

TEST(CliFingerprintArgs, RecoverCommand) {
  const Options o = parse_fp({"recover", "--slot", "0"});
  EXPECT_EQ(o.command, Command::recover);
  EXPECT_EQ(o.slot, CK_SLOT_ID{0});
  EXPECT_THROW(parse_fp({"recover"}), UsageError);
  EXPECT_THROW(parse_fp({"recover", "--slot", "0", "--pin", "1234"}), UsageError);
  EXPECT_NE(usage_text(Command::none).find("recover"), std::string::npos);
}

TEST(CliFingerprintArgs, InitRecoveryCodeBackendAndPcrs) {
  Options o = parse_fp({"init", "--label", "t", "--recovery-code"});
  EXPECT_TRUE(o.recovery_code);
  EXPECT_FALSE(parse_fp({"init", "--label", "t"}).recovery_code);
  o = parse_fp({"init", "--label", "t", "--backend", "auto", "--pcrs", "sha256:0,7"});
  EXPECT_EQ(o.backend, std::optional<std::string>("auto"));
  EXPECT_EQ(o.pcrs, std::optional<std::string>("sha256:0,7"));
  EXPECT_THROW(parse_fp({"init", "--label", "t", "--backend", "hsm"}), UsageError);
  EXPECT_THROW(parse_fp({"init", "--label", "t", "--pcrs", "0,7"}), UsageError);
  EXPECT_THROW(parse_fp({"init", "--label", "t", "--backend", "soft", "--pcrs", "sha256:0"}), UsageError);
  EXPECT_THROW(parse_fp({"init", "--label", "t", "--backend", "tpm", "--recovery-code"}), UsageError);
  EXPECT_THROW(parse_fp({"list", "--pcrs", "sha256:0"}), UsageError);
  EXPECT_THROW(parse_fp({"list", "--recovery-code"}), UsageError);
  EXPECT_NE(usage_text(Command::init).find("--recovery-code"), std::string::npos);
}
