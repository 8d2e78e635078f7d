// Secure wiping: memory the compiler may not optimise away clearing (explicit_bzero / SecureZeroMemory).
#pragma once
#include <cstddef>

namespace keyseal::platform {

void secure_wipe(void* p, std::size_t n) noexcept;

}  // namespace keyseal::platform
