// TEMPORARY STUB (src/compose/win_stubs/, used only while src/pcp/pcp_backend.h does not exist): helper d's
// declaration, so that compose_win.cpp builds before the PCP backend lands. Drop this folder.
#pragma once
#include "core/backend.h"

#include <memory>
#include <string>

namespace keyseal::pcp {
std::shared_ptr<core::Backend> connect_backend(std::string& why);
}
