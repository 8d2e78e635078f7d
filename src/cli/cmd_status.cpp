// `keyseal status`: keyseal's configuration (core::load_config), the module (C_GetInfo, PKCS#11 3.0
// section 5.4) and the state of every slot and token (C_GetSlotInfo/C_GetTokenInfo, section 5.5).
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/rv_text.h"
#include "cli/uri.h"
#include "cli/soft_token_file.h"
#include "core/config.h"
#include "softtoken/fp_binding.h"
#include "softtoken/recovery.h"
#include "store/token_db.h"
#include "compose/compose.h"

#include <filesystem>
#include <iostream>
#include <ostream>
#include <string>

namespace keyseal::cli {
namespace {

std::string version(const CK_VERSION& v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

// Session and PIN-length counters may be "effectively infinite" (0 for maxima) or unavailable.
std::string count(CK_ULONG n, bool is_max = false) {
  if (n == CK_UNAVAILABLE_INFORMATION) return "unknown";
  if (is_max && n == CK_EFFECTIVELY_INFINITE) return "unlimited";
  return std::to_string(n);
}

std::string pin_state(CK_FLAGS f, CK_FLAGS low, CK_FLAGS final_try, CK_FLAGS locked, CK_FLAGS change) {
  std::string s;
  if (f & locked) s = "locked";
  else if (f & final_try) s = "one attempt left";
  else if (f & low) s = "wrong PIN entered since last login";
  else s = "ok";
  if (f & change) s += ", must be changed";
  return s;
}

void print_config(std::ostream& out, bool& ok) {
  out << "Configuration:\n";
  try {
    const core::Config c = core::load_config();
    out << "  store directory: " << c.store_dir.string() << "\n";
    out << "  config file: " << (c.config_file.empty() ? "(none; set KEYSEAL_CONF to use one)" : c.config_file)
        << "\n";
    out << "  new tokens: Argon2id t_cost " << c.argon2_t_cost << ", m_cost " << c.argon2_m_cost_kib
        << " KiB, lanes " << c.argon2_lanes << "; " << c.max_pin_attempts << " PIN attempts before lock\n";
    out << "  new token kind: " << c.backend << (c.backend == "auto" ? " (the TPM when one answers)" : "") << "\n";
    out << "  TPM connection: " << compose::tpm_connection(c) << "\n";
    if (!c.tpm_pcrs.empty()) out << "  new TPM tokens bound to PCRs " << c.tpm_pcrs << "\n";
  } catch (const Error& e) {
    ok = false;
    out << "  (unreadable, see error)\n";
    std::cerr << "keyseal: reading the configuration: " << e.detail << ": " << rv_text(e.rv) << "\n";
  }
}

void print_slot(const Module& m, CK_SLOT_ID id, std::ostream& out) {
  const CK_SLOT_INFO s = m.slot_info(id);
  out << "  Slot " << id << ": " << trim_padded(s.slotDescription, sizeof s.slotDescription) << "\n";
  if (!(s.flags & CKF_TOKEN_PRESENT)) {
    out << "    no token present\n";
    return;
  }
  const CK_TOKEN_INFO t = m.token_info(id);
  const bool initialised = t.flags & CKF_TOKEN_INITIALIZED;
  out << "    token: \"" << token_label(t) << "\"  model " << trim_padded(t.model, sizeof t.model) << "  serial "
      << trim_padded(t.serialNumber, sizeof t.serialNumber) << "\n";
  out << "    initialised: " << (initialised ? "yes" : "no (run 'keyseal init')") << "\n";
  if (!initialised) return;
  out << "    uri: " << token_uri(t) << "\n";
  out << "    user PIN: "
      << (t.flags & CKF_USER_PIN_INITIALIZED
              ? pin_state(t.flags, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED,
                          CKF_USER_PIN_TO_BE_CHANGED)
              : std::string("not set"))
      << "\n";
  out << "    SO PIN: "
      << pin_state(t.flags, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED, CKF_SO_PIN_TO_BE_CHANGED)
      << "\n";
  // The soft token's hardware binding, read from its file (the model field carries only a short form).
  if (trim_padded(t.model, sizeof t.model).rfind("soft", 0) == 0) {
    try {
      auto db = store::TokenDb::open(soft_token_file(id), store::OpenMode::existing);
      out << "    " << softtoken::binding_summary(*db, compose::this_machine(core::load_config())) << "\n";
      // Issue 11, item 10: the one state in which a cleared TPM or a moved disk loses the keys for good.
      if (softtoken::has_tpm_share(*db) && !softtoken::has_recovery(*db))
        out << "    warning: " << no_recovery_warning(id) << "\n";
    } catch (const Error& e) {
      out << "    binding: unknown (" << e.detail << ")\n";
    }
  }
  out << "    PIN length: " << t.ulMinPinLen << "-" << t.ulMaxPinLen << " bytes\n";
  // Counts include this tool's own sessions: it has none open while it prints this.
  if (t.ulSessionCount == CK_UNAVAILABLE_INFORMATION)
    out << "    sessions: count not reported by the module (at most " << count(t.ulMaxSessionCount, true) << ")\n";
  else
    out << "    sessions: " << count(t.ulSessionCount) << " open of " << count(t.ulMaxSessionCount, true) << ", "
        << count(t.ulRwSessionCount) << " read/write of " << count(t.ulMaxRwSessionCount, true) << "\n";
  out << "    flags: ";
  const auto words = token_flag_words(t.flags);
  for (size_t i = 0; i < words.size(); ++i) out << (i ? ", " : "") << words[i];
  out << "\n";
}

// Like Windows' Get-Tpm: present, ready, vendor, PCR banks, lockout. Only asks when a TPM may be there.
void print_tpm(std::ostream& out) {
  out << "TPM:\n";
  core::Config config;
  try {
    config = core::load_config();
  } catch (const Error&) {
    // already reported by print_config
  }
  for (const auto& [key, value] : compose::tpm_status(config)) out << "  " << key << ": " << value << "\n";
}

}  // namespace

int run_status(const Options& o, std::ostream& out) {
  bool ok = true;
  const std::string path = resolve_module_path(o.module);
  // The configuration first: when it is broken the module may refuse C_Initialize, and the user needs
  // to see why.
  print_config(out, ok);
  print_tpm(out);
  out << "Module: " << path << "\n";
  Module m(path);
  const CK_INFO i = m.info();
  out << "  library: " << trim_padded(i.libraryDescription, sizeof i.libraryDescription) << " version "
      << version(i.libraryVersion) << "\n";
  out << "  manufacturer: " << trim_padded(i.manufacturerID, sizeof i.manufacturerID) << "\n";
  out << "  cryptoki version: " << version(i.cryptokiVersion) << "\n";

  const auto slots = m.slots(false);
  out << "Slots: " << slots.size() << "\n";
  for (const CK_SLOT_ID id : slots) print_slot(m, id, out);
  return ok ? kExitOk : kExitFailed;
}

}  // namespace keyseal::cli
