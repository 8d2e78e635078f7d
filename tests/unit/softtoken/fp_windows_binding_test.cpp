// Issue 12, item 3: the soft token's binding on Windows, on Linux through the boundaries: Windows factors come
// from the real Windows parsers over canned collector bytes (SMBIOS table, MachineGuid text, disk descriptor,
// adapters, CPUID), varied between logins; DPAPI is a fake OsSecretWrapper (another user or machine cannot be
// made here; tests/unit/softtoken/dpapi_win_test.cpp runs the real one in the Windows build). A copied file
// whose DPAPI layer does not open, or whose factors changed beyond the tolerance, is refused exactly as a
// wrong PIN. Needs KEYSEAL_LOG=warn (set by CMake) for the log-line checks.
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/log.h"
#include "fake_machine.h"
#include "fake_os_wrapper.h"
#include "fingerprint/windows_parsers.h"
#include "softtoken/pin_wrap.h"
#include "softtoken/recovery.h"
#include "softtoken/soft_backend.h"

namespace keyseal::softtoken {
namespace {

using testing::FakeOsWrapper;
using testing::OsWorld;
using testing::init_pins;
using testing::kFast;
using testing::kSo;
using testing::kUser;
using testing::pin_of;
using testing::rv_of;
using testing::TempToken;
using Bytes = std::vector<uint8_t>;



// A Windows machine as its collectors see it. Every value passes through the real parsers.
struct WindowsBox {
  std::string system_serial = "PF1ABCDE", board_serial = "L1HF95X01AB", guid = "0f3c2a1e-9b7d-4c55-8e21-6a4f0d3b9c87";
  std::string disk_serial = "S3Z9NB0K123456A";
  uint8_t uuid_last = 0xff;
  std::vector<fingerprint::AdapterFacts> nics = {{6, true, {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}}};
  fingerprint::CpuidFacts cpu{"GenuineIntel", 0x806ec, "Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz", false};

  static Bytes structure(uint8_t type, Bytes formatted, const std::vector<std::string>& strings) {
    Bytes s(4 + formatted.size());
    s[0] = type;
    s[1] = static_cast<uint8_t>(s.size());
    s[2] = type;
    std::copy(formatted.begin(), formatted.end(), s.begin() + 4);
    for (const auto& str : strings) {
      s.insert(s.end(), str.begin(), str.end());
      s.push_back(0);
    }
    if (strings.empty()) s.push_back(0);
    s.push_back(0);
    return s;
  }
  Bytes smbios() const {
    Bytes sys{1, 2, 3, 4, 0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, uuid_last,
              6, 0, 0};
    Bytes table = structure(1, sys, {"LENOVO", "20QD", "X1", system_serial});
    const Bytes board = structure(2, {1, 2, 3, 4, 0, 0, 0, 0, 0, 0x0a, 0}, {"LENOVO", "20QD", "SDK", board_serial});
    const Bytes end = structure(127, {}, {});
    table.insert(table.end(), board.begin(), board.end());
    table.insert(table.end(), end.begin(), end.end());
    Bytes raw(8 + table.size());
    raw[1] = 3;
    raw[2] = 2;
    raw[4] = static_cast<uint8_t>(table.size());
    raw[5] = static_cast<uint8_t>(table.size() >> 8);
    std::copy(table.begin(), table.end(), raw.begin() + 8);
    return raw;
  }
  Bytes descriptor() const {
    Bytes d(40, 0);
    d.insert(d.end(), disk_serial.begin(), disk_serial.end());
    d.push_back(0);
    d[0] = 40;
    d[4] = static_cast<uint8_t>(d.size());
    d[24] = 40;
    return d;
  }
  FactorProvider provider() {
    return [this](const std::filesystem::path& dir) {
      fingerprint::WindowsCollectors c;
      c.smbios = [this] { return std::optional<Bytes>(smbios()); };
      c.machine_guid = [this] { return std::optional<std::string>(guid); };
      c.disk_descriptor = [this](const std::filesystem::path&) { return std::optional<Bytes>(descriptor()); };
      c.adapters = [this] { return nics; };
      c.cpuid = [this] { return std::optional(cpu); };
      return fingerprint::read_factors(fingerprint::windows_sources_from(c, dir));
    };
  }
};

struct WindowsBinding : ::testing::Test {
  WindowsBox box;
  std::shared_ptr<OsWorld> world = std::make_shared<OsWorld>();
  std::shared_ptr<FakeOsWrapper> alice = std::make_shared<FakeOsWrapper>(world, "alice@box-1");
  TempToken token;
  SecureBytes mk;
  Machine windows() { return Machine(box.provider(), nullptr, alice); }
  void SetUp() override {
    SoftBackend backend{kFast, windows()};
    mk = init_pins(backend, token);
  }
  CK_RV login(const Machine& m, CK_USER_TYPE who, std::string_view pin) {
    SoftBackend backend{kFast, m};
    return rv_of([&] {
      SecureBytes got = backend.unlock(*token.db, who, pin_of(pin));
      require(equal_bytes(view(got), view(mk)), CKR_GENERAL_ERROR, "another master key");
      backend.after_unlock(*token.db, who, view(got), pin_of(pin));
    });
  }
};

TEST_F(WindowsBinding, ATokenMadeOnWindowsHasTheDpapiLayerAndOpensForItsUser) {
  ASSERT_TRUE(token.meta(kOsShareKey).has_value());
  EXPECT_EQ((*token.meta(kOsShareKey))[0], 1);
  EXPECT_EQ(alice->wraps, 1);
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(login(windows(), CKU_SO, kSo), CKR_OK);
  EXPECT_EQ(login(windows(), CKU_USER, "wrong-pin"), CKR_PIN_INCORRECT);
  EXPECT_EQ(record_scheme(view(*token.meta("pin.user"))), PinScheme::argon2id_fingerprint_v3);
  const auto b = load_binding(*token.db);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->n, 7);  // every Windows factor present
  EXPECT_EQ(binding_summary(*token.db, windows()), "binding: strong, 7 factors; DPAPI: its user on this machine only");
}

TEST_F(WindowsBinding, AnotherUserOrMachineIsRefusedAsAWrongPin) {
  const auto bob = std::make_shared<FakeOsWrapper>(world, "bob@box-1");
  EXPECT_EQ(login(Machine(box.provider(), nullptr, bob), CKU_USER, kUser), CKR_PIN_INCORRECT);
  EXPECT_EQ(login(Machine(box.provider(), nullptr, bob), CKU_SO, kSo), CKR_PIN_INCORRECT);
  EXPECT_EQ(bob->unwraps, 2);
  alice->refuse = true;  // DPAPI that cannot open (the same user's profile on another machine)
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_PIN_INCORRECT);
  alice->refuse = false;
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_OK) << "nothing was changed by the refusals";
}

TEST_F(WindowsBinding, TheBlobIsBoundToItsToken) {
  // fp.os moved into another token (same user, same machine): the context (the token's uid) differs.
  TempToken other;
  other.db->set_meta("uid", view(std::string_view("fedcba9876543210fedcba9876543210")));
  for (const auto* key : {"pin.so", "pin.user", "fp.secret", "fp.os"}) other.db->set_meta(key, view(*token.meta(key)));
  SoftBackend backend{kFast, windows()};
  EXPECT_EQ(rv_of([&] { backend.unlock(*other.db, CKU_USER, pin_of(kUser)); }), CKR_PIN_INCORRECT);
}

TEST_F(WindowsBinding, ALinuxModuleRefusesTheDpapiLayerAsAWrongPinAndSaysWhy) {
  ASSERT_TRUE(log::enabled(log::Level::warn)) << "run with KEYSEAL_LOG=warn";
  ::testing::internal::CaptureStderr();
  const CK_RV rv = login(Machine(box.provider()), CKU_USER, kUser);  // no OS layer: the Linux machine
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rv, CKR_PIN_INCORRECT);
  EXPECT_NE(err.find("protected by dpapi"), std::string::npos) << err;
  EXPECT_EQ(err.find(kUser), std::string::npos);
  // A wrapper of another kind does not open it either.
  const auto keychain = std::make_shared<FakeOsWrapper>(world, "alice@box-1", "keychain");
  EXPECT_EQ(login(Machine(box.provider(), nullptr, keychain), CKU_USER, kUser), CKR_PIN_INCORRECT);
  EXPECT_EQ(keychain->unwraps, 0);
}

TEST_F(WindowsBinding, FactorsBeyondTheToleranceAreAWrongPinWithinItTheTokenOpens) {
  box.nics.push_back({71, true, {0xa4, 0xc3, 0xf0, 1, 2, 3}});  // a new Wi-Fi card: nic-mac changed
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_OK);        // within the tolerance; re-enrolled
  box.disk_serial = "WD-NEWDISK01";                             // the store moved to a new disk
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_OK);        // one change since the re-enrolment
  // A copy on another machine: another board, UUID, MachineGuid.
  box.uuid_last = 0x01;
  box.board_serial = "OTHERBOARD";
  box.guid = "11111111-2222-4333-8444-555555555555";
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_PIN_INCORRECT);
  EXPECT_EQ(login(windows(), CKU_SO, kSo), CKR_PIN_INCORRECT);
  // Junk where the values were (a board replaced by one with placeholder strings) counts as missing.
  box = WindowsBox{};
  box.disk_serial = "WD-NEWDISK01";
  box.nics.push_back({71, true, {0xa4, 0xc3, 0xf0, 1, 2, 3}});
  box.board_serial = "To be filled by O.E.M.";
  box.system_serial = "Default string";
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_PIN_INCORRECT);
  box.system_serial = "PF1ABCDE";
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_OK);  // one missing: tolerated
}

TEST_F(WindowsBinding, ALinuxMadeTokenOpensOnTheWindowsPath) {
  // Made by the Linux code path (no OS layer) with these factors; opened by the Windows machine: the same
  // functions, the same file format. It keeps opening without a DPAPI layer (adding one needs both PINs).
  TempToken linux_token;
  SoftBackend made{kFast, Machine(box.provider())};
  SecureBytes lmk;
  linux_token.db->transaction([&] { lmk = made.create_master_key(*linux_token.db, pin_of(kSo), 10); });
  made.set_pin(*linux_token.db, CKU_USER, view(lmk), pin_of(kUser));
  EXPECT_FALSE(linux_token.meta(kOsShareKey).has_value());
  SoftBackend win{kFast, windows()};
  SecureBytes got = win.unlock(*linux_token.db, CKU_USER, pin_of(kUser));
  EXPECT_TRUE(equal_bytes(view(got), view(lmk)));
  win.after_unlock(*linux_token.db, CKU_USER, view(got), pin_of(kUser));
  EXPECT_FALSE(linux_token.meta(kOsShareKey).has_value());
  EXPECT_EQ(rv_of([&] { win.unlock(*linux_token.db, CKU_USER, pin_of("wrong")); }), CKR_PIN_INCORRECT);
  box.guid = "11111111-2222-4333-8444-555555555555";
  box.board_serial = "OTHERBOARD";
  box.uuid_last = 0x01;
  EXPECT_EQ(rv_of([&] { win.unlock(*linux_token.db, CKU_USER, pin_of(kUser)); }), CKR_PIN_INCORRECT);
}

TEST_F(WindowsBinding, RecoveryForAnotherUserMakesANewLayer) {
  const SecureBytes code = add_recovery_code(*token.db, CKU_SO, pin_of(kSo), windows());
  const auto bob = std::make_shared<FakeOsWrapper>(world, "bob@box-2");
  const Machine bobs(box.provider(), nullptr, bob);
  EXPECT_EQ(login(bobs, CKU_USER, kUser), CKR_PIN_INCORRECT);
  recover_binding(*token.db, view(code), bobs);
  EXPECT_EQ(bob->wraps, 1);
  EXPECT_EQ(login(bobs, CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(login(bobs, CKU_SO, kSo), CKR_OK);
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_PIN_INCORRECT) << "the old user's DPAPI no longer opens it";
  // Recovered on Linux, the layer goes (there is none to make).
  recover_binding(*token.db, view(code), Machine(box.provider()));
  EXPECT_FALSE(token.meta(kOsShareKey).has_value());
  EXPECT_EQ(login(Machine(box.provider()), CKU_USER, kUser), CKR_OK);
}

TEST_F(WindowsBinding, AMalformedLayerIsADeviceErrorAndAFailingWrapBindsWithoutIt) {
  token.db->set_meta(kOsShareKey, view(std::string_view("\x01\x05" "dp")));
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_DEVICE_ERROR);
  token.db->set_meta(kOsShareKey, view(std::string_view("\x02\x05" "dpapiXXXX")));
  EXPECT_EQ(login(windows(), CKU_USER, kUser), CKR_DEVICE_ERROR);

  TempToken t2;
  alice->fail_wrap = true;
  SoftBackend backend{kFast, windows()};
  SecureBytes mk2;
  t2.db->transaction([&] { mk2 = backend.create_master_key(*t2.db, pin_of(kSo), 10); });
  EXPECT_TRUE(t2.meta(kSealedSecretKey).has_value());
  EXPECT_FALSE(t2.meta(kOsShareKey).has_value());
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*t2.db, CKU_SO, pin_of(kSo))), view(mk2)));
}

}  // namespace
}  // namespace keyseal::softtoken
