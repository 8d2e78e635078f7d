// Human text for CK_RV codes (PKCS#11 3.0 base spec section 5.1); names come from keyseal::rv_name.
#include "cli/rv_text.h"

#include "common/error.h"

namespace keyseal::cli {

std::string rv_meaning(CK_RV rv) {
  switch (rv) {
    case CKR_OK: return "success";
    case CKR_CANCEL: return "the operation was cancelled";
    case CKR_HOST_MEMORY: return "the module ran out of memory";
    case CKR_SLOT_ID_INVALID: return "no such slot";
    case CKR_GENERAL_ERROR: return "the module is in a broken state";
    case CKR_FUNCTION_FAILED: return "the function could not be completed";
    case CKR_ARGUMENTS_BAD: return "invalid arguments";
    case CKR_ATTRIBUTE_READ_ONLY: return "the attribute cannot be set or changed";
    case CKR_ATTRIBUTE_SENSITIVE: return "the attribute is sensitive and cannot be revealed";
    case CKR_ATTRIBUTE_TYPE_INVALID: return "the object has no such attribute";
    case CKR_ATTRIBUTE_VALUE_INVALID: return "an attribute value is invalid";
    case CKR_ACTION_PROHIBITED: return "the action is prohibited by the object's policy";
    case CKR_DATA_INVALID: return "the input data is invalid";
    case CKR_DATA_LEN_RANGE: return "the input data has the wrong length";
    case CKR_DEVICE_ERROR: return "the device (keystore or TPM) failed";
    case CKR_DEVICE_MEMORY: return "the device is out of memory";
    case CKR_DEVICE_REMOVED: return "the token was removed";
    case CKR_FUNCTION_NOT_SUPPORTED: return "the module does not support this function";
    case CKR_KEY_HANDLE_INVALID: return "no such key";
    case CKR_KEY_SIZE_RANGE: return "the key size is not supported";
    case CKR_KEY_TYPE_INCONSISTENT: return "the key type does not fit the mechanism";
    case CKR_KEY_FUNCTION_NOT_PERMITTED: return "the key may not be used for this";
    case CKR_MECHANISM_INVALID: return "the mechanism is not supported";
    case CKR_MECHANISM_PARAM_INVALID: return "the mechanism parameters are invalid";
    case CKR_OBJECT_HANDLE_INVALID: return "no such object";
    case CKR_OPERATION_ACTIVE: return "another operation is already active";
    case CKR_OPERATION_NOT_INITIALIZED: return "no operation is active";
    case CKR_PIN_INCORRECT: return "the PIN is incorrect";
    case CKR_PIN_INVALID: return "the PIN contains invalid characters";
    case CKR_PIN_LEN_RANGE: return "the PIN is too short or too long";
    case CKR_PIN_EXPIRED: return "the PIN has expired and must be changed";
    case CKR_PIN_LOCKED: return "the PIN is locked after too many wrong attempts";
    case CKR_PIN_TOO_WEAK: return "the PIN is too weak";
    case CKR_SESSION_CLOSED: return "the session was closed";
    case CKR_SESSION_COUNT: return "too many sessions are open";
    case CKR_SESSION_HANDLE_INVALID: return "no such session";
    case CKR_SESSION_READ_ONLY: return "the session is read-only";
    case CKR_SESSION_EXISTS: return "sessions are open on the token";
    case CKR_SESSION_READ_ONLY_EXISTS: return "a read-only session is open, so the SO cannot log in";
    case CKR_SESSION_READ_WRITE_SO_EXISTS: return "a read/write SO session is open";
    case CKR_SIGNATURE_INVALID: return "the signature is invalid";
    case CKR_SIGNATURE_LEN_RANGE: return "the signature has the wrong length";
    case CKR_TEMPLATE_INCOMPLETE: return "the template lacks a required attribute";
    case CKR_TEMPLATE_INCONSISTENT: return "the template has conflicting attributes";
    case CKR_TOKEN_NOT_PRESENT: return "no token is present in the slot";
    case CKR_TOKEN_NOT_RECOGNIZED: return "the token is not recognised (corrupt or unreadable keystore)";
    case CKR_TOKEN_WRITE_PROTECTED: return "the token is write-protected";
    case CKR_USER_ALREADY_LOGGED_IN: return "the user is already logged in";
    case CKR_USER_NOT_LOGGED_IN: return "login is required";
    case CKR_USER_PIN_NOT_INITIALIZED: return "the user PIN has not been set";
    case CKR_USER_TYPE_INVALID: return "invalid user type";
    case CKR_USER_ANOTHER_ALREADY_LOGGED_IN: return "another user is already logged in";
    case CKR_USER_TOO_MANY_TYPES: return "too many users are logged in";
    case CKR_RANDOM_NO_RNG: return "the token has no random number generator";
    case CKR_CURVE_NOT_SUPPORTED: return "the curve is not supported";
    case CKR_BUFFER_TOO_SMALL: return "the output buffer is too small";
    case CKR_CRYPTOKI_NOT_INITIALIZED: return "the module is not initialised";
    case CKR_CRYPTOKI_ALREADY_INITIALIZED: return "the module is already initialised";
    case CKR_FUNCTION_REJECTED: return "the request was rejected";
    default: return "unknown or vendor-defined error";
  }
}

std::string rv_text(CK_RV rv) { return rv_name(rv) + " (" + rv_meaning(rv) + ")"; }

}  // namespace keyseal::cli
