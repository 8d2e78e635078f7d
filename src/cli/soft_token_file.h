// Finding a keyseal soft token's file from its slot id, for the commands that work on the token file
// directly (fingerprint, recover, init --recovery-code): the store directory of core::load_config(), file
// token-<slot>.db. The store's WAL transactions make this safe beside a module that has the token open.
#pragma once
#include <keyseal/pkcs11.h>

#include <filesystem>
#include <memory>

#include "store/token_db.h"

namespace keyseal::cli {

std::filesystem::path soft_token_file(CK_SLOT_ID slot);
// Opens it and checks that it is a soft token (meta "backend" = "soft"); throws Failure otherwise.
std::unique_ptr<store::TokenDb> open_soft_token(CK_SLOT_ID slot);

}  // namespace keyseal::cli
