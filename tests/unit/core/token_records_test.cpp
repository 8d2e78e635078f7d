// core::Token's records (issue 11): tokens from before record authentication are upgraded at their next
// login in one transaction; a removed format marker does not get altered records re-tagged; a PIN attempt
// that ends in an error other than a wrong PIN gives back only its own count.
#include "platform/paths.h"
#include "core/module.h"
#include "core/record_auth.h"
#include "core/token.h"
#include "store/attribute_codec.h"
#include "store/token_db.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace keyseal::core {
namespace {

const SecureBytes kMasterKey(32, 0x11);
constexpr std::string_view kPin = "right-pin";

ByteView text(std::string_view s) { return view(s); }

// The master key behind every PIN is kMasterKey; "right-pin" opens it, "oom" fails as Argon2 would without
// memory after `others` failures were counted meanwhile by other processes, anything else is wrong.
class KnownKeyBackend : public Backend {
 public:
  uint32_t others = 0;
  std::string_view kind() const override { return "soft"; }
  bool supports(CK_MECHANISM_TYPE) const override { return false; }
  SecureBytes create_master_key(store::TokenDb&, ByteView, uint32_t) override { return kMasterKey; }
  SecureBytes unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) override {
    const std::string p(pin.begin(), pin.end());
    if (p == kPin) return kMasterKey;
    if (p == "oom") {
      const auto key = who == CKU_SO ? store::kPinFailuresSo : store::kPinFailuresUser;
      auto v = db.get_meta(key);
      const uint32_t n = v ? std::stoul(std::string(v->begin(), v->end())) : 0;
      db.set_meta(key, view(std::to_string(n + others)));
      fail(CKR_HOST_MEMORY, "argon2id: out of memory");
    }
    fail(CKR_PIN_INCORRECT, "wrong PIN");
  }
  void set_pin(store::TokenDb&, CK_USER_TYPE, ByteView, ByteView) override {}
  bool has_pin(store::TokenDb&, CK_USER_TYPE) override { return true; }
  void remove_pin(store::TokenDb&, CK_USER_TYPE) override {}
  void generate_key_pair(const MechanismParams&, AttributeMap&, AttributeMap&) override { fail(CKR_FUNCTION_NOT_SUPPORTED, ""); }
  void generate_key(const MechanismParams&, AttributeMap&) override { fail(CKR_FUNCTION_NOT_SUPPORTED, ""); }
  void import_key(AttributeMap&) override {}
  std::unique_ptr<Operation> sign(const Object&, const MechanismParams&) override { return nullptr; }
  std::unique_ptr<Operation> verify(const Object&, const MechanismParams&) override { return nullptr; }
  std::unique_ptr<Operation> encrypt(const Object&, const MechanismParams&) override { return nullptr; }
  std::unique_ptr<Operation> decrypt(const Object&, const MechanismParams&) override { return nullptr; }
  SecureBytes derive(const Object&, const MechanismParams&) override { return {}; }
  SecureBytes wrap(const Object&, const MechanismParams&, ByteView) override { return {}; }
  SecureBytes unwrap(const Object&, const MechanismParams&, ByteView) override { return {}; }
};

class TokenRecords : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = platform::make_temp_dir("keyseal-core-test-");
    file_ = dir_ / "token-0.db";
    config_.max_pin_attempts = 5;
    std::string label(32, ' ');
    token_ = Token::create(0, file_, backend_, config_, text(kPin), text(label));
  }
  void TearDown() override {
    token_.reset();
    std::filesystem::remove_all(dir_);
  }

  void add(const std::string& label, CK_OBJECT_CLASS cls, bool is_private, std::string_view value) {
    AttributeMap a;
    set_ulong(a, CKA_CLASS, cls);
    set_bool(a, CKA_TOKEN, true);
    set_bool(a, CKA_PRIVATE, is_private);
    set_bytes(a, CKA_LABEL, text(label));
    if (cls == CKO_SECRET_KEY) set_ulong(a, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    set_bytes(a, CKA_VALUE, text(value));
    token_->add_object(std::move(a), 0);
  }

  std::vector<CK_OBJECT_HANDLE> by_label(const std::string& label) {
    AttributeMap t;
    set_bytes(t, CKA_LABEL, text(label));
    return token_->find(t, true);
  }

  std::string uid() {
    auto db = store::TokenDb::open(file_, store::OpenMode::existing);
    auto v = db->get_meta("uid");
    return std::string(v->begin(), v->end());
  }

  // Turns the file into what a module from before record authentication wrote: secrets sealed under the
  // master key itself, no tags, no settings.
  void make_legacy() {
    const std::string token_uid = uid();
    token_.reset();
    auto db = store::TokenDb::open(file_, store::OpenMode::existing);
    const RecordKeys now = derive_record_keys(view(kMasterKey), token_uid, true);
    const RecordKeys old = derive_record_keys(view(kMasterKey), token_uid, false);
    store::ObjectQuery all;
    all.include_private = true;
    for (auto row : db->find_objects(all)) {
      DecodedRecord d = decode_record(now, token_uid, row);
      row.attrs = encode_record(old, token_uid, row.uid, d.attrs);
      db->update_object(row);
    }
    for (auto k : {kRecordFormatKey, kPinLimitKey, kSettingsTagKey}) db->delete_meta(k);
  }

  void reopen() {
    token_.reset();
    token_ = Token::open(0, file_, backend_, config_);
  }

  std::filesystem::path dir_, file_;
  Config config_;
  std::shared_ptr<KnownKeyBackend> backend_ = std::make_shared<KnownKeyBackend>();
  std::shared_ptr<Token> token_;
};

TEST_F(TokenRecords, LegacyTokenIsUpgradedAtLogin) {
  token_->login(CKU_USER, text(kPin));
  add("secret", CKO_SECRET_KEY, true, "0123456789abcdef");
  add("public", CKO_DATA, false, "hello");
  make_legacy();
  reopen();
  token_->login(CKU_USER, text(kPin));
  ASSERT_EQ(by_label("secret").size(), 1u);
  ASSERT_EQ(by_label("public").size(), 1u);
  ObjectPtr o = token_->object(by_label("secret")[0], true);
  EXPECT_EQ(std::string(get_bytes(o->attrs, CKA_VALUE)->begin(), get_bytes(o->attrs, CKA_VALUE)->end()),
            "0123456789abcdef");
  // Now stored authenticated: every record carries a valid tag under the derived key.
  const std::string token_uid = uid();
  auto db = store::TokenDb::open(file_, store::OpenMode::existing);
  ASSERT_TRUE(db->get_meta(kRecordFormatKey).has_value());
  auto limit = db->get_meta(kPinLimitKey);
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(std::string(limit->begin(), limit->end()), "5");
  const RecordKeys keys = derive_record_keys(view(kMasterKey), token_uid, true);
  store::ObjectQuery all;
  all.include_private = true;
  for (const auto& row : db->find_objects(all)) EXPECT_TRUE(decode_record(keys, token_uid, row).tagged);
}

TEST_F(TokenRecords, RemovedFormatMarkerDoesNotRetagAlteredRecords) {
  token_->login(CKU_USER, text(kPin));
  add("secret", CKO_SECRET_KEY, true, "0123456789abcdef");
  add("public", CKO_DATA, false, "hello");
  const std::string token_uid = uid();
  token_.reset();
  {
    // The attacker changes the public object (dropping its tag) and removes the format marker, hoping the
    // next login takes the token for an old one and tags whatever it holds.
    auto db = store::TokenDb::open(file_, store::OpenMode::existing);
    store::ObjectQuery q;
    q.label = "public";
    auto row = db->find_objects(q).at(0);
    auto attrs = store::decode_attributes(view(row.attrs));
    std::erase_if(attrs, [](const auto& a) { return a.type == kRecordTagAttr; });
    for (auto& a : attrs)
      if (a.type == CKA_VALUE) a.value = SecureBytes{'e', 'v', 'i', 'l'};
    row.attrs = store::encode_attributes(attrs);
    db->update_object(row);
    db->delete_meta(kRecordFormatKey);
    db->delete_meta(kSettingsTagKey);
  }
  reopen();
  token_->login(CKU_USER, text(kPin));
  EXPECT_TRUE(by_label("public").empty()) << "the altered record was re-tagged";
  EXPECT_EQ(by_label("secret").size(), 1u);
  auto db = store::TokenDb::open(file_, store::OpenMode::existing);
  EXPECT_TRUE(db->get_meta(kRecordFormatKey).has_value()) << "format marker restored";
}

TEST_F(TokenRecords, NonPinErrorGivesBackOnlyItsOwnAttempt) {
  backend_->others = 4;  // four wrong guesses by other processes while this attempt runs
  EXPECT_THROW(token_->login(CKU_USER, text("oom")), Error);
  auto db = store::TokenDb::open(file_, store::OpenMode::existing);
  auto v = db->get_meta(store::kPinFailuresUser);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(std::string(v->begin(), v->end()), "4") << "other processes' failures were erased";
}

TEST_F(TokenRecords, LimitComesFromTheTokenNotTheCaller) {
  for (int i = 0; i < 5; ++i) EXPECT_THROW(token_->login(CKU_USER, text("wrong")), Error);
  config_.max_pin_attempts = 1000000;
  reopen();
  try {
    token_->login(CKU_USER, text(kPin));
    ADD_FAILURE() << "logged in past the token's limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, static_cast<CK_RV>(CKR_PIN_LOCKED));
  }
}

// A composition that gives no backend (a platform without one, a broken compose) is refused when the module
// is made, with the code C_Initialize returns, instead of a null dereference at the first slot query.
TEST(ModuleComposition, NoBackendIsRefused) {
  Config c;
  c.store_dir = std::filesystem::temp_directory_path();
  try {
    Module m(c, {});
    FAIL() << "a module without a backend was made";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, static_cast<CK_RV>(CKR_GENERAL_ERROR));
  }
  try {
    Module m(c, {nullptr});
    FAIL() << "a module with a null backend was made";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, static_cast<CK_RV>(CKR_GENERAL_ERROR));
  }
}

}  // namespace
}  // namespace keyseal::core
