// The system's Platform Crypto Provider, asked the way connect_backend() asks it: prints the verdict. Exit 0 when
// no TPM is found and the reason names the call that said so (the answer on Linux and under wine), 2 when a
// usable TPM 2.0 is there (real Windows with a TPM: the status is printed), 1 for anything else.
#include "pcp/provider.h"
#include "pcp/status.h"

#include <cstdio>

int main() {
  using namespace keyseal::pcp;
  std::string why;
  std::shared_ptr<Provider> p = make_system_provider(why);
  if (p && probe(*p, why)) {
    const TpmStatus s = tpm_status(*p);
    std::printf("TPM present: %s %s firmware %s, spec %s, %s; %s\n", s.manufacturer.c_str(), s.vendor_string.c_str(),
                s.firmware.c_str(), s.spec_level.c_str(), s.platform_type.c_str(), s.lockout.c_str());
    return 2;
  }
  std::printf("refused: %s\n", why.c_str());
  if (p) std::printf("status: present=%d why=%s\n", tpm_status(*p).present, tpm_status(*p).why.c_str());
  return why.rfind("no TPM: ", 0) == 0 ? 0 : 1;
}
