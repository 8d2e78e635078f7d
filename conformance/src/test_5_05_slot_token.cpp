// Chapter 5.5 (slot and token management): C_GetSlotList size convention, CK_SLOT_INFO / CK_TOKEN_INFO fields
// (blank padded, no NULs, consistent counts), C_GetMechanismList / C_GetMechanismInfo, C_WaitForSlotEvent.
#include "harness.h"

#include <algorithm>
#include <cstring>

namespace keyseal::conformance {
namespace {

// PKCS#11 3.0 section 4.8 flags that p11-kit's 2.40 header lacks.
constexpr CK_FLAGS CKF_MESSAGE_ENCRYPT_ = 0x2, CKF_MESSAGE_DECRYPT_ = 0x4, CKF_MESSAGE_SIGN_ = 0x8,
                   CKF_MESSAGE_VERIFY_ = 0x10, CKF_MULTI_MESSAGE_ = 0x20, CKF_FIND_OBJECTS_ = 0x40,
                   CKF_EC_F_2M_ = 1UL << 21, CKF_EC_ECPARAMETERS_ = 1UL << 22;

class SlotToken : public P11Test {};

testing::AssertionResult padded_text(const char* field, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] == 0) return testing::AssertionFailure() << field << " has a NUL at offset " << i << " (must be blank padded)";
  return testing::AssertionSuccess();
}

TEST_F(SlotToken, GetSlotListSizeConvention) {
  CK_ULONG n = 0;
  ASSERT_OK(p11()->C_GetSlotList(CK_FALSE, nullptr, &n));
  ASSERT_GE(n, 1u);
  std::vector<CK_SLOT_ID> ids(n + 3);
  CK_ULONG big = ids.size();
  ASSERT_OK(p11()->C_GetSlotList(CK_FALSE, ids.data(), &big));
  EXPECT_EQ(big, n) << "a larger buffer than needed returns the true count";
  if (n >= 2) {
    CK_ULONG small = 1;
    EXPECT_CKR(CKR_BUFFER_TOO_SMALL, p11()->C_GetSlotList(CK_FALSE, ids.data(), &small));
    EXPECT_EQ(small, n);
  }
  CK_ULONG zero = 0;
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, p11()->C_GetSlotList(CK_FALSE, ids.data(), &zero));
  EXPECT_EQ(zero, n);
  CK_ULONG np = 0;
  ASSERT_OK(p11()->C_GetSlotList(CK_TRUE, nullptr, &np));
  EXPECT_LE(np, n);
  EXPECT_GE(np, 1u);
  ids.resize(n);
  EXPECT_NE(std::find(ids.begin(), ids.end(), slot()), ids.end()) << "the slot under test is listed";
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetSlotList(CK_FALSE, nullptr, nullptr));
}

TEST_F(SlotToken, SlotInfoFields) {
  CK_SLOT_INFO si;
  std::memset(&si, 0, sizeof si);
  ASSERT_OK(p11()->C_GetSlotInfo(slot(), &si));
  EXPECT_TRUE(padded_text("slotDescription", si.slotDescription, sizeof si.slotDescription));
  EXPECT_TRUE(padded_text("manufacturerID", si.manufacturerID, sizeof si.manufacturerID));
  EXPECT_TRUE(si.flags & CKF_TOKEN_PRESENT);
  EXPECT_EQ(si.flags & ~(CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE | CKF_HW_SLOT), 0u) << "undefined slot flags set";
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetSlotInfo(slot(), nullptr));
}

TEST_F(SlotToken, TokenInfoFields) {
  CK_TOKEN_INFO ti;
  std::memset(&ti, 0, sizeof ti);
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &ti));
  EXPECT_TRUE(padded_text("label", ti.label, sizeof ti.label));
  EXPECT_TRUE(padded_text("manufacturerID", ti.manufacturerID, sizeof ti.manufacturerID));
  EXPECT_TRUE(padded_text("model", ti.model, sizeof ti.model));
  EXPECT_TRUE(padded_text("serialNumber", ti.serialNumber, sizeof ti.serialNumber));
  EXPECT_TRUE(ti.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_TRUE(ti.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_TRUE(ti.flags & CKF_LOGIN_REQUIRED) << "a token with private keys behind a PIN requires login";
  EXPECT_LE(ti.ulMinPinLen, ti.ulMaxPinLen);
  EXPECT_LE(ti.ulMinPinLen, config().pin.size());
  EXPECT_GE(ti.ulMaxPinLen, config().pin.size());
  // This fixture has one R/W session open.
  if (ti.ulSessionCount != CK_UNAVAILABLE_INFORMATION) {
    EXPECT_GE(ti.ulSessionCount, 1u);
  }
  if (ti.ulRwSessionCount != CK_UNAVAILABLE_INFORMATION) {
    EXPECT_GE(ti.ulRwSessionCount, 1u);
  }
  if (ti.ulMaxSessionCount != CK_UNAVAILABLE_INFORMATION && ti.ulMaxSessionCount != CK_EFFECTIVELY_INFINITE &&
      ti.ulSessionCount != CK_UNAVAILABLE_INFORMATION) {
    EXPECT_LE(ti.ulSessionCount, ti.ulMaxSessionCount);
  }
  if (ti.flags & CKF_CLOCK_ON_TOKEN) {
    EXPECT_TRUE(padded_text("utcTime", ti.utcTime, sizeof ti.utcTime));
  }
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetTokenInfo(slot(), nullptr));
}

TEST_F(SlotToken, TokenInfoSessionCountsFollowSessions) {
  CK_TOKEN_INFO before, during;
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &before));
  if (before.ulSessionCount == CK_UNAVAILABLE_INFORMATION) GTEST_SKIP() << "module does not report session counts";
  {
    Session ro(false), rw(true);
    ASSERT_OK(ro.open_rv());
    ASSERT_OK(rw.open_rv());
    ASSERT_OK(p11()->C_GetTokenInfo(slot(), &during));
    EXPECT_EQ(during.ulSessionCount, before.ulSessionCount + 2);
    EXPECT_EQ(during.ulRwSessionCount, before.ulRwSessionCount + 1);
  }
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &during));
  EXPECT_EQ(during.ulSessionCount, before.ulSessionCount);
}

TEST_F(SlotToken, InvalidSlotId) {
  CK_ULONG n = 0;
  ASSERT_OK(p11()->C_GetSlotList(CK_FALSE, nullptr, &n));
  std::vector<CK_SLOT_ID> ids(n);
  ASSERT_OK(p11()->C_GetSlotList(CK_FALSE, ids.data(), &n));
  CK_SLOT_ID bad = 0x7ffff00d;
  while (std::find(ids.begin(), ids.end(), bad) != ids.end()) ++bad;
  CK_SLOT_INFO si;
  CK_TOKEN_INFO ti;
  CK_MECHANISM_INFO mi;
  CK_SESSION_HANDLE s;
  EXPECT_CKR(CKR_SLOT_ID_INVALID, p11()->C_GetSlotInfo(bad, &si));
  EXPECT_CKR(CKR_SLOT_ID_INVALID, p11()->C_GetTokenInfo(bad, &ti));
  EXPECT_CKR(CKR_SLOT_ID_INVALID, p11()->C_GetMechanismList(bad, nullptr, &n));
  EXPECT_CKR(CKR_SLOT_ID_INVALID, p11()->C_GetMechanismInfo(bad, CKM_SHA256, &mi));
  EXPECT_CKR(CKR_SLOT_ID_INVALID, p11()->C_OpenSession(bad, CKF_SERIAL_SESSION, nullptr, nullptr, &s));
  EXPECT_CKR(CKR_SLOT_ID_INVALID, p11()->C_CloseAllSessions(bad));
}

TEST_F(SlotToken, MechanismListSizeConvention) {
  CK_ULONG n = 0;
  ASSERT_OK(p11()->C_GetMechanismList(slot(), nullptr, &n));
  ASSERT_GE(n, 1u);
  std::vector<CK_MECHANISM_TYPE> list(n + 4);
  CK_ULONG big = list.size();
  ASSERT_OK(p11()->C_GetMechanismList(slot(), list.data(), &big));
  EXPECT_EQ(big, n) << "a larger buffer than needed returns the true count";
  CK_ULONG small = n - 1;
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, p11()->C_GetMechanismList(slot(), list.data(), &small));
  EXPECT_EQ(small, n);
  list.resize(n);
  auto sorted = list;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a mechanism is listed twice";
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetMechanismList(slot(), nullptr, nullptr));
}

TEST_F(SlotToken, MechanismInfoForEveryListedMechanism) {
  for (auto m : mechanism_list()) {
    CK_MECHANISM_INFO mi;
    ASSERT_OK(p11()->C_GetMechanismInfo(slot(), m, &mi)) << mech_name(m);
    EXPECT_LE(mi.ulMinKeySize, mi.ulMaxKeySize) << mech_name(m);
    const CK_FLAGS known = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN | CKF_SIGN_RECOVER |
                           CKF_VERIFY | CKF_VERIFY_RECOVER | CKF_GENERATE | CKF_GENERATE_KEY_PAIR | CKF_WRAP |
                           CKF_UNWRAP | CKF_DERIVE | CKF_EC_F_P | CKF_EC_F_2M_ | CKF_EC_ECPARAMETERS_ |
                           CKF_EC_OID | CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS | CKF_EXTENSION |
                           CKF_MESSAGE_ENCRYPT_ | CKF_MESSAGE_DECRYPT_ | CKF_MESSAGE_SIGN_ | CKF_MESSAGE_VERIFY_ |
                           CKF_MULTI_MESSAGE_ | CKF_FIND_OBJECTS_;
    EXPECT_EQ(mi.flags & ~known, 0u) << mech_name(m) << " has undefined mechanism flags";
    EXPECT_NE(mi.flags & ~CKF_HW & ~(CKF_EC_F_P | CKF_EC_F_2M_ | CKF_EC_ECPARAMETERS_ | CKF_EC_OID |
                                      CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS),
              0u)
        << mech_name(m) << " is listed but supports no function";
  }
  CK_MECHANISM_INFO mi;
  EXPECT_CKR(CKR_MECHANISM_INVALID, p11()->C_GetMechanismInfo(slot(), CKM_VENDOR_DEFINED + 0x7654321, &mi));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetMechanismInfo(slot(), CKM_SHA256, nullptr));
}

TEST_F(SlotToken, WaitForSlotEventDontBlock) {
  CK_SLOT_ID s = 0;
  CK_RV rv = p11()->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, nullptr);
  EXPECT_CKR_IN(({CKR_NO_EVENT, CKR_OK, CKR_FUNCTION_NOT_SUPPORTED}), rv);
}

TEST_F(SlotToken, GenerateRandom) {
  Bytes a(32), b(32);
  ASSERT_OK(p11()->C_GenerateRandom(session_, a.data(), a.size()));
  ASSERT_OK(p11()->C_GenerateRandom(session_, b.data(), b.size()));
  EXPECT_NE(a, b);
  EXPECT_NE(a, Bytes(32, 0));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GenerateRandom(session_, nullptr, 16));
  Bytes seed{1, 2, 3, 4};
  EXPECT_CKR_IN(({CKR_OK, CKR_RANDOM_SEED_NOT_SUPPORTED}), p11()->C_SeedRandom(session_, seed.data(), seed.size()));
}

}  // namespace
}  // namespace keyseal::conformance
