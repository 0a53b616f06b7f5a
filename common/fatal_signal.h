// SQLite maps its -shm file (the WAL index) and, for readers, the database into memory, so an
// I/O failure on them (the file truncated, replaced or made unwritable while the service runs, a
// full disk) arrives as SIGBUS, which by default kills the process with a core dump and no log
// line. InstallFatalSignalLog makes SIGBUS write one critical line naming the cause to stderr
// (the log) and exit with kFatalSignalExitCode instead. Nothing can be resumed after such a
// fault: the service stops, and a supervisor restarts it once the file is fixed.
#pragma once

#include <string>

namespace stancewire {

inline constexpr int kFatalSignalExitCode = 70;  // EX_SOFTWARE

// InitLogging (common/logging.h) calls it; `service_name` names the service in the line as the
// log pattern does.
void InstallFatalSignalLog(const std::string& service_name);

}  // namespace stancewire
