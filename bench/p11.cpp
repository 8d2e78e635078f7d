// Loading a PKCS#11 module with dlopen and choosing its token (PKCS#11 v2.40 sections 5.4-5.6; the
// benchmark needs nothing from the 3.0 interface list, so it asks for the 2.40 function list).
#include "p11.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace keyseal::bench {

namespace {

struct RvName {
  CK_RV rv;
  const char* name;
};

// The return values a benchmark run can plausibly meet; others print as hex.
constexpr RvName kRvNames[] = {
    {CKR_OK, "CKR_OK"},
    {CKR_CANCEL, "CKR_CANCEL"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
    {CKR_CANT_LOCK, "CKR_CANT_LOCK"},
    {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY"},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID"},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
    {CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKR_SESSION_PARALLEL_NOT_SUPPORTED"},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS"},
    {CKR_SESSION_READ_WRITE_SO_EXISTS, "CKR_SESSION_READ_WRITE_SO_EXISTS"},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID"},
    {CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE"},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID"},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
};

CK_UTF8CHAR_PTR pin_ptr(const std::string& pin) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data()));
}

void init_token(const Module& m, CK_SLOT_ID slot, const TokenChoice& c) {
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  std::memcpy(label, c.label.data(), std::min(c.label.size(), sizeof label));
  check(m.fn()->C_InitToken(slot, pin_ptr(c.so_pin), c.so_pin.size(), label), "C_InitToken");
}

void init_user_pin(const Module& m, CK_SLOT_ID slot, const TokenChoice& c) {
  Session s(m, slot, true);
  s.login(CKU_SO, c.so_pin);
  check(m.fn()->C_InitPIN(s.handle(), pin_ptr(c.user_pin), c.user_pin.size()), "C_InitPIN");
  check(m.fn()->C_Logout(s.handle()), "C_Logout");
}

// The first slot whose token is initialized and, when a label is given, carries it.
bool find_initialized(const Module& m, const std::string& label, CK_SLOT_ID& out) {
  for (CK_SLOT_ID s : m.slots(true)) {
    const CK_TOKEN_INFO ti = m.token_info(s);
    if (!(ti.flags & CKF_TOKEN_INITIALIZED)) continue;
    if (!label.empty() && token_label(ti) != label) continue;
    out = s;
    return true;
  }
  return false;
}

}  // namespace

P11Error::P11Error(CK_RV rv, const std::string& what) : std::runtime_error(what + ": " + rv_name(rv)), rv_(rv) {}

std::string rv_name(CK_RV rv) {
  for (const RvName& n : kRvNames)
    if (n.rv == rv) return n.name;
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKR 0x%08lx", static_cast<unsigned long>(rv));
  return buf;
}

void check(CK_RV rv, const char* what) {
  if (rv != CKR_OK) throw P11Error(rv, what);
}

Module::Module(const std::string& path) : path_(path) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) throw std::runtime_error("cannot load " + path + ": " + dlerror());
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle_, "C_GetFunctionList"));
  if (!get) {
    dlclose(handle_);
    throw std::runtime_error(path + " exports no C_GetFunctionList");
  }
  CK_RV rv = get(&fn_);
  if (rv != CKR_OK || !fn_) {
    dlclose(handle_);
    throw P11Error(rv, "C_GetFunctionList");
  }
  // Two benchmark threads call into the module at once, so it must lock for itself (section 5.4.1).
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = fn_->C_Initialize(&args);
  if (rv == CKR_CANT_LOCK) {
    // A module that cannot lock serializes nothing for us; the multi-threaded rows then measure it anyway.
    std::fprintf(stderr, "keyseal-bench: %s cannot use OS locking; initializing without it\n", path.c_str());
    rv = fn_->C_Initialize(nullptr);
  }
  if (rv != CKR_OK) {
    dlclose(handle_);
    throw P11Error(rv, "C_Initialize");
  }
}

Module::~Module() {
  fn_->C_Finalize(nullptr);
  dlclose(handle_);
}

std::string Module::library_description() const {
  CK_INFO info{};
  check(fn_->C_GetInfo(&info), "C_GetInfo");
  std::string d(reinterpret_cast<const char*>(info.libraryDescription), sizeof info.libraryDescription);
  d.erase(d.find_last_not_of(' ') + 1);
  char ver[32];
  std::snprintf(ver, sizeof ver, " %u.%u", info.libraryVersion.major, info.libraryVersion.minor);
  return d + ver;
}

std::vector<CK_SLOT_ID> Module::slots(bool token_present) const {
  CK_ULONG n = 0;
  check(fn_->C_GetSlotList(token_present, nullptr, &n), "C_GetSlotList");
  std::vector<CK_SLOT_ID> ids(n);
  check(fn_->C_GetSlotList(token_present, ids.data(), &n), "C_GetSlotList");
  ids.resize(n);
  return ids;
}

CK_TOKEN_INFO Module::token_info(CK_SLOT_ID slot) const {
  CK_TOKEN_INFO ti{};
  check(fn_->C_GetTokenInfo(slot, &ti), "C_GetTokenInfo");
  return ti;
}

std::vector<CK_MECHANISM_TYPE> Module::mechanisms(CK_SLOT_ID slot) const {
  CK_ULONG n = 0;
  check(fn_->C_GetMechanismList(slot, nullptr, &n), "C_GetMechanismList");
  std::vector<CK_MECHANISM_TYPE> mechs(n);
  check(fn_->C_GetMechanismList(slot, mechs.data(), &n), "C_GetMechanismList");
  mechs.resize(n);
  return mechs;
}

Session::Session(const Module& m, CK_SLOT_ID slot, bool read_write) : fn_(m.fn()) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  check(fn_->C_OpenSession(slot, flags, nullptr, nullptr, &h_), "C_OpenSession");
}

Session::~Session() {
  fn_->C_CloseSession(h_);
}

void Session::login(CK_USER_TYPE user, const std::string& pin) {
  const CK_RV rv = fn_->C_Login(h_, user, pin_ptr(pin), pin.size());
  if (rv != CKR_USER_ALREADY_LOGGED_IN) check(rv, user == CKU_SO ? "C_Login(SO)" : "C_Login(user)");
}

std::string token_label(const CK_TOKEN_INFO& info) {
  std::string l(reinterpret_cast<const char*>(info.label), sizeof info.label);
  l.erase(l.find_last_not_of(' ') + 1);
  return l;
}

CK_SLOT_ID select_token(const Module& m, const TokenChoice& c) {
  CK_SLOT_ID slot = 0;
  if (c.init) {
    if (c.so_pin.empty()) throw std::runtime_error("--init needs --so-pin");
    if (c.has_slot) {
      slot = c.slot;
    } else {
      bool found = false;
      for (CK_SLOT_ID s : m.slots(false)) {
        CK_TOKEN_INFO ti{};
        if (m.fn()->C_GetTokenInfo(s, &ti) != CKR_OK || (ti.flags & CKF_TOKEN_INITIALIZED)) continue;
        slot = s;
        found = true;
        break;
      }
      if (!found) throw std::runtime_error("--init: the module shows no slot with an uninitialized token");
    }
    init_token(m, slot, c);
    // Some modules (SoftHSMv2) move a freshly initialized token to a new slot ID: find it again by label.
    CK_TOKEN_INFO ti{};
    const bool stayed =
        m.fn()->C_GetTokenInfo(slot, &ti) == CKR_OK && (ti.flags & CKF_TOKEN_INITIALIZED) && token_label(ti) == c.label;
    if (!stayed && !find_initialized(m, c.label, slot))
      throw std::runtime_error("token '" + c.label + "' not found after C_InitToken");
    init_user_pin(m, slot, c);
    return slot;
  }
  if (c.has_slot) return c.slot;
  if (find_initialized(m, c.label, slot)) return slot;
  if (!c.label.empty()) throw std::runtime_error("no initialized token labelled '" + c.label + "'");
  throw std::runtime_error("no initialized token (use --init with --so-pin to create one)");
}

}  // namespace keyseal::bench
