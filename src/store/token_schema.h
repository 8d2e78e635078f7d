// The token database schema (version 1): creating a new token file atomically and recognising an existing
// one. Internal to store/; TokenDb::open is the public entry point.
#pragma once
#include <filesystem>
#include <string>

struct sqlite3;

namespace keyseal::store {

inline constexpr int kSchemaVersion = 1;
inline constexpr int kApplicationId = 0x4B53454C;  // "KSEL" in the SQLite header: a keyseal token file
inline constexpr const char* kSchemaVersionKey = "schema_version";

// Builds a complete, empty token under a temporary name next to `file`, then links it into place, so another
// process never sees a half-made token. Throws Error(CKR_DEVICE_ERROR) if `file` exists or on any failure.
void create_token_file(const std::filesystem::path& file);

// Connection settings every connection needs (busy timeout, defensive mode, foreign keys). SQLite errors
// throw Error(CKR_DEVICE_ERROR...) through fail_sqlite.
void configure_connection(sqlite3* db);

// Throws Error (any rv; the caller reports CKR_TOKEN_NOT_RECOGNIZED) with the reason when the open database
// is not a keyseal token of a supported schema version, holds unexpected schema objects, or fails
// PRAGMA quick_check. Then switches the connection to WAL with synchronous=NORMAL.
void check_token_and_enable_wal(sqlite3* db, bool read_only = false);

}  // namespace keyseal::store
