// keyseal-bench's client side of PKCS#11 (v2.40/3.0 sections 5.4-5.7): loads any module through dlopen,
// initializes it for OS locking, selects or initializes a token, and owns sessions. No keyseal code is used.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "keyseal/pkcs11.h"

namespace keyseal::bench {

using Bytes = std::vector<uint8_t>;

// A PKCS#11 call that returned something other than CKR_OK.
class P11Error : public std::runtime_error {
 public:
  P11Error(CK_RV rv, const std::string& what);
  CK_RV rv() const { return rv_; }

 private:
  CK_RV rv_;
};

// The spec's name of a return value ("CKR_PIN_INCORRECT"), or its hex value when unknown here.
std::string rv_name(CK_RV rv);

// Throws P11Error when rv != CKR_OK; `what` names the call.
void check(CK_RV rv, const char* what);

// A loaded and initialized module. C_Finalize and dlclose run in the destructor.
class Module {
 public:
  explicit Module(const std::string& path);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST_PTR fn() const { return fn_; }
  const std::string& path() const { return path_; }
  std::string library_description() const;
  std::vector<CK_SLOT_ID> slots(bool token_present) const;
  CK_TOKEN_INFO token_info(CK_SLOT_ID slot) const;
  std::vector<CK_MECHANISM_TYPE> mechanisms(CK_SLOT_ID slot) const;

 private:
  std::string path_;
  void* handle_ = nullptr;
  CK_FUNCTION_LIST_PTR fn_ = nullptr;
};

// One open session; closed by the destructor.
class Session {
 public:
  Session(const Module& m, CK_SLOT_ID slot, bool read_write);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE handle() const { return h_; }
  CK_FUNCTION_LIST_PTR fn() const { return fn_; }
  // C_Login; CKR_USER_ALREADY_LOGGED_IN counts as success (login state is shared by the application).
  void login(CK_USER_TYPE user, const std::string& pin);

 private:
  CK_FUNCTION_LIST_PTR fn_;
  CK_SESSION_HANDLE h_ = CK_INVALID_HANDLE;
};

// How the token is chosen (section 5.4: slot and token management).
struct TokenChoice {
  bool has_slot = false;
  CK_SLOT_ID slot = 0;
  std::string label;  // --token-label; also the label given to C_InitToken
  bool init = false;  // C_InitToken + C_InitPIN on an empty slot (or on --slot)
  std::string so_pin;
  std::string user_pin;
};

// Returns the slot holding the chosen token, initializing it first when asked. Throws std::runtime_error
// (or P11Error) with a readable reason when no token fits.
CK_SLOT_ID select_token(const Module& m, const TokenChoice& c);

// The token label from CK_TOKEN_INFO without its space padding.
std::string token_label(const CK_TOKEN_INFO& info);

}  // namespace keyseal::bench
