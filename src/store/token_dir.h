// The store directory: one SQLite file per token, named after its slot id so slot ids stay stable across runs
// (PKCS#11 3.0 section 5.5 slot and token management; Java configurations name slots by id).
#pragma once
#include "common/error.h"

#include <keyseal/pkcs11.h>

#include <filesystem>
#include <string>
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
// left as they are (an existing store directory open to others is logged, see store_dir_problem). Throws
// Error(CKR_DEVICE_ERROR) if a component is not a directory or cannot be created.
void ensure_store_dir(const std::filesystem::path& store_dir);

// Why an existing store directory is open to other users (group- or world-writable, or not ours), naming the
// directory and its mode; "" when it is not, or does not exist. list_token_files and ensure_store_dir log it as
// a warning and change nothing.
std::string store_dir_problem(const std::filesystem::path& store_dir);

}  // namespace keyseal::store
