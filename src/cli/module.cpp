// Loading a PKCS#11 module (platform::SharedLibrary: dlopen / LoadLibraryW) and the RAII wrappers around its slots, sessions and attributes
// (PKCS#11 3.0 sections 5.4 general functions, 5.5 slot and token, 5.6 session, 5.7 object management).
#include "cli/module.h"

#include "cli/errors.h"
#include "cli/uri.h"

#include "platform/env.h"
#include "platform/paths.h"
#include "platform/process.h"

#include <cstring>
#include <filesystem>

namespace keyseal::cli {

std::string resolve_module_path(const std::optional<std::string>& option) {
  if (option) return *option;
  if (auto env = platform::get_env("KEYSEAL_MODULE"); env && !env->empty()) return *env;
#ifdef KEYSEAL_MODULE_BESIDE_EXE
  if (const std::string exe = platform::self_executable(); !exe.empty()) {
    const auto beside = platform::path_from_utf8(exe).parent_path() / KEYSEAL_MODULE_BESIDE_EXE;
    if (std::error_code ec; std::filesystem::exists(beside, ec)) return platform::path_to_utf8(beside);
  }
#endif
#ifdef KEYSEAL_INSTALLED_MODULE
  if (std::error_code ec; std::filesystem::exists(KEYSEAL_INSTALLED_MODULE, ec)) return KEYSEAL_INSTALLED_MODULE;
#endif
#ifdef KEYSEAL_BUILD_MODULE
  return KEYSEAL_BUILD_MODULE;
#else
  throw Failure("no PKCS#11 module found: give --module PATH or set KEYSEAL_MODULE");
#endif
}

Module::Module(const std::string& path) : path_(path) {
  if (!lib_.open(path)) throw Failure("cannot load module " + path + ": " + lib_.error());
  auto get = reinterpret_cast<CK_C_GetFunctionList>(lib_.symbol("C_GetFunctionList"));
  if (!get) {
    lib_.close();
    throw Failure("module " + path + " has no C_GetFunctionList: not a PKCS#11 module");
  }
  CK_RV rv = get(&fn_);
  if (rv != CKR_OK || !fn_) {
    lib_.close();
    throw Error(rv == CKR_OK ? CKR_GENERAL_ERROR : rv, "C_GetFunctionList of " + path);
  }
  try {
    reinitialize();
  } catch (...) {
    lib_.close();
    throw;
  }
}

void Module::reinitialize() {
  if (initialized_) {
    initialized_ = false;
    check(fn_->C_Finalize(nullptr), "C_Finalize of " + path_);
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  check(fn_->C_Initialize(&args), "C_Initialize of " + path_);
  initialized_ = true;
}

Module::~Module() {
  if (initialized_) fn_->C_Finalize(nullptr);
  lib_.close();
}

CK_INFO Module::info() const {
  CK_INFO i{};
  check(fn_->C_GetInfo(&i), "C_GetInfo");
  return i;
}

std::vector<CK_SLOT_ID> Module::slots(bool token_present) const {
  // The list can grow between the two calls (a token appears): retry on CKR_BUFFER_TOO_SMALL.
  for (;;) {
    CK_ULONG n = 0;
    check(fn_->C_GetSlotList(token_present ? CK_TRUE : CK_FALSE, nullptr, &n), "C_GetSlotList");
    std::vector<CK_SLOT_ID> ids(n);
    const CK_RV rv = fn_->C_GetSlotList(token_present ? CK_TRUE : CK_FALSE, ids.data(), &n);
    if (rv == CKR_BUFFER_TOO_SMALL) continue;
    check(rv, "C_GetSlotList");
    ids.resize(n);
    return ids;
  }
}

CK_SLOT_INFO Module::slot_info(CK_SLOT_ID slot) const {
  CK_SLOT_INFO i{};
  check(fn_->C_GetSlotInfo(slot, &i), "C_GetSlotInfo for slot " + std::to_string(slot));
  return i;
}

CK_TOKEN_INFO Module::token_info(CK_SLOT_ID slot) const {
  CK_TOKEN_INFO i{};
  check(fn_->C_GetTokenInfo(slot, &i), "C_GetTokenInfo for slot " + std::to_string(slot));
  return i;
}

Session::Session(const Module& m, CK_SLOT_ID slot, bool read_write) : m_(m), slot_(slot) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  check(m_.fn().C_OpenSession(slot, flags, nullptr, nullptr, &h_),
        std::string("C_OpenSession (") + (read_write ? "read/write" : "read-only") + ") on slot " +
            std::to_string(slot));
}

Session::~Session() {
  if (logged_in_) m_.fn().C_Logout(h_);
  m_.fn().C_CloseSession(h_);
}

void Session::login(CK_USER_TYPE user, const SecureBytes& pin) {
  const std::string who = user == CKU_SO ? "SO" : "user";
  // The module takes a non-const pointer; it does not write through it.
  check(m_.fn().C_Login(h_, user, const_cast<CK_UTF8CHAR*>(pin.data()), pin.size()),
        "C_Login as " + who + " on slot " + std::to_string(slot_));
  logged_in_ = true;
}

void Session::logout() {
  if (!logged_in_) return;
  logged_in_ = false;
  check(m_.fn().C_Logout(h_), "C_Logout on slot " + std::to_string(slot_));
}

std::vector<CK_OBJECT_HANDLE> Session::find_all() {
  const std::string where = " on slot " + std::to_string(slot_);
  check(m_.fn().C_FindObjectsInit(h_, nullptr, 0), "C_FindObjectsInit" + where);
  std::vector<CK_OBJECT_HANDLE> all;
  CK_OBJECT_HANDLE batch[64];
  for (;;) {
    CK_ULONG n = 0;
    const CK_RV rv = m_.fn().C_FindObjects(h_, batch, 64, &n);
    if (rv != CKR_OK) {
      m_.fn().C_FindObjectsFinal(h_);
      throw Error(rv, "C_FindObjects" + where);
    }
    if (n == 0) break;
    all.insert(all.end(), batch, batch + n);
  }
  check(m_.fn().C_FindObjectsFinal(h_), "C_FindObjectsFinal" + where);
  return all;
}

std::optional<std::vector<uint8_t>> Session::attribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = m_.fn().C_GetAttributeValue(h_, obj, &a, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) return std::nullopt;
  check(rv, "C_GetAttributeValue on slot " + std::to_string(slot_));
  if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION) return std::nullopt;
  std::vector<uint8_t> value(a.ulValueLen);
  a.pValue = value.data();
  rv = m_.fn().C_GetAttributeValue(h_, obj, &a, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) return std::nullopt;
  check(rv, "C_GetAttributeValue on slot " + std::to_string(slot_));
  value.resize(a.ulValueLen);
  return value;
}

std::optional<CK_ULONG> Session::ulong_attribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
  const auto v = attribute(obj, type);
  if (!v || v->size() != sizeof(CK_ULONG)) return std::nullopt;
  CK_ULONG n;
  std::memcpy(&n, v->data(), sizeof n);
  return n;
}

std::string token_label(const CK_TOKEN_INFO& t) { return trim_padded(t.label, sizeof t.label); }

std::vector<std::string> token_flag_words(CK_FLAGS f) {
  std::vector<std::string> w;
  w.push_back(f & CKF_TOKEN_INITIALIZED ? "initialised" : "not initialised");
  if (f & CKF_TOKEN_INITIALIZED) w.push_back(f & CKF_USER_PIN_INITIALIZED ? "user PIN set" : "user PIN not set");
  if (f & CKF_LOGIN_REQUIRED) w.push_back("login required");
  if (f & CKF_WRITE_PROTECTED) w.push_back("write-protected");
  if (f & CKF_RNG) w.push_back("has RNG");
  if (f & CKF_PROTECTED_AUTHENTICATION_PATH) w.push_back("PIN pad");
  if (f & CKF_USER_PIN_COUNT_LOW) w.push_back("user PIN count low");
  if (f & CKF_USER_PIN_FINAL_TRY) w.push_back("user PIN final try");
  if (f & CKF_USER_PIN_LOCKED) w.push_back("user PIN locked");
  if (f & CKF_USER_PIN_TO_BE_CHANGED) w.push_back("user PIN to be changed");
  if (f & CKF_SO_PIN_COUNT_LOW) w.push_back("SO PIN count low");
  if (f & CKF_SO_PIN_FINAL_TRY) w.push_back("SO PIN final try");
  if (f & CKF_SO_PIN_LOCKED) w.push_back("SO PIN locked");
  if (f & CKF_SO_PIN_TO_BE_CHANGED) w.push_back("SO PIN to be changed");
  return w;
}

}  // namespace keyseal::cli
