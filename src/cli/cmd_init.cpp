// `keyseal init`: initialise an empty token (PKCS#11 3.0 section 5.5: C_InitToken, then C_Login as SO and
// C_InitPIN for the user PIN) and print its new slot id and pkcs11: URI. --backend/--pcrs reach the module
// through KEYSEAL_BACKEND/KEYSEAL_TPM_PCRS; --recovery-code (soft tokens, issue 5) prints a code once;
// --bind-tpm (issue 11, item 10) binds a soft token to this machine's TPM, which nothing does unasked. A step
// that fails after C_InitToken removes the token just made (issue 11, item 6), so no half-initialised token
// (an SO PIN and no user PIN) is left behind.
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/prompt.h"
#include "cli/soft_token_file.h"
#include "cli/uri.h"
#include "core/config.h"
#include "softtoken/recovery.h"
#include "compose/compose.h"
#include "platform/env.h"

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>

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

bool is_keyseal_soft(const Module& m, CK_SLOT_ID slot, const CK_TOKEN_INFO& t) {
  return trim_padded(t.manufacturerID, sizeof t.manufacturerID) == "keyseal" && matches_backend(m, slot, t, "soft");
}

// What init has made so far: once C_InitToken succeeded, a token whose file is known (keyseal's store names
// token files by slot id) and is removed when a later step fails.
struct Created {
  bool token = false;
  bool keyseal = false;  // the module is keyseal, so the token (soft or TPM) is the file soft_token_file(slot)
  CK_SLOT_ID slot = 0;
};

// Runs once the module is unloaded (its handles closed): the token file and SQLite's companion files.
void remove_created(const Created& c) {
  if (!c.token) return;
  const std::string where = "slot " + std::to_string(c.slot);
  if (!c.keyseal) {
    std::cerr << "keyseal: init failed after C_InitToken: the token in " << where
              << " is initialised but incomplete (this module's tokens are not keyseal files; initialise it again)\n";
    return;
  }
  const std::filesystem::path file = soft_token_file(c.slot);
  std::error_code ec;
  bool removed = std::filesystem::remove(file, ec) && !ec;
  for (const char* suffix : {"-wal", "-shm", "-journal"}) std::filesystem::remove(file.string() + suffix, ec);
  if (removed)
    std::cerr << "keyseal: init failed after C_InitToken; the half-initialised token in " << where << " ("
              << file.string() << ") was removed\n";
  else
    std::cerr << "keyseal: init failed after C_InitToken, and the half-initialised token in " << where << " ("
              << file.string() << ") could not be removed: delete that file\n";
}

int init_token(const Options& o, std::ostream& out, Created& created);

}  // namespace

int run_init(const Options& o, std::ostream& out) {
  Created created;
  try {
    return init_token(o, out, created);  // the module is unloaded when it returns or throws
  } catch (...) {
    remove_created(created);
    throw;
  }
}

namespace {

int init_token(const Options& o, std::ostream& out, Created& created) {
  // Read by the module at C_Initialize, so set before it is loaded.
  if (o.backend) platform::set_env("KEYSEAL_BACKEND", *o.backend);
  if (o.pcrs) platform::set_env("KEYSEAL_TPM_PCRS", *o.pcrs);
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

  const core::Config config = core::load_config();
  if (o.recovery_code || o.bind_tpm) {
    const CK_TOKEN_INFO t = m.token_info(*chosen);
    if (!is_keyseal_soft(m, *chosen, t))
      throw Failure(std::string(o.bind_tpm ? "--bind-tpm" : "--recovery-code") +
                    " applies to keyseal soft tokens only; slot " + std::to_string(*chosen) + " holds another kind");
  }
  if (o.bind_tpm) {
    if (const std::string why = compose::tpm_binding_unavailable(config); !why.empty()) throw Failure("--bind-tpm: " + why);
  }

  const SecureBytes so_pin = o.so_pin ? *o.so_pin : ask_new_pin("SO PIN");
  const SecureBytes user_pin = o.pin ? *o.pin : ask_new_pin("user PIN");
  // Check both lengths first: a user PIN rejected after C_InitToken would leave a token without one.
  const CK_TOKEN_INFO empty = m.token_info(*chosen);
  check_pin_length(so_pin, empty, "SO PIN");
  check_pin_length(user_pin, empty, "user PIN");
  // A soft token's PIN is all that guards a stolen disk (docs/security.md derives the minimum).
  const bool soft = is_keyseal_soft(m, *chosen, empty);
  if (soft) {
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
  // Keyseal's own module (its CK_INFO, not the token's manufacturer, which a TPM token takes from the TPM).
  const CK_INFO module_info = m.info();
  created = Created{true, trim_padded(module_info.manufacturerID, sizeof module_info.manufacturerID) == "keyseal",
                    *chosen};

  const CK_SLOT_ID slot = find_new_token(m, *chosen, label, before);
  created.slot = slot;
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
  created.slot = lasting;
  const CK_TOKEN_INFO t = m.token_info(lasting);
  std::optional<SecureBytes> code;
  if (soft) {
    const softtoken::Machine machine = compose::this_machine(config);
    auto db = open_soft_token(lasting);
    // Only asked for: a TPM-bound token opens nowhere once that TPM is cleared or gone.
    if (o.bind_tpm) softtoken::bind_tpm(*db, view(so_pin), view(user_pin), machine);
    if (o.recovery_code) code = softtoken::add_recovery_code(*db, CKU_SO, view(so_pin), machine);
    out << "Token '" << label << "' initialised in slot " << lasting << "\n";
    out << "slot: " << lasting << "\n";
    out << "uri: " << token_uri(t) << "\n";
    out << softtoken::binding_summary(*db, machine) << "\n";
    if (!o.bind_tpm && machine.tpm)
      out << "tpm: not bound to this machine's TPM ('keyseal bind-tpm --slot " << lasting << "' binds it)\n";
    if (code) print_recovery_code(lasting, *code, out);
    else if (o.bind_tpm)
      std::cerr << "keyseal: warning: no recovery code (--recovery-code): " << no_recovery_warning(lasting) << "\n";
    return kExitOk;
  }
  out << "Token '" << label << "' initialised in slot " << lasting << "\n";
  out << "slot: " << lasting << "\n";
  out << "uri: " << token_uri(t) << "\n";
  return kExitOk;
}

}  // namespace

}  // namespace keyseal::cli
