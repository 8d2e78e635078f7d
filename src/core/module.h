// The module (PKCS#11 3.0 sections 5.4 to 5.6): slots found in the store directory, one empty slot for a new
// token, and the session table. Created by C_Initialize, destroyed by C_Finalize. The session table has a
// shared lock only; the signing path never takes an exclusive module-wide lock.
#pragma once
#include "core/backend.h"
#include "core/config.h"
#include "core/session.h"
#include "core/token.h"
#include "platform/shared_mutex.h"

#include <keyseal/pkcs11.h>

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace keyseal::core {

class Module {
 public:
  // `backends`: the token kinds available now; new tokens use the first. `unavailable`: why a kind the
  // configuration asks for is missing (e.g. "no TPM: ..."); said when a token of that kind cannot open, and
  // when `backends` is empty, C_InitToken on the empty slot fails with it.
  Module(Config config, std::vector<std::shared_ptr<Backend>> backends, std::string unavailable = {});
  ~Module();

  const Config& config() const { return config_; }
  std::vector<CK_SLOT_ID> slot_list(bool token_present);
  void slot_info(CK_SLOT_ID slot, CK_SLOT_INFO& info);
  void token_info(CK_SLOT_ID slot, CK_TOKEN_INFO& info);
  std::vector<CK_MECHANISM_TYPE> mechanism_list(CK_SLOT_ID slot);
  CK_MECHANISM_INFO mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type);
  void init_token(CK_SLOT_ID slot, ByteView so_pin, ByteView label32);

  CK_SESSION_HANDLE open_session(CK_SLOT_ID slot, CK_FLAGS flags);
  void close_session(CK_SESSION_HANDLE h);
  void close_all_sessions(CK_SLOT_ID slot);
  std::shared_ptr<Session> session(CK_SESSION_HANDLE h);  // CKR_SESSION_HANDLE_INVALID
  void login(CK_SESSION_HANDLE h, CK_USER_TYPE who, ByteView pin);
  void logout(CK_SESSION_HANDLE h);

 private:
  struct Slot {
    CK_SLOT_ID id = 0;
    std::shared_ptr<Token> token;  // null: the empty slot, or a token that could not be opened
    std::string broken;            // why the token in this slot is disabled
  };
  void rescan_locked();
  Slot& slot_locked(CK_SLOT_ID id);
  std::shared_ptr<Token> token_of(CK_SLOT_ID id);
  Backend& backend_for_slot_locked(const Slot& s);
  void count_sessions(CK_SLOT_ID slot, CK_ULONG& all, CK_ULONG& rw);

  const Config config_;
  std::vector<std::shared_ptr<Backend>> backends_;
  std::string unavailable_;
  platform::SharedMutex slots_mu_;
  std::map<CK_SLOT_ID, Slot> slots_;
  CK_SLOT_ID empty_slot_ = 0;
  platform::SharedMutex sessions_mu_;
  std::unordered_map<CK_SESSION_HANDLE, std::shared_ptr<Session>> sessions_;
};

}  // namespace keyseal::core
