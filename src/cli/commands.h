// The `keyseal` commands. Each loads the module, does its work through PKCS#11 and returns an exit code;
// failures are thrown (keyseal::Error for PKCS#11, Failure otherwise) and printed by main().
#pragma once
#include "cli/args.h"

#include <iosfwd>

namespace keyseal::cli {

int run_init(const Options& o, std::ostream& out);    // C_InitToken, C_Login(SO), C_InitPIN
int run_list(const Options& o, std::ostream& out);    // tokens and objects with pkcs11: URIs
int run_status(const Options& o, std::ostream& out);  // module, configuration, slot and token state

}  // namespace keyseal::cli
