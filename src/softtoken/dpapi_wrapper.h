// DPAPI as the soft token's OS secret layer on Windows (issue 12, item 3): CryptProtectData in user scope with
// the token-specific context as extra entropy and CRYPTPROTECT_UI_FORBIDDEN, so the wrapped share opens only
// for the same Windows user on the same machine (or that user's roaming credentials, as DPAPI allows).
// Windows only (dpapi_win.cpp is the only file including <dpapi.h>/<wincrypt.h>).
#pragma once
#include <memory>

#include "softtoken/fp_binding.h"

namespace keyseal::softtoken {

inline constexpr std::string_view kDpapiWrapperName = "dpapi";

std::shared_ptr<OsSecretWrapper> dpapi_wrapper();

}  // namespace keyseal::softtoken
