// `keyseal bind-tpm --slot N` (issue 11, item 10): binds a soft token to this machine's TPM on request, never
// as a side effect of a login, because a token bound to a TPM that later goes (a cleared firmware TPM, a moved
// disk) opens only with a recovery code. Both PINs are checked through the module first (so the attempts are
// counted like logins), then every PIN record is re-sealed on the token file (softtoken::bind_tpm).
#include <iostream>
#include <ostream>
#include <string>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/module.h"
#include "cli/prompt.h"
#include "cli/soft_token_file.h"
#include "core/config.h"
#include "softtoken/fp_binding.h"
#include "softtoken/recovery.h"
#include "compose/compose.h"

namespace keyseal::cli {

// Shared with `keyseal init --recovery-code` and `keyseal status`.
void print_recovery_code(CK_SLOT_ID slot, const SecureBytes& code, std::ostream& out) {
  out << "Recovery code (shown only now; keep it offline. With it, 'keyseal recover --slot " << slot
      << "' re-binds\nthis token to new hardware; the PINs still guard the keys):\n"
      << "recovery-code: ";
  out.write(reinterpret_cast<const char*>(code.data()), static_cast<std::streamsize>(code.size()));
  out << "\n";
}

std::string no_recovery_warning(CK_SLOT_ID slot) {
  return "the token is bound to this machine's TPM and has no recovery code: if the TPM is cleared (a "
         "firmware update can do that) or the disk moves to another machine, its keys are lost. 'keyseal "
         "bind-tpm --slot " + std::to_string(slot) + " --recovery-code' makes one.";
}

int run_bind_tpm(const Options& o, std::ostream& out) {
  const core::Config config = core::load_config();
  if (const std::string why = compose::tpm_binding_unavailable(config); !why.empty()) throw Failure(why);
  const CK_SLOT_ID slot = *o.slot;
  auto db = open_soft_token(slot);
  const bool bound = softtoken::has_tpm_share(*db);
  if (bound && (!o.recovery_code || softtoken::has_recovery(*db)))
    throw Failure("the token in slot " + std::to_string(slot) + " is already bound to a TPM");
  const bool has_user = db->get_meta(softtoken::pin_meta_key(CKU_USER)).has_value();
  const SecureBytes so_pin = o.so_pin ? *o.so_pin : ask_pin("SO PIN: ");
  const SecureBytes user_pin = !has_user ? SecureBytes() : o.pin ? *o.pin : ask_pin("User PIN: ");
  {
    // Through the module: a wrong PIN counts, a locked one is refused, as at C_Login.
    Module m(resolve_module_path(o.module));
    for (const auto& [who, pin] : {std::pair{CKU_SO, &so_pin}, std::pair{CKU_USER, &user_pin}}) {
      if (pin->empty()) continue;
      Session s(m, slot, who == CKU_SO);
      s.login(who, *pin);
      s.logout();
    }
  }
  const softtoken::Machine machine = compose::this_machine(config);
  if (!bound) {
    softtoken::bind_tpm(*db, view(so_pin), view(user_pin), machine);
    out << "Token in slot " << slot << " is now bound to this machine's TPM ("
        << softtoken::binding_summary(*db, machine) << ").\n";
  }
  if (o.recovery_code && !softtoken::has_recovery(*db)) {
    print_recovery_code(slot, softtoken::add_recovery_code(*db, CKU_SO, view(so_pin), machine), out);
  } else if (!softtoken::has_recovery(*db)) {
    std::cerr << "keyseal: warning: " << no_recovery_warning(slot) << "\n";
  }
  return kExitOk;
}

}  // namespace keyseal::cli
