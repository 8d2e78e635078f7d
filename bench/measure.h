// The measurements of keyseal-bench: signing and AES-GCM rates over a fixed time window (PKCS#11 v2.40
// sections 5.8 and 5.11), token object creation and lookup by CKA_ID (section 5.7).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "p11.h"

namespace keyseal::bench {

// Seconds of CPU time (user + system, all threads) this process has used: rates per CPU-second hold up on
// a loaded machine where wall-clock rates mostly measure the other load.
double process_cpu_seconds();

// `ops` operations completed in `seconds` of wall-clock time; `cpu_ops` of them (the window plus the
// untimed first operations) in `cpu_seconds` of process CPU time.
struct Rate {
  uint64_t ops = 0;  // successful operations in the window
  double seconds = 0;
  uint64_t cpu_ops = 0;
  double cpu_seconds = 0;
  uint64_t errors = 0;               // failed operations (the window and the untimed first ones)
  std::string first_error;           // the first failure's message
  std::optional<double> peer_cpu_seconds;  // the --peer-pid process's CPU over the same span as cpu_seconds
  double per_second() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
  double per_cpu_second() const { return cpu_seconds > 0 ? static_cast<double>(cpu_ops) / cpu_seconds : 0; }
};

// One signing case: C_SignInit(mechanism, priv) + C_Sign(data) per operation.
struct SignCase {
  CK_MECHANISM mechanism{};  // pParameter must outlive the measurement
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  Bytes data;
};

// Signs for `seconds` in each of `threads` threads, each thread with its own session on `slot` (the user is
// already logged in, which covers every session of the application). All threads start together; the rate
// is all operations over the longest thread's window. The last signature of each thread is checked with
// C_Verify against `pub`: throws std::runtime_error if it does not verify. A failing C_SignInit/C_Sign in the
// window is counted in Rate::errors and the thread goes on (it stops after 1000 failures); a thread with no
// success at all throws its first error. `peer` > 0: that process's CPU time is measured too (/proc).
Rate sign_rate(const Module& m, CK_SLOT_ID slot, const SignCase& c, double seconds, int threads, pid_t peer = 0);

// AES-256-GCM one-shot encryption (C_EncryptInit with a fresh 96-bit IV + C_Encrypt) of `message_len`-byte
// messages for `seconds`. The last ciphertext is decrypted and compared: throws std::runtime_error on mismatch.
Rate gcm_encrypt_rate(const Session& s, CK_OBJECT_HANDLE key, size_t message_len, double seconds);

// The attributes, other than CKA_ID, CKA_TOKEN and CKA_LABEL, of the objects that fill the token.
struct ObjectTemplate {
  std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>> attributes;
  std::string kind;  // for the report, e.g. "EC P-256 public key"
};

// The in-memory encoding of a CK_ULONG attribute value (CKA_CLASS, CKA_KEY_TYPE).
Bytes ulong_bytes(CK_ULONG v);

struct FillResult {
  uint64_t existing = 0;  // token objects visible before filling
  uint64_t created = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  double first_rate = 0;       // objects/s over the first 10% of creations
  double last_rate = 0;        // objects/s over the last 10%
  bool stopped_early = false;  // hit max_seconds before reaching `target`
  std::vector<Bytes> ids;      // CKA_ID of each created object, all distinct
};

// Creates token objects (CKA_TOKEN = true, one per C_CreateObject) until the token holds `target` objects
// or `max_seconds` pass; each object gets a distinct CKA_ID that embeds a per-run random tag. Progress goes
// to stderr.
FillResult fill_token(const Session& s, const ObjectTemplate& t, uint64_t target, double max_seconds);

// Number of token objects the session can see.
uint64_t count_token_objects(const Session& s);

struct LookupResult {
  size_t lookups = 0;
  double median_us = 0;
  double p95_us = 0;
  double max_us = 0;
  double cpu_median_us = 0;  // process CPU time per lookup
  double cpu_p95_us = 0;
};

// `lookups` random C_FindObjectsInit({CKA_ID}) / C_FindObjects / C_FindObjectsFinal among `ids`; each must
// find exactly one object (throws std::runtime_error otherwise).
LookupResult find_by_id(const Session& s, const std::vector<Bytes>& ids, size_t lookups);

// Destroys the objects with these CKA_IDs (for --cleanup); returns how many were destroyed.
uint64_t destroy_by_id(const Session& s, const std::vector<Bytes>& ids);

// Wall-clock milliseconds per call over `count` calls (timings.cpp).
struct Timing {
  int count = 0;
  double mean_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  std::string note() const;  // "mean of N, min A max B"
};

struct KeyPair;
// Generates `count` key pairs with `generate`, timing each C_GenerateKeyPair; keeps the last in `kept` and
// destroys the others.
Timing time_keygen(const Session& s, const std::function<KeyPair(const Session&)>& generate, int count,
                   KeyPair& kept);

// `count` times C_Logout + C_Login(CKU_USER, pin), timing C_Login only; the session ends logged in.
Timing time_login(const Session& s, const std::string& pin, int count);

}  // namespace keyseal::bench
