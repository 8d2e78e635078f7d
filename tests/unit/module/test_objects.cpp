// Objects (PKCS#11 3.0 section 5.7 and chapter 4): visibility of private objects, sensitive attributes and the
// one-way changes, read-only attributes, size queries, persistence across restarts, handles never reused,
// secret values never stored in the clear.
#include "fixture.h"

#include <sqlite3.h>

#include <cstring>
#include <fstream>
#include <algorithm>
#include <cstdlib>
#include <iterator>

namespace keyseal::test {
namespace {

CK_OBJECT_HANDLE data_object(CK_SESSION_HANDLE s, bool token, bool priv, const std::string& label) {
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL t = token, p = priv;
  const char value[] = "data object value";
  std::vector<CK_ATTRIBUTE> tmpl = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_TOKEN, &t, 1),
                                    attr(CKA_PRIVATE, &p, 1), attr(CKA_LABEL, label.data(), label.size()),
                                    attr(CKA_VALUE, value, sizeof value)};
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(C_CreateObject(s, tmpl.data(), tmpl.size(), &h), CKR_OK);
  return h;
}

TEST_F(ModuleTest, PrivateObjectsNeedLogin) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_HANDLE priv = data_object(s, true, true, "secret-data");
  CK_OBJECT_HANDLE pub = data_object(s, true, false, "public-data");
  ASSERT_EQ(C_Logout(s), CKR_OK);
  CK_OBJECT_CLASS cls = CKO_DATA;
  auto found = find(s, {attr(CKA_CLASS, &cls, sizeof cls)});
  EXPECT_EQ(found, std::vector<CK_OBJECT_HANDLE>{pub});
  CK_ATTRIBUTE a{CKA_LABEL, nullptr, 0};
  EXPECT_EQ(C_GetAttributeValue(s, priv, &a, 1), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(C_CreateObject(s, nullptr, 0, &priv), CKR_ARGUMENTS_BAD);
  // Creating a private object needs the user; a token object needs a R/W session.
  CK_BBOOL yes = CK_TRUE;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_PRIVATE, &yes, 1)};
  CK_OBJECT_HANDLE h;
  EXPECT_EQ(C_CreateObject(s, t.data(), t.size(), &h), CKR_USER_NOT_LOGGED_IN);
  CK_SESSION_HANDLE ro = open(false);
  std::vector<CK_ATTRIBUTE> t2 = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_TOKEN, &yes, 1)};
  EXPECT_EQ(C_CreateObject(ro, t2.data(), t2.size(), &h), CKR_SESSION_READ_ONLY);
  login_user(s);
  auto again = find(s, {attr(CKA_CLASS, &cls, sizeof cls)});
  EXPECT_EQ(again.size(), 2u);
  // Section 5.6.10: after C_Logout the old handle of a private object stays invalid, even after a new login.
  EXPECT_EQ(std::count(again.begin(), again.end(), priv), 0);
  EXPECT_EQ(C_GetAttributeValue(s, priv, &a, 1), CKR_OBJECT_HANDLE_INVALID);
}

TEST_F(ModuleTest, LogoutDestroysPrivateSessionObjects) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_HANDLE priv = data_object(s, false, true, "private session object");
  CK_OBJECT_HANDLE pub = data_object(s, false, false, "public session object");
  ASSERT_EQ(C_Logout(s), CKR_OK);
  login_user(s);
  CK_ATTRIBUTE a{CKA_LABEL, nullptr, 0};
  EXPECT_EQ(C_GetAttributeValue(s, priv, &a, 1), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(C_GetAttributeValue(s, pub, &a, 1), CKR_OK);
}

TEST_F(ModuleTest, ProfileObjectsStateTheProfiles) {
  CK_SESSION_HANDLE s = open();
  CK_OBJECT_CLASS cls = CKO_PROFILE;
  auto found = find(s, {attr(CKA_CLASS, &cls, sizeof cls)});
  ASSERT_EQ(found.size(), 3u);
  std::vector<CK_ULONG> ids;
  for (auto h : found) {
    auto v = get(s, h, CKA_PROFILE_ID);
    CK_ULONG id = 0;
    std::memcpy(&id, v.data(), sizeof id);
    ids.push_back(id);
    EXPECT_EQ(C_DestroyObject(s, h), CKR_ACTION_PROHIBITED);
  }
  EXPECT_EQ(ids, (std::vector<CK_ULONG>{CKP_BASELINE_PROVIDER, CKP_AUTHENTICATION_TOKEN, CKP_PUBLIC_CERTIFICATES_TOKEN}));
}

TEST_F(ModuleTest, SensitiveAttributesAndOneWayChanges) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = ec_pair(s, false, "ec", kP256);
  CK_BYTE buf[128];
  CK_ATTRIBUTE a{CKA_VALUE, buf, sizeof buf};
  EXPECT_EQ(C_GetAttributeValue(s, priv, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  // Public attributes are on the private key too, and a mix reports per attribute.
  CK_ATTRIBUTE mix[2] = {{CKA_EC_PARAMS, buf, sizeof buf}, {CKA_VALUE, nullptr, 0}};
  EXPECT_EQ(C_GetAttributeValue(s, priv, mix, 2), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(mix[0].ulValueLen, kP256.size());
  EXPECT_EQ(mix[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
  CK_ATTRIBUTE sens{CKA_SENSITIVE, &no, 1};
  EXPECT_EQ(C_SetAttributeValue(s, priv, &sens, 1), CKR_ATTRIBUTE_READ_ONLY);
  CK_ATTRIBUTE extr{CKA_EXTRACTABLE, &yes, 1};
  EXPECT_EQ(C_SetAttributeValue(s, priv, &extr, 1), CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(get(s, priv, CKA_ALWAYS_SENSITIVE), std::vector<uint8_t>{1});
  EXPECT_EQ(get(s, priv, CKA_NEVER_EXTRACTABLE), std::vector<uint8_t>{1});
  EXPECT_EQ(get(s, priv, CKA_LOCAL), std::vector<uint8_t>{1});
  CK_MECHANISM_TYPE gen = 0;
  auto g = get(s, priv, CKA_KEY_GEN_MECHANISM);
  std::memcpy(&gen, g.data(), sizeof gen);
  EXPECT_EQ(gen, CKM_EC_KEY_PAIR_GEN);
  EXPECT_EQ(get(s, priv, CKA_UNIQUE_ID).size(), 32u);
  EXPECT_NE(get(s, priv, CKA_UNIQUE_ID), get(s, pub, CKA_UNIQUE_ID));
  CK_ATTRIBUTE cls{CKA_CLASS, buf, sizeof(CK_ULONG)};
  EXPECT_EQ(C_SetAttributeValue(s, priv, &cls, 1), CKR_ATTRIBUTE_READ_ONLY);
  CK_ATTRIBUTE bogus{0x7ffffff0UL, buf, 4};
  EXPECT_EQ(C_GetAttributeValue(s, priv, &bogus, 1), CKR_ATTRIBUTE_TYPE_INVALID);
  // A label change is allowed and seen.
  CK_ATTRIBUTE label{CKA_LABEL, (void*)"renamed", 7};
  ASSERT_EQ(C_SetAttributeValue(s, priv, &label, 1), CKR_OK);
  EXPECT_EQ(get(s, priv, CKA_LABEL), bytes_of("renamed"));
}

TEST_F(ModuleTest, SizeQueriesOnAttributes) {
  CK_SESSION_HANDLE s = open();
  CK_OBJECT_HANDLE h = data_object(s, false, false, "sized-label");
  CK_ATTRIBUTE a{CKA_LABEL, nullptr, 0};
  ASSERT_EQ(C_GetAttributeValue(s, h, &a, 1), CKR_OK);
  EXPECT_EQ(a.ulValueLen, 11u);
  CK_BYTE small[4];
  a = {CKA_LABEL, small, sizeof small};
  EXPECT_EQ(C_GetAttributeValue(s, h, &a, 1), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  CK_ULONG size = 0;
  EXPECT_EQ(C_GetObjectSize(s, h, &size), CKR_OK);
  EXPECT_GT(size, 11u);
}

TEST_F(ModuleTest, CopyAndDestroyRules) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_HANDLE h = data_object(s, false, false, "orig");
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE to_token{CKA_TOKEN, &yes, 1};
  CK_OBJECT_HANDLE copy = 0;
  ASSERT_EQ(C_CopyObject(s, h, &to_token, 1, &copy), CKR_OK);
  EXPECT_NE(copy, h);
  EXPECT_EQ(get(s, copy, CKA_TOKEN), std::vector<uint8_t>{1});
  EXPECT_NE(get(s, copy, CKA_UNIQUE_ID), get(s, h, CKA_UNIQUE_ID));
  CK_ATTRIBUTE nodestroy{CKA_DESTROYABLE, &no, 1};
  CK_OBJECT_HANDLE fixed = 0;
  CK_OBJECT_CLASS cls = CKO_DATA;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), nodestroy};
  ASSERT_EQ(C_CreateObject(s, t.data(), t.size(), &fixed), CKR_OK);
  EXPECT_EQ(C_DestroyObject(s, fixed), CKR_ACTION_PROHIBITED);
  ASSERT_EQ(C_DestroyObject(s, copy), CKR_OK);
  EXPECT_EQ(C_DestroyObject(s, copy), CKR_OBJECT_HANDLE_INVALID);
  // Handles are never reused.
  CK_OBJECT_HANDLE next = data_object(s, false, false, "next");
  EXPECT_NE(next, copy);
  EXPECT_GT(next, copy);
}

TEST_F(ModuleTest, TokenObjectsPersistAndSessionObjectsDoNot) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = ec_pair(s, true, "persist", kP256);
  data_object(s, false, false, "ephemeral");
  const auto msg = bytes_of("message to sign");
  reinitialize();
  s = open();
  login_user(s);
  const std::string id = "persist";
  CK_OBJECT_CLASS pk = CKO_PRIVATE_KEY, pubk = CKO_PUBLIC_KEY, data = CKO_DATA;
  auto privs = find(s, {attr(CKA_CLASS, &pk, sizeof pk), attr(CKA_ID, id.data(), id.size())});
  auto pubs = find(s, {attr(CKA_CLASS, &pubk, sizeof pubk), attr(CKA_ID, id.data(), id.size())});
  ASSERT_EQ(privs.size(), 1u);
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_TRUE(find(s, {attr(CKA_CLASS, &data, sizeof data)}).empty());
  CK_MECHANISM m{CKM_ECDSA_SHA256, nullptr, 0};
  auto sig = sign(s, m, privs[0], msg);
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_EQ(verify(s, m, pubs[0], msg, sig), CKR_OK);
  sig[3] ^= 1;
  EXPECT_EQ(verify(s, m, pubs[0], msg, sig), CKR_SIGNATURE_INVALID);
}

TEST_F(ModuleTest, SecretValuesAreNotStoredInTheClear) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  std::vector<uint8_t> key(32);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(0xA0 + i);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_BBOOL yes = CK_TRUE;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_KEY_TYPE, &kt, sizeof kt),
                                 attr(CKA_TOKEN, &yes, 1), attr(CKA_VALUE, key.data(), key.size()),
                                 attr(CKA_LABEL, "imported-aes", 12)};
  CK_OBJECT_HANDLE h = 0;
  ASSERT_EQ(C_CreateObject(s, t.data(), t.size(), &h), CKR_OK);
  EXPECT_EQ(get(s, h, CKA_LOCAL), std::vector<uint8_t>{0});
  ASSERT_EQ(C_CloseSession(s), CKR_OK);
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);  // checkpoint and close the database
  std::string all;
  for (const char* f : {"/store/token-0.db", "/store/token-0.db-wal"}) {
    std::ifstream in(dir_ + f, std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_NE(all.find("imported-aes"), std::string::npos);  // the file is the right one
  EXPECT_EQ(all.find(std::string(key.begin(), key.end())), std::string::npos);
  ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
}

TEST_F(ModuleTest, FindByLabelAmongManyObjects) {
  CK_SESSION_HANDLE s = open();
  login_user(s);  // token records are written under the login's key (issue 11)
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  for (int i = 0; i < 300; ++i) {  // data objects have no CKA_ID (section 4.5): find them by label
    std::string id = "id-" + std::to_string(i);
    std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_TOKEN, &yes, 1),
                                   attr(CKA_LABEL, id.data(), id.size())};
    CK_OBJECT_HANDLE h;
    ASSERT_EQ(C_CreateObject(s, t.data(), t.size(), &h), CKR_OK);
  }
  std::string id = "id-123";
  auto found = find(s, {attr(CKA_LABEL, id.data(), id.size())});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(get(s, found[0], CKA_LABEL), bytes_of(id));
  CK_ATTRIBUTE bad_id{CKA_ID, nullptr, 0};
  EXPECT_EQ(C_GetAttributeValue(s, found[0], &bad_id, 1), CKR_ATTRIBUTE_TYPE_INVALID);
  EXPECT_EQ(find(s, {attr(CKA_CLASS, &cls, sizeof cls)}).size(), 300u);
  // Find state rules.
  ASSERT_EQ(C_FindObjectsInit(s, nullptr, 0), CKR_OK);
  EXPECT_EQ(C_FindObjectsInit(s, nullptr, 0), CKR_OPERATION_ACTIVE);
  ASSERT_EQ(C_FindObjectsFinal(s), CKR_OK);
  CK_OBJECT_HANDLE buf[1];
  CK_ULONG n;
  EXPECT_EQ(C_FindObjects(s, buf, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
}

TEST_F(ModuleTest, CorruptObjectRecordIsSkippedNotFatal) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  for (const char* label : {"first", "broken", "third"}) data_object(s, true, false, label);
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  const std::string db = dir_ + "/store/token-0.db";
  {
    sqlite3* raw = nullptr;  // the SQLite library, not the sqlite3 tool: Windows has none
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    const int rc = sqlite3_exec(raw, "UPDATE objects SET attrs = x'01ffffffff' WHERE label = 'broken'", nullptr, nullptr,
                                nullptr);
    sqlite3_close(raw);
    ASSERT_EQ(rc, SQLITE_OK);
  }
  ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
  s = open();
  CK_OBJECT_CLASS cls = CKO_DATA;
  auto found = find(s, {attr(CKA_CLASS, &cls, sizeof cls)});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(get(s, found[0], CKA_LABEL), bytes_of("first"));
  EXPECT_EQ(get(s, found[1], CKA_LABEL), bytes_of("third"));
}

}  // namespace
}  // namespace keyseal::test
