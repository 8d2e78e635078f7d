// The store directory: one SQLite file per token, named after its slot id so slot ids stay stable across runs
// (PKCS#11 3.0 section 5.5 slot and token management; Java configurations name slots by id).
#pragma once
#include "common/error.h"

#include <keyseal/pkcs11.h>

#include <filesystem>
#include <vector>

namespace keyseal::store {

struct TokenFile {
  CK_SLOT_ID slot_id;
  std::filesystem::path path;
};

// Files named exactly "token-<slot>.db" (decimal, no sign, no leading zeros), sorted by slot. Other names
// (-wal/-shm files, temporaries) are ignored. A missing directory gives an empty list; an unreadable one
// throws Error(CKR_DEVICE_ERROR).
std::vector<TokenFile> list_token_files(const std::filesystem::path& store_dir);

std::filesystem::path token_file_path(const std::filesystem::path& store_dir, CK_SLOT_ID slot);

// mkdir -p; every directory it creates gets mode 0700 (less if the umask says so). Existing directories are
// left as they are. Throws Error(CKR_DEVICE_ERROR) if a component is not a directory or cannot be created.
void ensure_store_dir(const std::filesystem::path& store_dir);

}  // namespace keyseal::store
