// pcp::connect_backend() over the system's Platform Crypto Provider, as the module's composition calls it:
// prints the verdict. Exit 0 when it refuses with a reason that names the call that said so (the answer on
// Linux and under wine: "no TPM: Tbsi_GetDeviceInfo: TBS_E_TPM_NOT_FOUND (0x8028400F)"), 2 when a usable
// TPM 2.0 is there (real Windows with a TPM: its status is printed), 1 for anything else.
#include "pcp/pcp_backend.h"

#include <cstdio>

int main() {
  using namespace keyseal::pcp;
  std::string why;
  if (auto backend = connect_backend(why)) {
    const TpmStatus s = tpm_status();
    std::printf("TPM present (%s): %s, %s, firmware %s, spec %s, %s; %s\n", std::string(backend->kind()).c_str(),
                s.manufacturer.c_str(), s.vendor_string.c_str(), s.firmware.c_str(), s.spec_level.c_str(),
                s.platform_type.c_str(), s.lockout.c_str());
    return 2;
  }
  const TpmStatus s = tpm_status();
  std::printf("refused: %s\nstatus: present=%d why=%s\n", why.c_str(), s.present, s.why.c_str());
  return why.rfind("no TPM: ", 0) == 0 && !s.present ? 0 : 1;
}
