// make_system_provider() where there is no Platform Crypto Provider (every system but Windows).
#include "pcp/provider.h"

namespace keyseal::pcp {

std::shared_ptr<Provider> make_system_provider(std::string& why) {
  why = "no TPM: the Microsoft Platform Crypto Provider exists on Windows only";
  return nullptr;
}

}  // namespace keyseal::pcp
