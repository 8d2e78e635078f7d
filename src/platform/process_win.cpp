// Process rules on Windows: GetCurrentProcessId; no fork, so nothing to hook.
#include "platform/process.h"

#include "platform/paths.h"
#include "platform/win_utf.h"

#include <windows.h>

namespace keyseal::platform {

std::uint64_t process_id() { return GetCurrentProcessId(); }

void on_fork_in_child(void (*)()) {}

std::string self_executable() {
  std::wstring buf(32768, L'\0');
  const DWORD n = GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
  if (n == 0 || n >= buf.size()) return {};
  buf.resize(n);
  return win::narrow(buf);
}

namespace {

// One argument quoted for CommandLineToArgvW / the C runtime's parser: backslashes doubled before a quote.
std::wstring quote(const std::wstring& a) {
  if (!a.empty() && a.find_first_of(L" \t\n\v\"") == std::wstring::npos) return a;
  std::wstring out = L"\"";
  for (size_t i = 0;; ++i) {
    size_t backslashes = 0;
    while (i < a.size() && a[i] == L'\\') ++i, ++backslashes;
    if (i == a.size()) {
      out.append(backslashes * 2, L'\\');
      break;
    }
    if (a[i] == L'"') out.append(backslashes * 2 + 1, L'\\');
    else out.append(backslashes, L'\\');
    out += a[i];
  }
  return out + L"\"";
}

}  // namespace

std::int64_t spawn_process(const std::vector<std::string>& args) {
  if (args.empty()) return -1;
  std::wstring cmd;
  for (const auto& a : args) cmd += (cmd.empty() ? L"" : L" ") + quote(win::widen(a));
  const std::wstring exe = win::widen(args[0]);
  STARTUPINFOW si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  if (!CreateProcessW(exe.c_str(), cmd.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi)) return -1;
  CloseHandle(pi.hThread);
  return static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(pi.hProcess));
}

int wait_process(std::int64_t child, int timeout_seconds) {
  if (child <= 0) return -2;
  HANDLE h = reinterpret_cast<HANDLE>(static_cast<std::intptr_t>(child));
  int result;
  if (WaitForSingleObject(h, static_cast<DWORD>(timeout_seconds) * 1000) != WAIT_OBJECT_0) {
    TerminateProcess(h, 255);
    WaitForSingleObject(h, INFINITE);
    result = -3;
  } else {
    DWORD code = 0;
    GetExitCodeProcess(h, &code);
    // An exception (0xC0000005 and the like) ends a process with its NTSTATUS: a crash.
    result = code >= 0xC0000000u ? -1 : static_cast<int>(code);
  }
  CloseHandle(h);
  return result;
}

}  // namespace keyseal::platform
