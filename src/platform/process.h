// Process rules: this process's id, and the hook that runs in the child after fork() (POSIX). Windows has no
// fork: a new process starts with nothing inherited, so the hook is never called there.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace keyseal::platform {

std::uint64_t process_id();

// Registers `fn` to run in the child process right after a fork() (pthread_atfork's child handler). Call once.
void on_fork_in_child(void (*fn)());

// The path of this program's executable (UTF-8); "" when the OS does not say.
std::string self_executable();

// Starts argv[0] with the arguments argv[1..], inheriting the environment and the standard handles (the
// way to a second process on every platform: tests run this program again in a child mode). An opaque
// child id, or -1 when it cannot start.
std::int64_t spawn_process(const std::vector<std::string>& argv);
// Waits for a child spawn_process started: its exit code (0..255 on POSIX), -1 when it crashed or was
// killed, -2 for an invalid id, -3 when it was still running after timeout_seconds (it is then killed).
int wait_process(std::int64_t child, int timeout_seconds);

}  // namespace keyseal::platform
