// TEMPORARY STUB (src/compose/win_stubs/, used only while src/softtoken/windows_machine.h does not exist):
// helper c's declaration, so that compose_win.cpp builds before the Windows factors land. Drop this folder.
#pragma once
#include "softtoken/fp_binding.h"

#include <filesystem>

namespace keyseal::softtoken {
softtoken::Machine windows_machine(const std::filesystem::path& store_dir);
}
