// The conformance harness: the module under test (loaded with dlopen / LoadLibrary, PKCS#11 3.0 section 5.2 / 5.4), the
// run's configuration, CK_RV assertions, RAII sessions and attribute templates shared by every test file.
#pragma once

#include <keyseal/pkcs11.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keyseal::conformance {

using Bytes = std::vector<uint8_t>;

struct Config {
  std::string module_path;
  std::optional<CK_SLOT_ID> slot;
  std::string token_label;
  std::string pin;
  std::string so_pin;
  bool init_token = false;
  std::string vectors_dir = KEYSEAL_CONFORMANCE_VECTORS_DIR;
  std::string self_exe;                  // this program, for tests that need a second process
  std::vector<std::string> module_args;  // the --module/--slot/--pin... arguments, passed on to children
};

Config& config();

// The loaded module: 2.40 function list always, 3.0 list when C_GetInterface offered one.
struct Module {
  void* handle = nullptr;  // the platform::SharedLibrary holding the module
  CK_FUNCTION_LIST_PTR fl = nullptr;
  CK_FUNCTION_LIST_3_0_PTR fl3 = nullptr;
  CK_C_GetInterface get_interface = nullptr;
  CK_C_GetInterfaceList get_interface_list = nullptr;
  CK_SLOT_ID slot = 0;
  uint64_t generation = 0;  // bumped by every C_Finalize the harness makes: cached handles become stale
};

Module& module();
inline CK_FUNCTION_LIST_PTR p11() { return module().fl; }

// Loads the module; with initialise, also calls C_Initialize and resolves the slot (initialising the token
// when asked). Throws std::runtime_error.
void load_module(bool initialise = true);
// C_Initialize with CKF_OS_LOCKING_OK when the module is not initialised yet.
void ensure_initialized();
// C_Finalize (and forget cached handles). Returns the module's CK_RV.
CK_RV finalize();
CK_RV initialize_os_locking();
CK_SLOT_ID slot();

std::string rv_name(CK_RV rv);
std::string mech_name(CK_MECHANISM_TYPE m);
std::string hex(const Bytes& b);
Bytes unhex(const std::string& s);
Bytes to_bytes(const std::string& s);

testing::AssertionResult check_rv(const char* expected_expr, const char* actual_expr, CK_RV expected, CK_RV actual);
testing::AssertionResult check_rv_in(const char* set_expr, const char* actual_expr,
                                     const std::vector<CK_RV>& allowed, CK_RV actual);

#define ASSERT_CKR(expected, expr) ASSERT_PRED_FORMAT2(::keyseal::conformance::check_rv, expected, expr)
#define EXPECT_CKR(expected, expr) EXPECT_PRED_FORMAT2(::keyseal::conformance::check_rv, expected, expr)
#define ASSERT_OK(expr) ASSERT_CKR(CKR_OK, expr)
#define EXPECT_OK(expr) EXPECT_CKR(CKR_OK, expr)
// For the places where the specification itself allows several return values.
#define EXPECT_CKR_IN(allowed, expr)                                                                   \
  EXPECT_PRED_FORMAT2(::keyseal::conformance::check_rv_in, (std::vector<CK_RV> allowed), expr)
#define ASSERT_CKR_IN(allowed, expr)                                                                   \
  ASSERT_PRED_FORMAT2(::keyseal::conformance::check_rv_in, (std::vector<CK_RV> allowed), expr)

// An open session, closed on destruction.
class Session {
 public:
  explicit Session(bool rw = true);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  CK_SESSION_HANDLE h() const { return h_; }
  operator CK_SESSION_HANDLE() const { return h_; }
  CK_RV open_rv() const { return open_rv_; }
  CK_RV close();

 private:
  CK_SESSION_HANDLE h_ = CK_INVALID_HANDLE;
  CK_RV open_rv_ = CKR_OK;
  bool open_ = false;
};

CK_RV login_user(CK_SESSION_HANDLE s);  // CKR_USER_ALREADY_LOGGED_IN counts as CKR_OK
CK_RV login_so(CK_SESSION_HANDLE s);
CK_ULONG session_state(CK_SESSION_HANDLE s);

// An attribute template whose values live as long as the template.
class Template {
 public:
  Template() = default;
  Template(const Template& o) { *this = o; }
  Template& operator=(const Template& o);
  Template& add(CK_ATTRIBUTE_TYPE t, bool v);
  Template& add_ulong(CK_ATTRIBUTE_TYPE t, CK_ULONG v);
  Template& add(CK_ATTRIBUTE_TYPE t, const Bytes& v);
  Template& add(CK_ATTRIBUTE_TYPE t, const std::string& v) { return add(t, to_bytes(v)); }
  Template& add(CK_ATTRIBUTE_TYPE t, const char* v) { return add(t, to_bytes(v)); }
  Template& remove(CK_ATTRIBUTE_TYPE t);
  // Never NULL: an empty template is a valid pointer with count 0 (NULL with count 0 is tested separately).
  CK_ATTRIBUTE_PTR data() { return attrs_.empty() ? &empty_ : attrs_.data(); }
  CK_ULONG size() const { return attrs_.size(); }

 private:
  void rebuild();
  std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>> values_;
  std::vector<CK_ATTRIBUTE> attrs_;
  CK_ATTRIBUTE empty_{};
};

// Reads one attribute (two-call size convention). Returns the CK_RV of the failing call in *rv when given.
Bytes get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_RV* rv = nullptr);
CK_ULONG get_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_RV* rv = nullptr);
bool get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_RV* rv = nullptr);
std::vector<CK_OBJECT_HANDLE> find_objects(CK_SESSION_HANDLE s, Template tmpl, CK_RV* rv = nullptr);

// Mechanism discovery.
std::vector<CK_MECHANISM_TYPE> mechanism_list();
bool has_mechanism(CK_MECHANISM_TYPE m);
std::optional<CK_MECHANISM_INFO> mechanism_info(CK_MECHANISM_TYPE m);
std::string unique_label(const std::string& prefix);

// Skips the test (GTEST_SKIP) unless the module lists the mechanism with all the given flags.
#define REQUIRE_MECHANISM(m, needed)                                                                    \
  do {                                                                                                 \
    auto _info = ::keyseal::conformance::mechanism_info(m);                                           \
    if (!_info) GTEST_SKIP() << ::keyseal::conformance::mech_name(m) << " not listed by the module";   \
    if ((_info->flags & (needed)) != (CK_FLAGS)(needed))                                                 \
      GTEST_SKIP() << ::keyseal::conformance::mech_name(m) << " lacks the flags this test needs";      \
  } while (0)

// Base fixture: module initialised, one R/W session, user logged in.
class P11Test : public testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
};

// The fixture of the concurrency tests, shared by test_concurrency.cpp and fork_<platform>.cpp (one type, so
// GoogleTest sees one suite).
class Concurrency : public P11Test {};

// Runs this program again as a child with --child-task NAME ARGS; returns its exit status (-1: signal).
int run_child_task(const std::string& name, const std::vector<std::string>& args, int timeout_seconds = 60);
// Starts a child task without waiting (pid, or -1), and waits for one (exit status as run_child_task).
int spawn_child_task(const std::string& name, const std::vector<std::string>& args);
int wait_child_task(int pid, int timeout_seconds);
// Child-task entry: returns the process exit code, or -1 when NAME is unknown.
int run_child_task_main(const std::string& name, const std::vector<std::string>& args);

}  // namespace keyseal::conformance
