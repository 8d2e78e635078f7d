// Chapter 5.6 (session management) and section 2.6 / 5.6 login semantics: R/O and R/W sessions, the session
// states of table 9, SO/user login exclusions, C_Logout, C_CloseAllSessions, C_SetPIN and C_InitPIN.
#include "harness.h"

#include <algorithm>

namespace keyseal::conformance {
namespace {

// Starts every test with no session of this application open, so that the token is logged out.
class Sessions : public testing::Test {
 protected:
  void SetUp() override {
    ensure_initialized();
    p11()->C_CloseAllSessions(slot());
    ++module().generation;  // cached keys lived in a session that is gone now
  }
  void TearDown() override { p11()->C_CloseAllSessions(slot()); }
};

TEST_F(Sessions, OpenSessionRequiresSerialFlag) {
  CK_SESSION_HANDLE s;
  EXPECT_CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED, p11()->C_OpenSession(slot(), 0, nullptr, nullptr, &s));
  EXPECT_CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED, p11()->C_OpenSession(slot(), CKF_RW_SESSION, nullptr, nullptr, &s));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, nullptr));
}

TEST_F(Sessions, PublicSessionStates) {
  Session ro(false), rw(true);
  ASSERT_OK(ro.open_rv());
  ASSERT_OK(rw.open_rv());
  EXPECT_NE(ro.h(), rw.h());
  CK_SESSION_INFO si;
  ASSERT_OK(p11()->C_GetSessionInfo(ro, &si));
  EXPECT_EQ(si.state, CKS_RO_PUBLIC_SESSION);
  EXPECT_EQ(si.slotID, slot());
  EXPECT_EQ(si.flags, CKF_SERIAL_SESSION);
  ASSERT_OK(p11()->C_GetSessionInfo(rw, &si));
  EXPECT_EQ(si.state, CKS_RW_PUBLIC_SESSION);
  EXPECT_EQ(si.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetSessionInfo(ro, nullptr));
}

TEST_F(Sessions, UserLoginAppliesToAllSessions) {
  Session ro(false), rw(true);
  ASSERT_OK(p11()->C_Login(ro, CKU_USER, (CK_UTF8CHAR_PTR)config().pin.data(), config().pin.size()));
  EXPECT_EQ(session_state(ro), CKS_RO_USER_FUNCTIONS);
  EXPECT_EQ(session_state(rw), CKS_RW_USER_FUNCTIONS);
  Session later(false);
  EXPECT_EQ(session_state(later), CKS_RO_USER_FUNCTIONS) << "a session opened after login is logged in too";
  EXPECT_CKR(CKR_USER_ALREADY_LOGGED_IN,
             p11()->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)config().pin.data(), config().pin.size()));
  ASSERT_OK(p11()->C_Logout(rw));
  EXPECT_EQ(session_state(ro), CKS_RO_PUBLIC_SESSION);
  EXPECT_EQ(session_state(rw), CKS_RW_PUBLIC_SESSION);
}

TEST_F(Sessions, LogoutDestroysPrivateSessionObjects) {
  Session rw(true);
  ASSERT_OK(login_user(rw));
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false).add(CKA_PRIVATE, true).add(CKA_VALUE, "p");
  CK_OBJECT_HANDLE priv, pub;
  ASSERT_OK(p11()->C_CreateObject(rw, t.data(), t.size(), &priv));
  t.add(CKA_PRIVATE, false);
  ASSERT_OK(p11()->C_CreateObject(rw, t.data(), t.size(), &pub));
  ASSERT_OK(p11()->C_Logout(rw));
  ASSERT_OK(login_user(rw));
  CK_RV rv;
  get_attr(rw, priv, CKA_VALUE, &rv);
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, rv) << "section 5.6: private session objects are destroyed by C_Logout";
  EXPECT_EQ(get_attr(rw, pub, CKA_VALUE), to_bytes("p")) << "public session objects survive C_Logout";
}

TEST_F(Sessions, LogoutWhenNotLoggedIn) {
  Session rw(true);
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, p11()->C_Logout(rw));
}

TEST_F(Sessions, SoLoginStates) {
  Session rw(true);
  ASSERT_OK(login_so(rw));
  EXPECT_EQ(session_state(rw), CKS_RW_SO_FUNCTIONS);
  CK_SESSION_HANDLE ro;
  EXPECT_CKR(CKR_SESSION_READ_WRITE_SO_EXISTS, p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &ro));
  EXPECT_CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
             p11()->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)config().pin.data(), config().pin.size()));
  EXPECT_CKR(CKR_USER_ALREADY_LOGGED_IN, login_so(rw));
  ASSERT_OK(p11()->C_Logout(rw));
  EXPECT_EQ(session_state(rw), CKS_RW_PUBLIC_SESSION);
}

TEST_F(Sessions, SoLoginWithReadOnlySessionIsRefused) {
  Session ro(false), rw(true);
  EXPECT_CKR(CKR_SESSION_READ_ONLY_EXISTS, login_so(rw));
  EXPECT_CKR(CKR_SESSION_READ_ONLY_EXISTS, login_so(ro));
  EXPECT_EQ(session_state(rw), CKS_RW_PUBLIC_SESSION);
}

TEST_F(Sessions, WrongSoPinIsPinIncorrect) {
  Session rw(true);
  std::string wrong = config().so_pin + "x";
  EXPECT_CKR(CKR_PIN_INCORRECT, p11()->C_Login(rw, CKU_SO, (CK_UTF8CHAR_PTR)wrong.data(), wrong.size()));
  EXPECT_EQ(session_state(rw), CKS_RW_PUBLIC_SESSION);
  ASSERT_OK(login_so(rw)) << "one wrong SO PIN must not lock the token";
  ASSERT_OK(p11()->C_Logout(rw));
}

TEST_F(Sessions, UserLoginWhileSoLoggedInIsRefused) {
  Session rw(true);
  ASSERT_OK(login_user(rw));
  EXPECT_CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, login_so(rw));
  ASSERT_OK(p11()->C_Logout(rw));
}

TEST_F(Sessions, WrongPinIsPinIncorrect) {
  Session rw(true);
  std::string wrong = config().pin + "x";
  EXPECT_CKR(CKR_PIN_INCORRECT, p11()->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)wrong.data(), wrong.size()));
  EXPECT_EQ(session_state(rw), CKS_RW_PUBLIC_SESSION);
  ASSERT_OK(login_user(rw)) << "one wrong PIN must not lock the token";
  ASSERT_OK(p11()->C_Logout(rw));
}

TEST_F(Sessions, WrongPinSetsUserPinCountLow) {
  Session rw(true);
  std::string wrong = config().pin + "y";
  ASSERT_CKR(CKR_PIN_INCORRECT, p11()->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)wrong.data(), wrong.size()));
  CK_TOKEN_INFO ti;
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &ti));
  // Section 5.5 table 11: "True if an incorrect user login PIN has been entered at least once since the last
  // successful authentication."
  EXPECT_TRUE(ti.flags & CKF_USER_PIN_COUNT_LOW) << "CKF_USER_PIN_COUNT_LOW after a wrong PIN";
  EXPECT_FALSE(ti.flags & CKF_USER_PIN_LOCKED);
  ASSERT_OK(login_user(rw));
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &ti));
  EXPECT_FALSE(ti.flags & CKF_USER_PIN_COUNT_LOW) << "cleared by the successful login";
  ASSERT_OK(p11()->C_Logout(rw));
}

TEST_F(Sessions, LoginArgumentErrors) {
  Session rw(true);
  EXPECT_CKR(CKR_USER_TYPE_INVALID, p11()->C_Login(rw, 77, (CK_UTF8CHAR_PTR)config().pin.data(), config().pin.size()));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_Login(rw, CKU_USER, nullptr, 4));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_Login(rw.h() + 1000, CKU_USER, (CK_UTF8CHAR_PTR)config().pin.data(),
                                                        config().pin.size()));
  // CKU_CONTEXT_SPECIFIC without an operation that needs it.
  EXPECT_CKR_IN(({CKR_OPERATION_NOT_INITIALIZED, CKR_USER_NOT_LOGGED_IN}),
                p11()->C_Login(rw, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)config().pin.data(), config().pin.size()));
}

TEST_F(Sessions, ReadOnlySessionCannotWrite) {
  Session ro(false);
  ASSERT_OK(login_user(ro));
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, true).add(CKA_LABEL, unique_label("ro"));
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_SESSION_READ_ONLY, p11()->C_CreateObject(ro, t.data(), t.size(), &h));
  // Session objects may be created in a R/O session (section 4.4).
  t.add(CKA_TOKEN, false);
  EXPECT_OK(p11()->C_CreateObject(ro, t.data(), t.size(), &h));
  std::string pin = config().pin;
  EXPECT_CKR(CKR_SESSION_READ_ONLY, p11()->C_SetPIN(ro, (CK_UTF8CHAR_PTR)pin.data(), pin.size(),
                                                    (CK_UTF8CHAR_PTR)pin.data(), pin.size()));
}

TEST_F(Sessions, ReadOnlySessionCannotChangeTokenObjects) {
  Session rw(true), ro(false);
  ASSERT_OK(login_user(rw));
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, true).add(CKA_LABEL, unique_label("rotok"));
  CK_OBJECT_HANDLE h;
  ASSERT_OK(p11()->C_CreateObject(rw, t.data(), t.size(), &h));
  Template l;
  l.add(CKA_LABEL, "changed");
  EXPECT_CKR(CKR_SESSION_READ_ONLY, p11()->C_SetAttributeValue(ro, h, l.data(), l.size()));
  EXPECT_CKR(CKR_SESSION_READ_ONLY, p11()->C_DestroyObject(ro, h));
  CK_OBJECT_HANDLE c;
  EXPECT_CKR(CKR_SESSION_READ_ONLY, p11()->C_CopyObject(ro, h, l.data(), l.size(), &c))
      << "copying into a token object needs a R/W session";
  EXPECT_OK(p11()->C_DestroyObject(rw, h));
}

TEST_F(Sessions, CloseSessionInvalidatesHandle) {
  CK_SESSION_HANDLE s;
  ASSERT_OK(p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s));
  ASSERT_OK(p11()->C_CloseSession(s));
  CK_SESSION_INFO si;
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_GetSessionInfo(s, &si));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_CloseSession(s));
  // Handles are not reused for a new session right away (a stale handle must stay invalid).
  CK_SESSION_HANDLE s2;
  ASSERT_OK(p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s2));
  EXPECT_NE(s2, CK_INVALID_HANDLE);
}

TEST_F(Sessions, LastSessionClosedLogsOut) {
  {
    Session rw(true);
    ASSERT_OK(login_user(rw));
  }
  Session again(true);
  EXPECT_EQ(session_state(again), CKS_RW_PUBLIC_SESSION) << "closing the last session logs the token out";
}

TEST_F(Sessions, CloseAllSessions) {
  Session a(false), b(true);
  ASSERT_OK(login_user(a));
  ASSERT_OK(p11()->C_CloseAllSessions(slot()));
  CK_SESSION_INFO si;
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_GetSessionInfo(a, &si));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_GetSessionInfo(b, &si));
  Session c(false);
  EXPECT_EQ(session_state(c), CKS_RO_PUBLIC_SESSION);
}

TEST_F(Sessions, ManySessions) {
  CK_TOKEN_INFO ti;
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &ti));
  CK_ULONG limit = 64;
  if (ti.ulMaxSessionCount != CK_EFFECTIVELY_INFINITE && ti.ulMaxSessionCount != CK_UNAVAILABLE_INFORMATION &&
      ti.ulMaxSessionCount < limit)
    limit = ti.ulMaxSessionCount;
  std::vector<CK_SESSION_HANDLE> hs(limit);
  for (CK_ULONG i = 0; i < limit; ++i)
    ASSERT_OK(p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION | (i % 2 ? CKF_RW_SESSION : 0), nullptr, nullptr,
                                   &hs[i]))
        << "session " << i << " of " << limit;
  std::sort(hs.begin(), hs.end());
  EXPECT_EQ(std::adjacent_find(hs.begin(), hs.end()), hs.end()) << "duplicate session handles";
  if (ti.ulMaxSessionCount == limit) {
    CK_SESSION_HANDLE extra;
    EXPECT_CKR(CKR_SESSION_COUNT, p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &extra));
  }
  for (auto h : hs) EXPECT_OK(p11()->C_CloseSession(h));
}

TEST_F(Sessions, SetPinChangesUserPin) {
  Session rw(true);
  ASSERT_OK(login_user(rw));
  std::string old_pin = config().pin, new_pin = config().pin + "9";
  ASSERT_OK(p11()->C_SetPIN(rw, (CK_UTF8CHAR_PTR)old_pin.data(), old_pin.size(), (CK_UTF8CHAR_PTR)new_pin.data(),
                            new_pin.size()));
  ASSERT_OK(p11()->C_Logout(rw));
  EXPECT_CKR(CKR_PIN_INCORRECT,
             p11()->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)old_pin.data(), old_pin.size()));
  ASSERT_OK(p11()->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)new_pin.data(), new_pin.size()));
  EXPECT_CKR(CKR_PIN_INCORRECT, p11()->C_SetPIN(rw, (CK_UTF8CHAR_PTR)old_pin.data(), old_pin.size(),
                                                (CK_UTF8CHAR_PTR)new_pin.data(), new_pin.size()));
  ASSERT_OK(p11()->C_SetPIN(rw, (CK_UTF8CHAR_PTR)new_pin.data(), new_pin.size(), (CK_UTF8CHAR_PTR)old_pin.data(),
                            old_pin.size()));
  ASSERT_OK(p11()->C_Logout(rw));
}

TEST_F(Sessions, InitPinRequiresSo) {
  Session rw(true);
  std::string pin = config().pin;
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, p11()->C_InitPIN(rw, (CK_UTF8CHAR_PTR)pin.data(), pin.size()));
  ASSERT_OK(login_user(rw));
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, p11()->C_InitPIN(rw, (CK_UTF8CHAR_PTR)pin.data(), pin.size()));
  ASSERT_OK(p11()->C_Logout(rw));
  ASSERT_OK(login_so(rw));
  EXPECT_OK(p11()->C_InitPIN(rw, (CK_UTF8CHAR_PTR)pin.data(), pin.size()));
  ASSERT_OK(p11()->C_Logout(rw));
  ASSERT_OK(login_user(rw)) << "the re-set user PIN works";
}

TEST_F(Sessions, InitTokenWithOpenSessionIsSessionExists) {
  Session rw(true);
  std::string so = config().so_pin;
  CK_TOKEN_INFO ti;
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &ti));
  CK_RV rv = p11()->C_InitToken(slot(), (CK_UTF8CHAR_PTR)so.data(), so.size(), ti.label);
  EXPECT_CKR(CKR_SESSION_EXISTS, rv);
  if (rv == CKR_OK) {  // the token was wiped: give it its user PIN back so that later tests can run
    rw.close();
    Session again(true);
    ASSERT_OK(login_so(again));
    std::string pin = config().pin;
    ASSERT_OK(p11()->C_InitPIN(again, (CK_UTF8CHAR_PTR)pin.data(), pin.size()));
  }
}

}  // namespace
}  // namespace keyseal::conformance
