// The CLI's side of the PKCS#11 API (PKCS#11 3.0 sections 5.4-5.7): finding and dlopening a module,
// C_Initialize/C_Finalize, sessions, and reading attributes, each wrapped in RAII.
#pragma once
#include "common/secure_bytes.h"
#include "platform/dynlib.h"

#include <keyseal/pkcs11.h>

#include <optional>
#include <string>
#include <vector>

namespace keyseal::cli {

// --module, else $KEYSEAL_MODULE, else the installed module if it exists (Linux: libkeyseal.so in the pkcs11
// folder; Windows: keyseal.dll beside keyseal.exe), else the build tree's.
// Throws Failure when none is known.
std::string resolve_module_path(const std::optional<std::string>& option);

// A loaded and initialised module. Finalises and unloads it when destroyed.
class Module {
 public:
  explicit Module(const std::string& path);  // throws Failure (dlopen/dlsym) or Error (C_Initialize)
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // C_Finalize then C_Initialize: some modules (SoftHSMv2) give a newly initialised token its lasting
  // slot id only when they are initialised again.
  void reinitialize();

  const CK_FUNCTION_LIST& fn() const { return *fn_; }
  const std::string& path() const { return path_; }

  CK_INFO info() const;
  std::vector<CK_SLOT_ID> slots(bool token_present) const;
  CK_SLOT_INFO slot_info(CK_SLOT_ID slot) const;
  CK_TOKEN_INFO token_info(CK_SLOT_ID slot) const;

 private:
  std::string path_;
  platform::SharedLibrary lib_;
  CK_FUNCTION_LIST* fn_ = nullptr;
  bool initialized_ = false;
};

// An open session; logs out (if it logged in) and closes when destroyed.
class Session {
 public:
  Session(const Module& m, CK_SLOT_ID slot, bool read_write);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE handle() const { return h_; }
  void login(CK_USER_TYPE user, const SecureBytes& pin);
  void logout();
  std::vector<CK_OBJECT_HANDLE> find_all();

  // One attribute's value; nothing when the object lacks it or it is sensitive/unextractable.
  std::optional<std::vector<uint8_t>> attribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);
  std::optional<CK_ULONG> ulong_attribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);

 private:
  const Module& m_;
  CK_SLOT_ID slot_;
  CK_SESSION_HANDLE h_ = CK_INVALID_HANDLE;
  bool logged_in_ = false;
};

// The label of a token as a string, and words for its flags ("user PIN locked").
std::string token_label(const CK_TOKEN_INFO& t);
std::vector<std::string> token_flag_words(CK_FLAGS flags);

}  // namespace keyseal::cli
