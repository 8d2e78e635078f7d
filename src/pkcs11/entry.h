// The module's function lists and interfaces (PKCS#11 3.0 sections 5.4.3-5.4.5), built in function_list.cpp.
#pragma once
#include <keyseal/pkcs11.h>

#define KS_EXPORT __attribute__((visibility("default")))

namespace keyseal::pkcs11 {

CK_FUNCTION_LIST* function_list_240();
CK_ULONG interface_count();
CK_INTERFACE* interface_at(CK_ULONG i);

}  // namespace keyseal::pkcs11
