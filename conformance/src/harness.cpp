// The conformance harness: loading the module (PKCS#11 3.0 sections 5.2 and 5.4), slot discovery and token
// initialisation (5.5), sessions, templates and the CK_RV assertions every test uses.
#include "harness.h"

#include "platform/dynlib.h"
#include "platform/process.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace keyseal::conformance {

Config& config() {
  static Config c;
  return c;
}

Module& module() {
  static Module m;
  return m;
}

namespace {

std::string padded_label(const std::string& label) {
  std::string out = label.substr(0, 32);
  out.resize(32, ' ');
  return out;
}

std::string trim(const CK_UTF8CHAR* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::vector<CK_SLOT_ID> slots_with_token() {
  CK_ULONG n = 0;
  if (p11()->C_GetSlotList(CK_TRUE, nullptr, &n) != CKR_OK) throw std::runtime_error("C_GetSlotList failed");
  std::vector<CK_SLOT_ID> ids(n);
  if (n && p11()->C_GetSlotList(CK_TRUE, ids.data(), &n) != CKR_OK)
    throw std::runtime_error("C_GetSlotList failed");
  ids.resize(n);
  return ids;
}

std::optional<CK_SLOT_ID> slot_by_label(const std::string& label) {
  for (auto id : slots_with_token()) {
    CK_TOKEN_INFO ti{};
    if (p11()->C_GetTokenInfo(id, &ti) == CKR_OK && (ti.flags & CKF_TOKEN_INITIALIZED) &&
        trim(ti.label, sizeof ti.label) == label)
      return id;
  }
  return std::nullopt;
}

void check(CK_RV rv, const char* what) {
  if (rv != CKR_OK) throw std::runtime_error(std::string(what) + " failed: " + rv_name(rv));
}

void init_token(CK_SLOT_ID id) {
  auto& c = config();
  std::string label = c.token_label.empty() ? "keyseal-conformance" : c.token_label;
  std::string padded = padded_label(label);
  check(p11()->C_InitToken(id, (CK_UTF8CHAR_PTR)c.so_pin.data(), c.so_pin.size(), (CK_UTF8CHAR_PTR)padded.data()),
        "C_InitToken");
  // Some modules (SoftHSMv2) give the initialised token a new slot ID; find it again by label after a restart.
  check(p11()->C_Finalize(nullptr), "C_Finalize");
  check(initialize_os_locking(), "C_Initialize");
  auto found = slot_by_label(label);
  if (!found) throw std::runtime_error("initialised token '" + label + "' not found again");
  module().slot = *found;
  CK_SESSION_HANDLE s;
  check(p11()->C_OpenSession(module().slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
        "C_OpenSession");
  check(p11()->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)c.so_pin.data(), c.so_pin.size()), "C_Login(SO)");
  check(p11()->C_InitPIN(s, (CK_UTF8CHAR_PTR)c.pin.data(), c.pin.size()), "C_InitPIN");
  check(p11()->C_Logout(s), "C_Logout");
  check(p11()->C_CloseSession(s), "C_CloseSession");
}

}  // namespace

void load_module(bool initialise) {
  auto& m = module();
  auto& c = config();
  // Loaded for the life of the process and never closed, not even at exit: a static object's destructor would
  // unload the module after main returns, and the module's process-wide state (kept on purpose) would then show
  // up as leaks in LeakSanitizer's exit check, failing every child task under ASan.
  static auto* loaded = new platform::SharedLibrary;
  platform::SharedLibrary& library = *loaded;
  if (!library.open(c.module_path)) throw std::runtime_error("cannot load " + c.module_path + ": " + library.error());
  m.handle = &library;
  m.get_interface = reinterpret_cast<CK_C_GetInterface>(library.symbol("C_GetInterface"));
  m.get_interface_list = reinterpret_cast<CK_C_GetInterfaceList>(library.symbol("C_GetInterfaceList"));
  if (m.get_interface) {
    CK_VERSION v{3, 0};
    CK_INTERFACE_PTR iface = nullptr;
    CK_RV rv = m.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v, &iface, 0);
    if (rv == CKR_OK && iface && iface->pFunctionList) {
      m.fl3 = static_cast<CK_FUNCTION_LIST_3_0_PTR>(iface->pFunctionList);
      m.fl = static_cast<CK_FUNCTION_LIST_PTR>(iface->pFunctionList);
    }
  }
  if (!m.fl) {
    auto gfl = reinterpret_cast<CK_C_GetFunctionList>(library.symbol("C_GetFunctionList"));
    if (!gfl) throw std::runtime_error("module exports neither C_GetInterface nor C_GetFunctionList");
    check(gfl(&m.fl), "C_GetFunctionList");
  }
  if (c.slot) m.slot = *c.slot;
  if (!initialise) return;
  check(initialize_os_locking(), "C_Initialize");
  if (c.slot) {
    m.slot = *c.slot;
  } else if (!c.token_label.empty() && !c.init_token) {
    auto found = slot_by_label(c.token_label);
    if (!found) throw std::runtime_error("no token labelled '" + c.token_label + "'");
    m.slot = *found;
  } else {
    std::optional<CK_SLOT_ID> pick;
    for (auto id : slots_with_token()) {
      CK_TOKEN_INFO ti{};
      if (p11()->C_GetTokenInfo(id, &ti) != CKR_OK) continue;
      bool initialised = ti.flags & CKF_TOKEN_INITIALIZED;
      if (initialised != c.init_token) {
        pick = id;
        break;
      }
    }
    if (!pick)
      throw std::runtime_error(c.init_token ? "no slot with an uninitialised token" : "no initialised token");
    m.slot = *pick;
  }
  if (c.init_token) init_token(m.slot);
}

CK_RV initialize_os_locking() {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  return p11()->C_Initialize(&args);
}

void ensure_initialized() {
  CK_RV rv = initialize_os_locking();
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
    throw std::runtime_error("C_Initialize failed: " + rv_name(rv));
}

CK_RV finalize() {
  ++module().generation;
  return p11()->C_Finalize(nullptr);
}

CK_SLOT_ID slot() { return module().slot; }

std::string hex(const Bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

Bytes unhex(const std::string& s) {
  Bytes out;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(uint8_t(val(s[i]) << 4 | val(s[i + 1])));
  return out;
}

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

testing::AssertionResult check_rv(const char* expected_expr, const char* actual_expr, CK_RV expected, CK_RV actual) {
  if (expected == actual) return testing::AssertionSuccess();
  return testing::AssertionFailure() << actual_expr << " returned " << rv_name(actual) << ", the specification says "
                                     << rv_name(expected);
}

testing::AssertionResult check_rv_in(const char*, const char* actual_expr, const std::vector<CK_RV>& allowed,
                                     CK_RV actual) {
  if (std::find(allowed.begin(), allowed.end(), actual) != allowed.end()) return testing::AssertionSuccess();
  auto f = testing::AssertionFailure();
  f << actual_expr << " returned " << rv_name(actual) << ", the specification allows only";
  for (auto rv : allowed) f << " " << rv_name(rv);
  return f;
}

Session::Session(bool rw) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
  open_rv_ = p11()->C_OpenSession(slot(), flags, nullptr, nullptr, &h_);
  open_ = open_rv_ == CKR_OK;
}

Session::~Session() { close(); }

CK_RV Session::close() {
  if (!open_) return CKR_OK;
  open_ = false;
  return p11()->C_CloseSession(h_);
}

CK_RV login_user(CK_SESSION_HANDLE s) {
  auto& pin = config().pin;
  CK_RV rv = p11()->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin.data(), pin.size());
  return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

CK_RV login_so(CK_SESSION_HANDLE s) {
  auto& pin = config().so_pin;
  return p11()->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)pin.data(), pin.size());
}

CK_ULONG session_state(CK_SESSION_HANDLE s) {
  CK_SESSION_INFO si{};
  if (p11()->C_GetSessionInfo(s, &si) != CKR_OK) return ~0UL;
  return si.state;
}

Template& Template::operator=(const Template& o) {
  values_ = o.values_;
  rebuild();
  return *this;
}

Template& Template::add(CK_ATTRIBUTE_TYPE t, bool v) { return add(t, Bytes{uint8_t(v ? CK_TRUE : CK_FALSE)}); }

Template& Template::add_ulong(CK_ATTRIBUTE_TYPE t, CK_ULONG v) {
  Bytes b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return add(t, b);
}

Template& Template::add(CK_ATTRIBUTE_TYPE t, const Bytes& v) {
  remove(t);
  values_.emplace_back(t, v);
  rebuild();
  return *this;
}

Template& Template::remove(CK_ATTRIBUTE_TYPE t) {
  std::erase_if(values_, [t](auto& p) { return p.first == t; });
  rebuild();
  return *this;
}

void Template::rebuild() {
  attrs_.clear();
  for (auto& [t, v] : values_)
    attrs_.push_back(CK_ATTRIBUTE{t, v.empty() ? nullptr : v.data(), (CK_ULONG)v.size()});
}

Bytes get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_RV* rv_out) {
  CK_ATTRIBUTE a{t, nullptr, 0};
  CK_RV rv = p11()->C_GetAttributeValue(s, o, &a, 1);
  Bytes out;
  if (rv == CKR_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
    out.resize(a.ulValueLen);
    a.pValue = out.data();
    rv = p11()->C_GetAttributeValue(s, o, &a, 1);
    out.resize(rv == CKR_OK ? a.ulValueLen : 0);
  }
  if (rv_out) *rv_out = rv;
  return out;
}

CK_ULONG get_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_RV* rv) {
  Bytes b = get_attr(s, o, t, rv);
  CK_ULONG v = ~0UL;
  if (b.size() == sizeof v) std::memcpy(&v, b.data(), sizeof v);
  return v;
}

bool get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_RV* rv) {
  Bytes b = get_attr(s, o, t, rv);
  return b.size() == 1 && b[0] != CK_FALSE;
}

std::vector<CK_OBJECT_HANDLE> find_objects(CK_SESSION_HANDLE s, Template tmpl, CK_RV* rv_out) {
  std::vector<CK_OBJECT_HANDLE> out;
  CK_RV rv = p11()->C_FindObjectsInit(s, tmpl.data(), tmpl.size());
  if (rv == CKR_OK) {
    CK_OBJECT_HANDLE buf[16];
    CK_ULONG n = 0;
    while ((rv = p11()->C_FindObjects(s, buf, 16, &n)) == CKR_OK && n > 0) out.insert(out.end(), buf, buf + n);
    CK_RV rv2 = p11()->C_FindObjectsFinal(s);
    if (rv == CKR_OK) rv = rv2;
  }
  if (rv_out) *rv_out = rv;
  return out;
}

std::vector<CK_MECHANISM_TYPE> mechanism_list() {
  CK_ULONG n = 0;
  if (p11()->C_GetMechanismList(slot(), nullptr, &n) != CKR_OK) return {};
  std::vector<CK_MECHANISM_TYPE> out(n);
  if (n && p11()->C_GetMechanismList(slot(), out.data(), &n) != CKR_OK) return {};
  out.resize(n);
  return out;
}

bool has_mechanism(CK_MECHANISM_TYPE m) {
  auto l = mechanism_list();
  return std::find(l.begin(), l.end(), m) != l.end();
}

std::optional<CK_MECHANISM_INFO> mechanism_info(CK_MECHANISM_TYPE m) {
  if (!has_mechanism(m)) return std::nullopt;
  CK_MECHANISM_INFO info{};
  if (p11()->C_GetMechanismInfo(slot(), m, &info) != CKR_OK) return std::nullopt;
  return info;
}

std::string unique_label(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  return prefix + "-" + std::to_string(platform::process_id()) + "-" + std::to_string(counter++);
}

void P11Test::SetUp() {
  ensure_initialized();
  CK_RV rv = p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session_);
  ASSERT_OK(rv);
  ASSERT_OK(login_user(session_));
}

void P11Test::TearDown() {
  if (session_ != CK_INVALID_HANDLE) p11()->C_CloseSession(session_);
  session_ = CK_INVALID_HANDLE;
}

int spawn_child_task(const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> argv{config().self_exe};
  argv.insert(argv.end(), config().module_args.begin(), config().module_args.end());
  argv.push_back("--child-task");
  argv.push_back(name);
  argv.insert(argv.end(), args.begin(), args.end());
  return static_cast<int>(platform::spawn_process(argv));
}

int wait_child_task(int pid, int timeout_seconds) { return platform::wait_process(pid, timeout_seconds); }

int run_child_task(const std::string& name, const std::vector<std::string>& args, int timeout_seconds) {
  return wait_child_task(spawn_child_task(name, args), timeout_seconds);
}

}  // namespace keyseal::conformance
