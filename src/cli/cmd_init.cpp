// `keyseal init`: initialise an empty token (PKCS#11 3.0 section 5.5: C_InitToken, then C_Login as SO and
// C_InitPIN for the user PIN) and print its new slot id and pkcs11: URI. --backend/--pcrs reach the module
// through KEYSEAL_BACKEND/KEYSEAL_TPM_PCRS; --recovery-code (soft tokens, issue 5) prints a code once.
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/prompt.h"
#include "cli/soft_token_file.h"
#include "cli/uri.h"
#include "core/config.h"
#include "softtoken/recovery.h"
#include "tpm/soft_share.h"

#include <cstdlib>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iostream>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace keyseal::cli {
namespace {

constexpr size_t kSoftPinAdvice = 8;  // random letters and digits: > 40 bits, see docs/security.md

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A token "is" of a backend when its model or slot description names it ("soft", "tpm").
bool matches_backend(const Module& m, CK_SLOT_ID slot, const CK_TOKEN_INFO& t, const std::string& backend) {
  const CK_SLOT_INFO s = m.slot_info(slot);
  const std::string model = lower(trim_padded(t.model, sizeof t.model));
  const std::string desc = lower(trim_padded(s.slotDescription, sizeof s.slotDescription));
  return model.find(backend) != std::string::npos || desc.find(backend) != std::string::npos;
}

using TokenKey = std::pair<CK_SLOT_ID, std::string>;  // slot id and serial of an initialised token

std::string serial_of(const CK_TOKEN_INFO& t) { return trim_padded(t.serialNumber, sizeof t.serialNumber); }

// Modules may move a token to a new slot id when it is initialised (SoftHSMv2 does): find the initialised
// token with our label that was not there before.
CK_SLOT_ID find_new_token(const Module& m, CK_SLOT_ID old_slot, const std::string& label,
                          const std::vector<TokenKey>& before) {
  std::optional<CK_SLOT_ID> found;
  for (const CK_SLOT_ID id : m.slots(true)) {
    const CK_TOKEN_INFO t = m.token_info(id);
    if (!(t.flags & CKF_TOKEN_INITIALIZED) || token_label(t) != label) continue;
    if (std::find(before.begin(), before.end(), TokenKey{id, serial_of(t)}) != before.end()) continue;
    if (id == old_slot) return id;
    if (!found) found = id;
  }
  if (!found) throw Failure("C_InitToken succeeded but no initialised token labelled '" + label + "' is listed");
  return *found;
}

void check_pin_length(const SecureBytes& pin, const CK_TOKEN_INFO& t, const char* what) {
  if (pin.size() < t.ulMinPinLen || (t.ulMaxPinLen != 0 && pin.size() > t.ulMaxPinLen))
    throw Error(CKR_PIN_LEN_RANGE, std::string("the ") + what + " has " + std::to_string(pin.size()) +
                                       " bytes; the token takes " + std::to_string(t.ulMinPinLen) + " to " +
                                       std::to_string(t.ulMaxPinLen));
}

}  // namespace

int run_init(const Options& o, std::ostream& out) {
  // Read by the module at C_Initialize, so set before it is loaded.
  if (o.backend) setenv("KEYSEAL_BACKEND", o.backend->c_str(), 1);
  if (o.pcrs) setenv("KEYSEAL_TPM_PCRS", o.pcrs->c_str(), 1);
  Module m(resolve_module_path(o.module));
  const std::string& label = *o.label;

  std::vector<TokenKey> before;
  std::optional<CK_SLOT_ID> chosen;
  for (const CK_SLOT_ID id : m.slots(true)) {
    const CK_TOKEN_INFO t = m.token_info(id);
    if (t.flags & CKF_TOKEN_INITIALIZED) {
      before.emplace_back(id, serial_of(t));
      if (o.slot && *o.slot == id)
        throw Failure("the token in slot " + std::to_string(id) + " ('" + token_label(t) +
                      "') is already initialised");
      continue;
    }
    if (chosen) continue;
    if (o.slot && *o.slot != id) continue;
    if (o.backend && *o.backend != "auto" && !matches_backend(m, id, t, *o.backend)) continue;
    chosen = id;
  }
  if (!chosen) {
    if (o.slot) throw Failure("no token present in slot " + std::to_string(*o.slot));
    throw Failure(o.backend ? "no empty token of backend '" + *o.backend + "' found"
                            : std::string("no empty (uninitialised) token found"));
  }

  if (o.recovery_code) {
    const CK_TOKEN_INFO t = m.token_info(*chosen);
    if (trim_padded(t.manufacturerID, sizeof t.manufacturerID) != "keyseal" || !matches_backend(m, *chosen, t, "soft"))
      throw Failure("--recovery-code applies to keyseal soft tokens only; slot " + std::to_string(*chosen) +
                    " holds another kind");
  }

  const SecureBytes so_pin = o.so_pin ? *o.so_pin : ask_new_pin("SO PIN");
  const SecureBytes user_pin = o.pin ? *o.pin : ask_new_pin("user PIN");
  // Check both lengths first: a user PIN rejected after C_InitToken would leave a token without one.
  const CK_TOKEN_INFO empty = m.token_info(*chosen);
  check_pin_length(so_pin, empty, "SO PIN");
  check_pin_length(user_pin, empty, "user PIN");
  // A soft token's PIN is all that guards a stolen disk (docs/security.md derives the minimum).
  if (trim_padded(empty.manufacturerID, sizeof empty.manufacturerID) == "keyseal" &&
      matches_backend(m, *chosen, empty, "soft")) {
    for (const auto& [pin, what] : {std::pair{&so_pin, "SO PIN"}, std::pair{&user_pin, "user PIN"}})
      if (pin->size() < kSoftPinAdvice)
        std::cerr << "keyseal: warning: the " << what << " has " << pin->size() << " characters; a soft token's PIN "
                  << "should have at least " << kSoftPinAdvice << " random letters and digits (docs/security.md)\n";
  }

  CK_UTF8CHAR padded[32];
  std::memset(padded, ' ', sizeof padded);
  std::memcpy(padded, label.data(), label.size());  // parse_args limits it to 32 bytes
  const std::string where = " on slot " + std::to_string(*chosen);
  check(m.fn().C_InitToken(*chosen, const_cast<CK_UTF8CHAR*>(so_pin.data()), so_pin.size(), padded),
        "C_InitToken" + where);

  const CK_SLOT_ID slot = find_new_token(m, *chosen, label, before);
  {
    Session s(m, slot, true);
    s.login(CKU_SO, so_pin);
    check(m.fn().C_InitPIN(s.handle(), const_cast<CK_UTF8CHAR*>(user_pin.data()), user_pin.size()),
          "C_InitPIN on slot " + std::to_string(slot));
    s.logout();
  }
  // Report the slot id the token keeps from now on: the one a fresh C_Initialize shows for its serial.
  const std::string serial = serial_of(m.token_info(slot));
  m.reinitialize();
  CK_SLOT_ID lasting = slot;
  for (const CK_SLOT_ID id : m.slots(true)) {
    const CK_TOKEN_INFO t = m.token_info(id);
    if ((t.flags & CKF_TOKEN_INITIALIZED) && serial_of(t) == serial && token_label(t) == label) lasting = id;
  }
  const CK_TOKEN_INFO t = m.token_info(lasting);
  out << "Token '" << label << "' initialised in slot " << lasting << "\n";
  out << "slot: " << lasting << "\n";
  out << "uri: " << token_uri(t) << "\n";
  if (o.recovery_code) {
    auto db = open_soft_token(lasting);
    const SecureBytes code =
        softtoken::add_recovery_code(*db, CKU_SO, view(so_pin), tpm::this_machine(core::load_config().tcti));
    out << "Recovery code (shown only now; keep it offline. With it, 'keyseal recover --slot " << lasting
        << "' re-binds\nthis token to new hardware; the PINs still guard the keys):\n"
        << "recovery-code: ";
    out.write(reinterpret_cast<const char*>(code.data()), static_cast<std::streamsize>(code.size()));
    out << "\n";
  }
  return kExitOk;
}

}  // namespace keyseal::cli
