// CPU time of another process (the swtpm serving a TPM benchmark) from /proc/<pid>/stat (proc(5): fields 14
// utime and 15 stime, in clock ticks), and of this process from getrusage(2). Linux only.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace keyseal::bench {

// User + system CPU seconds of process `pid` so far, or nothing when it cannot be read. The resolution is
// one clock tick (usually 10 ms): use windows of a second or more for per-operation figures.
inline std::optional<double> peer_cpu_seconds(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!f || !std::getline(f, line)) return std::nullopt;
  const auto close = line.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // field 3 (state) is the first after ')'
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  if (!rest) return std::nullopt;
  const long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? std::optional<double>(static_cast<double>(utime + stime) / static_cast<double>(ticks))
                   : std::nullopt;
}

// User + system CPU seconds of this process (all threads) from getrusage(RUSAGE_SELF).
inline double rusage_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

}  // namespace keyseal::bench
