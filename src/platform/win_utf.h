// UTF-8 <-> UTF-16 for the Windows implementations (internal to platform/, included by *_win.cpp only).
#pragma once
#include <string>
#include <string_view>

namespace keyseal::platform::win {

std::wstring widen(std::string_view utf8);
std::string narrow(std::wstring_view utf16);

}  // namespace keyseal::platform::win
