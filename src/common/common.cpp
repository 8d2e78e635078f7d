// Implementation of the small shared pieces: wiping, constant-time compare, logging, CK_RV names.
#include "common/error.h"
#include "common/log.h"
#include "common/secure_bytes.h"
#include "platform/env.h"
#include "platform/process.h"
#include "platform/wipe.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace keyseal {

void secure_wipe(void* p, size_t n) noexcept {
  platform::secure_wipe(p, n);
}

bool equal_constant_time(ByteView a, ByteView b) noexcept {
  if (a.size() != b.size()) return false;
  uint8_t d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= a[i] ^ b[i];
  return d == 0;
}

std::string rv_name(CK_RV rv) {
  switch (rv) {
#define N(x) case x: return #x;
    N(CKR_OK) N(CKR_CANCEL) N(CKR_HOST_MEMORY) N(CKR_SLOT_ID_INVALID) N(CKR_GENERAL_ERROR) N(CKR_FUNCTION_FAILED)
    N(CKR_ARGUMENTS_BAD) N(CKR_ATTRIBUTE_READ_ONLY) N(CKR_ATTRIBUTE_SENSITIVE) N(CKR_ATTRIBUTE_TYPE_INVALID)
    N(CKR_ATTRIBUTE_VALUE_INVALID) N(CKR_ACTION_PROHIBITED) N(CKR_DATA_INVALID) N(CKR_DATA_LEN_RANGE)
    N(CKR_DEVICE_ERROR) N(CKR_DEVICE_MEMORY) N(CKR_DEVICE_REMOVED) N(CKR_ENCRYPTED_DATA_INVALID)
    N(CKR_ENCRYPTED_DATA_LEN_RANGE) N(CKR_FUNCTION_CANCELED) N(CKR_FUNCTION_NOT_PARALLEL)
    N(CKR_FUNCTION_NOT_SUPPORTED) N(CKR_KEY_HANDLE_INVALID) N(CKR_KEY_SIZE_RANGE) N(CKR_KEY_TYPE_INCONSISTENT)
    N(CKR_KEY_NOT_NEEDED) N(CKR_KEY_CHANGED) N(CKR_KEY_NEEDED) N(CKR_KEY_INDIGESTIBLE)
    N(CKR_KEY_FUNCTION_NOT_PERMITTED) N(CKR_KEY_NOT_WRAPPABLE) N(CKR_KEY_UNEXTRACTABLE) N(CKR_MECHANISM_INVALID)
    N(CKR_MECHANISM_PARAM_INVALID) N(CKR_OBJECT_HANDLE_INVALID) N(CKR_OPERATION_ACTIVE)
    N(CKR_OPERATION_NOT_INITIALIZED) N(CKR_PIN_INCORRECT) N(CKR_PIN_INVALID) N(CKR_PIN_LEN_RANGE)
    N(CKR_PIN_EXPIRED) N(CKR_PIN_LOCKED) N(CKR_SESSION_CLOSED) N(CKR_SESSION_COUNT)
    N(CKR_SESSION_HANDLE_INVALID) N(CKR_SESSION_PARALLEL_NOT_SUPPORTED) N(CKR_SESSION_READ_ONLY)
    N(CKR_SESSION_EXISTS) N(CKR_SESSION_READ_ONLY_EXISTS) N(CKR_SESSION_READ_WRITE_SO_EXISTS)
    N(CKR_SIGNATURE_INVALID) N(CKR_SIGNATURE_LEN_RANGE) N(CKR_TEMPLATE_INCOMPLETE) N(CKR_TEMPLATE_INCONSISTENT)
    N(CKR_TOKEN_NOT_PRESENT) N(CKR_TOKEN_NOT_RECOGNIZED) N(CKR_TOKEN_WRITE_PROTECTED)
    N(CKR_UNWRAPPING_KEY_HANDLE_INVALID) N(CKR_UNWRAPPING_KEY_SIZE_RANGE) N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
    N(CKR_USER_ALREADY_LOGGED_IN) N(CKR_USER_NOT_LOGGED_IN) N(CKR_USER_PIN_NOT_INITIALIZED)
    N(CKR_USER_TYPE_INVALID) N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN) N(CKR_USER_TOO_MANY_TYPES)
    N(CKR_WRAPPED_KEY_INVALID) N(CKR_WRAPPED_KEY_LEN_RANGE) N(CKR_WRAPPING_KEY_HANDLE_INVALID)
    N(CKR_WRAPPING_KEY_SIZE_RANGE) N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT) N(CKR_RANDOM_SEED_NOT_SUPPORTED)
    N(CKR_RANDOM_NO_RNG) N(CKR_DOMAIN_PARAMS_INVALID) N(CKR_CURVE_NOT_SUPPORTED) N(CKR_BUFFER_TOO_SMALL)
    N(CKR_SAVED_STATE_INVALID) N(CKR_INFORMATION_SENSITIVE) N(CKR_STATE_UNSAVEABLE)
    N(CKR_CRYPTOKI_NOT_INITIALIZED) N(CKR_CRYPTOKI_ALREADY_INITIALIZED) N(CKR_MUTEX_BAD)
    N(CKR_MUTEX_NOT_LOCKED) N(CKR_FUNCTION_REJECTED) N(CKR_PIN_TOO_WEAK)
#undef N
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

namespace log {

static Level parse_level() {
  const auto v = platform::get_env("KEYSEAL_LOG");
  if (!v) return Level::off;
  const std::string& s = *v;
  if (s == "debug") return Level::debug;
  if (s == "info") return Level::info;
  if (s == "warn" || s == "warning") return Level::warn;
  if (s == "error") return Level::error;
  return Level::off;
}

Level level() {
  static const Level l = parse_level();
  return l;
}

void write(Level l, std::string_view msg) {
  static const char* names[] = {"", "error", "warn", "info", "debug"};
  static std::mutex mu;
  std::lock_guard<std::mutex> g(mu);
  std::fprintf(stderr, "keyseal[%d] %s: %.*s\n", static_cast<int>(platform::process_id()), names[static_cast<int>(l)],
               static_cast<int>(msg.size()), msg.data());
}

}  // namespace log
}  // namespace keyseal
