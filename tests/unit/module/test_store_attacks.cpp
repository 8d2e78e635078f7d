// Attacks by someone who can write the token's files or set the caller's environment (issue 11): each test
// edits the SQLite store (through store::TokenDb, as a small program would), or the configuration, and
// checks through the C ABI that the edit buys nothing: no substituted or unsealed key is used, no flag
// flipped, no record moved between objects or tokens, no retry limit lifted, no PIN of an old owner.
#include "fixture.h"
#include "forked_child.h"
#include "platform/process.h"
#include "store/attribute_codec.h"
#include "store/token_db.h"

#include <openssl/evp.h>

#include <atomic>
#include <set>
#include <cstring>
#include <fstream>
#include <functional>
#include <thread>

namespace keyseal::test {
namespace {

constexpr CK_ATTRIBUTE_TYPE kTagAttr = CKA_VENDOR_DEFINED | 0x4B530000UL | 0x7FFF;  // core's record tag

class StoreAttack : public ModuleTest {
 protected:
  std::string token_file(CK_SLOT_ID slot) const { return dir_ + "/store/token-" + std::to_string(slot) + ".db"; }

  // A token AES-256 key, sensitive and not extractable, found again by its label.
  CK_OBJECT_HANDLE secret_key(CK_SESSION_HANDLE s, const std::string& label) {
    CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    std::vector<CK_ATTRIBUTE> t = {attr(CKA_VALUE_LEN, &len, sizeof len), attr(CKA_TOKEN, &yes, 1),
                                   attr(CKA_SENSITIVE, &yes, 1),           attr(CKA_EXTRACTABLE, &no, 1),
                                   attr(CKA_ENCRYPT, &yes, 1),             attr(CKA_DECRYPT, &yes, 1),
                                   attr(CKA_LABEL, label.data(), label.size())};
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(C_GenerateKey(s, &m, t.data(), t.size(), &h), CKR_OK);
    return h;
  }

  std::vector<CK_OBJECT_HANDLE> by_label(CK_SESSION_HANDLE s, const std::string& label) {
    return find(s, {attr(CKA_LABEL, label.data(), label.size())});
  }

  // Rewrites the stored attributes of the record labelled `label` in the token file of `slot`.
  void edit_record(CK_SLOT_ID slot, const std::string& label,
                   const std::function<void(std::vector<store::StoredAttribute>&)>& edit) {
    auto db = store::TokenDb::open(token_file(slot), store::OpenMode::existing);
    store::ObjectQuery q;
    q.label = label;
    q.include_private = true;
    auto rows = db->find_objects(q);
    ASSERT_EQ(rows.size(), 1u) << label;
    auto attrs = store::decode_attributes(view(rows[0].attrs));
    edit(attrs);
    rows[0].attrs = store::encode_attributes(attrs);
    db->update_object(rows[0]);
  }

  std::optional<store::ObjectRow> row_of(CK_SLOT_ID slot, const std::string& label) {
    auto db = store::TokenDb::open(token_file(slot), store::OpenMode::existing);
    store::ObjectQuery q;
    q.label = label;
    q.include_private = true;
    auto rows = db->find_objects(q);
    if (rows.size() != 1) return std::nullopt;
    return rows[0];
  }

  static void set_bool_attr(std::vector<store::StoredAttribute>& attrs, CK_ATTRIBUTE_TYPE t, bool v) {
    for (auto& a : attrs)
      if (a.type == t) a.value = SecureBytes{static_cast<uint8_t>(v ? 1 : 0)};
  }

  std::vector<uint8_t> aes_ecb(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const std::vector<uint8_t>& block,
                               CK_RV* rv) {
    CK_MECHANISM m{CKM_AES_ECB, nullptr, 0};
    *rv = C_EncryptInit(s, &m, key);
    if (*rv != CKR_OK) return {};
    std::vector<uint8_t> out(block.size());
    CK_ULONG n = out.size();
    *rv = C_Encrypt(s, const_cast<uint8_t*>(block.data()), block.size(), out.data(), &n);
    out.resize(n);
    return out;
  }

  void restart_and_login(CK_SESSION_HANDLE* s) {
    reinitialize();
    *s = open();
    login_user(*s);
  }
};

std::vector<uint8_t> ecb_with(const std::vector<uint8_t>& key, const std::vector<uint8_t>& block) {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  std::vector<uint8_t> out(block.size() + 16);
  int n = 0, m = 0;
  EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), nullptr, key.data(), nullptr);
  EVP_CIPHER_CTX_set_padding(c, 0);
  EVP_EncryptUpdate(c, out.data(), &n, block.data(), static_cast<int>(block.size()));
  EVP_EncryptFinal_ex(c, out.data() + n, &m);
  EVP_CIPHER_CTX_free(c);
  out.resize(n + m);
  return out;
}

// 1: the victim's sensitive key replaced, in the file, by a key the attacker knows (stored unsealed).
TEST_F(StoreAttack, SubstitutedUnsealedSecretKeyIsRefused) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  secret_key(s, "victim-aes");
  const std::vector<uint8_t> attacker(32, 0x41), block(16, 0x00);
  edit_record(slot_, "victim-aes", [&](auto& attrs) {
    for (auto& a : attrs)
      if (a.type == CKA_VALUE) a = {CKA_VALUE, false, SecureBytes(attacker.begin(), attacker.end())};
  });
  restart_and_login(&s);
  auto found = by_label(s, "victim-aes");
  for (CK_OBJECT_HANDLE h : found) {
    CK_RV rv;
    auto ct = aes_ecb(s, h, block, &rv);
    EXPECT_NE(ct, ecb_with(attacker, block)) << "encrypted under the attacker's key";
  }
  EXPECT_TRUE(found.empty()) << "a record with an unsealed secret is refused";
  // The rest of the token still works.
  EXPECT_NE(secret_key(s, "fresh"), 0u);
}

// 1: the same with the record's tag removed too (an attacker cannot make a tag).
TEST_F(StoreAttack, SubstitutedKeyWithoutTagIsRefused) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  secret_key(s, "victim-aes");
  edit_record(slot_, "victim-aes", [&](auto& attrs) {
    std::erase_if(attrs, [](const auto& a) { return a.type == kTagAttr; });
    for (auto& a : attrs)
      if (a.type == CKA_VALUE) a = {CKA_VALUE, false, SecureBytes(32, 0x41)};
  });
  restart_and_login(&s);
  EXPECT_TRUE(by_label(s, "victim-aes").empty());
}

// 1: CKA_SENSITIVE / CKA_EXTRACTABLE flipped in the file: the value is not readable.
TEST_F(StoreAttack, FlippedSensitiveFlagsDoNotRevealTheKey) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const CK_OBJECT_HANDLE h = secret_key(s, "victim-aes");
  edit_record(slot_, "victim-aes", [&](auto& attrs) {
    set_bool_attr(attrs, CKA_SENSITIVE, false);
    set_bool_attr(attrs, CKA_EXTRACTABLE, true);
  });
  // The session that made the key reads it again from the store (another process changed it).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CK_ATTRIBUTE a{CKA_VALUE, nullptr, 0};
  EXPECT_NE(C_GetAttributeValue(s, h, &a, 1), CKR_OK) << "old handle";
  restart_and_login(&s);
  for (CK_OBJECT_HANDLE f : by_label(s, "victim-aes")) {
    CK_ATTRIBUTE v{CKA_VALUE, nullptr, 0};
    EXPECT_NE(C_GetAttributeValue(s, f, &v, 1), CKR_OK) << "value readable after a flag flip";
  }
  EXPECT_TRUE(by_label(s, "victim-aes").empty());
}

// 1: a public object's attributes changed in the file are refused from the first login on.
TEST_F(StoreAttack, ChangedPublicObjectIsRefusedAfterLogin) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = ec_pair(s, true, "pk", kP256);
  const std::string label = "public-key";
  CK_ATTRIBUTE l{CKA_LABEL, const_cast<char*>(label.data()), label.size()};
  ASSERT_EQ(C_SetAttributeValue(s, pub, &l, 1), CKR_OK);
  edit_record(slot_, label, [&](auto& attrs) { set_bool_attr(attrs, CKA_VERIFY, false); });
  restart_and_login(&s);
  EXPECT_TRUE(by_label(s, label).empty());
}

// 1: a valid record copied over another object's record, or from another token, does not verify. Public
// data objects: nothing in them is sealed, so only the tag can tell.
TEST_F(StoreAttack, RecordsDoNotMoveBetweenObjectsOrTokens) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto data = [&](CK_SESSION_HANDLE session, const std::string& label, const std::string& value) {
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_TOKEN, &yes, 1),
                                   attr(CKA_PRIVATE, &no, 1), attr(CKA_LABEL, label.data(), label.size()),
                                   attr(CKA_VALUE, value.data(), value.size())};
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(C_CreateObject(session, t.data(), t.size(), &h), CKR_OK);
  };
  data(s, "a-object", "value of a");
  data(s, "b-object", "value of b");
  {
    auto a = row_of(slot_, "a-object");
    auto b = row_of(slot_, "b-object");
    ASSERT_TRUE(a.has_value() && b.has_value());
    // b's row takes a's attributes and search columns, keeping b's unique id: two objects now say "a".
    store::ObjectRow moved = *a;
    moved.id = b->id;
    moved.uid = b->uid;
    auto db = store::TokenDb::open(token_file(slot_), store::OpenMode::existing);
    db->update_object(moved);
  }
  restart_and_login(&s);
  EXPECT_EQ(by_label(s, "a-object").size(), 1u) << "a record copied over another object was accepted";

  // A second token, whose public object is carried into the first token's file.
  C_CloseSession(s);
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  ASSERT_EQ(C_InitToken(1, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin), label), CKR_OK);
  CK_SESSION_HANDLE s1 = 0;
  ASSERT_EQ(C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s1), CKR_OK);
  ASSERT_EQ(C_Login(s1, CKU_SO, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin)), CKR_OK);
  ASSERT_EQ(C_InitPIN(s1, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)), CKR_OK);
  ASSERT_EQ(C_Logout(s1), CKR_OK);
  ASSERT_EQ(C_Login(s1, CKU_USER, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)), CKR_OK);
  data(s1, "other-token-object", "from token 1");
  secret_key(s1, "other-token-key");
  for (const char* moved : {"other-token-object", "other-token-key"}) {
    auto other = row_of(1, moved);
    ASSERT_TRUE(other.has_value());
    auto db = store::TokenDb::open(token_file(slot_), store::OpenMode::existing);
    db->insert_object(*other);
  }
  restart_and_login(&s);
  EXPECT_TRUE(by_label(s, "other-token-object").empty());
  EXPECT_TRUE(by_label(s, "other-token-key").empty());
}

// 1: with the records' tags, a token object cannot be written without the key that makes them.
TEST_F(StoreAttack, TokenObjectsNeedALoginToBeWritten) {
  CK_SESSION_HANDLE s = open();
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  const std::string label = "public-data";
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_TOKEN, &yes, 1),
                                 attr(CKA_PRIVATE, &no, 1), attr(CKA_LABEL, label.data(), label.size())};
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(C_CreateObject(s, t.data(), t.size(), &h), CKR_USER_NOT_LOGGED_IN);
  login_user(s);
  EXPECT_EQ(C_CreateObject(s, t.data(), t.size(), &h), CKR_OK);
  ASSERT_EQ(C_Logout(s), CKR_OK);
  EXPECT_EQ(by_label(s, label).size(), 1u) << "public objects stay readable before login";
}

// 2: the retry limit is the token's: a configuration with a huge limit does not unlock a locked PIN.
TEST_F(StoreAttack, ConfigurationCannotLiftTheRetryLimit) {
  CK_SESSION_HANDLE s = open();
  for (CK_ULONG i = 0; i < kMaxTries; ++i)
    EXPECT_EQ(C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "wrong-pin", 9), CKR_PIN_INCORRECT);
  EXPECT_EQ(C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)), CKR_PIN_LOCKED);
  std::ofstream(dir_ + "/keyseal.conf") << "argon2_m_cost_kib = 64\nargon2_t_cost = 1\nmax_pin_attempts = 1000000\n";
  reinitialize();
  s = open();
  EXPECT_EQ(C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)), CKR_PIN_LOCKED);
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_LOCKED);
}

// 2: the limit changed in the file is noticed at the next login and cut back to the default at most.
TEST_F(StoreAttack, RetryLimitEditedInTheFileIsRepairedAtLogin) {
  {
    auto db = store::TokenDb::open(token_file(slot_), store::OpenMode::existing);
    db->set_meta("pin_limit", view(std::string_view("1000000")));
  }
  reinitialize();
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto db = store::TokenDb::open(token_file(slot_), store::OpenMode::existing);
  auto v = db->get_meta("pin_limit");
  ASSERT_TRUE(v.has_value());
  EXPECT_LE(std::stoul(std::string(v->begin(), v->end())), 10u);
}

// 5: a NULL PIN is a bad argument, and nothing is counted.
TEST_F(StoreAttack, NullPinIsArgumentsBadAndNotCounted) {
  CK_SESSION_HANDLE s = open();
  EXPECT_EQ(C_Login(s, CKU_USER, nullptr, 0), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_Login(s, CKU_USER, nullptr, 5), CKR_ARGUMENTS_BAD);
  EXPECT_FALSE(token_flags() & CKF_USER_PIN_COUNT_LOW);
  EXPECT_EQ(C_InitPIN(s, nullptr, 0), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_SetPIN(s, nullptr, 0, (CK_UTF8CHAR_PTR) "abcd", 4), CKR_ARGUMENTS_BAD);
}

// 6: re-initialisation makes a new master key: the old owner's PIN record, put back, opens nothing new.
TEST_F(StoreAttack, ReinitialisedTokenDoesNotOpenForTheOldOwner) {
  SecureBytes old_user_record;
  {
    auto db = store::TokenDb::open(token_file(slot_), store::OpenMode::existing);
    auto rec = db->get_meta("pin.user");
    ASSERT_TRUE(rec.has_value());
    old_user_record = *rec;
  }
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  ASSERT_EQ(C_InitToken(slot_, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin), label), CKR_OK);
  CK_SESSION_HANDLE s = open();
  ASSERT_EQ(C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin)), CKR_OK);
  ASSERT_EQ(C_InitPIN(s, (CK_UTF8CHAR_PTR) "new-owner-pin", 13), CKR_OK);
  ASSERT_EQ(C_Logout(s), CKR_OK);
  ASSERT_EQ(C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "new-owner-pin", 13), CKR_OK);
  secret_key(s, "new-owner-key");
  ASSERT_EQ(C_Logout(s), CKR_OK);
  C_CloseSession(s);
  {
    auto db = store::TokenDb::open(token_file(slot_), store::OpenMode::existing);
    db->set_meta("pin.user", view(old_user_record));
  }
  reinitialize();
  s = open();
  const CK_RV rv = C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin));
  if (rv == CKR_OK) {
    EXPECT_TRUE(by_label(s, "new-owner-key").empty()) << "the old owner's PIN opens the new owner's key";
  } else {
    EXPECT_TRUE(rv == CKR_PIN_INCORRECT || rv == CKR_DEVICE_ERROR) << rv;
  }
}

// 7: C_GenerateKeyPair stores both keys in one transaction: a process killed at any moment leaves whole
// pairs or nothing, never a public key without its private key.
TEST_F(StoreAttack, KilledKeyPairGenerationLeavesNoHalfPairs) {
  if (!ForkedChild::available()) GTEST_SKIP() << "the killed process is a forked child; Windows has no fork()";
  std::srand(static_cast<unsigned>(platform::process_id()));
  for (int round = 0; round < 12; ++round) {
    ForkedChild child([&](const std::function<void()>& ready) {
      if (C_Initialize(nullptr) != CKR_OK) return 2;
      CK_SESSION_HANDLE cs;
      if (C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &cs) != CKR_OK) return 2;
      if (C_Login(cs, CKU_USER, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)) != CKR_OK) return 2;
      // Killed only from here on: a login cut short counts as a wrong PIN (the attempt is counted before the
      // PIN is tried), and three of those would lock the token.
      ready();
      for (int i = 0;; ++i) {
        const std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
        CK_MECHANISM m{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
        CK_BBOOL yes = CK_TRUE;
        CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, 1},
                              {CKA_EC_PARAMS, const_cast<uint8_t*>(kP256.data()), kP256.size()},
                              {CKA_ID, const_cast<char*>(id.data()), id.size()}};
        CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1}, {CKA_ID, const_cast<char*>(id.data()), id.size()},
                               {CKA_SIGN, &yes, 1}};
        CK_OBJECT_HANDLE hp, hk;
        if (C_GenerateKeyPair(cs, &m, pub, 3, priv, 3, &hp, &hk) != CKR_OK) return 3;
      }
    });
    ASSERT_TRUE(child.started());
    const bool logged_in = child.wait_ready();
    if (logged_in) std::this_thread::sleep_for(std::chrono::microseconds(20000 + std::rand() % 60000));
    const bool ended_by_itself = child.finished();
    child.kill();
    ASSERT_FALSE(ended_by_itself) << "the child stopped by itself: " << child.wait();
    ASSERT_TRUE(child.killed_by_signal()) << "the child stopped by itself: " << child.wait();
  }
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto ids_of = [&](CK_OBJECT_CLASS cls) {
    std::set<std::vector<uint8_t>> ids;
    for (CK_OBJECT_HANDLE h : find(s, {attr(CKA_CLASS, &cls, sizeof cls)})) ids.insert(get(s, h, CKA_ID));
    return ids;
  };
  const auto pubs = ids_of(CKO_PUBLIC_KEY), privs = ids_of(CKO_PRIVATE_KEY);
  EXPECT_FALSE(pubs.empty()) << "no key pair was made: the test proves nothing";
  EXPECT_EQ(pubs, privs) << "a killed generation left half a key pair";
}

// 11: closing the application's last session while C_Login checks the PIN leaves the token logged out.
TEST_F(StoreAttack, ClosingTheLastSessionDuringLoginEndsTheLogin) {
  // A slow PIN derivation for this token, so the close lands while the PIN is checked.
  std::ofstream(dir_ + "/keyseal.conf") << "argon2_m_cost_kib = 262144\nargon2_t_cost = 4\n";
  reinitialize();
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  ASSERT_EQ(C_InitToken(1, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin), label), CKR_OK);
  CK_SESSION_HANDLE s = 0;
  ASSERT_EQ(C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s), CKR_OK);
  std::atomic<CK_RV> rv{CKR_GENERAL_ERROR};
  std::thread t([&] { rv = C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(C_CloseSession(s), CKR_OK);
  t.join();
  CK_SESSION_HANDLE s2 = 0;
  ASSERT_EQ(C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s2), CKR_OK);
  CK_SESSION_INFO si;
  ASSERT_EQ(C_GetSessionInfo(s2, &si), CKR_OK);
  EXPECT_EQ(si.state, static_cast<CK_STATE>(CKS_RW_PUBLIC_SESSION)) << "login returned " << rv.load();
}

}  // namespace
}  // namespace keyseal::test
