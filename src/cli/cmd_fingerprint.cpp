// `keyseal fingerprint` (issue 5, item 5): this machine's hardware factors (id, present or not, estimated
// bits) and, for a soft token, its recorded binding and, given the user PIN, which recorded factors still
// match. Never prints a factor's value. Also the token-file helpers of soft_token_file.h.
#include <algorithm>
#include <cstdio>
#include <ostream>
#include <string>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/soft_token_file.h"
#include "core/config.h"
#include "softtoken/fp_binding.h"
#include "softtoken/recovery.h"
#include "store/token_dir.h"
#include "compose/compose.h"

namespace keyseal::cli {

std::filesystem::path soft_token_file(CK_SLOT_ID slot) {
  return store::token_file_path(core::load_config().store_dir, slot);
}

std::unique_ptr<store::TokenDb> open_soft_token(CK_SLOT_ID slot) {
  const auto file = soft_token_file(slot);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    throw Failure("no keyseal token in slot " + std::to_string(slot) + " (no file " + file.string() + ")");
  auto db = store::TokenDb::open(file, store::OpenMode::existing);
  auto kind = db->get_meta("backend");
  if (!kind || std::string(kind->begin(), kind->end()) != "soft")
    throw Failure("the token in slot " + std::to_string(slot) +
                  " is not a soft token; its hardware binding is the TPM's");
  return db;
}

namespace {

std::string bits(double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", b);
  return buf;
}

void print_factors(const std::vector<fingerprint::Factor>& factors, std::ostream& out) {
  for (const auto& f : factors) {
    std::string id = f.id;
    id.resize(std::max<size_t>(id.size(), 18), ' ');
    out << "  " << id << (f.present() ? "present " : "missing ") << " ~" << bits(f.strength_bits) << " bits\n";
  }
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void print_token(CK_SLOT_ID slot, const Options& o, const softtoken::Machine& machine, std::ostream& out) {
  auto db = open_soft_token(slot);
  out << "Token in slot " << slot << " (" << db->path().string() << "):\n";
  const auto binding = softtoken::load_binding(*db);
  const auto current = machine.factors(db->path().parent_path());
  out << "  " << softtoken::binding_summary(*db, machine) << "\n";
  const bool tpm_share = softtoken::has_tpm_share(*db);
  if (tpm_share && !machine.tpm) out << "  TPM share: yes, and no TPM is configured here: the token cannot open\n";
  else if (tpm_share && !o.pin) out << "  TPM share: yes (with --pin: whether this machine's TPM opens it)\n";
  out << "  recovery code: " << (softtoken::has_recovery(*db) ? "yes" : "no (new hardware means the keys are gone)")
      << "\n";
  if (!binding) return;
  out << "  threshold: any " << int(binding->k) << " of " << int(binding->n) << " recorded factors must match\n";
  if (!o.pin) {
    out << "  recorded factors (present now; whether each still matches needs the user PIN, --pin):\n";
    for (const auto& id : binding->factor_ids) {
      bool present = false;
      for (const auto& f : current) present = present || (f.id == id && f.present());
      std::string col = id;
      col.resize(std::max<size_t>(col.size(), 18), ' ');
      out << "    " << col << (present ? "present" : "missing") << "\n";
    }
    return;
  }
  try {
    const softtoken::Unlocked u = softtoken::unlock_master_key(*db, CKU_USER, view(*o.pin), machine);
    if (!u.recovery) {
      out << "  the token's PIN record predates the binding; it is bound at the next login\n";
      return;
    }
    if (tpm_share) out << "  TPM share: opened by this machine's TPM\n";
    out << "  recorded factors:\n";
    for (const auto& id : binding->factor_ids) {
      std::string col = id;
      col.resize(std::max<size_t>(col.size(), 18), ' ');
      out << "    " << col << (contains(u.recovery->matched, id) ? "matches" : "changed or missing") << "\n";
    }
    if (u.recovery->needs_reenrol())
      out << "  the next login re-enrols the binding with this machine's current values\n";
  } catch (const Error& e) {
    if (e.rv != CKR_PIN_INCORRECT) throw;
    // Count the failed attempt where the module counts it, so this command is no way around the PIN lock.
    try {
      Module m(resolve_module_path(o.module));
      Session s(m, slot, false);
      s.login(CKU_USER, *o.pin);
    } catch (const Error& counted) {
      if (counted.rv == CKR_PIN_LOCKED) throw;
    } catch (const Failure&) {
    }
    throw Error(CKR_PIN_INCORRECT,
                "the user PIN does not open the token on this machine (a wrong PIN, or more "
                "hardware factors changed than the binding tolerates)");
  }
}

}  // namespace

int run_fingerprint(const Options& o, std::ostream& out) {
  const core::Config config = core::load_config();
  const softtoken::Machine machine = compose::this_machine(config);
  const std::filesystem::path dir = config.store_dir;
  const auto current = machine.factors(dir);
  out << "Hardware factors of this machine (store " << dir.string() << "):\n";
  print_factors(current, out);
  // A new token is bound to the TPM only when asked (keyseal init --bind-tpm), so both forms are shown.
  out << "  this machine would give: " << softtoken::machine_summary(current, false) << "\n";
  if (machine.tpm)
    out << "  with --bind-tpm: " << softtoken::machine_summary(current, true) << "\n";
  if (o.slot) {
    print_token(*o.slot, o, machine, out);
    return kExitOk;
  }
  for (const auto& t : store::list_token_files(dir)) {
    try {
      auto db = store::TokenDb::open(t.path, store::OpenMode::existing);
      auto kind = db->get_meta("backend");
      if (!kind || std::string(kind->begin(), kind->end()) != "soft") continue;
      out << "Token in slot " << t.slot_id << ": " << softtoken::binding_summary(*db, machine) << "\n";
    } catch (const Error& e) {
      out << "Token in slot " << t.slot_id << ": unreadable (" << e.detail << ")\n";
    }
  }
  return kExitOk;
}

}  // namespace keyseal::cli
