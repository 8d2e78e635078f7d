// TEMPORARY STUB (see win_stubs/*/): drop this folder once helpers c and d's code is merged.
#include "pcp/pcp_backend.h"

namespace keyseal::pcp {
std::shared_ptr<core::Backend> connect_backend(std::string& why) {
  why = "the Platform Crypto Provider backend is not built yet (stub)";
  return nullptr;
}
}  // namespace keyseal::pcp
