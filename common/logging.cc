#include "common/logging.h"

#include <google/protobuf/stubs/logging.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/fatal_signal.h"

namespace stancewire {
namespace {

// libprotobuf writes to stderr on its own, e.g. an ERROR line for every request with invalid
// UTF-8 — a client's mistake that the service already answers with INVALID_ARGUMENT. Route it
// through spdlog at debug so that it neither bypasses the log format nor floods it.
void ProtobufLogHandler(google::protobuf::LogLevel level, const char* file, int line,
                        const std::string& message) {
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("protobuf {}:{}: {}", file, line, message);
  } else {
    spdlog::debug("protobuf {}:{}: {}", file, line, message);
  }
}

}  // namespace

bool InitLogging(const std::string& service_name, const std::string& level) {
  auto logger = spdlog::stderr_color_mt(service_name);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%n] %v");
  auto parsed = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    spdlog::error("unknown log level '{}'", level);
    return false;
  }
  spdlog::set_level(parsed);
  google::protobuf::SetLogHandler(&ProtobufLogHandler);
  InstallFatalSignalLog(service_name);
  return true;
}

}  // namespace stancewire
