#pragma once

#include <string>

namespace stancewire {

// Sets up spdlog's default logger on stderr. `level` is one of trace, debug, info, warn, error,
// critical, off. Returns false (and logs why) for an unknown level. Also makes SIGBUS log a line
// and exit instead of dumping core (common/fatal_signal.h).
bool InitLogging(const std::string& service_name, const std::string& level);

}  // namespace stancewire
