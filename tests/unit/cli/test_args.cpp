// Tests of the `keyseal` command-line parser: commands, options, usage errors and PIN wiping in argv.
#include "cli/args.h"
#include "cli/errors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

using namespace keyseal::cli;

namespace {

// Owns writable copies of the arguments, as argv would be.
struct Argv {
  std::vector<std::vector<char>> storage;
  std::vector<char*> ptrs;
  Argv(std::initializer_list<const char*> args) {
    for (const char* a : args) storage.emplace_back(a, a + std::strlen(a) + 1);
    for (auto& s : storage) ptrs.push_back(s.data());
  }
  std::span<char*> span() { return ptrs; }
  std::string at(size_t i) const { return std::string(storage[i].data()); }
};

Options parse(std::initializer_list<const char*> args) {
  Argv a(args);
  return parse_args(a.span());
}

std::string pin_text(const std::optional<keyseal::SecureBytes>& p) {
  return p ? std::string(p->begin(), p->end()) : std::string("<none>");
}

}  // namespace

TEST(CliArgs, InitWithAllOptions) {
  const Options o = parse({"init", "--label", "my token", "--so-pin", "5678", "--pin=1234", "--backend", "soft",
                           "--slot", "0x10", "--module", "/x/lib.so"});
  EXPECT_EQ(o.command, Command::init);
  EXPECT_EQ(o.label.value(), "my token");
  EXPECT_EQ(pin_text(o.so_pin), "5678");
  EXPECT_EQ(pin_text(o.pin), "1234");
  EXPECT_EQ(o.backend.value(), "soft");
  EXPECT_EQ(o.slot.value(), 16u);
  EXPECT_EQ(o.module.value(), "/x/lib.so");
}

TEST(CliArgs, ModuleBeforeCommand) {
  const Options o = parse({"--module=/m.so", "list", "--slot", "7"});
  EXPECT_EQ(o.command, Command::list);
  EXPECT_EQ(o.module.value(), "/m.so");
  EXPECT_EQ(o.slot.value(), 7u);
  EXPECT_FALSE(o.pin);
}

TEST(CliArgs, HelpAndVersionNeedNoCommand) {
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_TRUE(parse({"-V"}).version);
  const Options o = parse({"init", "--help"});  // no --label needed for help
  EXPECT_TRUE(o.help);
  EXPECT_EQ(o.command, Command::init);
}

TEST(CliArgs, UsageErrors) {
  EXPECT_THROW(parse({}), UsageError);
  EXPECT_THROW(parse({"frobnicate"}), UsageError);
  EXPECT_THROW(parse({"list", "--bogus"}), UsageError);
  EXPECT_THROW(parse({"list", "--pin"}), UsageError);              // missing value
  EXPECT_THROW(parse({"list", "--pin", "1", "--pin", "2"}), UsageError);  // repeated
  EXPECT_THROW(parse({"status", "--pin", "1234"}), UsageError);   // status takes no PIN
  EXPECT_THROW(parse({"list", "--label", "x"}), UsageError);      // list takes no label
  EXPECT_THROW(parse({"list", "extra"}), UsageError);
  EXPECT_THROW(parse({"init"}), UsageError);                      // --label required
  EXPECT_THROW(parse({"init", "--label", ""}), UsageError);
  EXPECT_THROW(parse({"init", "--label", "123456789012345678901234567890123"}), UsageError);  // 33 bytes
  EXPECT_NO_THROW(parse({"init", "--label", "12345678901234567890123456789012"}));            // 32 bytes
  EXPECT_THROW(parse({"init", "--label", "x", "--backend", "hsm"}), UsageError);
  EXPECT_THROW(parse({"init", "--label", "x", "--pin="}), UsageError);  // empty PIN
  EXPECT_THROW(parse({"list", "--module="}), UsageError);
}

TEST(CliArgs, BadSlotNumbers) {
  for (const char* bad : {"", "-1", "+1", "abc", "12x", " 1", "0x"}) {
    EXPECT_THROW(parse({"list", "--slot", bad}), UsageError) << "slot '" << bad << "'";
  }
  EXPECT_EQ(parse({"list", "--slot", "0"}).slot.value(), 0u);
  EXPECT_EQ(parse({"list", "--slot=4294967295"}).slot.value(), 4294967295u);
}

TEST(CliArgs, PinsAreWipedFromArgv) {
  Argv a({"init", "--label", "t", "--so-pin", "secret-so", "--pin=secret-user"});
  const Options o = parse_args(a.span());
  EXPECT_EQ(pin_text(o.so_pin), "secret-so");
  EXPECT_EQ(pin_text(o.pin), "secret-user");
  EXPECT_EQ(a.at(4), "");          // wiped to NULs
  EXPECT_EQ(a.at(5), "--pin=");    // the option name stays, the value is wiped
  EXPECT_EQ(a.at(2), "t");         // other values are untouched
}

TEST(CliArgs, RejectedPinIsStillWiped) {
  Argv a({"status", "--pin", "hunter2"});
  EXPECT_THROW(parse_args(a.span()), UsageError);
  EXPECT_EQ(a.at(2), "");
}

TEST(CliArgs, UsageTextNamesEveryCommand) {
  const std::string top = usage_text(Command::none);
  for (const char* word : {"init", "list", "status", "--module", "--version"}) EXPECT_NE(top.find(word), std::string::npos);
  EXPECT_NE(usage_text(Command::init).find("--so-pin"), std::string::npos);
  EXPECT_NE(usage_text(Command::list).find("--pin"), std::string::npos);
}
