#include "common/fatal_signal.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace stancewire {
namespace {

// Built once at start: the handler may only call async-signal-safe functions (write, _exit).
char fatal_line[512];
size_t fatal_line_size = 0;

void OnSigbus(int, siginfo_t*, void*) {
  ssize_t ignored = write(STDERR_FILENO, fatal_line, fatal_line_size);
  (void)ignored;
  _exit(kFatalSignalExitCode);
}

}  // namespace

void InstallFatalSignalLog(const std::string& service_name) {
  const std::string line =
      "critical [" + service_name +
      "] fatal: SIGBUS: a memory-mapped SQLite file (the database or its -shm) failed: it was "
      "truncated, replaced or made unwritable while in use, or the disk is full; exiting with "
      "status " +
      std::to_string(kFatalSignalExitCode) + "\n";
  fatal_line_size = std::min(line.size(), sizeof(fatal_line));
  std::memcpy(fatal_line, line.data(), fatal_line_size);
  struct sigaction action {};
  action.sa_sigaction = OnSigbus;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, nullptr);
}

}  // namespace stancewire
